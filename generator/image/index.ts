// image/: everything the bootc image is built from, rendered from the config and the plan.
import type { HomelabConfig } from "../config/schema.ts";
import type { Plan } from "../plan.ts";
import type { CaPublic } from "../secrets/internal-ca.ts";
import type { GeneratedFile } from "../writer.ts";
import { bootFiles } from "./boot.ts";
import { containerfileFiles } from "./containerfile.ts";
import { installFiles } from "./install.ts";
import { seedFiles } from "./seed.ts";
import { updateFiles } from "./updates.ts";

export interface ImageInputs {
  readonly config: HomelabConfig;
  readonly plan: Plan;
  /** The SOPS files of every unit (the seed carries Gitea's and its storage's). */
  readonly secretFiles: readonly GeneratedFile[];
  readonly ca: CaPublic;
}

export function imageFiles(inputs: ImageInputs): GeneratedFile[] {
  return [...containerfileFiles(inputs), ...bootFiles(inputs), ...seedFiles(inputs), ...installFiles(inputs), ...updateFiles()];
}
