// `homelab init`: turns a fresh clone (the demo) into the user's own setup — a starter
// homelab.yaml, an age key pair (the private key to the sops keys file, never into a git work
// tree), the internal CA, and the generated tree. It refuses a setup that is not the demo as
// committed. Everything is made in a scratch folder first; then the key is added and the
// repository changes in one transaction, so a refusal or a failure leaves the repository as it
// was. Of the demo it removes only its own files with the bytes git or homelab gave them: a
// file someone added or changed stays.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { createInterface } from "node:readline/promises";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { parseDocument } from "yaml";
import { UserError } from "./errors.ts";
import { generate } from "./generate.ts";
import { withRepositoryLock } from "./lock.ts";
import { sha256 } from "./hash.ts";
import { commitTransaction, hasPendingTransaction, recoverTransaction, type FileRemoval, type FileWrite } from "./transaction.ts";
import { MANIFEST_PATH, parseManifest } from "./writer.ts";
import { STORE_DIR } from "./secrets/store.ts";
import { CA_RECORD_PATH } from "./state-paths.ts";
import { CACHE_PATH } from "./up-to-date.ts";
import { addToKeysFile, checkKeyFileForNewKey, defaultAgeKeyFile } from "./secrets/age-keys.ts";

/** The demo's TEST-ONLY recipient (test/fixtures/demo-age.key): a setup with it is the demo. */
export const DEMO_RECIPIENT = "age1gkzd20j67qr0cpelrm223u90x0dj05xjk9kn3pad55tja777svqqpg5h5l";

export interface InitOptions {
  readonly dir: string;
  readonly name?: string;
  readonly domain?: string;
  readonly owner?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly interactive?: boolean;
}

/** Where the new key goes: SOPS_AGE_KEY_FILE, else the file sops reads by default. */
function sopsKeyFile(env: NodeJS.ProcessEnv): string {
  return env.SOPS_AGE_KEY_FILE || defaultAgeKeyFile(env) || join(homedir(), ".config", "sops", "age", "keys.txt");
}

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DOMAIN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$/;

function isDemo(configPath: string): boolean {
  const recipients = parseDocument(readFileSync(configPath, "utf8")).getIn(["secrets", "ageRecipients"]) as { toJSON(): unknown } | undefined;
  const list = recipients?.toJSON();
  return Array.isArray(list) && list.length === 1 && list[0] === DEMO_RECIPIENT;
}

async function ask(question: string, fallback: string, interactive: boolean, check: RegExp, what: string): Promise<string> {
  if (!interactive) throw new UserError(`init needs ${what}: pass --${what}`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    for (;;) {
      const answer = (await prompt.question(`${question} [${fallback}]: `)).trim() || fallback;
      if (check.test(answer)) return answer;
      process.stderr.write(`  "${answer}" is not a valid ${what}\n`);
    }
  } finally {
    prompt.close();
  }
}

function starterConfig(name: string, domain: string, owner: string, recipient: string): string {
  return `# yaml-language-server: $schema=./schemas/homelab.schema.json
# Your homelab. Every key not written here has a default: see docs/config-reference.md.
cluster:
  name: ${name}
  domain: ${domain}
  # nodes:
  #   - name: ${name}
  #     address: 192.168.1.10      # lets Prometheus scrape the control plane

git:
  owner: ${owner}

secrets:
  ageRecipients:
    - ${recipient}                 # your key; the private half is in your sops keys file

# storage:
#   longhorn:
#     backup:                      # off-site backups; then: npx homelab secrets set longhorn.backup.accessKeyId
#       target: s3://my-bucket@us-west-004/
#       endpoint: https://s3.us-west-004.backblazeb2.com

apps:
  gitea: {}
  vaultwarden: {}
  homeAssistant: {}
`;
}

/** Runs git in `dir`; its output, or undefined when git says no (not a repository, no commit). */
function git(dir: string, args: string[]): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new UserError("init needs git to tell the demo from your own changes: install git");
    return undefined;
  }
}

