// Types for schema-validator.generated.js (ajv standalone code for schemas/homelab.schema.json).
import type { ErrorObject } from "ajv";

interface Validate {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export declare const validate: Validate;
export default validate;
