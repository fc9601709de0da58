// plan: components → units with dependsOn derived from needs → provides, then checked:
// every need resolves, nothing depends on a later phase, no cycles.
import type { HomelabConfig } from "./config/schema.ts";
import { UserError } from "./errors.ts";
import type { GeneratedFile } from "./writer.ts";
import type { CaPublic } from "./secrets/internal-ca.ts";
import type { Component, Phase, Unit } from "./components/types.ts";

export interface PlannedUnit extends Unit {
  readonly component: string;
  readonly phase: Phase;
  readonly dependsOn: readonly string[];
}

export interface Plan {
  readonly clusterPath: string;
  readonly units: readonly PlannedUnit[];
  readonly files: readonly GeneratedFile[];
}

export class GraphError extends UserError {}

export function plan(config: HomelabConfig, components: readonly Component[], ca: CaPublic): Plan {
  const clusterPath = `clusters/${config.cluster.name}`;
  const rendered = components.map((component) => ({ component, output: component.render({ config, clusterPath, ca }) }));
  const units = rendered.flatMap(({ component, output }) => output.units.map((unit) => ({ unit, component })));
  const problems: string[] = [];

  const byName = new Map<string, (typeof units)[number]>();
  const byPath = new Map<string, string>();
  const providers = new Map<string, (typeof units)[number]>();
  for (const entry of units) {
    const { unit } = entry;
    if (byName.has(unit.name)) problems.push(`two Flux Kustomizations are named "${unit.name}"`);
    byName.set(unit.name, entry);
    const pathOwner = byPath.get(unit.path);
    if (pathOwner) problems.push(`${unit.name} and ${pathOwner} both write ${unit.path}`);
    byPath.set(unit.path, unit.name);
    for (const capability of unit.provides ?? []) {
      const other = providers.get(capability);
      if (other) problems.push(`"${capability}" is provided by both ${other.unit.name} and ${unit.name}`);
      providers.set(capability, entry);
    }
  }

  const planned: PlannedUnit[] = units.map(({ unit, component }) => {
    const dependsOn = new Set<string>();
    for (const need of unit.needs ?? []) {
      const provider = providers.get(need);
      if (!provider) {
        problems.push(`${unit.name} needs "${need}", which no deployed component provides`);
        continue;
      }
      if (provider.component.phase > component.phase) {
        problems.push(`${unit.name} (phase ${component.phase}) needs "${need}" from ${provider.unit.name}, a later phase (${provider.component.phase})`);
      }
      if (provider.unit.name !== unit.name) dependsOn.add(provider.unit.name);
    }
    return { ...unit, component: component.name, phase: component.phase, dependsOn: [...dependsOn].sort() };
  });

  const cycle = findCycle(planned);
  if (cycle) problems.push(`dependency cycle: ${cycle.join(" → ")}`);
  if (problems.length > 0) throw new GraphError(problems.map((message) => ({ file: "dependency graph", line: 0, col: 0, path: "", message })));

  return {
    clusterPath,
    units: planned.sort((a, b) => a.phase - b.phase || (a.name < b.name ? -1 : 1)),
    files: rendered.flatMap(({ output }) => output.files ?? []),
  };
}

function findCycle(units: readonly PlannedUnit[]): string[] | undefined {
  const edges = new Map(units.map((u) => [u.name, u.dependsOn]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "visiting") return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, "visiting");
    stack.push(name);
    for (const next of edges.get(name) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const unit of units) {
    const found = visit(unit.name);
    if (found) return found;
  }
  return undefined;
}
