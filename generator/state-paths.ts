// Repository state homelab keeps beside the secret store, named once for the modules that read it
// (up-to-date.ts may import nothing but Node's built-ins and this).

/** The internal CA's public record: its certificates and provisioner, made once by the first run. */
export const CA_RECORD_PATH = ".homelab/internal-ca.json";
