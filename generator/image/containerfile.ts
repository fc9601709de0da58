import type { GeneratedFile } from "../writer.ts";
import type { ImageInputs } from "./index.ts";

export function containerfileFiles(_inputs: ImageInputs): GeneratedFile[] {
  return [];
}
