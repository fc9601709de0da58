// The re-run with nothing to do, at the cost of reading files: a successful generate records
// what it read (the generator's own sources, the config, the secret store, the CA) and what it
// wrote, by hash, in a git-ignored cache. When all of it is byte for byte the same, the same
// generator would render the same tree from the same inputs and pass the same checks, so the
// run can stop before loading the pipeline. Any difference, or no cache, runs the whole pipeline.
// Only node: built-ins here: importing the pipeline's libraries is most of a run's time.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { sha256 } from "./hash.ts";
import { JOURNAL_PATH } from "./transaction.ts";
import { CA_RECORD_PATH, STATE_FOLDERS } from "./state-paths.ts";

export const CACHE_PATH = ".homelab/cache.json";
const CACHE_VERSION = 1;

/** What, besides the config and STATE_FOLDERS, a run reads from the repository: the CA's record. */
const STATE_FILES = [CA_RECORD_PATH];

/** The project files that decide what the generator renders. */
const projectRoot = join(import.meta.dirname, "..");
const GENERATOR_SOURCES = ["generator", "schemas", "bin"];
const GENERATOR_FILES = ["package.json", "package-lock.json"];

interface RunCache {
  readonly version: number;
  /** Relative to the output folder, and the inputs relative to the config's folder: a moved or copied repository keeps its cache. */
  readonly configPath: string;
  readonly generator: string;
  /** Path → SHA-256 of what the run read ("" for a file that was not there). */
  readonly inputs: Record<string, string>;
  /** Relative to the output folder → SHA-256 and whether it is executable. */
  readonly outputs: Record<string, { sha256: string; executable: boolean }>;
  /** The run's warnings, as printed. */
  readonly warnings: string[];
}

/** False for a pipe or a device, which a second read would not find again (or never finish). */
export function isRegularFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

function hashFile(path: string): string {
  try {
    return sha256(readFileSync(path));
  } catch {
    return "";
  }
}

function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
  } catch {
    return [];
  }
}

let ownHash: string | undefined;

/**
 * One hash over every file that shapes the generator's output (its code, schema and
 * dependencies); once per process, which runs the code it loaded at its start.
 */
export function generatorHash(): string {
  if (ownHash !== undefined) return ownHash;
  const hash = createHash("sha256");
  const files = [...GENERATOR_SOURCES.flatMap((dir) => filesUnder(join(projectRoot, dir))), ...GENERATOR_FILES.map((f) => join(projectRoot, f))];
  for (const file of files) hash.update(`${relative(projectRoot, file)}\0${hashFile(file)}\0`);
  ownHash = hash.digest("hex");
  return ownHash;
}

/** Every repository file a run reads, with its hash; `extra` adds the ones the config names. */
function inputHashes(configPath: string, extra: readonly string[]): Record<string, string> {
  const repoDir = dirname(configPath);
  const paths = [configPath, ...STATE_FOLDERS.flatMap((dir) => filesUnder(join(repoDir, dir))), ...STATE_FILES.map((f) => join(repoDir, f)), ...extra.map((f) => resolve(repoDir, f))];
  return Object.fromEntries([...new Set(paths)].sort().map((path) => [relative(repoDir, path), hashFile(path)]));
}

const isExecutable = (path: string) => (statSync(path).mode & 0o100) !== 0;

export interface RecordedRun {
  readonly configPath: string;
  readonly outDir: string;
  /** Every file of the tree, the manifest included, as it is now on disk. */
  readonly files: readonly { path: string; content: string }[];
  /** Repository files the config names and the run read (image.caCertificates). */
  readonly extraInputs: readonly string[];
  readonly warnings: readonly string[];
}

/** The cache for a run that just succeeded; the caller writes it once the run's transaction is done. */
export function runCache(run: RecordedRun): { path: string; content: string } {
  const cache: RunCache = {
    version: CACHE_VERSION,
    configPath: relative(run.outDir, resolve(run.configPath)),
    generator: generatorHash(),
    inputs: inputHashes(resolve(run.configPath), run.extraInputs),
    outputs: Object.fromEntries(run.files.map((f) => [f.path, { sha256: sha256(f.content), executable: isExecutable(join(run.outDir, f.path)) }])),
    warnings: [...run.warnings],
  };
  return { path: CACHE_PATH, content: `${JSON.stringify(cache)}\n` };
}

/** The recorded run's warnings and file count when nothing it read or wrote has changed since. */
export function unchangedSinceLastRun(configPath: string, outDir: string): { warnings: string[]; unchanged: number } | undefined {
  // A config from a pipe can be read once only: by the pipeline.
  if (!isRegularFile(configPath)) return undefined;
  let cache: RunCache;
  try {
    cache = JSON.parse(readFileSync(join(outDir, CACHE_PATH), "utf8")) as RunCache;
  } catch {
    return undefined;
  }
  const absoluteConfig = resolve(configPath);
  if (cache?.version !== CACHE_VERSION || cache.configPath !== relative(outDir, absoluteConfig)) return undefined;
  // An interrupted run must be finished or undone by the pipeline.
  if (hashFile(join(outDir, JOURNAL_PATH)) !== "") return undefined;
  // The files the config named (image.caCertificates), besides those every run reads.
  const extra = Object.keys(cache.inputs).filter((path) => !STATE_FOLDERS.some((folder) => path.startsWith(`${folder}/`)));
  const inputs = inputHashes(absoluteConfig, extra);
  if (JSON.stringify(inputs) !== JSON.stringify(cache.inputs)) return undefined;
  for (const [path, recorded] of Object.entries(cache.outputs)) {
    const target = join(outDir, path);
    if (hashFile(target) !== recorded.sha256 || isExecutable(target) !== recorded.executable) return undefined;
  }
  if (cache.generator !== generatorHash()) return undefined;
  return { warnings: cache.warnings, unchanged: Object.keys(cache.outputs).length - 1 };
}
