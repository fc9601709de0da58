// Secret manifests: each unit's SecretSpecs as <unit path>/<name>.sops.yaml, encrypted for
// Flux's kustomize-controller. A file is rewritten only when what it is made of changes (a
// store value, a literal, its shape or the recipients), so an unchanged Secret keeps its bytes
// and generate needs no private key.
import { argon2Sync, randomBytes } from "node:crypto";
import { sha256 } from "../hash.ts";
import type { PlannedUnit } from "../plan.ts";
import type { SecretSpec, SecretValue } from "../components/types.ts";
import type { GeneratedFile } from "../writer.ts";
import { UserError, type Diagnostic } from "../errors.ts";
import { closest } from "../config/did-you-mean.ts";
import { K3S_TOKEN_SECRET } from "../image/paths.ts";
import { encryptDocument } from "./sops.ts";
import type { SecretStore } from "./store.ts";

/** What the last generate wrote: path → content and fingerprint. */
export type PreviousSecrets = (path: string) => { content: string; fingerprint: string } | undefined;

export function secretFilePath(unit: PlannedUnit, spec: SecretSpec): string {
  return `${unit.path}/${spec.name}.sops.yaml`;
}

/** A new generated secret value (also used by node-config for the values only nodes read). */
export function newValue(form: "password" | "hex" | "vaultwarden-admin-token" = "password"): string {
  return form === "hex" ? randomBytes(32).toString("hex") : randomBytes(32).toString("base64url");
}

/** Vaultwarden wants its admin token as an Argon2id PHC string, not the token itself. */
function vaultwardenTokenHash(token: string): string {
  const salt = randomBytes(16);
  const hash = argon2Sync("argon2id", { message: token, nonce: salt, parallelism: 4, tagLength: 32, memory: 65540, passes: 3 });
  const b64 = (bytes: Buffer) => bytes.toString("base64").replace(/=+$/, "");
  return `$argon2id$v=19$m=65540,t=3,p=4$${b64(salt)}$${b64(hash)}`;
}

/**
 * Where Vaultwarden's token hash is kept, with the SHA-256 of the token it hashes: Argon2 costs
 * a noticeable part of a run, and a new salt on every rewrite would change the Secret for nothing.
 */
const tokenHashName = (name: string) => `${name}.argon2`;

/** The hash of `token`: the stored one while it still belongs to the token, else a new one (stored). */
async function vaultwardenTokenHashFor(name: string, token: string, store: SecretStore): Promise<string> {
  const tokenSha256 = sha256(token);
  if (store.has(tokenHashName(name))) {
    const kept = JSON.parse(await store.value(tokenHashName(name))) as { tokenSha256?: string; hash?: string };
    if (kept.tokenSha256 === tokenSha256 && kept.hash) return kept.hash;
  }
  const hash = vaultwardenTokenHash(token);
  await store.set(tokenHashName(name), JSON.stringify({ tokenSha256, hash }));
  return hash;
}

/** The store values a value reads, and where each comes from (for `homelab secrets list`). */
export function storeRefs(value: SecretValue): { name: string; origin: "generated" | "you set it" | "internal CA" }[] {
  if ("generated" in value && value.form === "vaultwarden-admin-token") {
    return [{ name: value.generated, origin: "generated" }, { name: tokenHashName(value.generated), origin: "generated" }];
  }
  if ("generated" in value) return [{ name: value.generated, origin: "generated" }];
  if ("supplied" in value) return [{ name: value.supplied, origin: "you set it" }];
  if ("stored" in value) return [{ name: value.stored, origin: "internal CA" }];
  if ("template" in value) return Object.values(value.inputs).flatMap(storeRefs);
  return [];
}

const storeName = (value: SecretValue) => storeRefs(value)[0]?.name as string;

/** What a new value breaks, for the values where that is more than a restart (`--regenerate`, `secrets set --force`). */
export const REPLACEMENT_CONSEQUENCES: Record<string, string> = {
  "longhorn.cryptoKey": "encrypted volumes and off-site backups made with the old key can no longer be read",
  [K3S_TOKEN_SECRET]: "nodes hold the old token: each needs new host files from `homelab node-config` before it can join again",
  "gitea.postgresPassword": "Gitea's existing database keeps the old password until you change it there too",
  "gitea.postgresAdminPassword": "the existing database keeps the old password until you change it there too",
  "authentik.postgresPassword": "Authentik's existing database keeps the old password until you change it there too",
  "authentik.postgresAdminPassword": "the existing database keeps the old password until you change it there too",
  "authentik.secretKey": "every Authentik session and token signed with the old key ends",
};

