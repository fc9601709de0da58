// All-or-nothing writes. Every new file is first written beside its target as
// `<target>.homelab-tmp`; a journal lists them. Once all are on disk the journal is marked
// committed (one atomic rename) and only then are the temporary files renamed into place and
// old files removed. A run killed before the commit point is undone by the next run (the
// temporary files are deleted); one killed after it is finished by the next run (the renames
// and removals are repeated). Either way the tree and the secret store never stay half old,
// half new.
import { sha256 } from "./hash.ts";
import { chmodSync, closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "./errors.ts";
import { fileSystemError } from "./fs-errors.ts";
import { isTreePath } from "./fs-paths.ts";

export const JOURNAL_PATH = ".homelab/transaction.json";
export const TEMP_SUFFIX = ".homelab-tmp";
/** The mode of a generated file that is not executable. */
export const DEFAULT_FILE_MODE = 0o644;

/** Paths are relative to the transaction's folder, with forward slashes. */
export interface FileWrite {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
  /**
   * Flushed to the disk before the commit point: the secret store and the CA, which nothing can
   * make again, survive a power cut too. The tree is made again from them by the next run, so
   * its files skip the flush (it would double a large run's time).
   */
  readonly durable?: boolean;
}
export interface FileChmod {
  readonly path: string;
  readonly mode: number;
}
export interface FileRemoval {
  readonly path: string;
  /** The content it must still have: a file changed since homelab wrote it is kept. */
  readonly sha256: string;
}
export interface Transaction {
  /** In order: the secret store and CA first, then the tree, the manifest last. */
  readonly writes: readonly FileWrite[];
  readonly chmods: readonly FileChmod[];
  readonly removals: readonly FileRemoval[];
}

interface Journal {
  readonly state: "preparing" | "committed";
  readonly writes: { path: string; mode: number }[];
  readonly chmods: FileChmod[];
  readonly removals: FileRemoval[];
}


/**
 * A test hook: HOMELAB_TEST_CRASH_AT_STEP=N kills this process (SIGKILL, as a power cut or
 * the OOM killer would) just before its Nth file-system change, so tests can prove recovery
 * from every point. Unset, it costs one comparison per change.
 */
function faultInjector(env: NodeJS.ProcessEnv): () => void {
  const crashAt = Number(env.HOMELAB_TEST_CRASH_AT_STEP ?? 0);
  let step = 0;
  return () => {
    step++;
    if (crashAt > 0 && step === crashAt) process.kill(process.pid, "SIGKILL");
  };
}

/** Folders made by this process: one mkdir per folder, not one per file. */
const madeFolders = new Set<string>();

function writeFile(path: string, content: string, mode: number, durable: boolean): void {
  const folder = dirname(path);
  if (!madeFolders.has(folder)) {
    mkdirSync(folder, { recursive: true });
    madeFolders.add(folder);
  }
  const fd = openSync(path, "w", mode);
  try {
    writeFileSync(fd, content);
    if (durable) fsyncSync(fd);
    // The umask may have taken bits away: the mode is part of the tree (an executable script).
    if (mode !== DEFAULT_FILE_MODE) fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}


function writeJournal(baseDir: string, journal: Journal): void {
  const target = join(baseDir, JOURNAL_PATH);
  writeFile(`${target}${TEMP_SUFFIX}`, `${JSON.stringify(journal, null, 1)}\n`, DEFAULT_FILE_MODE, true);
  renameSync(`${target}${TEMP_SUFFIX}`, target);
}

/** A journal as commitTransaction writes it; every path inside the folder (it guides renames, chmods and removals). */
function isJournal(value: unknown): value is Journal {
  const record = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  const entries = (list: unknown, valid: (entry: Record<string, unknown>) => boolean) =>
    Array.isArray(list) && list.every((entry) => record(entry) && typeof entry.path === "string" && isTreePath(entry.path) && valid(entry));
  const hasMode = (entry: Record<string, unknown>) => Number.isInteger(entry.mode) && (entry.mode as number) >= 0 && (entry.mode as number) <= 0o7777;
  return (
    record(value) &&
    (value.state === "preparing" || value.state === "committed") &&
    entries(value.writes, hasMode) &&
    entries(value.chmods, hasMode) &&
    entries(value.removals, (entry) => typeof entry.sha256 === "string")
  );
}

function readJournal(baseDir: string): Journal | undefined {
  let text: string;
  try {
    text = readFileSync(join(baseDir, JOURNAL_PATH), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fileSystemError(error, join(baseDir, JOURNAL_PATH));
  }
  try {
    const journal = JSON.parse(text) as unknown;
    if (isJournal(journal)) return journal;
  } catch {
    // Reported below.
  }
  throw new UserError([
    {
      file: join(baseDir, JOURNAL_PATH),
      line: 0,
      col: 0,
      path: "",
      message: "the record of an interrupted run is unreadable",
      hint: `remove it (and any *${TEMP_SUFFIX} files), then run \`npm run generate\` and check the result with \`git status\``,
    },
  ]);
}

/** Removes the folders a removal left empty, up to (not including) the base folder. */
function removeEmptyParents(baseDir: string, relativeDir: string): void {
  for (let dir = relativeDir; dir !== "." && dir !== ""; dir = dirname(dir)) {
    const absolute = join(baseDir, dir);
    try {
      if (readdirSync(absolute).length > 0) return;
      rmdirSync(absolute);
    } catch {
      return;
    }
  }
}

function removeIfUnchanged(baseDir: string, removal: FileRemoval): void {
  const target = join(baseDir, removal.path);
  let content: Buffer;
  try {
    content = readFileSync(target);
  } catch {
    return; // Already gone.
  }
  if (sha256(content) !== removal.sha256) return;
  unlinkSync(target);
  removeEmptyParents(baseDir, dirname(removal.path));
}

/** `recovering`: an interrupted run may have renamed some files already; this run knows it has not. */
function apply(baseDir: string, journal: Journal, beforeChange: () => void, recovering: boolean): void {
  for (const write of journal.writes) {
    const target = join(baseDir, write.path);
    if (recovering) {
      try {
        statSync(`${target}${TEMP_SUFFIX}`);
      } catch {
        continue; // Renamed by the run that was interrupted.
      }
    }
    beforeChange();
    renameSync(`${target}${TEMP_SUFFIX}`, target);
  }
  for (const change of journal.chmods) {
    beforeChange();
    try {
      chmodSync(join(baseDir, change.path), change.mode);
    } catch (error) {
      // Deleted since the interrupted run: nothing left to change.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  for (const removal of journal.removals) {
    beforeChange();
    removeIfUnchanged(baseDir, removal);
  }
  beforeChange();
  unlinkSync(join(baseDir, JOURNAL_PATH));
}

function discard(baseDir: string, journal: Journal): void {
  for (const write of journal.writes) {
    try {
      unlinkSync(join(baseDir, `${write.path}${TEMP_SUFFIX}`));
    } catch {
      // Never written.
    }
  }
  unlinkSync(join(baseDir, JOURNAL_PATH));
}

/** True when a run was interrupted and its journal awaits recovery. */
export function hasPendingTransaction(baseDir: string): boolean {
  return readJournal(baseDir) !== undefined;
}

/** Finishes or undoes an interrupted run; says which (undefined: there was none). */
export function recoverTransaction(baseDir: string): "finished" | "undone" | undefined {
  const journal = readJournal(baseDir);
  if (!journal) return undefined;
  try {
    if (journal.state === "committed") {
      apply(baseDir, journal, () => {}, true);
      return "finished";
    }
    discard(baseDir, journal);
    return "undone";
  } catch (error) {
    throw fileSystemError(error, baseDir);
  }
}

/** Writes the transaction whole or not at all. */
export function commitTransaction(baseDir: string, transaction: Transaction, env: NodeJS.ProcessEnv = process.env): void {
  if (transaction.writes.length === 0 && transaction.chmods.length === 0 && transaction.removals.length === 0) return;
  const beforeChange = faultInjector(env);
  madeFolders.clear(); // An earlier transaction's removals may have taken some away.
  const journal: Journal = {
    state: "preparing",
    writes: transaction.writes.map(({ path, mode }) => ({ path, mode })),
    chmods: [...transaction.chmods],
    removals: [...transaction.removals],
  };
  try {
    beforeChange();
    writeJournal(baseDir, journal);
  } catch (error) {
    throw fileSystemError(error, join(baseDir, JOURNAL_PATH));
  }
  let current = JOURNAL_PATH;
  try {
    for (const write of transaction.writes) {
      current = write.path;
      beforeChange();
      writeFile(join(baseDir, `${write.path}${TEMP_SUFFIX}`), write.content, write.mode, write.durable === true);
    }
    current = JOURNAL_PATH;
    beforeChange();
    writeJournal(baseDir, { ...journal, state: "committed" });
  } catch (error) {
    // Nothing is in place yet: undo, and say what could not be written.
    try {
      discard(baseDir, journal);
    } catch {
      // The next run undoes it from the journal.
    }
    throw fileSystemError(error, join(baseDir, current));
  }
  try {
    apply(baseDir, { ...journal, state: "committed" }, beforeChange, false);
  } catch (error) {
    // Committed: the next run finishes what this one could not.
    throw fileSystemError(error, baseDir);
  }
}
