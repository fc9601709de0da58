import type { GeneratedFile } from "../writer.ts";
import type { ImageInputs } from "./index.ts";

export function installFiles(_inputs: ImageInputs): GeneratedFile[] {
  return [];
}
