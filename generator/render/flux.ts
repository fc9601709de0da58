// Flux objects every component uses: chart sources, HelmReleases, Kustomizations.
// Objects are typed by the @kubernetes-models interfaces (checked by tsc) but built as plain
// literals: the model classes cost ~100 ms of start-up, so their validate() runs in the tests.
import type { IHelmRelease } from "@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2/HelmRelease";
import type { IKustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1/Kustomization";
import type { IHelmRepository } from "@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/HelmRepository";
import type { IOCIRepository } from "@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/OCIRepository";
import type { ChartSource } from "../catalog.ts";
import type { KubeObject } from "../components/types.ts";

export const FLUX_NAMESPACE = "flux-system";
/** The GitRepository the FluxInstance creates for this repository. */
export const ROOT_SOURCE = "flux-system";
/**
 * The field manager first boot applies with. kustomize-controller takes over (and so can later
 * remove) only fields of the managers in its cleanup list: "kubectl" with the Apply operation is
 * one ("to undo changes made with 'kubectl apply --server-side --force-conflicts'"), where a
 * manager of our own would need --override-manager (fluxcd/kustomize-controller v1.9.4, Flux
 * 2.9's line: internal/controller/kustomization_controller.go, fieldManagers; main.go,
 * --override-manager).
 */
export const BOOTSTRAP_FIELD_MANAGER = "kubectl";
/** The ConfigMap (in flux-system) where first boot says which step it is in and what it is stuck on; `homelab status` reads it. */
export const BOOTSTRAP_STATUS = "homelab-bootstrap";
/** The Secret Flux decrypts SOPS files with (first boot writes it from the node's age key); Flux wants the key name to end in .agekey. */
export const SOPS_AGE_SECRET = { name: "sops-age", key: "age.agekey" } as const;

type ValuesFrom = NonNullable<IHelmRelease["spec"]>["valuesFrom"];

export interface ReleaseOptions {
  readonly name: string;
  readonly namespace: string;
  readonly chart: ChartSource;
  /** Name of the chart source object; default: the chart's name. */
  readonly sourceName?: string;
  readonly values?: Record<string, unknown>;
  /** Secrets or ConfigMaps merged into the values (credentials never go inline). */
  readonly valuesFrom?: ValuesFrom;
  readonly timeout?: string;
  /** Flux leaves the release as it is (during step 1 of a database migration: docs/backup-restore.md). */
  readonly suspend?: boolean;
}

/** The chart's source (HelmRepository or OCIRepository) and the HelmRelease that installs it. */
export function helmRelease(options: ReleaseOptions): KubeObject[] {
  const { name, namespace, chart } = options;
  const sourceName = options.sourceName ?? chart.chart;
  const version = `${chart.versionPrefix ?? ""}${chart.version}`;
  const oci = chart.repository.startsWith("oci://");
  const source = oci
    ? {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "OCIRepository",
        metadata: { name: sourceName, namespace },
        spec: {
          interval: "12h",
          url: `${chart.repository.replace(/\/$/, "")}/${chart.chart}`,
          ref: { tag: version },
          layerSelector: { mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", operation: "copy" },
        },
      } satisfies IOCIRepository
    : {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "HelmRepository",
        metadata: { name: sourceName, namespace },
        spec: { interval: "12h", url: chart.repository },
      } satisfies IHelmRepository;
  const release = {
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { name, namespace },
    spec: {
      interval: "30m",
      timeout: options.timeout ?? "10m",
      ...(oci
        ? { chartRef: { kind: "OCIRepository", name: sourceName } }
        : { chart: { spec: { chart: chart.chart, version, sourceRef: { kind: "HelmRepository", name: sourceName }, interval: "12h" } } }),
      install: { crds: "CreateReplace", remediation: { retries: 3 } },
      upgrade: { crds: "CreateReplace", cleanupOnFail: true, remediation: { retries: 3, strategy: "rollback" } },
      driftDetection: { mode: "enabled" },
      ...(options.valuesFrom && options.valuesFrom.length > 0 ? { valuesFrom: options.valuesFrom } : {}),
      ...(options.values && Object.keys(options.values).length > 0 ? { values: options.values } : {}),
      ...(options.suspend ? { suspend: true } : {}),
    },
  } satisfies IHelmRelease;
  return [source, release];
}

export interface FluxKustomizationOptions {
  readonly name: string;
  readonly path: string;
  readonly phaseLabel: string;
  readonly dependsOn: readonly string[];
  readonly timeout: string;
  readonly decryptSecrets?: boolean;
}

export function fluxKustomization(options: FluxKustomizationOptions): IKustomization {
  return {
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name: options.name, namespace: FLUX_NAMESPACE, labels: { "homelab/phase": options.phaseLabel } },
    spec: {
      interval: "30m",
      retryInterval: "2m",
      timeout: options.timeout,
      path: `./${options.path}`,
      prune: true,
      wait: true,
      sourceRef: { kind: "GitRepository", name: ROOT_SOURCE },
      ...(options.dependsOn.length > 0 ? { dependsOn: options.dependsOn.map((name) => ({ name })) } : {}),
      ...(options.decryptSecrets ? { decryption: { provider: "sops", secretRef: { name: SOPS_AGE_SECRET.name } } } : {}),
    },
  } satisfies IKustomization;
}
