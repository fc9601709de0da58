// write: only changed files are rewritten, files the config no longer produces are removed,
// and files the generator did not write are never touched. The manifest that records what was
// written is a committed file that a merge can garble, so it is never trusted to name a path:
// a removal must stay inside the output folder, avoid the repository's own state, and find the
// bytes homelab wrote. Everything is written as one transaction (see transaction.ts).
import { lstatSync, readFileSync, realpathSync, statSync, writeFileSync, mkdirSync, renameSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { UserError, type Diagnostic } from "./errors.ts";
import { isInside, isTreePath } from "./fs-paths.ts";
import { fileSystemError } from "./fs-errors.ts";
import { HEADER } from "./render/yaml.ts";
import { sha256 } from "./hash.ts";
import { commitTransaction, DEFAULT_FILE_MODE, hasPendingTransaction, TEMP_SUFFIX, type FileChmod, type FileRemoval, type FileWrite } from "./transaction.ts";

export interface GeneratedFile {
  /** Relative to the output folder, with forward slashes. */
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
  /** For SOPS files: what the content is made of, so it is rewritten only when that changes. */
  readonly fingerprint?: string;
}

export const MANIFEST_PATH = ".homelab/generated.json";

/** Folders homelab never removes anything from: the secret store, the CA, git, its own records. */
const PROTECTED_FOLDERS = [".git", "secrets", "certs", ".homelab"];

interface Manifest {
  readonly files: Record<string, string>;
  readonly fingerprints: Record<string, string>;
}

export interface WriteResult {
  readonly written: string[];
  readonly unchanged: string[];
  readonly removed: string[];
  /** Listed in the manifest but not removed (changed since, or not homelab's to remove), with why. */
  readonly kept: { path: string; reason: string }[];
  /** Secret store entries and CA files created or rewritten. */
  readonly state: string[];
}

export interface CheckResult {
  readonly stale: string[];
  readonly missing: string[];
  readonly extra: string[];
  /** Files whose executable bit is not what the tree says. */
  readonly mode: string[];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw fileSystemError(error, path);
  }
}

/** A folder stands where the manifest names a file: not a file homelab wrote, so never removed. */
function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // Missing, or a file where a folder of its path should be: not a folder.
  }
}

const manifestProblem = (outDir: string, message: string) =>
  new UserError([{ file: join(outDir, MANIFEST_PATH), line: 0, col: 0, path: "", message, hint: `restore it from git (git checkout HEAD -- ${MANIFEST_PATH})` }]);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The manifest in `text` (.homelab/generated.json), or what is wrong with it. */
export function parseManifest(text: string): Manifest | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: "is not valid JSON" };
  }
  if (!isRecord(parsed) || !isRecord(parsed.files) || (parsed.fingerprints !== undefined && !isRecord(parsed.fingerprints))) {
    return { problem: 'is not a homelab manifest (expected {"files": {path: sha256}})' };
  }
  // Entries of the wrong shape, or naming what homelab never writes, are dropped: they can name
  // nothing to keep or remove.
  const strings = (record: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(record).filter((entry): entry is [string, string] => typeof entry[1] === "string" && isTreePath(entry[0])));
  return { files: strings(parsed.files), fingerprints: strings(parsed.fingerprints ?? {}) };
}

function readManifest(outDir: string): Manifest {
  const text = readText(join(outDir, MANIFEST_PATH));
  if (text === undefined) return { files: {}, fingerprints: {} };
  const manifest = parseManifest(text);
  if ("problem" in manifest) throw manifestProblem(outDir, manifest.problem);
  return manifest;
}

function manifestFor(files: readonly GeneratedFile[]): GeneratedFile {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  const manifest = {
    generator: "homelab",
    files: Object.fromEntries(sorted.map((f) => [f.path, sha256(f.content)])),
    fingerprints: Object.fromEntries(sorted.filter((f) => f.fingerprint).map((f) => [f.path, f.fingerprint])),
  };
  return { path: MANIFEST_PATH, content: `${JSON.stringify(manifest, null, 2)}\n` };
}

/**
 * The SOPS files the last generate wrote, with what they were made of: in the output folder, or
 * for a preview in another folder, in the repository's own tree. A preview thus writes the
 * repository's Secrets byte for byte (no new encryption, nothing to diff) and refuses what
 * generate would refuse there.
 */
