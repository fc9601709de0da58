// A loaded config, remembered by what it was loaded from. Loading costs ~150 ms for a config of
// 300 apps (the yaml library's parser warming up, the schema, the rules) and gives the same result
// for the same text and the same generator; `generate --check` after `generate`, a preview with
// --out, or a tree rebuilt after a clean all load the config they loaded before. The key is the
// config's bytes, its file name (diagnostics carry it) and the hash of the generator's own files.
// The cache lives in node_modules/.cache/homelab (outside the repository and the tree); any
// trouble with it — missing, damaged, unwritable — only means loading the config again.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { threadId } from "node:worker_threads";
import type { Diagnostic } from "../errors.ts";
import type { HomelabConfig } from "./schema.ts";
import { generatorHash } from "../up-to-date.ts";
import { sha256 } from "../hash.ts";

export const CONFIG_CACHE_PATH = join(import.meta.dirname, "..", "..", "node_modules", ".cache", "homelab", "config.json");

interface Remembered {
  readonly key: string;
  readonly config: HomelabConfig;
  readonly warnings: readonly Diagnostic[];
}

export function configCacheKey(text: string, file: string): string {
  return sha256(`${file}\0${generatorHash()}\0${text}`);
}

export function rememberedConfig(key: string, cachePath = CONFIG_CACHE_PATH): Omit<Remembered, "key"> | undefined {
  let text: string;
  try {
    text = readFileSync(cachePath, "utf8");
  } catch {
    return undefined;
  }
  try {
    const remembered = JSON.parse(text) as Remembered;
    // Written whole by JSON.stringify: anything else was not written by this cache.
    if (remembered.key !== key || JSON.stringify(remembered) !== text) return undefined;
    return { config: remembered.config, warnings: remembered.warnings };
  } catch {
    return undefined;
  }
}

/** Keeps a loaded config for the next run with the same key; only what JSON holds exactly. */
export function rememberConfig(key: string, config: HomelabConfig, warnings: readonly Diagnostic[], cachePath = CONFIG_CACHE_PATH): void {
  let exact = true;
  // JSON would turn .inf and .nan into null and -0 into 0: such a config is loaded every time.
  const text = JSON.stringify({ key, config, warnings } satisfies Remembered, (_name, value: unknown) => {
    if (typeof value === "number" && (!Number.isFinite(value) || Object.is(value, -0))) exact = false;
    return value;
  });
  if (!exact) return;
  try {
    mkdirSync(dirname(cachePath), { recursive: true });
    // Runs side by side (tests) each write their own file and rename it into place.
    const temporary = `${cachePath}.${process.pid}.${threadId}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, cachePath);
  } catch {
    // Not writable (a read-only install, say): the next run loads the config again.
  }
}
