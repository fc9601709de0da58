// render: the plan as files — every unit's folder with its kustomization.yaml, one file of
// Flux Kustomizations per component under clusters/<name>/, and the list Flux applies.
import { phases } from "./components/types.ts";
import { seedPath } from "./image/seed.ts";
import { fluxKustomization } from "./render/flux.ts";
import { krmIgnoreFile, sourceIgnoreFile } from "./render/ignore-files.ts";
import { yamlFile } from "./render/yaml.ts";
import type { Plan, PlannedUnit } from "./plan.ts";
import type { GeneratedFile } from "./writer.ts";

const DEFAULT_TIMEOUT = "10m";

/** kustomize's own Kustomization (kustomize.config.k8s.io), listing a folder's files. */
function kustomizeFile(resources: readonly string[]): string {
  return yamlFile([{ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [...resources].sort() }]);
}

/** The unit's object files and its kustomization.yaml (the SOPS files come from the secrets renderer). */
function unitFiles(unit: PlannedUnit): GeneratedFile[] {
  const names = Object.keys(unit.files).sort();
  const secrets = (unit.secrets ?? []).map((spec) => `${spec.name}.sops.yaml`);
  return [
    ...names.map((name) => ({ path: `${unit.path}/${name}.yaml`, content: yamlFile(unit.files[name] ?? []) })),
    { path: `${unit.path}/kustomization.yaml`, content: kustomizeFile([...names.map((n) => `${n}.yaml`), ...secrets]) },
  ];
}

export function treeFiles(plan: Plan): GeneratedFile[] {
  const files: GeneratedFile[] = plan.units.flatMap(unitFiles);
  const byComponent = new Map<string, PlannedUnit[]>();
  for (const unit of plan.units) {
    byComponent.set(unit.component, [...(byComponent.get(unit.component) ?? []), unit]);
  }
  for (const [component, units] of byComponent) {
    files.push({
      path: `${plan.clusterPath}/${component}.yaml`,
      content: yamlFile(
        units.map((unit) =>
          fluxKustomization({
            name: unit.name,
            path: unit.path,
            phaseLabel: phases[unit.phase],
            dependsOn: unit.dependsOn,
            timeout: unit.timeout ?? DEFAULT_TIMEOUT,
            decryptSecrets: (unit.secrets ?? []).length > 0,
          }),
        ),
      ),
    });
  }
  // The FluxInstance's sync path: Flux Kustomizations only, Flux's own objects included (the flux
  // unit), so tools that start there (flux-local, flate) see every object under a Kustomization.
  files.push({ path: `${plan.clusterPath}/kustomization.yaml`, content: kustomizeFile([...byComponent.keys()].map((c) => `${c}.yaml`)) });
  files.push(sourceIgnoreFile(plan, seedPath(plan)), krmIgnoreFile(plan, seedPath(plan)));
  return [...files, ...plan.files];
}
