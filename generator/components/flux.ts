// Phase 1: Flux itself. flux-operator installs Flux at flux.version and syncs clusters/<name>
// from the in-cluster Gitea. First boot installs the operator as the Helm release
// "flux-operator"; the HelmRelease here has the same name, so Flux adopts and upgrades it.
// The sync path holds Flux Kustomizations only (what flux-local and flate start from): Flux's
// own objects are a unit like any other, named "flux" because the FluxInstance's sync itself is
// the Kustomization "flux-system" (flux-operator v0.58.1 docs/api/v1/fluxinstance.md, "Sync
// configuration": the source and Kustomization take the namespace's name).
import { catalog } from "../catalog.ts";
import { FLUX_NAMESPACE, helmRelease } from "../render/flux.ts";
import { NEVER_PRUNE } from "../render/kube.ts";
import type { FluxInstance } from "../render/crds.ts";
import type { HomelabConfig } from "../config/schema.ts";
import type { Component, KubeObject } from "./types.ts";

/**
 * Flux's own objects are never garbage-collected: a Kustomization that stops listing them (a
 * renamed file, a moved unit) would otherwise delete the FluxInstance, and flux-operator
 * uninstalls Flux when it is deleted (fluxcd/kustomize-controller v1.9.4
 * docs/spec/v1/kustomizations.md, "Prune"; flux-operator v0.58.1 docs/api/v1/fluxinstance.md).
 */
function kept<T extends KubeObject & { metadata?: { annotations?: Record<string, string> } }>(object: T): T {
  return { ...object, metadata: { ...object.metadata, annotations: { ...object.metadata?.annotations, ...NEVER_PRUNE } } };
}

/** The Secret (created at first boot with a read-only Gitea token) Flux pulls with. */
export const GIT_PULL_SECRET = "flux-gitea-auth";

/** Gitea inside the cluster (the chart's HTTP Service): Flux, the Actions runner and Renovate talk to it here. */
export const GITEA_INTERNAL_URL = "http://gitea-http.gitea.svc.cluster.local:3000";

export function giteaRepositoryUrl(config: HomelabConfig): string {
  return `${GITEA_INTERNAL_URL}/${config.git.owner}/${config.git.repository}.git`;
}

export const flux: Component = {
  name: "flux",
  phase: 1,
  enabled: () => true,
  render({ config, clusterPath }) {
    const instance: FluxInstance = {
      apiVersion: "fluxcd.controlplane.io/v1",
      kind: "FluxInstance",
      metadata: { name: "flux", namespace: FLUX_NAMESPACE, annotations: { ...NEVER_PRUNE } },
      spec: {
        distribution: { version: config.flux.version, registry: "ghcr.io/fluxcd" },
        components: ["source-controller", "kustomize-controller", "helm-controller", "notification-controller"],
        cluster: { type: "kubernetes", networkPolicy: true, domain: "cluster.local" },
        sync: {
          kind: "GitRepository",
          url: giteaRepositoryUrl(config),
          ref: `refs/heads/${config.git.branch}`,
          path: clusterPath,
          pullSecret: GIT_PULL_SECRET,
          interval: "1m",
        },
      },
    };
    return {
      units: [
        {
          name: "flux",
          path: `${clusterPath}/flux-system`,
          files: {
            "flux-operator": helmRelease({ name: "flux-operator", namespace: FLUX_NAMESPACE, chart: catalog.charts.fluxOperator }).map(kept),
            "flux-instance": [instance],
          },
          provides: ["flux"],
        },
      ],
    };
  },
};
