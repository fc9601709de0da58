// Secret manifests: each unit's SecretSpecs as <unit path>/<name>.sops.yaml, encrypted for
// Flux's kustomize-controller. A file is rewritten only when what it is made of changes (a
// store value, a literal, its shape or the recipients), so an unchanged Secret keeps its bytes
// and generate needs no private key.
import { argon2Sync, createHash, randomBytes } from "node:crypto";
import type { PlannedUnit } from "../plan.ts";
import type { SecretSpec, SecretValue } from "../components/types.ts";
import type { GeneratedFile } from "../writer.ts";
import { UserError, type Diagnostic } from "../errors.ts";
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

/** The store values a value reads, and where each comes from (for `homelab secrets list`). */
export function storeRefs(value: SecretValue): { name: string; origin: "generated" | "you set it" | "internal CA" }[] {
  if ("generated" in value) return [{ name: value.generated, origin: "generated" }];
  if ("supplied" in value) return [{ name: value.supplied, origin: "you set it" }];
  if ("stored" in value) return [{ name: value.stored, origin: "internal CA" }];
  if ("template" in value) return Object.values(value.inputs).flatMap(storeRefs);
  return [];
}

const storeName = (value: SecretValue) => storeRefs(value)[0]?.name as string;

export async function renderSecrets(
  units: readonly PlannedUnit[],
  store: SecretStore,
  previous: PreviousSecrets,
  missing: (value: Extract<SecretValue, { supplied: string }>) => Diagnostic,
): Promise<GeneratedFile[]> {
  const problems: Diagnostic[] = [];
  const specs = units.flatMap((unit) => (unit.secrets ?? []).map((spec) => ({ unit, spec, path: secretFilePath(unit, spec) })));

  // First the store: create generated values on first need, re-encrypt for new recipients.
  for (const { spec } of specs) {
    for (const value of Object.values(spec.data)) {
      for (const ref of "template" in value ? Object.values(value.inputs) : [value]) {
        if ("generated" in ref && !store.has(ref.generated)) await store.set(ref.generated, newValue(ref.form));
        if ("supplied" in ref && !store.has(ref.supplied)) problems.push(missing(ref));
      }
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
  return "generated" in value && value.form === "vaultwarden-admin-token" ? vaultwardenTokenHash(plaintext) : plaintext;
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
  return createHash("sha256").update(JSON.stringify(shape)).digest("hex");
}
