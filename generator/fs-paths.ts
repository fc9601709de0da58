// Where a path really leads: the checks that keep writes inside (or keys outside) a folder.
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

/** True when `child` is `parent` or lies below it (lexically: resolve links first with physicalPath). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** The path with symbolic links resolved, also when the file or some of its folders do not exist yet. */
export function physicalPath(path: string): string {
  const missing: string[] = [];
  let existing = resolve(path);
  while (!existsSync(existing)) {
    missing.unshift(basename(existing));
    existing = dirname(existing);
  }
  return join(realpathSync(existing), ...missing);
}

/** True when `path` is git's own folder of some repository, or lies in one: a `.git` above it holding HEAD. */
export function insideGitFolder(path: string): boolean {
  for (let dir = resolve(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (basename(dir) === ".git" && existsSync(join(dir, "HEAD"))) return true;
  }
  return false;
}

/**
 * A path homelab could have written below its folder, as its records hold them: relative, with
 * forward slashes, no empty, "." or ".." part, nothing in a .git folder, each part a file name's
 * length at most. Records that name anything else were not written by homelab.
 */
export function isTreePath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.includes("\0") || path.includes("\\")) return false;
  return path.split("/").every((part) => part !== "" && part !== "." && part !== ".." && part !== ".git" && Buffer.byteLength(part) <= 255);
}
