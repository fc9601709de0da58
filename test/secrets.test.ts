// Secrets end to end: the store, Secret manifests wired to their users, stable bytes, the
// private key only when needed, recipient rotation, leak guards, init.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { parse } from "yaml";
import { describe, expect, test } from "vitest";
import { generate } from "../generator/generate.ts";
import { UserError } from "../generator/errors.ts";
import { init, DEMO_RECIPIENT } from "../generator/init.ts";
import { decryptDocument, sopsMetadata } from "../generator/secrets/sops.ts";
import { demoKeyFile, minimalConfig, objectsOf, tempDir, tempRepo, withBackup } from "./support/render.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
const demoIdentity = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
/** An environment with no age key anywhere. */
const noKey = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: tempDir("homelab-home-") });


function setSecret(dir: string, name: string, value: string, env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [cli, "secrets", "set", name], { cwd: dir, input: value, encoding: "utf8", env });
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

async function decryptFile(path: string): Promise<Record<string, any>> {
  return (await decryptDocument(readFileSync(path, "utf8"), [demoIdentity])).data as Record<string, any>;
}

describe("secret manifests", () => {
  test("a needed secret nobody set is an error naming the command, at the config key", async () => {
    const { configPath } = tempRepo(withBackup);
    const error = await generate({ configPath }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain(
      'homelab.yaml:10:7: storage.longhorn.backup: needs the secret "longhorn.backup.accessKeyId", which is not set\n  hint: run `npx homelab secrets set longhorn.backup.accessKeyId`',
    );
  });

  test("supplied and generated values reach their Secrets, encrypted, and Flux decrypts exactly those Kustomizations", async () => {
    const { dir, configPath } = tempRepo(withBackup);
    expect(setSecret(dir, "longhorn.backup.accessKeyId", "AKIA-CANARY-1\n").status).toBe(0);
    expect(setSecret(dir, "longhorn.backup.secretAccessKey", "CANARY-SECRET-2").status).toBe(0);
    const { files } = await generate({ configPath });

    const credentials = await decryptFile(join(dir, "infrastructure/longhorn/config/longhorn-backup-credentials.sops.yaml"));
    expect(credentials.stringData).toEqual({
      AWS_ACCESS_KEY_ID: "AKIA-CANARY-1",
      AWS_SECRET_ACCESS_KEY: "CANARY-SECRET-2",
      AWS_ENDPOINTS: "https://s3.us-west-004.backblazeb2.com",
    });
    const crypto = await decryptFile(join(dir, "infrastructure/longhorn/longhorn-crypto.sops.yaml"));
    expect(crypto.stringData.CRYPTO_KEY_VALUE).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const vaultwarden = await decryptFile(join(dir, "apps/vaultwarden/vaultwarden-admin.sops.yaml"));
    expect(vaultwarden.stringData.ADMIN_TOKEN).toMatch(/^\$argon2id\$v=19\$m=65540,t=3,p=4\$/);

    // Only data/stringData are encrypted; the rest stays readable for Flux and people.
    const raw = parse(readFileSync(join(dir, "apps/gitea/gitea-admin.sops.yaml"), "utf8"));
    expect(raw.metadata).toEqual({ name: "gitea-admin", namespace: "gitea" });
    expect(raw.stringData.password).toMatch(/^ENC\[AES256_GCM,/);
    expect(raw.sops.encrypted_regex).toBe("^(data|stringData)$");

    const kustomizations = objectsOf(files).filter(({ object }) => object.apiVersion === "kustomize.toolkit.fluxcd.io/v1").map(({ object }) => object);
    // The first-boot seed's copies are not a Flux path: the bootstrap decrypts them on the node.
    const withSecrets = new Set(
      files.filter((f) => f.path.endsWith(".sops.yaml") && f.path.includes("/") && !f.path.includes("/bootstrap/")).map((f) => f.path.slice(0, f.path.lastIndexOf("/"))),
    );
    for (const k of kustomizations) {
      const path = k.spec.path.slice(2);
      if (withSecrets.has(path)) expect(k.spec.decryption, k.metadata.name).toEqual({ provider: "sops", secretRef: { name: "sops-age" } });
      else expect(k.spec.decryption, k.metadata.name).toBeUndefined();
    }
    // Each Secret is listed in its folder's kustomization.yaml.
    for (const folder of withSecrets) {
      const resources = parse(readFileSync(join(dir, folder, "kustomization.yaml"), "utf8")).resources as string[];
      const secrets = readdirSync(join(dir, folder)).filter((f) => f.endsWith(".sops.yaml"));
      for (const secret of secrets) expect(resources).toContain(secret);
    }
  });

  test("leak guard: secret values appear nowhere in plain text — tree, store, output or errors", async () => {
    const { dir, configPath } = tempRepo(withBackup);
    const canaries = ["CANARY-7f3a9c-access", "CANARY-7f3a9c-secret"];
    const set1 = setSecret(dir, "longhorn.backup.accessKeyId", canaries[0]!);
    const set2 = setSecret(dir, "longhorn.backup.secretAccessKey", canaries[1]!);
    const run = spawnSync(process.execPath, [cli, "generate"], { cwd: dir, encoding: "utf8" });
    const list = spawnSync(process.execPath, [cli, "secrets", "list"], { cwd: dir, encoding: "utf8" });
    const verify = spawnSync(process.execPath, [cli, "secrets", "verify"], { cwd: dir, encoding: "utf8" });
    expect(verify.stdout).toMatch(/^homelab: your age key reads all \d+ values in secrets\/\n$/);
    // An error path too: a broken store file must not echo what it holds.
    writeFileSync(configPath, readFileSync(configPath, "utf8").replace("us-west-004.backblazeb2", "eu-central-003.backblazeb2"));
    const noKeyRun = spawnSync(process.execPath, [cli, "generate"], { cwd: dir, encoding: "utf8", env: noKey() });
    expect(noKeyRun.status).toBe(1);
    expect(noKeyRun.stderr).toContain("no age private key was found");

    const generated = (await generate({ configPath })).files;
    const texts = [
      ...[set1, set2, run, list, verify, noKeyRun].flatMap((r) => [r.stdout, r.stderr]),
      ...allFiles(dir).map((f) => readFileSync(join(dir, f), "utf8")),
    ];
    for (const canary of canaries) for (const text of texts) expect(text).not.toContain(canary);
    // And every generated value too (they are in the store; decrypt to learn them, then search).
    const storeFiles = readdirSync(join(dir, "secrets"));
    const values = await Promise.all(storeFiles.map(async (f) => String((await decryptFile(join(dir, "secrets", f))).value)));
    for (const value of values.filter((v) => v.length >= 16)) {
      for (const file of generated) expect(file.content.includes(value), `${file.path} holds a secret value in plain text`).toBe(false);
    }
    expect(list.stdout).toContain("longhorn.backup.accessKeyId\n  set · you set it · used by infrastructure/longhorn/config/longhorn-backup-credentials.sops.yaml");
  });
});

describe("stable bytes and the private key", () => {
  test("regenerating needs no key and rewrites nothing; a changed Secret needs the key and says so", async () => {
    const { dir, configPath } = tempRepo(withBackup);
    setSecret(dir, "longhorn.backup.accessKeyId", "id");
    setSecret(dir, "longhorn.backup.secretAccessKey", "secret");
    await generate({ configPath });
    const again = await generate({ configPath, env: noKey() });
    expect(again.result.written).toEqual([]);
    expect(again.result.state).toEqual([]);

    // Adding an app with generated secrets needs no key either: new values are encrypted to the recipients.
    writeFileSync(configPath, readFileSync(configPath, "utf8").replace("storage:", "monitoring:\n  enabled: true\nstorage:"));
    await expect(generate({ configPath, env: noKey() })).resolves.toBeDefined();

    // Changing what an existing Secret is made of needs the key.
    writeFileSync(configPath, readFileSync(configPath, "utf8").replace("us-west-004.backblazeb2", "eu-central-003.backblazeb2"));
    const error = await generate({ configPath, env: noKey() }).catch((e: unknown) => e);
    expect((error as UserError).message).toContain("no age private key was found");
    const withKey = await generate({ configPath });
    // The Secret and its copy in the first-boot seed (Longhorn is part of what Gitea needs), and the
    // databases' object stores, which archive to the same endpoint.
    expect(withKey.result.written.sort()).toEqual([
      "apps/gitea/database.yaml",
      "clusters/home/bootstrap/longhorn-config/longhorn-backup-credentials.sops.yaml",
      "infrastructure/authentik/database.yaml",
      "infrastructure/longhorn/config/longhorn-backup-credentials.sops.yaml",
    ]);
  });

  test("a preview in another folder writes the repository's Secrets byte for byte, with no key", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    await generate({ configPath });
    const preview = tempDir("homelab-preview-");
    const result = await generate({ configPath, outDir: preview, env: noKey() });
    const secrets = allFiles(dir).filter((path) => path.endsWith(".sops.yaml") && !path.startsWith("secrets/"));
    expect(secrets.length).toBeGreaterThan(3);
    for (const path of secrets) expect(readFileSync(join(preview, path), "utf8"), path).toBe(readFileSync(join(dir, path), "utf8"));
    expect(result.result.state).toEqual([]);
  });

  test("changing ageRecipients re-encrypts every file, and each key alone reads them", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    await generate({ configPath });
    const second = await generateIdentity();
    const recipient = await identityToRecipient(second);
    writeFileSync(configPath, readFileSync(configPath, "utf8").replace(`    - ${DEMO_RECIPIENT}\n`, `    - ${DEMO_RECIPIENT}\n    - ${recipient}\n`));
    await generate({ configPath });
    const sopsFiles = allFiles(dir).filter((f) => f.endsWith(".sops.yaml") && f !== ".sops.yaml");
    expect(sopsFiles.length).toBeGreaterThan(10);
    for (const file of sopsFiles) {
      const text = readFileSync(join(dir, file), "utf8");
      expect(sopsMetadata(text).recipients.sort(), file).toEqual([DEMO_RECIPIENT, recipient].sort());
      await expect(decryptDocument(text, [second]), file).resolves.toBeDefined();
      await expect(decryptDocument(text, [demoIdentity]), file).resolves.toBeDefined();
    }
    expect(readFileSync(join(dir, ".sops.yaml"), "utf8")).toContain(`age: ${DEMO_RECIPIENT},${recipient}`);
  });
});

