// `homelab diff --base REF`: the working tree against the tree at REF, rendered as Flux sees it.
import { rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { compareTrees } from "./compare.ts";
import { formatDiff } from "./report.ts";
import { checkoutToTemp, renderTree } from "./trees.ts";

export interface DiffOptions {
  readonly configPath: string;
  readonly base: string;
  readonly format: "markdown" | "text";
  /** Also write the whole diff (never cut) here. */
  readonly output?: string;
}

export async function diffCommand(options: DiffOptions): Promise<string> {
  const repoDir = dirname(resolve(options.configPath));
  const baseDir = await checkoutToTemp(repoDir, options.base);
  try {
    const [base, head] = await Promise.all([renderTree(baseDir, `the tree at ${options.base}`), renderTree(repoDir, "the working tree")]);
    const diff = compareTrees(base, head);
    if (options.output) writeFileSync(options.output, formatDiff(diff, { base: options.base, format: options.format, limit: Number.POSITIVE_INFINITY }));
    return formatDiff(diff, { base: options.base, format: options.format });
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
  }
}
