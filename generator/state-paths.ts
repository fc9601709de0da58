// The repository's state beside the config — what homelab cannot make again — named once for the
// modules that read or guard it. Plain constants: up-to-date.ts keeps its imports light.

/** The secret store and the internal CA's certificates. */
export const STATE_FOLDERS = ["secrets", "certs"] as const;

/** The internal CA's public record: its certificates and provisioner, made once by the first run. */
export const CA_RECORD_PATH = ".homelab/internal-ca.json";
