// File-system failures a user can fix (permissions, a full disk, a folder in the way) become
// UserErrors naming the path; anything else stays a bug.
import { UserError } from "./errors.ts";

const reasons: Record<string, { message: string; hint: string }> = {
  EACCES: { message: "permission denied", hint: "check the owner and permissions of this path (ls -ld)" },
  EPERM: { message: "operation not permitted", hint: "check the owner and permissions of this path (ls -ld)" },
  EROFS: { message: "is on a read-only file system", hint: "run homelab where the repository can be written" },
  ENOSPC: { message: "no space left on the device", hint: "free some disk space, then run again" },
  EDQUOT: { message: "disk quota exceeded", hint: "free some disk space, then run again" },
  EISDIR: { message: "is a folder where homelab writes a file", hint: "move the folder away, then run again" },
  ENOTDIR: { message: "a file stands where homelab needs a folder", hint: "move that file away, then run again" },
  ENAMETOOLONG: { message: "the name is too long for the file system", hint: "use a shorter name" },
  EEXIST: { message: "already exists as something homelab cannot use here (a file where it needs a folder?)", hint: "move it away, then run again" },
  EIO: { message: "the device reported an input/output error", hint: "check the disk, or choose a path on an ordinary file system" },
  ELOOP: { message: "too many symbolic links", hint: "homelab does not follow symbolic links here: replace the link with a folder" },
};

/** The UserError for a failed file operation on `path`, or the error itself when it is a bug. */
export function fileSystemError(error: unknown, path: string): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code ? reasons[code] : undefined;
  if (!reason) return error instanceof Error ? error : new Error(String(error));
  return new UserError([{ file: path, line: 0, col: 0, path: "", message: reason.message, hint: reason.hint }]);
}