/** Files under `pathspecs` whose bytes are as HEAD has them, with the sha256 of those bytes. */
function committedUnchanged(dir: string, pathspecs: string[]): Map<string, string> {
  const unchanged = new Map<string, string>();
  // Paths relative to `dir`, as ls-tree and hash-object both take them.
  const listing = git(dir, ["ls-tree", "-r", "-z", "HEAD", "--", ...pathspecs]);
  if (listing === undefined) return unchanged;
  const committed = listing
    .split("\0")
    .filter((line) => line !== "")
    .map((line) => {
      const [meta = "", path = ""] = line.split("\t");
      return { type: meta.split(" ")[1], blob: meta.split(" ")[2], path };
    })
    .filter(({ type, path }) => type === "blob" && statSync(join(dir, path), { throwIfNoEntry: false })?.isFile());
  if (committed.length === 0) return unchanged;
  const working = (git(dir, ["hash-object", "--", ...committed.map((c) => c.path)]) ?? "").split("\n");
  committed.forEach(({ blob, path }, i) => {
    if (working[i] === blob) unchanged.set(path, sha256(readFileSync(join(dir, path))));
  });
  return unchanged;
}

/** Throws unless homelab.yaml is the demo's, as committed: anything else is someone's setup. */
function checkIsDemo(dir: string, configPath: string): void {
  const refuse = (message: string, hint: string) => new UserError([{ file: configPath, line: 0, col: 0, path: "", message, hint }]);
  if (!isDemo(configPath)) throw refuse("this repository already has its own setup; init changes nothing", "edit homelab.yaml and run `npm run generate` instead");
  if (git(dir, ["rev-parse", "--is-inside-work-tree"]) === undefined) {
    throw refuse("has the demo's key, but this folder is not a git clone, so init cannot tell the demo from your edits; init changes nothing", "run init in a fresh clone of the repository");
  }
  if (!committedUnchanged(dir, ["homelab.yaml"]).has("homelab.yaml")) {
    throw refuse(
      "differs from the committed demo: init would replace your edits; init changes nothing",
      "keep them and make the setup yours by putting your own age key in secrets.ageRecipients (then `npm run generate`), or discard them with `git checkout HEAD -- homelab.yaml` and run init again",
    );
  }
}

/** The demo's own files: its tree as homelab wrote it, its secret store and CA as committed. */
function demoFiles(dir: string): Map<string, string> {
  const files = committedUnchanged(dir, [STORE_DIR, "certs", CA_RECORD_PATH, "homelab.yaml"]);
  const manifestPath = join(dir, MANIFEST_PATH);
  if (existsSync(manifestPath)) {
    const text = readFileSync(manifestPath, "utf8");
    const manifest = parseManifest(text);
    if ("problem" in manifest) throw new UserError(`${MANIFEST_PATH} ${manifest.problem}: restore it from git (git checkout HEAD -- ${MANIFEST_PATH}); init changes nothing`);
    for (const [path, hash] of Object.entries(manifest.files)) files.set(path, hash);
    files.set(MANIFEST_PATH, sha256(text));
  }
  return files;
}

