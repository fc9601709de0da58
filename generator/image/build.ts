// What `npm run image:build` makes: one image per variant, tagged with the commit it was built
// from and `latest`, in image.registry (the NVIDIA variant in a repository of its own).
import type { HomelabConfig } from "../config/schema.ts";
import { imageRegistry } from "../nodes/cluster.ts";
import type { ImageVariant } from "./containerfile.ts";

/** The repository a variant is pushed to, e.g. git.home.arpa/homelab/os or …/os-nvidia. */
export function variantRepository(config: HomelabConfig, variant: ImageVariant): string {
  return `${imageRegistry(config)}${variant.repositorySuffix}`;
}

/** `<repository>:<commit>` (what was built) and `<repository>:latest` (what nodes follow). */
export function imageTags(config: HomelabConfig, variant: ImageVariant, commit: string): string[] {
  const repository = variantRepository(config, variant);
  return [`${repository}:${commit}`, `${repository}:latest`];
}