export function previousSecretFiles(outDir: string, repoDir: string): (path: string) => { content: string; fingerprint: string } | undefined {
  const inFolder = (dir: string) => {
    const manifest = readManifest(dir);
    return (path: string) => {
      const fingerprint = manifest.fingerprints[path];
      const content = fingerprint ? readText(join(dir, path)) : undefined;
      return fingerprint && content !== undefined && sha256(content) === manifest.files[path] ? { content, fingerprint } : undefined;
    };
  };
  const out = inFolder(outDir);
  const repository = resolve(outDir) === resolve(repoDir) ? undefined : inFolder(repoDir);
  return (path) => out(path) ?? repository?.(path);
}

/** A generated file may only replace a file homelab wrote before (listed, or carrying the header). */
function isOurs(path: string, current: string, manifest: Manifest): boolean {
  return path in manifest.files || current.slice(0, 200).includes(HEADER.slice(2)) || path === MANIFEST_PATH;
}

/** Writes a file whole or not at all (a crash never leaves half a file), creating its folder. */
export function writeFileAtomic(target: string, content: string, mode = DEFAULT_FILE_MODE): void {
  try {
    mkdirSync(dirname(target), { recursive: true });
    const temporary = `${target}${TEMP_SUFFIX}`;
    writeFileSync(temporary, content, { mode });
    renameSync(temporary, target);
  } catch (error) {
    throw fileSystemError(error, target);
  }
}

/** Writes each file into `dir`; returns their paths. */
export function writeFiles(dir: string, files: readonly { path: string; content: string }[]): string[] {
  for (const file of files) writeFileAtomic(join(dir, file.path), file.content);
  return files.map((f) => f.path);
}

/**
 * Checks, once per folder, that writing `path` under `outDir` goes where it says: no folder on
 * the way is a symbolic link (homelab never writes through one) or a file, and the target is
 * not a folder or a link.
 */
class PathGuard {
  private readonly folders = new Map<string, Diagnostic | null>();
  /** Folders that do not exist yet: nothing is in them to check or read. */
  private readonly missing = new Set<string>();
  private readonly outDir: string;
  constructor(outDir: string) {
    this.outDir = outDir;
  }

  private problem(path: string, message: string, hint: string): Diagnostic {
    return { file: join(this.outDir, path), line: 0, col: 0, path: "", message, hint };
  }

  private folder(relativeDir: string): Diagnostic | null {
    if (relativeDir === "." || relativeDir === "") return null;
    const known = this.folders.get(relativeDir);
    if (known !== undefined) return known;
    let found = this.folder(dirname(relativeDir));
    if (this.missing.has(dirname(relativeDir))) {
      this.missing.add(relativeDir);
    } else if (!found) {
      try {
        const stat = lstatSync(join(this.outDir, relativeDir));
        if (stat.isSymbolicLink()) found = this.problem(relativeDir, "is a symbolic link; homelab does not write through links", "replace the link with a real folder, then run again");
        else if (!stat.isDirectory()) found = this.problem(relativeDir, "is a file where homelab needs a folder", "move that file away, then run again");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw fileSystemError(error, join(this.outDir, relativeDir));
        this.missing.add(relativeDir);
      }
    }
    this.folders.set(relativeDir, found);
    return found;
  }

  /** Whether the file's folder is missing, so the file is too (after `check`). */
  inMissingFolder(path: string): boolean {
    return this.missing.has(dirname(path));
  }

  /** The problem with writing or removing this file, if any. */
  check(path: string): Diagnostic | undefined {
    const inFolder = this.folder(dirname(path));
    if (inFolder) return inFolder;
    if (this.inMissingFolder(path)) return undefined;
    try {
      const stat = lstatSync(join(this.outDir, path));
      if (stat.isSymbolicLink()) return this.problem(path, "is a symbolic link; homelab does not write through links", "remove the link, then run again");
      if (stat.isDirectory()) return this.problem(path, "is a folder where homelab writes a file", "move the folder away, then run again");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw fileSystemError(error, join(this.outDir, path));
    }
    return undefined;
  }
}

/** Why a manifest entry must not be removed, or undefined when it may be. */
function removalRefusal(outDir: string, protectedFiles: readonly string[], guard: PathGuard, path: string, hash: string): string | undefined {
  const target = resolve(outDir, path);
  const segments = path.split("/");
  if (isAbsolute(path) || path.includes("\\") || segments.some((s) => s === ".." || s === "." || s === "") || !isInside(outDir, target)) {
    return "it is not a path inside the output folder";
  }
  if (PROTECTED_FOLDERS.includes(segments[0] as string) || protectedFiles.some((file) => file === target || isInside(file, target))) {
    return "homelab never removes the config, the secret store, certs/, .git or its own records";
  }
  const problem = guard.check(path);
  if (problem) return problem.message;
  let realParent: string;
  try {
    realParent = realpathSync(dirname(target));
  } catch {
    return undefined; // Its folder is gone, and the file with it.
  }
  if (!isInside(realpathSync(outDir), realParent)) return "it resolves outside the output folder";
  if (!/^[0-9a-f]{64}$/.test(hash)) return "its recorded hash is not a SHA-256";
  const current = readText(target);
  if (current !== undefined && sha256(current) !== hash) return "it changed since homelab wrote it";
  return undefined;
}

