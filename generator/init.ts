// `homelab init`: turns a fresh clone (the demo) into the user's own setup — a starter
// homelab.yaml, an age key pair (private key to the sops key file, never into the repo), the
// internal CA, and the generated tree. It refuses to touch a setup that is not the demo.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { parseDocument } from "yaml";
import { UserError } from "./errors.ts";
import { generate } from "./generate.ts";
import { MANIFEST_PATH } from "./writer.ts";
import { STORE_DIR } from "./secrets/store.ts";
import { defaultAgeKeyFile } from "./secrets/age-keys.ts";

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

/** Removes the demo's own state: its tree (as its manifest lists it), secrets and CA. */
function removeDemo(dir: string): void {
  const manifestPath = join(dir, MANIFEST_PATH);
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { files: Record<string, string> };
    for (const path of Object.keys(manifest.files)) rmSync(join(dir, path), { force: true });
    rmSync(manifestPath, { force: true });
  }
  for (const folder of [STORE_DIR, "certs", "clusters", "infrastructure", "apps"]) rmSync(join(dir, folder), { recursive: true, force: true });
}

export async function init(options: InitOptions): Promise<string> {
  const env = options.env ?? process.env;
  const dir = resolve(options.dir);
  const configPath = join(dir, "homelab.yaml");
  const replacingDemo = existsSync(configPath) && isDemo(configPath);
  if (existsSync(configPath) && !replacingDemo) {
    throw new UserError([{ file: configPath, line: 0, col: 0, path: "", message: "this repository already has its own setup; init changes nothing", hint: "edit homelab.yaml and run `npm run generate` instead" }]);
  }
  const interactive = options.interactive ?? Boolean(process.stdin.isTTY);
  const name = options.name ?? (await ask("Cluster name", "home", interactive, LABEL, "name"));
  const domain = options.domain ?? (await ask("Domain (apps are served at <app>.<domain>)", "home.arpa", interactive, DOMAIN, "domain"));
  const owner = options.owner ?? (await ask("Gitea owner of the repository", "homelab", interactive, LABEL, "owner"));
  for (const [value, check, what] of [[name, LABEL, "name"], [domain, DOMAIN, "domain"], [owner, LABEL, "owner"]] as const) {
    if (!check.test(value)) throw new UserError(`--${what} "${value}" is not a valid ${what}`);
  }

  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const keyFile = sopsKeyFile(env);
  mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
  appendFileSync(keyFile, `# homelab ${name}.${domain}, created ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });

  if (replacingDemo) removeDemo(dir);
  writeFileSync(configPath, starterConfig(name, domain, owner, recipient));
  const { result } = await generate({ configPath, env: { ...env, SOPS_AGE_KEY_FILE: keyFile } });

  return [
    `homelab: your setup is ready${replacingDemo ? " (the demo's key, CA, secrets and tree were replaced)" : ""}: ${result.written.length} files written.`,
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