/** Every file of the new setup, made by a real generate in a scratch folder outside the repository. */
async function newSetup(configText: string): Promise<FileWrite[]> {
  const scratch = mkdtempSync(join(tmpdir(), "homelab-init-"));
  try {
    writeFileSync(join(scratch, "homelab.yaml"), configText);
    // Everything in it is new, so no key is needed to read it: none of the user's is offered.
    await generate({ configPath: join(scratch, "homelab.yaml"), env: {} });
    return readdirSync(scratch, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => {
        const path = join(entry.parentPath, entry.name);
        return { path: relative(scratch, path).split(sep).join("/"), content: readFileSync(path, "utf8"), mode: statSync(path).mode & 0o777 };
      });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The order a transaction writes in: the secret store and CA first, the manifest last. */
function writeRank(path: string): number {
  if (path.startsWith(`${STORE_DIR}/`) || path.startsWith("certs/")) return 0;
  if (path === MANIFEST_PATH) return 2;
  return 1;
}

/**
 * The change to the repository: the new files, and the demo's files the new setup does not
 * replace. Throws, listing them, when a file the new setup writes is there and is not the demo's.
 */
function changeFor(dir: string, setup: readonly FileWrite[], demo: ReadonlyMap<string, string>): { writes: FileWrite[]; removals: FileRemoval[] } {
  const inTheWay: string[] = [];
  const writes = setup.filter((file) => {
    let current: Buffer | undefined;
    try {
      current = readFileSync(join(dir, file.path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
      inTheWay.push(file.path);
      return false;
    }
    if (current.toString("utf8") === file.content && (statSync(join(dir, file.path)).mode & 0o777) === file.mode) return false;
    // The run cache of an earlier generate only ever saves work: the new one replaces it.
    if (file.path !== CACHE_PATH && demo.get(file.path) !== sha256(current)) inTheWay.push(file.path);
    return true;
  });
  if (inTheWay.length > 0) {
    throw new UserError(
      inTheWay.map((path) => ({ file: join(dir, path), line: 0, col: 0, path: "", message: "is in the way of the new setup and is not the demo's; init changes nothing", hint: "move it away, then run init again" })),
    );
  }
  const written = new Set(setup.map((file) => file.path));
  return {
    writes: writes.sort((a, b) => writeRank(a.path) - writeRank(b.path) || (a.path < b.path ? -1 : 1)),
    removals: [...demo].filter(([path]) => !written.has(path)).map(([path, hash]) => ({ path, sha256: hash })),
  };
}

export async function init(options: InitOptions): Promise<string> {
  const env = options.env ?? process.env;
  const dir = resolve(options.dir);
  const configPath = join(dir, "homelab.yaml");
  // A run killed part-way is finished or undone first (holding the lock, as generate does), so
  // the checks below see a whole repository.
  if (hasPendingTransaction(dir)) await withRepositoryLock(dir, "init", async () => recoverTransaction(dir));
  const replacingDemo = existsSync(configPath);
  if (replacingDemo) checkIsDemo(dir, configPath);
  const interactive = options.interactive ?? Boolean(process.stdin.isTTY);
  const name = options.name ?? (await ask("Cluster name", "home", interactive, LABEL, "name"));
  const domain = options.domain ?? (await ask("Domain (apps are served at <app>.<domain>)", "home.arpa", interactive, DOMAIN, "domain"));
  const owner = options.owner ?? (await ask("Gitea owner of the repository", "homelab", interactive, LABEL, "owner"));
  for (const [value, check, what] of [[name, LABEL, "name"], [domain, DOMAIN, "domain"], [owner, LABEL, "owner"]] as const) {
    if (!check.test(value)) throw new UserError(`--${what} "${value}" is not a valid ${what}`);
  }
  const keyFile = sopsKeyFile(env);
  checkKeyFileForNewKey(keyFile, dir, env);

  // Everything is computed before the first write.
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const setup = await newSetup(starterConfig(name, domain, owner, recipient));
  const change = changeFor(dir, setup, replacingDemo ? demoFiles(dir) : new Map());

  await withRepositoryLock(dir, "init", async () => {
    // The key first: a repository encrypted to a key that was never saved would be lost.
    const takeKeyBack = addToKeysFile(keyFile, `# homelab ${name}.${domain}, created ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`);
    try {
      commitTransaction(dir, { writes: change.writes, chmods: [], removals: change.removals }, env);
    } catch (error) {
      // Nothing of the setup is in place (no journal left to finish it): the key is not needed.
      if (!hasPendingTransaction(dir)) takeKeyBack();
      throw error;
    }
  });

  return [
    `homelab: your setup is ready${replacingDemo ? " (the demo's key, CA, secrets and tree were replaced)" : ""}: ${change.writes.length} files written.`,
    "",
    `  age key:    ${keyFile} (public key ${recipient})`,
    `  root CA:    certs/${name}-root-ca.crt — install it on your devices to trust *.${domain}`,
    "",
    "Next steps:",
    `  1. Back up ${keyFile} somewhere safe, off this machine: without it the secrets in this repository are lost.`,
    "  2. Review homelab.yaml (add your SSH key under image.admin.sshKey), run `npm run generate`, and commit everything (the secrets are encrypted).",
    "  3. For off-site backups: set storage.longhorn.backup, then `npx homelab secrets set longhorn.backup.accessKeyId` and `…secretAccessKey`.",
    `  4. Install a node: see docs/install.md (\`npx homelab node-config ${name}\` writes its host files, the age key among them).`,
  ].join("\n");
}