export interface WriteOptions {
  /** Repository state (secret store, CA) to write first, in the same transaction. */
  readonly stateFiles?: readonly { path: string; content: string }[];
  /** Absolute paths that are never removed (the config file). */
  readonly protectedFiles?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export function writeTree(outDir: string, files: readonly GeneratedFile[], options: WriteOptions = {}): WriteResult {
  const manifest = readManifest(outDir);
  const guard = new PathGuard(outDir);
  const stateFiles = options.stateFiles ?? [];
  const all = [...files, manifestFor(files)];

  const problems: Diagnostic[] = [];
  const planned = [...stateFiles, ...all].map((file) => {
    const problem = guard.check(file.path);
    if (problem) problems.push(problem);
    return { file, current: problem || guard.inMissingFolder(file.path) ? undefined : readText(join(outDir, file.path)) };
  });
  for (const { file, current } of planned.slice(stateFiles.length)) {
    if (current !== undefined && current !== file.content && !isOurs(file.path, current, manifest)) {
      problems.push({ file: join(outDir, file.path), line: 0, col: 0, path: "", message: "exists and was not written by homelab; it is left untouched", hint: "move it away, then run generate again" });
    }
  }
  if (problems.length > 0) throw new UserError(problems);

  const result: WriteResult = { written: [], unchanged: [], removed: [], kept: [], state: [] };
  const writes: FileWrite[] = [];
  const chmods: FileChmod[] = [];
  planned.forEach(({ file, current }, index) => {
    const isState = index < stateFiles.length;
    const mode = ("mode" in file ? file.mode : undefined) ?? DEFAULT_FILE_MODE;
    if (current === file.content) {
      if (!isState && file.path !== MANIFEST_PATH) result.unchanged.push(file.path);
      if (executable(mode) !== executable(statSync(join(outDir, file.path)).mode)) chmods.push({ path: file.path, mode });
      return;
    }
    writes.push({ path: file.path, content: file.content, mode, durable: isState });
    if (isState) result.state.push(file.path);
    else if (file.path !== MANIFEST_PATH) result.written.push(file.path);
  });

  const produced = new Set(all.map((f) => f.path));
  const removals: FileRemoval[] = [];
  for (const [path, hash] of Object.entries(manifest.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (produced.has(path) || isFolder(join(outDir, path))) continue;
    const refusal = removalRefusal(outDir, options.protectedFiles ?? [], guard, path, hash);
    if (refusal) {
      if (readText(resolve(outDir, path)) !== undefined) result.kept.push({ path, reason: refusal });
      continue;
    }
    if (readText(join(outDir, path)) === undefined) continue;
    removals.push({ path, sha256: hash });
    result.removed.push(path);
  }
  commitTransaction(outDir, { writes, chmods, removals }, options.env);
  return result;
}

const executable = (mode: number) => (mode & 0o100) !== 0;

export function checkTree(outDir: string, files: readonly GeneratedFile[]): CheckResult {
  const manifest = readManifest(outDir);
  const all = [...files, manifestFor(files)];
  const result: CheckResult = { stale: [], missing: [], extra: [], mode: [] };
  if (hasPendingTransaction(outDir)) result.stale.push(`${MANIFEST_PATH} (an interrupted run: \`npm run generate\` finishes it)`);
  for (const file of all) {
    const current = readText(join(outDir, file.path));
    if (current === undefined) result.missing.push(file.path);
    else if (current !== file.content) result.stale.push(file.path);
    else if (executable(file.mode ?? DEFAULT_FILE_MODE) !== executable(statSync(join(outDir, file.path)).mode)) result.mode.push(file.path);
  }
  const produced = new Set(all.map((f) => f.path));
  for (const path of Object.keys(manifest.files).sort()) {
    if (!produced.has(path) && !isFolder(join(outDir, path)) && isInside(outDir, resolve(outDir, path)) && readText(resolve(outDir, path)) !== undefined) result.extra.push(path);
  }
  return result;
}
