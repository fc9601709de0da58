// One run at a time per repository: a lock file that names its holder. A second run waits a
// little (the first may be about to finish), then says who holds the lock. A lock left by a
// process that no longer runs on this machine is taken over.
import { hostname } from "node:os";
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { UserError } from "./errors.ts";
import { fileSystemError } from "./fs-errors.ts";

const LOCK_PATH = ".homelab/lock";

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly started: string;
}

function readHolder(path: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, "utf8")) as Partial<Holder> | null;
    return holder && typeof holder.pid === "number" && typeof holder.host === "string" ? (holder as Holder) : undefined;
  } catch {
    // Gone, or half written by a holder that is starting right now.
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryCreate(path: string, holder: Holder): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw fileSystemError(error, path);
  }
  writeSync(fd, `${JSON.stringify(holder)}\n`);
  closeSync(fd);
  return true;
}

/** Runs `work` holding the repository's lock; always releases it. */
export async function withRepositoryLock<T>(dir: string, command: string, work: () => Promise<T>): Promise<T> {
  const path = join(dir, LOCK_PATH);
  let firstCreated: string | undefined;
  try {
    firstCreated = mkdirSync(join(dir, ".homelab"), { recursive: true });
  } catch (error) {
    throw fileSystemError(error, join(dir, ".homelab"));
  }
  const me: Holder = { pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
  // HOMELAB_LOCK_WAIT_MS: how long to wait for another run (scripts that would rather fail at once set 0).
  // How long a second run waits for the first before giving up.
  const deadline = Date.now() + Number(process.env.HOMELAB_LOCK_WAIT_MS ?? 3000);
  for (;;) {
    if (tryCreate(path, me)) break;
    const holder = readHolder(path);
    if (holder && holder.host === me.host && !isRunning(holder.pid)) {
      // Its process is gone (killed, crashed): the lock protects nothing any more.
      try {
        unlinkSync(path);
      } catch {
        // Another run took it over first; try again.
      }
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder ? `\`homelab ${holder.command}\` (pid ${holder.pid} on ${holder.host}, since ${holder.started})` : "another homelab run";
      throw new UserError([
        {
          file: path,
          line: 0,
          col: 0,
          path: "",
          message: `${who} is working on this repository`,
          hint: `wait for it to finish; if no such process runs any more, remove ${LOCK_PATH}`,
        },
      ]);
    }
    await sleep(100);
  }
  const release = () => {
    if (readHolder(path)?.pid !== me.pid) return;
    unlinkSync(path);
    // A run that wrote nothing leaves no trace: the folders made for the lock go when it was all they held.
    for (let folder = join(dir, ".homelab"); firstCreated !== undefined || folder === join(dir, ".homelab"); folder = dirname(folder)) {
      try {
        rmdirSync(folder);
      } catch {
        return; // It holds the manifest, a journal or the tree.
      }
      if (folder === firstCreated || folder === dirname(folder)) return;
    }
  };
  process.once("exit", release);
  try {
    return await work();
  } finally {
    process.removeListener("exit", release);
    release();
  }
}
