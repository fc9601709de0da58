// The secret store: every secret value of the homelab, one SOPS file per value under
// secrets/<name>.sops.yaml in the repository. Values are encrypted to secrets.ageRecipients,
// so adding one needs no private key; reading one does, and only happens when a Secret
// manifest that uses it must be written anew.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFiles } from "../writer.ts";
import { createHash } from "node:crypto";
import { UserError } from "../errors.ts";
import { findAgeIdentities } from "./age-keys.ts";
import { decryptDocument, encryptDocument, sopsMetadata } from "./sops.ts";

export const STORE_DIR = "secrets";

/** Store names are dotted identifiers: longhorn.backup.accessKeyId */
export const STORE_NAME = /^[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)*$/;

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

function metadataOf(entry: Entry): { recipients: string[]; encryptedValues: string[] } {
  entry.metadata ??= sopsMetadata(entry.text);
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
    if (!existsSync(path)) return undefined;
    const entry = { text: readFileSync(path, "utf8"), staged: false };
    this.entries.set(name, entry);
    return entry;
  }

  /** Every value in the store: on disk and staged. */
  names(): string[] {
    let onDisk: string[] = [];
    try {
      onDisk = readdirSync(join(this.repoDir, STORE_DIR)).filter((f) => f.endsWith(".sops.yaml")).map((f) => f.slice(0, -".sops.yaml".length));
    } catch {
      // No store yet.
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
    const { recipients, encryptedValues } = metadataOf(entry);
    return createHash("sha256").update(JSON.stringify([[...recipients].sort(), encryptedValues])).digest("hex");
  }

  /** True when the stored file is encrypted to other recipients than the config lists. */
  needsReencryption(name: string): boolean {
    const entry = this.entry(name);
    if (!entry) return false;
    const current = [...metadataOf(entry).recipients].sort();
    return JSON.stringify(current) !== JSON.stringify([...this.recipients].sort());
  }

  async set(name: string, plaintext: string): Promise<void> {
    if (!STORE_NAME.test(name)) throw new UserError(`"${name}" is not a secret name (letters, digits, '-' and '.')`);
    const text = await encryptDocument({ value: plaintext }, { recipients: this.recipients });
    this.entries.set(name, { text, plaintext, staged: true });
  }

  /** The plaintext; decrypts with the user's age key when it is not known yet. */
  async value(name: string): Promise<string> {
    const entry = this.entry(name);
    if (!entry) throw new Error(`secret ${name} is not in the store`);
    if (entry.plaintext !== undefined) return entry.plaintext;
    let identities: string[];
    try {
      identities = this.identities ??= findAgeIdentities(this.env);
    } catch (error) {
      throw new UserError(`cannot read the age key: ${(error as Error).message}`);
    }
    if (identities.length === 0) {
      throw new UserError([
        {
          file: this.relativePath(name),
          line: 0,
          col: 0,
          path: "",
          message: "a Secret that uses this value must be written anew, and no age private key was found to read it",
          hint: "put your key in ~/.config/sops/age/keys.txt or point SOPS_AGE_KEY_FILE at it",
        },
      ]);
    }
    try {
      const { data } = await decryptDocument(entry.text, identities);
      entry.plaintext = String(data.value);
    } catch (error) {
      throw new UserError([{ file: this.relativePath(name), line: 0, col: 0, path: "", message: `cannot decrypt: ${(error as Error).message}`, hint: "is your age key one of secrets.ageRecipients?" }]);
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
