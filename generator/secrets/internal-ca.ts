// The internal CA's material: created once (by `homelab init`, or by the first generate that
// needs it), then read back. Certificates and the provisioner's public key are public and live
// in certs/; the keys and passwords live in the secret store.
import { sha256 } from "../hash.ts";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { HomelabConfig } from "../config/schema.ts";
import { UserError, type Diagnostic } from "../errors.ts";
import { createCertificateAuthority, type ProvisionerPublic } from "./ca.ts";
import type { SecretStore } from "./store.ts";
import { CA_RECORD_PATH } from "../state-paths.ts";
import { fileSystemError } from "../fs-errors.ts";

/** Store names of the CA's secrets. */
export const CA_SECRETS = {
  password: "stepCa.password",
  rootKey: "stepCa.rootKey",
  rootPassword: "stepCa.rootPassword",
  intermediateKey: "stepCa.intermediateKey",
  provisionerPassword: "stepCa.provisionerPassword",
} as const;

export interface CaPublic {
  readonly rootCertificate: string;
  readonly intermediateCertificate: string;
  readonly provisioner: ProvisionerPublic;
  /** Repository paths of the files above. */
  readonly rootPath: string;
}

export function caPaths(config: HomelabConfig) {
  return {
    root: `certs/${config.cluster.name}-root-ca.crt`,
    intermediate: `certs/${config.cluster.name}-intermediate-ca.crt`,
    provisioner: "certs/step-ca-provisioner.json",
  };
}

/** The record: the certificates' hashes and the stored keys' fingerprints (no plaintext, no key needed). */
function caRecord(certificates: Record<string, string>, store: SecretStore): string {
  const record = {
    certificates: Object.fromEntries(Object.entries(certificates).map(([path, content]) => [path, sha256(content)])),
    keys: Object.fromEntries(Object.values(CA_SECRETS).map((name) => [name, store.fingerprint(name)])),
  };
  return `${JSON.stringify(record, null, 2)}\n`;
}

const problem = (file: string, message: string, hint: string): Diagnostic => ({ file, line: 0, col: 0, path: "", message, hint });
const ROTATE_HINT = "or make a new CA with `npx homelab ca rotate` (every device and node must then trust the new root: see docs/safety.md)";

/** Other clusters' CA certificates in certs/: a renamed cluster leaves its CA under the old name. */
function otherRoots(repoDir: string, ownRoot: string): string[] {
  try {
    return readdirSync(join(repoDir, "certs"))
      .filter((f) => f.endsWith("-root-ca.crt") && `certs/${f}` !== ownRoot)
      .map((f) => `certs/${f}`);
  } catch {
    return [];
  }
}

/** The CA is never made while any of its material exists: say what is there and how to proceed. */
function incompleteCa(config: HomelabConfig, repoDir: string, store: SecretStore): UserError | undefined {
  const paths = caPaths(config);
  const certificates = Object.values(paths).filter((p) => existsSync(join(repoDir, p)));
  const keys = Object.values(CA_SECRETS).filter((name) => store.has(name));
  const renamedFrom = otherRoots(repoDir, paths.root);
  if (certificates.length === 0 && keys.length === 0 && renamedFrom.length === 0) return undefined;
  const missing = [...Object.values(paths).filter((p) => !certificates.includes(p)), ...Object.values(CA_SECRETS).filter((n) => !keys.includes(n)).map((n) => store.relativePath(n))];
  // The provisioner's file has no cluster name in it: only the two certificates move.
  if (renamedFrom.length > 0 && !certificates.includes(paths.root) && !certificates.includes(paths.intermediate)) {
    const old = (renamedFrom[0] as string).slice("certs/".length, -"-root-ca.crt".length);
    return new UserError([
      problem(
        paths.root,
        `is missing, but the internal CA of cluster "${old}" is in certs/ (was the cluster renamed?); homelab never replaces a CA on its own`,
        `keep the CA: git mv certs/${old}-root-ca.crt ${paths.root} && git mv certs/${old}-intermediate-ca.crt ${paths.intermediate}` +
          `${config.image.caCertificates.includes(`certs/${old}-root-ca.crt`) ? `, and write ${paths.root} for certs/${old}-root-ca.crt under image.caCertificates in homelab.yaml` : ""}; ${ROTATE_HINT}`,
      ),
    ]);
  }
  return new UserError(
    missing.map((path) =>
      problem(path, "is missing, but the rest of the internal CA exists; homelab never replaces a CA on its own", `restore it from git (git checkout HEAD -- ${path}), ${ROTATE_HINT}`),
    ),
  );
}

