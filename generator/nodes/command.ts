// `homelab node-config NAME`: the host files node NAME needs at install, written with their
// secrets outside the repository (0700 folder, 0600 files). Prints paths, never a value.
import { chmodSync, existsSync, mkdirSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseCommandArgs } from "../args.ts";
import { isInside, physicalPath } from "../fs-paths.ts";
import { identityToRecipient } from "age-encryption";
import { loadConfigFile } from "../config/load.ts";
import type { HomelabConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { K3S_TOKEN_SECRET, READER_PASSWORD_SECRET } from "../image/paths.ts";
import { findAgeIdentities } from "../secrets/age-keys.ts";
import { newValue } from "../secrets/manifests.ts";
import { SecretStore } from "../secrets/store.ts";
import { clusterNodes, firstServer } from "./cluster.ts";
import { hostFiles, hostReadme, type NodeSecrets } from "./host-files.ts";

export async function nodeConfigCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs({ args, options: { config: { type: "string", default: "homelab.yaml" }, out: { type: "string" } }, allowPositionals: true, strict: true });
  const [name, ...rest] = positionals;
  if (!name || rest.length > 0) throw new UserError("usage: homelab node-config NAME [--config FILE] [--out DIR]");
  const configPath = resolve(values.config);
  const repoDir = dirname(configPath);
  const { config } = loadConfigFile(configPath);

  const nodes = clusterNodes(config);
  const node = nodes.find((n) => n.name === name);
  if (!node) throw new UserError(`no node "${name}" in cluster.nodes; the nodes are: ${nodes.map((n) => n.name).join(", ")}`);
  const outDir = resolve(values.out ?? join(homedir(), `homelab-node-${name}`));
  checkOutDir(outDir, repoDir);

  // Only the first server: homelab-bootstrap.service runs wherever the key is, and a second run
  // on another server would apply the image's older seed and push its older repository.
  const ageKey = node.name === firstServer(config).name ? await clusterAgeKey(config) : undefined;
  const store = new SecretStore(repoDir, config.secrets.ageRecipients);
  const secrets: NodeSecrets = {
    token: await generatedValue(store, K3S_TOKEN_SECRET),
    readerPassword: await generatedValue(store, READER_PASSWORD_SECRET),
    ...(ageKey ? { ageKey } : {}),
  };
  const files = hostFiles(config, node, secrets);

  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  chmodSync(outDir, 0o700);
  for (const file of files) {
    mkdirSync(join(outDir, dirname(file.path)), { recursive: true, mode: 0o700 });
    if ("symlink" in file) symlinkSync(file.symlink, join(outDir, file.path));
    else writeFileSync(join(outDir, file.path), file.content, { mode: 0o600, flag: "wx" });
  }
  writeFileSync(join(outDir, "README.txt"), hostReadme(config, node, files), { mode: 0o600, flag: "wx" });

  const created = store.writeStaged();
  console.log(`homelab: wrote the host files of ${node.name} (${node.role}) to ${outDir}:`);
  for (const file of [...files.map((f) => f.path), "README.txt"]) console.log(`  ${file}`);
  console.log("They hold secrets: copy them to the node as README.txt says, then delete this folder.");
  for (const path of created) {
    const alsoInTree = path === store.relativePath(READER_PASSWORD_SECRET) ? "; run `npm run generate` too: the cluster's copy of it is in the tree" : "";
    console.log(`homelab: created ${path} (a new generated secret, encrypted): commit it${alsoInTree}.`);
  }
  return 0;
}

/** The output must not land where git could pick it up, nor mix with an earlier run. */
function checkOutDir(outDir: string, repoDir: string): void {
  if (physicalPath(outDir) === resolve("/")) throw new UserError(`${outDir} is the file system's root; choose a folder of its own with --out DIR`);
  if (statSync(outDir, { throwIfNoEntry: false })?.isDirectory() === false) throw new UserError(`${outDir} is a file, not a folder; choose a new folder with --out DIR`);
  if (isInside(realpathSync(repoDir), physicalPath(outDir))) {
    throw new UserError(`${outDir} is inside the repository (${repoDir}); node-config writes secrets, so choose a folder outside it with --out DIR`);
  }
  if (existsSync(outDir) && readdirSync(outDir).length > 0) {
    throw new UserError(`${outDir} already exists and is not empty; remove it (it holds an earlier node's secrets) or choose another --out DIR`);
  }
}

/** A generated secret from the store, created (and staged for writing) on first need. */
async function generatedValue(store: SecretStore, name: string): Promise<string> {
  if (!store.has(name)) await store.set(name, newValue());
  return store.value(name);
}

/** The user's age key that belongs to the cluster: first boot loads it into Flux. */
async function clusterAgeKey(config: HomelabConfig): Promise<{ identity: string; recipient: string }> {
  let identities: string[];
  try {
    identities = findAgeIdentities();
  } catch (error) {
    throw new UserError(`cannot read your age key: ${(error as Error).message}`);
  }
  const owned = new Map<string, string>();
  for (const identity of identities) owned.set(await identityToRecipient(identity), identity);
  const recipient = config.secrets.ageRecipients.find((r) => owned.has(r));
  if (!recipient) {
    throw new UserError(
      identities.length === 0
        ? "the first server needs the cluster's age private key, and none was found: point SOPS_AGE_KEY_FILE at it (or put it in ~/.config/sops/age/keys.txt)"
        : "none of your age keys (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, ~/.config/sops/age/keys.txt) belongs to secrets.ageRecipients: the first server needs the cluster's private key",
    );
  }
  return { identity: owned.get(recipient) as string, recipient };
}