describe("secrets verify: proof that a restored key reads the store", () => {
  const verify = (dir: string, env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [cli, "secrets", "verify"], { cwd: dir, encoding: "utf8", env });

  test("the right key reads every value; no key, another key or a damaged file is exit 1 naming what failed", async () => {
    const { dir } = tempRepo(minimalConfig);
    await generate({ configPath: join(dir, "homelab.yaml") });
    const storeFiles = readdirSync(join(dir, "secrets")).sort();
    expect(storeFiles.length).toBeGreaterThan(3);

    const good = verify(dir, process.env);
    expect([good.status, good.stdout, good.stderr]).toEqual([0, `homelab: your age key reads all ${storeFiles.length} values in secrets/\n`, ""]);

    const none = verify(dir, noKey());
    expect([none.status, none.stdout]).toEqual([1, ""]);
    expect(none.stderr).toContain("no age private key was found\n  hint: put your key in ~/.config/sops/age/keys.txt");

    const otherKeyFile = join(tempDir("homelab-other-key-"), "keys.txt");
    writeFileSync(otherKeyFile, `${await generateIdentity()}\n`);
    const other = verify(dir, { ...noKey(), SOPS_AGE_KEY_FILE: otherKeyFile });
    expect(other.status).toBe(1);
    expect(other.stderr).toContain(`secrets/: none of the ${storeFiles.length} values can be read; the first, secrets/${storeFiles[0]}: cannot decrypt`);
    expect(other.stderr).toContain("hint: is your age key one of secrets.ageRecipients?");
    expect(other.stderr.trim().split("\n")).toHaveLength(2);

    // One file damaged (its encrypted value changed): only it is named, as damaged.
    const damagedFile = join(dir, "secrets", storeFiles[1]!);
    writeFileSync(damagedFile, readFileSync(damagedFile, "utf8").replace(/value: ENC\[AES256_GCM,data:(.)/, (_m, c: string) => `value: ENC[AES256_GCM,data:${c === "A" ? "B" : "A"}`));
    const damaged = verify(dir, process.env);
    expect(damaged.status).toBe(1);
    expect(damaged.stderr).toMatch(new RegExp(`^secrets/${storeFiles[1]!.replaceAll(".", "\\.")}: cannot decrypt: `));
    expect(damaged.stderr).toContain(`hint: restore it from git: \`git checkout HEAD -- secrets/${storeFiles[1]}\``);
    expect(damaged.stderr.trim().split("\n")).toHaveLength(2);

    // An empty store proves nothing: an error, not a pass (a wrong --config, an unrestored secrets/).
    // (With the CA's certificates still there, the missing CA keys are named instead.)
    for (const path of ["secrets", "certs", ".homelab"]) rmSync(join(dir, path), { recursive: true });
    const empty = verify(dir, process.env);
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain("secrets/: holds no values: nothing was verified");
  });
});

test("secrets verify names a value you supply that the config needs and nobody set", async () => {
  const { dir, configPath } = tempRepo(withBackup);
  expect(setSecret(dir, "longhorn.backup.accessKeyId", "key-id").status).toBe(0);
  await generate({ configPath }).catch(() => undefined);
  const run = spawnSync(process.execPath, [cli, "secrets", "verify"], { cwd: dir, encoding: "utf8" });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain("secrets/longhorn.backup.secretAccessKey.sops.yaml: is not set, and infrastructure/longhorn/config/longhorn-backup-credentials.sops.yaml");
  expect(run.stderr).toContain("hint: run `npx homelab secrets set longhorn.backup.secretAccessKey`");
  expect(run.stderr).not.toContain("accessKeyId");
});

describe("the internal CA in the cluster", () => {
  test("the StepClusterIssuer trusts the committed root, and step-ca gets its keys through valuesFrom", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    const { files } = await generate({ configPath });
    const root = readFileSync(join(dir, "certs/home-root-ca.crt"), "utf8");
    const issuer = objectsOf(files).find(({ object }) => object.kind === "StepClusterIssuer")!.object;
    expect(Buffer.from(issuer.spec.caBundle, "base64").toString("utf8")).toBe(root);
    const values = await decryptFile(join(dir, "infrastructure/step-ca/step-certificates-secret-values.sops.yaml"));
    const secretValues = parse(values.stringData["values.yaml"]);
    expect(secretValues.inject.secrets.x509.intermediate_ca_key).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const release = objectsOf(files).find(({ object }) => object.kind === "HelmRelease" && object.metadata.name === "step-certificates")!.object;
    expect(release.spec.valuesFrom).toEqual([{ kind: "Secret", name: "step-certificates-secret-values", valuesKey: "values.yaml" }]);
    expect(JSON.stringify(release.spec.values)).not.toContain("PRIVATE KEY");
    const password = await decryptFile(join(dir, "infrastructure/step-ca/config/step-issuer-provisioner-password.sops.yaml"));
    expect(password.stringData.password).not.toMatch(/\n/);
  });
});

