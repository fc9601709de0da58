// The seed, clusters/<name>/bootstrap/: what first boot applies before Gitea holds the
// repository Flux reads — Gitea's unit and the storage it runs on, copies of the tree's own
// objects so Flux adopts them unchanged (but for a unit's seedFiles: objects it cannot run yet,
// such as Gitea's database Cluster without the backup plugin, which needs cert-manager).
// clusters/<name>/kustomization.yaml does not list it, so Flux never syncs it. The units' SOPS
// files are copied next to their objects but left out of the kustomization: the bootstrap
// decrypts them on the host and applies them itself.
import type { Phase } from "../components/types.ts";
import type { Plan, PlannedUnit } from "../plan.ts";
import { yamlFile } from "../render/yaml.ts";
import { secretFilePath } from "../secrets/manifests.ts";
import type { GeneratedFile } from "../writer.ts";
import type { ImageInputs } from "./index.ts";

/** The capability of the unit the seed exists for. */
export const SEEDED_CAPABILITY = "git-server";
/**
 * Gitea's dependencies up to this phase (storage) are seeded; it runs without the later ones
 * (its certificate and the forward-auth bits arrive when Flux syncs).
 */
export const SEEDED_PHASE: Phase = 2;

export function seedPath(plan: Plan): string {
  return `${plan.clusterPath}/bootstrap`;
}

/**
 * Gitea's unit, the units it depends on up to SEEDED_PHASE, and the other units of their
 * components (Longhorn's config with it), closed over their dependencies again. Flux's own
 * unit is never among them: nothing Gitea needs comes from it, and the bootstrap installs it.
 */
export function seedUnits(plan: Plan): PlannedUnit[] {
  const target = plan.units.find((unit) => unit.provides?.includes(SEEDED_CAPABILITY));
  if (!target) throw new Error(`no unit provides "${SEEDED_CAPABILITY}"`);
  const byName = new Map(plan.units.map((unit) => [unit.name, unit]));
  const seeded = new Set<string>([target.name]);
  const eligible = (unit: PlannedUnit | undefined): unit is PlannedUnit => unit !== undefined && unit.phase <= SEEDED_PHASE;
  for (let grew = true; grew; ) {
    grew = false;
    const members = plan.units.filter((unit) => seeded.has(unit.name));
    const seededComponents = new Set(members.filter((unit) => unit !== target).map((unit) => unit.component));
    const candidates = [...members.flatMap((unit) => unit.dependsOn.map((name) => byName.get(name))), ...plan.units.filter((unit) => seededComponents.has(unit.component))];
    for (const unit of candidates) {
      if (eligible(unit) && !seeded.has(unit.name)) {
        seeded.add(unit.name);
        grew = true;
      }
    }
  }
  return plan.units.filter((unit) => seeded.has(unit.name));
}

export function seedFiles({ plan, secretFiles }: ImageInputs): GeneratedFile[] {
  const folder = seedPath(plan);
  const secretsByPath = new Map(secretFiles.map((file) => [file.path, file.content]));
  const files: GeneratedFile[] = [];
  const resources: string[] = [];
  for (const unit of seedUnits(plan)) {
    for (const name of Object.keys(unit.files).sort()) {
      const path = `${unit.name}/${name}.yaml`;
      resources.push(path);
      // The same bytes the tree writes for this file, unless the unit has a first-boot variant.
      files.push({ path: `${folder}/${path}`, content: yamlFile(unit.seedFiles?.[name] ?? unit.files[name] ?? []) });
    }
    for (const spec of unit.secrets ?? []) {
      const content = secretsByPath.get(secretFilePath(unit, spec));
      if (content === undefined) throw new Error(`the seed needs ${secretFilePath(unit, spec)}, which was not rendered`);
      files.push({ path: `${folder}/${unit.name}/${spec.name}.sops.yaml`, content });
    }
  }
  files.push({
    path: `${folder}/kustomization.yaml`,
    content: yamlFile([{ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: resources.sort() }]),
  });
  return files;
}
