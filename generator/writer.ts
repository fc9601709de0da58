// write: only changed files are rewritten, files the config no longer produces are removed,
// and files the generator did not write are never touched.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmdirSync, unlinkSync, writeFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "./errors.ts";
import { HEADER } from "./render/yaml.ts";

export interface GeneratedFile {
  /** Relative to the output folder, with forward slashes. */
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
  /** For SOPS files: what the content is made of, so it is rewritten only when that changes. */
  readonly fingerprint?: string;
}

export const MANIFEST_PATH = ".homelab/generated.json";

interface Manifest {
  readonly files: Record<string, string>;
  readonly fingerprints?: Record<string, string>;
}

export interface WriteResult {
  readonly written: string[];
  readonly unchanged: string[];
  readonly removed: string[];
}

export interface CheckResult {
  readonly stale: string[];
  readonly missing: string[];
  readonly extra: string[];
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function readManifest(outDir: string): Manifest {
  const text = readText(join(outDir, MANIFEST_PATH));
  if (text === undefined) return { files: {} };
  try {
    return JSON.parse(text) as Manifest;
  } catch {
    throw new UserError(`${MANIFEST_PATH} is not valid JSON: restore it from git (git checkout -- ${MANIFEST_PATH})`);
  }
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

/** The SOPS files the last generate wrote, with what they were made of. */
export function previousSecretFiles(outDir: string): (path: string) => { content: string; fingerprint: string } | undefined {
  const manifest = readManifest(outDir);
  return (path) => {
    const fingerprint = manifest.fingerprints?.[path];
    const content = fingerprint ? readText(join(outDir, path)) : undefined;
    return fingerprint && content !== undefined && sha256(content) === manifest.files[path] ? { content, fingerprint } : undefined;
  };
}

/** A generated file may only replace a file homelab wrote before (listed, or carrying the header). */
function isOurs(path: string, current: string, manifest: Manifest): boolean {
  return path in manifest.files || current.slice(0, 200).includes(HEADER.slice(2)) || path === MANIFEST_PATH;
}

/** Writes a file whole or not at all (a crash never leaves half a file), creating its folder. */
export function writeFileAtomic(target: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(target), { recursive: true });
  const temporary = `${target}.homelab-tmp`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, target);
}

/** Writes each file into `dir`; returns their paths. */
export function writeFiles(dir: string, files: readonly { path: string; content: string }[]): string[] {
  for (const file of files) writeFileAtomic(join(dir, file.path), file.content);
  return files.map((f) => f.path);
}

export function writeTree(outDir: string, files: readonly GeneratedFile[]): WriteResult {
  const manifest = readManifest(outDir);
  const all = [...files, manifestFor(files)];
  const plan = all.map((file) => ({ file, current: readText(join(outDir, file.path)) }));
  const foreign = plan.filter(({ file, current }) => current !== undefined && current !== file.content && !isOurs(file.path, current, manifest));
  if (foreign.length > 0) {
    throw new UserError(
      foreign.map(({ file }) => ({ file: join(outDir, file.path), line: 0, col: 0, path: "", message: "exists and was not written by homelab; it is left untouched", hint: "move it away, then run generate again" })),
    );
  }
  const result: WriteResult = { written: [], unchanged: [], removed: [] };
  for (const { file, current } of plan) {
    if (current === file.content) {
      if (file.path !== MANIFEST_PATH) result.unchanged.push(file.path);
      continue;
    }
    writeFileAtomic(join(outDir, file.path), file.content, file.mode);
    if (file.path !== MANIFEST_PATH) result.written.push(file.path);
  }
  const produced = new Set(all.map((f) => f.path));
  for (const path of Object.keys(manifest.files).sort()) {
    if (produced.has(path)) continue;
    const target = join(outDir, path);
    if (readText(target) === undefined) continue;
    unlinkSync(target);
    removeEmptyParents(outDir, dirname(path));
    result.removed.push(path);
  }
  return result;
}

export function checkTree(outDir: string, files: readonly GeneratedFile[]): CheckResult {
  const manifest = readManifest(outDir);
  const all = [...files, manifestFor(files)];
  const result: CheckResult = { stale: [], missing: [], extra: [] };
  for (const file of all) {
    const current = readText(join(outDir, file.path));
    if (current === undefined) result.missing.push(file.path);
    else if (current !== file.content) result.stale.push(file.path);
  }
  const produced = new Set(all.map((f) => f.path));
  for (const path of Object.keys(manifest.files).sort()) {
    if (!produced.has(path) && readText(join(outDir, path)) !== undefined) result.extra.push(path);
  }
  return result;
}

function removeEmptyParents(outDir: string, relativeDir: string): void {
  for (let dir = relativeDir; dir !== "." && dir !== ""; dir = dirname(dir)) {
    const absolute = join(outDir, dir);
    if (readdirSync(absolute).length > 0) return;
    rmdirSync(absolute);
  }
}
