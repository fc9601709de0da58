// The root .sops.yaml: creation rules matching what the generator writes, so a user with the
// real sops CLI can `sops edit` any file and get the same encryption.
import type { HomelabConfig } from "../config/schema.ts";
import { yamlFile } from "../render/yaml.ts";
import type { GeneratedFile } from "../writer.ts";
import { STORE_DIR } from "./store.ts";

export function sopsConfigFile(config: HomelabConfig): GeneratedFile {
  const age = config.secrets.ageRecipients.join(",");
  return {
    path: ".sops.yaml",
    content: yamlFile([
      {
        creation_rules: [
          // The secret store: one value per file, all of it encrypted.
          { path_regex: `^${STORE_DIR}/.*\\.sops\\.yaml$`, age },
          // Kubernetes Secrets in the tree: only data and stringData, as Flux expects.
          { path_regex: "\\.sops\\.yaml$", encrypted_regex: "^(data|stringData)$", age },
        ],
      },
    ]),
  };
}
