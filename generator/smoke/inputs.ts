// What `homelab smoke` needs from the repository: the domain (homelab.yaml) and the root CA
// certificate the HTTPS check trusts (certs/<cluster>-root-ca.crt, beside homelab.yaml).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadConfigFile } from "../config/load.ts";
import { UserError } from "../errors.ts";
import { caPaths } from "../secrets/internal-ca.ts";

export function smokeInputs(configPath: string): { domain: string; rootCaPem: string } {
  const { config } = loadConfigFile(configPath);
  const rootPath = join(dirname(configPath), caPaths(config).root);
  try {
    return { domain: config.cluster.domain, rootCaPem: readFileSync(rootPath, "utf8") };
  } catch {
    throw new UserError(`cannot read the root CA ${rootPath}: run \`npx homelab generate\` (or \`init\`) first`);
  }
}
