// `homelab diff --base REF`: the working tree against the tree at REF, rendered as Flux sees it.
import { accessSync, constants, existsSync, rmSync, statSync, writeFileSync, type Stats } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.ts";
import { fileSystemError } from "../fs-errors.ts";
import { insideGitFolder, physicalPath } from "../fs-paths.ts";
import { check } from "../generate.ts";
import type { CheckResult } from "../writer.ts";
import { compareTrees } from "./compare.ts";
import { helmDiffs } from "./helm.ts";
import { formatDiff } from "./report.ts";
import { checkoutToTemp, kubectlBinary, renderTree } from "./trees.ts";

export interface DiffOptions {
  readonly configPath: string;
  readonly base: string;
  readonly format: "markdown" | "text";
  /** Also write the whole diff (never cut) here. */
  readonly output?: string;
  /** Told each warning as it is found (the CLI: stderr); the report carries them, too. */
  readonly warn: (message: string) => void;
  /** Also render every HelmRelease whose chart or values changed (diff/helm.ts). */
  readonly helm?: boolean;
  /** Per chart fetch with --helm; default CHART_FETCH_TIMEOUT_MS. */
  readonly chartTimeoutMs?: number;
}

/** Charts --helm downloads, kept between runs; .gitignore leaves /.cache/ out of git. */
export const CHART_CACHE = join(".cache", "homelab", "charts");
/** The pinned helm `npm test` unpacks (test/support/tools.ts), used when HOMELAB_HELM names none. */
const PINNED_HELM = fileURLToPath(new URL("../../node_modules/.cache/homelab-tools/helm/helm", import.meta.url));

function helmBinary(): string {
  return process.env.HOMELAB_HELM || (existsSync(PINNED_HELM) ? PINNED_HELM : "helm");
}

/** A chart repository that has not answered in this long is noted, not waited for. */
const CHART_FETCH_TIMEOUT_MS = 30_000;

/** How many of the out-of-date files a warning names. */
const LISTED_FILES = 5;

/** Why the whole diff could not be written to `path`; undefined when it can. */
function outputProblem(path: string, configPath: string): string | undefined {
  const target = resolve(path);
  const folder = dirname(target);
  // A report written over the config or into git's own folder would break the repository.
  if (physicalPath(target) === physicalPath(configPath)) return "that is the config itself; give another file name";
  if (insideGitFolder(target) || insideGitFolder(physicalPath(target))) return "that is inside a .git folder; give a file outside it";
  try {
    if (!statSync(folder).isDirectory()) return `${folder} is a file, not a folder`;
    if (statSync(target, { throwIfNoEntry: false })?.isDirectory()) return "that is a folder; give a file name";
    accessSync(existsSync(target) ? target : folder, constants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `the folder ${folder} does not exist`;
    if (code === "ENOTDIR") return `a file stands in the path ${folder}`;
    if (code === "EACCES" || code === "EPERM") return `no permission to write ${existsSync(target) ? target : `in ${folder}`}`;
    if (code === "EROFS") return `${folder} is on a read-only file system`;
    throw error;
  }
}

/**
 * The diff compares the files as they are; when homelab.yaml was edited and not generated, they
 * are not what homelab.yaml makes and the diff misses the edit. Says so, or undefined when current.
 */
async function staleTreeWarning(configPath: string): Promise<string | undefined> {
  let result: CheckResult;
  try {
    ({ result } = await check({ configPath }));
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return `cannot tell whether the tree is what homelab.yaml makes, so this diff may miss changes: ${error.message}`;
  }
  const files = [...result.stale, ...result.missing, ...result.extra];
  if (files.length === 0) return undefined;
  const listed = files.slice(0, LISTED_FILES).join(", ") + (files.length > LISTED_FILES ? `, and ${files.length - LISTED_FILES} more` : "");
  return `the tree is not what homelab.yaml makes (out of date: ${listed}), so this diff shows the files as they are, not what homelab.yaml does; run \`npm run generate\` first, then diff again`;
}

export async function diffCommand(options: DiffOptions): Promise<string> {
  const configPath = resolve(options.configPath);
  let config: Stats | undefined;
  try {
    config = statSync(configPath, { throwIfNoEntry: false });
  } catch (error) {
    throw fileSystemError(error, options.configPath);
  }
  if (!config?.isFile()) {
    throw new UserError([{ file: options.configPath, line: 0, col: 0, path: "", message: "no such file", hint: "pass --config FILE: the homelab.yaml of the repository to diff" }]);
  }
  // Before any work, so a bad path leaves nothing half-done.
  const outputError = options.output === undefined ? undefined : outputProblem(options.output, configPath);
  if (outputError) throw new UserError(`--output ${options.output}: ${outputError}`);
  const baseDir = await checkoutToTemp(dirname(configPath), options.base);
  try {
    const staleTree = await staleTreeWarning(configPath);
    if (staleTree) options.warn(staleTree);
    const [base, head] = await Promise.all([renderTree(baseDir, `the tree at ${options.base}`), renderTree(dirname(configPath), "the working tree")]);
    const compared = compareTrees(base, head);
    const diff = options.helm
      ? {
          ...compared,
          renders: await helmDiffs(base, head, {
            cacheDir: join(dirname(configPath), CHART_CACHE),
            helm: helmBinary(),
            kubectl: kubectlBinary(),
            fetchTimeoutMs: options.chartTimeoutMs ?? CHART_FETCH_TIMEOUT_MS,
          }),
        }
      : compared;
    if (options.output) {
      try {
        writeFileSync(options.output, formatDiff(diff, { base: options.base, format: options.format, staleTree, limit: Number.POSITIVE_INFINITY }));
      } catch (error) {
        throw fileSystemError(error, options.output);
      }
    }
    return formatDiff(diff, { base: options.base, format: options.format, staleTree });
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
  }
}
