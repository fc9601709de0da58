// The secret store: every secret value of the homelab, one SOPS file per value under
// secrets/<name>.sops.yaml in the repository. Values are encrypted to secrets.ageRecipients,
// so adding one needs no private key; reading one does, and only happens when a Secret
// manifest that uses it must be written anew.
import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFiles } from "../writer.ts";
import { sha256 } from "../hash.ts";
import { UserError } from "../errors.ts";
import { fileSystemError } from "../fs-errors.ts";
import { findAgeIdentities } from "./age-keys.ts";
import { decryptDocument, encryptDocument, loadAge, SopsError, sopsMetadata } from "./sops.ts";

export const STORE_DIR = "secrets";

/** Store names are dotted identifiers: longhorn.backup.accessKeyId */
const STORE_NAME = /^[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)*$/;

/** Where to put the age private key, when none was found. */
export const NO_AGE_KEY_HINT = "put your key in ~/.config/sops/age/keys.txt or point SOPS_AGE_KEY_FILE at it";

/** The hint for a file encrypted to none of the keys at hand (so not damaged: just not yours). */
export const NOT_A_RECIPIENT_HINT = "is your age key one of secrets.ageRecipients?";

/** Kubernetes keeps a Secret to 1 MiB, so no value a Secret uses can be larger. */
export const MAX_SECRET_BYTES = 1024 * 1024;
/** A value's file: the value in base64, its metadata and recipients; far above what 1 MiB makes. */
const MAX_STORE_FILE_BYTES = 4 * MAX_SECRET_BYTES;

/** Far below a file name's limit (255 bytes with ".sops.yaml"), far above any real name. */
const MAX_STORE_NAME_LENGTH = 200;

/** Throws when `name` cannot be a store name (its file name is made from it). */
export function checkStoreName(name: string): void {
  if (name.length > MAX_STORE_NAME_LENGTH) {
    throw new UserError(`a secret name is at most ${MAX_STORE_NAME_LENGTH} characters; "${name.slice(0, 40)}…" has ${name.length}`);
  }
  if (!STORE_NAME.test(name)) throw new UserError(`"${name}" is not a secret name: use letters, digits, '-' and '.' (e.g. longhorn.backup.accessKeyId)`);
}

interface Entry {
  /** The file text as it is (or will be) in the repository. */
  readonly text: string;
  /** Known plaintext: freshly set or generated, or decrypted once. */
  plaintext?: string;
  /** Not yet written. */
  readonly staged: boolean;
  /** sopsMetadata(text), parsed once. */
  metadata?: { recipients: string[]; encryptedValues: string[] };
}

/** A store file that is not what homelab wrote: truncated, hand-edited, or not SOPS at all. */
function damaged(path: string, reason: string): UserError {
  return new UserError([{ file: path, line: 0, col: 0, path: "", message: reason, hint: `restore it from git: \`git checkout HEAD -- ${path}\`` }]);
}

/** The public keys of age identities (a kind this age library cannot read is left out). */
async function recipientsOf(identities: readonly string[]): Promise<string[]> {
  const { identityToRecipient } = await loadAge();
  const recipients = await Promise.all(identities.map((identity) => identityToRecipient(identity).catch(() => undefined)));
  return recipients.filter((recipient) => recipient !== undefined);
}

function metadataOf(entry: Entry, path: string): { recipients: string[]; encryptedValues: string[] } {
  try {
    entry.metadata ??= sopsMetadata(entry.text);
  } catch (error) {
    if (error instanceof SopsError) throw damaged(path, `is not a readable SOPS file: ${error.message}`);
    throw error;
  }
  return entry.metadata;
}

export class SecretStore {
  private readonly entries = new Map<string, Entry>();
  private identities: string[] | undefined;
  readonly repoDir: string;
  readonly recipients: readonly string[];
  private readonly env: NodeJS.ProcessEnv;

  constructor(repoDir: string, recipients: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    this.repoDir = repoDir;
    this.recipients = recipients;
    this.env = env;
  }

  relativePath(name: string): string {
    return `${STORE_DIR}/${name}.sops.yaml`;
  }

