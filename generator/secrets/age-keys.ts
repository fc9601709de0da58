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
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
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
