// The pipeline: load → validate → defaults → plan → render → verify → write.
import { dirname, resolve } from "node:path";
import type { Diagnostic } from "./errors.ts";
import { loadConfigFile } from "./config/load.ts";
import { componentsFor } from "./components/registry.ts";
import { docsFiles } from "./docs.ts";
import { plan } from "./plan.ts";
import { treeFiles } from "./tree.ts";
import { verifyPlan } from "./verify.ts";
import { checkTree, writeTree, type CheckResult, type GeneratedFile, type WriteResult } from "./writer.ts";

export interface GenerateOptions {
  readonly configPath: string;
  /** Where the tree goes; default: the config file's folder (the repository). */
  readonly outDir?: string;
}

export interface Rendered {
  readonly files: GeneratedFile[];
  readonly warnings: readonly Diagnostic[];
  readonly outDir: string;
}

/** Everything but the write: the files the config produces. Throws UserError on a bad config. */
export function render(options: GenerateOptions): Rendered {
  const configPath = resolve(options.configPath);
  const { config, warnings } = loadConfigFile(configPath);
  const planned = plan(config, componentsFor(config));
  verifyPlan(planned);
  const files = [...treeFiles(planned), ...docsFiles(planned)];
  return { files, warnings, outDir: resolve(options.outDir ?? dirname(configPath)) };
}

export function generate(options: GenerateOptions): Rendered & { result: WriteResult } {
  const rendered = render(options);
  return { ...rendered, result: writeTree(rendered.outDir, rendered.files) };
}

export function check(options: GenerateOptions): Rendered & { result: CheckResult } {
  const rendered = render(options);
  return { ...rendered, result: checkTree(rendered.outDir, rendered.files) };
}