  private entry(name: string): Entry | undefined {
    const known = this.entries.get(name);
    if (known) return known;
    const path = join(this.repoDir, this.relativePath(name));
    let text: string;
    try {
      const stats = statSync(path, { throwIfNoEntry: false });
      if (!stats) {
        if (lstatSync(path, { throwIfNoEntry: false })) throw damaged(this.relativePath(name), "is a symbolic link to nothing");
        return undefined;
      }
      // A pipe or a device would never end; what homelab writes is a small file.
      if (!stats.isFile()) throw damaged(this.relativePath(name), "is not a regular file");
      if (stats.size > MAX_STORE_FILE_BYTES) throw damaged(this.relativePath(name), `is ${stats.size} bytes, more than a stored value's file can be`);
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw error instanceof UserError ? error : fileSystemError(error, path);
    }
    const entry = { text, staged: false };
    this.entries.set(name, entry);
    return entry;
  }

  /** Every value in the store: on disk and staged. */
  names(): string[] {
    let onDisk: string[] = [];
    try {
      onDisk = readdirSync(join(this.repoDir, STORE_DIR)).filter((f) => f.endsWith(".sops.yaml")).map((f) => f.slice(0, -".sops.yaml".length));
    } catch (error) {
      // No store yet is an empty one; a file where it should be is not.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw fileSystemError(error, join(this.repoDir, STORE_DIR));
    }
    return [...new Set([...onDisk, ...this.entries.keys()])].sort();
  }

  has(name: string): boolean {
    return this.entry(name) !== undefined;
  }

  /** Changes exactly when the stored value or its recipients change; no key needed. */
  fingerprint(name: string): string {
    const entry = this.entry(name);
    if (!entry) throw new Error(`secret ${name} is not in the store`);
    const { recipients, encryptedValues } = metadataOf(entry, this.relativePath(name));
    return sha256(JSON.stringify([[...recipients].sort(), encryptedValues]));
  }

  /** True when the stored file is encrypted to other recipients than the config lists. */
  needsReencryption(name: string): boolean {
    const entry = this.entry(name);
    if (!entry) return false;
    const current = [...metadataOf(entry, this.relativePath(name)).recipients].sort();
    return JSON.stringify(current) !== JSON.stringify([...this.recipients].sort());
  }

  async set(name: string, plaintext: string): Promise<void> {
    checkStoreName(name);
    const text = await encryptDocument({ value: plaintext }, { recipients: this.recipients });
    this.entries.set(name, { text, plaintext, staged: true });
  }

  /** The age private keys at hand, where sops looks for them (none: an empty list). */
  ageIdentities(): string[] {
    try {
      return (this.identities ??= findAgeIdentities(this.env));
    } catch (error) {
      throw new UserError(`cannot read the age key: ${(error as Error).message}`);
    }
  }

  /** The plaintext; decrypts with the user's age key when it is not known yet. */
  async value(name: string): Promise<string> {
    const entry = this.entry(name);
    if (!entry) throw new Error(`secret ${name} is not in the store`);
    if (entry.plaintext !== undefined) return entry.plaintext;
    const path = this.relativePath(name);
    // A damaged file is said to be one before any key is looked for.
    metadataOf(entry, path);
    const identities = this.ageIdentities();
    if (identities.length === 0) {
      throw new UserError([
        {
          file: path,
          line: 0,
          col: 0,
          path: "",
          message: "a Secret that uses this value must be written anew, and no age private key was found to read it",
          hint: NO_AGE_KEY_HINT,
        },
      ]);
    }
    try {
      const { data } = await decryptDocument(entry.text, identities);
      entry.plaintext = String(data.value);
    } catch (error) {
      if (!(error instanceof SopsError)) throw error;
      // Encrypted to one of the keys at hand and still unreadable: the file itself is damaged.
      const ours = await recipientsOf(identities);
      if (metadataOf(entry, path).recipients.some((recipient) => ours.includes(recipient))) throw damaged(path, `cannot decrypt: ${error.message}`);
      throw new UserError([{ file: path, line: 0, col: 0, path: "", message: `cannot decrypt: ${error.message}`, hint: NOT_A_RECIPIENT_HINT }]);
    }
    return entry.plaintext;
  }

  /** Store files to write: new values and re-encrypted ones. */
  stagedFiles(): { path: string; content: string }[] {
    return [...this.entries]
      .filter(([, entry]) => entry.staged)
      .map(([name, entry]) => ({ path: this.relativePath(name), content: entry.text }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  writeStaged(): string[] {
    return writeFiles(this.repoDir, this.stagedFiles());
  }
}
