import type { GeneratedFile } from "../writer.ts";
import type { ImageInputs } from "./index.ts";

export function bootFiles(_inputs: ImageInputs): GeneratedFile[] {
  return [];
}