/** Checks that the certificates and the stored keys are the ones made together. */
function verifyRecord(repoDir: string, certificates: Record<string, string>, store: SecretStore): void {
  let recorded: { certificates?: Record<string, string>; keys?: Record<string, string> };
  const restore = `restore it from git (git checkout HEAD -- ${CA_RECORD_PATH})`;
  let text: string;
  try {
    text = readFileSync(join(repoDir, CA_RECORD_PATH), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // Made before records were kept: recorded now.
    throw fileSystemError(error, join(repoDir, CA_RECORD_PATH));
  }
  try {
    recorded = JSON.parse(text);
  } catch {
    throw new UserError([problem(CA_RECORD_PATH, "is not valid JSON", restore)]);
  }
  const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);
  const isTextMap = (value: unknown) => isObject(value) && Object.values(value).every((v) => typeof v === "string");
  if (!isObject(recorded) || !isTextMap(recorded.certificates) || !isTextMap(recorded.keys)) {
    throw new UserError([problem(CA_RECORD_PATH, "is not the record homelab writes (certificates and keys, each a map of fingerprints)", restore)]);
  }
  const current = JSON.parse(caRecord(certificates, store)) as { certificates: Record<string, string>; keys: Record<string, string> };
  // A store file re-encrypted to new recipients has a new fingerprint but the same key: only
  // files whose recipients are unchanged can be compared.
  const changed = [
    // By content: a renamed cluster's certificates keep their bytes under new names.
    ...Object.keys(current.certificates).filter((path) => !Object.values(recorded.certificates ?? {}).includes(current.certificates[path] as string)),
    ...Object.keys(current.keys)
      .filter((name) => !store.needsReencryption(name) && recorded.keys?.[name] !== current.keys[name])
      .map((name) => store.relativePath(name)),
  ];
  if (changed.length === 0) return;
  throw new UserError(
    changed.map((path) =>
      problem(
        path,
        "does not belong with the rest of the internal CA (certificates and keys were not made together; step-ca could not sign)",
        `restore the CA files from git (git checkout HEAD -- certs/ secrets/stepCa.* ${CA_RECORD_PATH}), ${ROTATE_HINT}`,
      ),
    ),
  );
}

/** The record to write when it is new or the CA's store files changed (created, rotated, re-encrypted). */
export function caRecordFiles(config: HomelabConfig, repoDir: string, store: SecretStore, ca: CaPublic): { path: string; content: string }[] {
  const paths = caPaths(config);
  const content = caRecord(
    { [paths.root]: ca.rootCertificate, [paths.intermediate]: ca.intermediateCertificate, [paths.provisioner]: provisionerText(ca.provisioner) },
    store,
  );
  const current = existsSync(join(repoDir, CA_RECORD_PATH)) ? readFileSync(join(repoDir, CA_RECORD_PATH), "utf8") : undefined;
  return current === content ? [] : [{ path: CA_RECORD_PATH, content }];
}

const provisionerText = (provisioner: ProvisionerPublic) => `${JSON.stringify(provisioner, null, 2)}\n`;

/** Loads the CA, or creates it (only where none exists, or when rotating) with the files to write. */
export async function ensureCertificateAuthority(
  config: HomelabConfig,
  repoDir: string,
  store: SecretStore,
  options: { rotate?: boolean } = {},
): Promise<{ ca: CaPublic; files: { path: string; content: string }[] }> {
  const paths = caPaths(config);
  const complete =
    Object.values(paths).every((p) => existsSync(join(repoDir, p))) && Object.values(CA_SECRETS).every((name) => store.has(name));
  if (complete && !options.rotate) {
    const read = (p: string) => readFileSync(join(repoDir, p), "utf8");
    const certificates = { [paths.root]: read(paths.root), [paths.intermediate]: read(paths.intermediate), [paths.provisioner]: read(paths.provisioner) };
    verifyRecord(repoDir, certificates, store);
    return {
      ca: {
        rootCertificate: certificates[paths.root] as string,
        intermediateCertificate: certificates[paths.intermediate] as string,
        provisioner: JSON.parse(certificates[paths.provisioner] as string) as CaPublic["provisioner"],
        rootPath: paths.root,
      },
      files: [],
    };
  }
  if (!options.rotate) {
    const incomplete = incompleteCa(config, repoDir, store);
    if (incomplete) throw incomplete;
  }
  const material = await createCertificateAuthority({ name: config.cluster.name, domain: config.cluster.domain });
  await store.set(CA_SECRETS.password, material.password);
  await store.set(CA_SECRETS.rootKey, material.rootKey);
  await store.set(CA_SECRETS.rootPassword, material.rootPassword);
  await store.set(CA_SECRETS.intermediateKey, material.intermediateKey);
  await store.set(CA_SECRETS.provisionerPassword, material.provisioner.password);
  const { password: _password, ...provisioner } = material.provisioner;
  return {
    ca: { rootCertificate: material.rootCertificate, intermediateCertificate: material.intermediateCertificate, provisioner, rootPath: paths.root },
    files: [
      { path: paths.root, content: material.rootCertificate },
      { path: paths.intermediate, content: material.intermediateCertificate },
      { path: paths.provisioner, content: provisionerText(provisioner) },
    ],
  };
}
