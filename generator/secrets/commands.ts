// `homelab secrets set NAME` and `homelab secrets list`: values go in, names come out —
// never a value.
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { loadConfigFile } from "../config/load.ts";
import { componentsFor } from "../components/registry.ts";
import { plan } from "../plan.ts";
import { K3S_TOKEN_SECRET } from "../image/paths.ts";
import { UserError } from "../errors.ts";
import { ensureCertificateAuthority } from "./internal-ca.ts";
import { secretFilePath, storeRefs } from "./manifests.ts";
import { SecretStore, STORE_DIR, STORE_NAME } from "./store.ts";

/** Reads the value: hidden typing on a terminal, else all of stdin without its final newline. */
async function readValue(name: string, stdin: NodeJS.ReadStream, stderr: NodeJS.WriteStream): Promise<string> {
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  }
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  // The terminal stops echoing when the interface exists: only then ask for the value.
  const prompt = createInterface({ input: stdin, output: muted, terminal: true });
  stderr.write(`Value for ${name} (not shown): `);
  const value = await new Promise<string>((done) => prompt.question("", done));
  prompt.close();
  stderr.write("\n");
  return value;
}

export async function setSecret(configPath: string, name: string, io = { stdin: process.stdin, stderr: process.stderr }): Promise<string> {
  if (!STORE_NAME.test(name)) throw new UserError(`"${name}" is not a secret name: use letters, digits, '-' and '.' (e.g. longhorn.backup.accessKeyId)`);
  const { config } = loadConfigFile(resolve(configPath));
  const value = await readValue(name, io.stdin, io.stderr);
  if (value === "") throw new UserError(`no value for ${name}: nothing was saved`);
  const store = new SecretStore(dirname(resolve(configPath)), config.secrets.ageRecipients);
  await store.set(name, value);
  const [path] = store.writeStaged();
  return `homelab: saved ${name} to ${path} (encrypted to ${config.secrets.ageRecipients.length} recipient(s)); run \`npm run generate\``;
}

export async function listSecrets(configPath: string): Promise<string> {
  const repoDir = dirname(resolve(configPath));
  const { config } = loadConfigFile(resolve(configPath));
  const store = new SecretStore(repoDir, config.secrets.ageRecipients);
  const { ca } = await ensureCertificateAuthority(config, repoDir, store);
  const planned = plan(config, componentsFor(config), ca);
  const rows = new Map<string, { kind: string; usedBy: Set<string> }>();
  for (const unit of planned.units) {
    for (const spec of unit.secrets ?? []) {
      for (const { name, origin } of Object.values(spec.data).flatMap(storeRefs)) {
        const row = rows.get(name) ?? { kind: origin as string, usedBy: new Set<string>() };
        row.usedBy.add(secretFilePath(unit, spec));
        rows.set(name, row);
      }
    }
  }
  // What is on disk: the store above may hold a CA made just for this listing, never written.
  const stored = new SecretStore(repoDir, config.secrets.ageRecipients).names();
  // The join token goes to nodes, not to a Secret: node-config makes and reads it.
  if (stored.includes(K3S_TOKEN_SECRET)) rows.set(K3S_TOKEN_SECRET, { kind: "generated", usedBy: new Set(["homelab node-config (the nodes' k3s settings)"]) });
  for (const name of stored) if (!rows.has(name)) rows.set(name, { kind: "unused", usedBy: new Set() });
  const lines = [...rows]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, row]) => {
      const state = stored.includes(name) ? "set" : row.kind === "you set it" ? "MISSING" : "created by the next generate";
      return `${name}\n  ${state} · ${row.kind}${row.usedBy.size > 0 ? ` · used by ${[...row.usedBy].join(", ")}` : ""}`;
    });
  return `${lines.join("\n")}\n\nValues live encrypted in ${STORE_DIR}/<name>.sops.yaml; read one with \`sops -d ${STORE_DIR}/<name>.sops.yaml\`.`;
}
