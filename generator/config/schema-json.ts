import { HomelabSchema } from "./schema.ts";

/** schemas/homelab.schema.json: the committed, editor-facing form of the config schema. */
export function schemaJson(): string {
  return `${JSON.stringify({ $schema: "http://json-schema.org/draft-07/schema#", ...HomelabSchema }, null, 2)}\n`;
}
