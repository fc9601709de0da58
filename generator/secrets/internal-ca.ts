// The internal CA's material: created once (by `homelab init`, or by the first generate that
// needs it), then read back. Certificates and the provisioner's public key are public and live
// in certs/; the keys and passwords live in the secret store.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { HomelabConfig } from "../config/schema.ts";
import { createCertificateAuthority, type ProvisionerPublic } from "./ca.ts";
import type { SecretStore } from "./store.ts";

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

/** Loads the CA, or creates it and returns the files to write with it. */
export async function ensureCertificateAuthority(
  config: HomelabConfig,
  repoDir: string,
  store: SecretStore,
): Promise<{ ca: CaPublic; files: { path: string; content: string }[] }> {
  const paths = caPaths(config);
  const complete =
    Object.values(paths).every((p) => existsSync(join(repoDir, p))) && Object.values(CA_SECRETS).every((name) => store.has(name));
  if (complete) {
    const read = (p: string) => readFileSync(join(repoDir, p), "utf8");
    return {
      ca: {
        rootCertificate: read(paths.root),
        intermediateCertificate: read(paths.intermediate),
        provisioner: JSON.parse(read(paths.provisioner)) as CaPublic["provisioner"],
        rootPath: paths.root,
      },
      files: [],
    };
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
      { path: paths.provisioner, content: `${JSON.stringify(provisioner, null, 2)}\n` },
    ],
  };
}