export async function renderSecrets(
  units: readonly PlannedUnit[],
  store: SecretStore,
  previous: PreviousSecrets,
  regenerate: readonly string[],
  missing: (value: Extract<SecretValue, { supplied: string }>) => Diagnostic,
): Promise<GeneratedFile[]> {
  const problems: Diagnostic[] = [];
  const specs = units.flatMap((unit) => (unit.secrets ?? []).map((spec) => ({ unit, spec, path: secretFilePath(unit, spec) })));
  const refsOf = (spec: SecretSpec) => Object.values(spec.data).flatMap((value) => ("template" in value ? Object.values(value.inputs) : [value]));

  const generatedNames = new Set(specs.flatMap(({ spec }) => refsOf(spec).flatMap((ref) => ("generated" in ref ? [ref.generated] : []))));
  for (const name of regenerate) {
    if (generatedNames.has(name)) continue;
    problems.push({
      file: "homelab.yaml",
      line: 0,
      col: 0,
      path: "",
      message: `--regenerate ${name}: not a value this config generates`,
      hint: `values it generates: ${[...generatedNames].sort().join(", ")}${closest(name, [...generatedNames]) ? ` (did you mean ${closest(name, [...generatedNames])}?)` : ""}`,
    });
  }

  // First the store: create generated values on first need, re-encrypt for new recipients.
  const made = new Set<string>();
  for (const { spec } of specs) {
    for (const ref of refsOf(spec)) {
      if ("supplied" in ref && !store.has(ref.supplied)) problems.push(missing(ref));
      if (!("generated" in ref) || made.has(ref.generated)) continue;
      const name = ref.generated;
      if (!regenerate.includes(name) && store.has(name)) continue;
      // A committed Secret holds the old value: making a new one silently would break what uses it.
      const users = specs.filter((s) => refsOf(s.spec).some((r) => "generated" in r && r.generated === name) && previous(s.path)).map((s) => s.path);
      if (!regenerate.includes(name) && users.length > 0) {
        problems.push({
          file: store.relativePath(name),
          line: 0,
          col: 0,
          path: "",
          message: `is missing, but ${users.join(", ")} uses its value; homelab never makes a new one on its own`,
          hint: `restore it from git (git checkout HEAD -- ${store.relativePath(name)}), or make a new value with \`npm run generate -- --regenerate ${name}\`${REPLACEMENT_CONSEQUENCES[name] ? ` (${REPLACEMENT_CONSEQUENCES[name]})` : ""}`,
        });
        continue;
      }
      await store.set(name, newValue(ref.form));
      made.add(name);
    }
  }
  if (problems.length > 0) throw new UserError(problems);
  // New recipients: every stored value is encrypted to them, used or not (the CA's root key).
  for (const name of store.names()) {
    if (store.needsReencryption(name)) await store.set(name, await store.value(name));
  }

  const files: GeneratedFile[] = [];
  for (const { spec, path } of specs) {
    const fingerprint = fingerprintOf(spec, store);
    const before = previous(path);
    if (before && before.fingerprint === fingerprint) {
      files.push({ path, content: before.content, fingerprint });
      continue;
    }
    const stringData: Record<string, string> = {};
    for (const [key, value] of Object.entries(spec.data)) stringData[key] = await resolve(value, store);
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: spec.name, namespace: spec.namespace }, type: "Opaque", stringData };
    const content = await encryptDocument(secret, { recipients: store.recipients, encryptedRegex: "^(data|stringData)$" });
    files.push({ path, content, fingerprint });
  }
  return files;
}

async function resolve(value: SecretValue, store: SecretStore): Promise<string> {
  if ("literal" in value) return value.literal;
  if ("template" in value) {
    const inputs: Record<string, string> = {};
    for (const [key, input] of Object.entries(value.inputs)) inputs[key] = await resolve(input, store);
    return value.template(inputs);
  }
  const plaintext = await store.value(storeName(value));
  return "generated" in value && value.form === "vaultwarden-admin-token" ? vaultwardenTokenHashFor(value.generated, plaintext, store) : plaintext;
}

/** Everything a Secret file is made of, without any plaintext. */
function fingerprintOf(spec: SecretSpec, store: SecretStore): string {
  const describe = (value: SecretValue): unknown => {
    if ("literal" in value) return { literal: value.literal };
    if ("template" in value) {
      // The template's shape: rendered with placeholders instead of the values.
      const placeholders = Object.fromEntries(Object.keys(value.inputs).map((k) => [k, `<${k}>`]));
      return { template: value.template(placeholders), inputs: Object.fromEntries(Object.entries(value.inputs).map(([k, v]) => [k, describe(v)])) };
    }
    const name = storeName(value);
    return { store: name, fingerprint: store.fingerprint(name), form: "generated" in value ? value.form : undefined };
  };
  const shape = {
    name: spec.name,
    namespace: spec.namespace,
    recipients: [...store.recipients].sort(),
    data: Object.fromEntries(Object.entries(spec.data).map(([k, v]) => [k, describe(v)])),
  };
  return sha256(JSON.stringify(shape));
}
