import type { GeneratedFile } from "../writer.ts";
import type { ImageInputs } from "./index.ts";

export function seedFiles(_inputs: ImageInputs): GeneratedFile[] {
  return [];
}
