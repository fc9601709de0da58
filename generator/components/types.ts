// The contract between the planner and the component modules. A component renders plain
// typed objects; it never writes files and knows other components only through the
// capabilities it provides and needs.
import type { HomelabConfig } from "../config/schema.ts";
import type { GeneratedFile } from "../writer.ts";
import type { CaPublic } from "../secrets/internal-ca.ts";

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

/** Where one value of a Secret comes from. */
export type SecretValue =
  /** Created once by the generator (CSPRNG) and kept in the secret store forever after. */
  | { readonly generated: string; readonly form?: "password" | "hex" | "vaultwarden-admin-token" }
  /** Supplied by the user with `homelab secrets set <name>`; `requiredBy` is the config key that needs it. */
  | { readonly supplied: string; readonly requiredBy: readonly (string | number)[] }
  /** Created by an earlier step (the internal CA) and kept in the store. */
  | { readonly stored: string }
  /** Not secret, but belongs in the same Secret (e.g. an endpoint URL). */
  | { readonly literal: string }
  /** Text built from other values, e.g. Helm values handed over through valuesFrom. */
  | { readonly template: (inputs: Record<string, string>) => string; readonly inputs: Readonly<Record<string, SecretValue>> };

/** A Kubernetes Secret the unit needs, written encrypted as <unit path>/<name>.sops.yaml. */
export interface SecretSpec {
  readonly name: string;
  readonly namespace: string;
  readonly data: Readonly<Record<string, SecretValue>>;
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
  /** Files the first-boot seed holds instead of the same-named files above (objects it cannot apply yet). */
  readonly seedFiles?: Readonly<Record<string, readonly KubeObject[]>>;
  /** Secrets written as SOPS-encrypted files; their Flux Kustomization decrypts them. */
  readonly secrets?: readonly SecretSpec[];
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
  /** The internal CA's public material (certificates, provisioner). */
  readonly ca: CaPublic;
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
