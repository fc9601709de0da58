// The contract between the planner and the component modules. A component renders plain
// typed objects; it never writes files and knows other components only through the
// capabilities it provides and needs.
import type { HomelabConfig } from "../config/schema.ts";
import type { GeneratedFile } from "../writer.ts";

export const phases = {
  1: "1-cluster",
  2: "2-storage",
  3: "3-network",
  4: "4-monitoring",
  5: "5-auth",
  6: "6-apps",
  7: "7-extras",
} as const;
export type Phase = keyof typeof phases;

/** A Kubernetes object: a typed model instance or a plain object with apiVersion and kind. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

/** One Flux Kustomization: a folder of objects applied together. */
export interface Unit {
  /** Flux Kustomization name, e.g. longhorn or longhorn-config. */
  readonly name: string;
  /** Repository folder the Kustomization applies, e.g. infrastructure/longhorn. */
  readonly path: string;
  /** File name (without .yaml) → the objects it holds. */
  readonly files: Readonly<Record<string, readonly KubeObject[]>>;
  /** Capabilities other units may need, e.g. "storage-class", "crd:longhorn". */
  readonly provides?: readonly string[];
  readonly needs?: readonly string[];
  /** Applied by the FluxInstance's own sync (listed in clusters/<name>/kustomization.yaml), not by a Kustomization of its own. */
  readonly root?: boolean;
  /** How long Flux waits for the unit to become healthy. */
  readonly timeout?: string;
}

export interface ComponentOutput {
  readonly units: readonly Unit[];
  /** Non-Kubernetes artifacts, e.g. the image's k3s config drop-in. */
  readonly files?: readonly GeneratedFile[];
}

export interface RenderContext {
  readonly config: HomelabConfig;
  /** clusters/<name> */
  readonly clusterPath: string;
}

/**
 * The chart value paths a component sets, each checked against that chart version's
 * values.yaml. A path covers everything below it (a map or list the chart takes whole).
 */
export interface VerifiedValues {
  readonly release: string;
  readonly chartVersion: string;
  readonly paths: readonly string[];
}

export interface Component {
  /** Also the name of its main Flux Kustomization and, usually, its folder. */
  readonly name: string;
  readonly phase: Phase;
  enabled(config: HomelabConfig): boolean;
  render(context: RenderContext): ComponentOutput;
  /** For every HelmRelease the component renders with values: what was verified upstream. */
  readonly verifiedValues?: readonly VerifiedValues[];
}
