// The age identities sops itself would use (sops 3.9, age/keysource.go loadIdentities): all of
//   1. SOPS_AGE_KEY: identities in the variable's text, one per line (newer sops also takes
//      several per line, separated by spaces, which is accepted here too);
//   2. SOPS_AGE_KEY_FILE: a keys file; when the variable is set, the file must be readable;
//   3. the user's default keys file <config dir>/sops/age/keys.txt, where the config dir is Go's
//      os.UserConfigDir(): $XDG_CONFIG_HOME if set (and absolute), else ~/.config; on macOS
//      $XDG_CONFIG_HOME if set, else ~/Library/Application Support; on Windows %AppData%.
//      A missing default file is no error.
// In a keys file, empty lines and lines starting with "#" are skipped; every other line must be
// an identity. Errors name the source and line, never the line's text.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, statSync, truncateSync, unlinkSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { isInside, physicalPath } from "../fs-paths.ts";
import { UserError } from "../errors.ts";
import { fileSystemError } from "../fs-errors.ts";
import { SopsError } from "./sops.ts";

const IDENTITY = /^AGE-SECRET-KEY-(PQ-)?1[02-9AC-HJ-NP-Z]+$/;

/** Go's os.UserConfigDir() as sops 3.9 uses it, or undefined when it cannot be determined. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | undefined {
  const xdg = env["XDG_CONFIG_HOME"];
  const home = env["HOME"] || undefined;
  switch (platform) {
    case "darwin":
      // sops reads XDG_CONFIG_HOME itself on macOS, where Go's UserConfigDir ignores it.
      if (xdg) return xdg;
      return home ? join(home, "Library", "Application Support") : undefined;
    case "win32":
      return env["AppData"] || env["APPDATA"] || undefined;
    default:
      if (xdg) return isAbsolute(xdg) ? xdg : undefined;
      return home ? join(home, ".config") : undefined;
  }
}

/** The default keys file sops reads: <config dir>/sops/age/keys.txt. */
export function defaultAgeKeyFile(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | undefined {
  const dir = userConfigDir(env, platform);
  return dir === undefined ? undefined : join(dir, "sops", "age", "keys.txt");
}

/** Identities in a keys file's text. */
export function parseAgeIdentities(text: string, source: string, severalPerLine = false): string[] {
  if (text.startsWith("age-encryption.org/") || text.trimStart().startsWith("-----BEGIN AGE ENCRYPTED FILE-----")) {
    throw new SopsError(`${source}: passphrase-protected (age-encrypted) identity files are not supported`);
  }
  const identities: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line === "" || line.startsWith("#")) return;
    const words = severalPerLine ? line.trim().split(/\s+/) : [line.trim()];
    for (const word of words) {
      if (!IDENTITY.test(word)) throw new SopsError(`${source}: line ${i + 1} is not an age identity (AGE-SECRET-KEY-1…)`);
      identities.push(word);
    }
  });
  return identities;
}

function readKeysFile(path: string, source: string, mustExist: boolean): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!mustExist && code === "ENOENT") return undefined;
    throw new SopsError(`cannot read ${source} (${path}): ${code ?? "unreadable"}`);
  }
}

/**
 * Every age identity sops would load from the environment, in the order SOPS_AGE_KEY,
 * SOPS_AGE_KEY_FILE, default keys file, without duplicates. Empty when there is none.
 */
export function findAgeIdentities(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string[] {
  const found: string[] = [];
  const inline = env["SOPS_AGE_KEY"];
  if (inline !== undefined) found.push(...parseAgeIdentities(inline, "SOPS_AGE_KEY", true));
  const keyFile = env["SOPS_AGE_KEY_FILE"];
  if (keyFile !== undefined) {
    const text = readKeysFile(keyFile, "SOPS_AGE_KEY_FILE", true) ?? "";
    found.push(...parseAgeIdentities(text, `SOPS_AGE_KEY_FILE (${keyFile})`));
  }
  const defaultFile = defaultAgeKeyFile(env, platform);
  if (defaultFile !== undefined) {
    const text = readKeysFile(defaultFile, "the sops age keys file", false);
    if (text !== undefined) found.push(...parseAgeIdentities(text, defaultFile));
  }
  return [...new Set(found)];
}

/** The git work tree a path lies in: the nearest folder above it holding a .git (folder or file). */
function enclosingWorkTree(physical: string): string | undefined {
  for (let dir = dirname(physical); ; dir = dirname(dir)) {
    if (existsSync(join(dir, ".git"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Why a private key must not go to `keyFile`, or undefined when it may. */
function keyFileProblem(keyFile: string, repoDir: string): string | undefined {
  const physical = physicalPath(keyFile);
  if (isInside(physicalPath(repoDir), physical)) return `is inside the repository (${repoDir})`;
  const workTree = enclosingWorkTree(physical);
  return workTree === undefined ? undefined : `is inside the git work tree ${workTree}`;
}

/**
 * Throws unless a new private key may be added to `keyFile`: never inside the repository or any
 * git work tree (one `git add` from being published), and an existing keys file must be readable
 * by its owner alone.
 */
export function checkKeyFileForNewKey(keyFile: string, repoDir: string, env: NodeJS.ProcessEnv = process.env): void {
  const refuse = (message: string, hint: string) => new UserError([{ file: keyFile, line: 0, col: 0, path: "", message, hint }]);
  const problem = keyFileProblem(keyFile, repoDir);
  if (problem !== undefined) {
    const standard = defaultAgeKeyFile(env);
    const unsetInstead = env["SOPS_AGE_KEY_FILE"] && standard !== undefined && keyFileProblem(standard, repoDir) === undefined;
    throw refuse(
      `${problem}: a private key there is one \`git add\` away from being published; no key was written`,
      unsetInstead
        ? `unset SOPS_AGE_KEY_FILE so the key goes to ${standard}, where sops looks for it, or point SOPS_AGE_KEY_FILE at a file outside any git repository`
        : "point SOPS_AGE_KEY_FILE at a file outside any git repository (and keep it set, so sops finds the key)",
    );
  }
  let mode: number;
  try {
    const stats = statSync(keyFile, { throwIfNoEntry: false });
    if (stats === undefined) return;
    if (!stats.isFile()) throw refuse("is not a file", "point SOPS_AGE_KEY_FILE at the age keys file");
    mode = stats.mode & 0o777;
  } catch (error) {
    throw error instanceof UserError ? error : fileSystemError(error, keyFile);
  }
  if ((mode & 0o077) !== 0) {
    throw refuse(`other users can read this keys file (mode ${mode.toString(8).padStart(4, "0")}); the new key is not added to it until only you can`, `run \`chmod 600 ${keyFile}\`, then run init again`);
  }
}

/**
 * Appends `text` to the keys file, durably; a new file is made 0600 in folders made 0700.
 * Returns what takes the addition back (for a run that fails before anything uses the key).
 */
export function addToKeysFile(keyFile: string, text: string): () => void {
  try {
    const before = statSync(keyFile, { throwIfNoEntry: false })?.size;
    if (before === undefined) mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    const fd = openSync(keyFile, before === undefined ? "wx" : "a+", 0o600);
    try {
      // A file without a final newline would glue the new comment line to its last key.
      const last = Buffer.alloc(1);
      const separator = before !== undefined && before > 0 && readSync(fd, last, 0, 1, before - 1) === 1 && last[0] !== 0x0a ? "\n" : "";
      writeSync(fd, `${separator}${text}`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return () => (before === undefined ? unlinkSync(keyFile) : truncateSync(keyFile, before));
  } catch (error) {
    throw fileSystemError(error, keyFile);
  }
}