describe("init", () => {
  const initEnv = () => {
    const home = tempDir("homelab-home-");
    return { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, ".config") } as NodeJS.ProcessEnv;
  };

  test("in an empty folder: config, key pair (key outside the repo), CA, tree", async () => {
    const dir = tempDir("homelab-init-");
    const env = initEnv();
    const message = await init({ dir, name: "lab", domain: "lab.example", owner: "me", env, interactive: false });
    const keyFile = join(env.XDG_CONFIG_HOME!, "sops", "age", "keys.txt");
    const identity = readFileSync(keyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
    const config = parse(readFileSync(join(dir, "homelab.yaml"), "utf8"));
    expect(config.cluster).toEqual({ name: "lab", domain: "lab.example" });
    expect(config.secrets.ageRecipients).toEqual([await identityToRecipient(identity)]);
    expect(allFiles(dir).some((f) => readFileSync(join(dir, f), "utf8").includes(identity))).toBe(false);
    expect(existsSync(join(dir, "certs/lab-root-ca.crt"))).toBe(true);
    expect(existsSync(join(dir, "clusters/lab/kustomization.yaml"))).toBe(true);
    expect(message).toContain("npx homelab node-config lab");
    expect(message).not.toContain(identity);
  });

  test("refuses a setup that is not the demo, and changes nothing", async () => {
    const { dir, configPath } = tempRepo(minimalConfig.replace(DEMO_RECIPIENT, await identityToRecipient(await generateIdentity())));
    const before = readFileSync(configPath, "utf8");
    await expect(init({ dir, name: "x", domain: "x.example", owner: "x", env: initEnv(), interactive: false })).rejects.toThrow(/already has its own setup/);
    expect(readFileSync(configPath, "utf8")).toBe(before);
    expect(readdirSync(dir)).toEqual(["homelab.yaml"]);
  });

  test("the reference config's Secrets all decrypt with the demo key and pass the MAC check", async () => {
    const root = join(import.meta.dirname, "..");
    const sopsFiles = allFiles(root).filter((f) => f.endsWith(".sops.yaml") && !f.startsWith("node_modules") && f !== ".sops.yaml");
    expect(sopsFiles.length).toBeGreaterThan(15);
    for (const file of sopsFiles) await expect(decryptDocument(readFileSync(join(root, file), "utf8"), [demoIdentity]), file).resolves.toBeDefined();
  });
});
