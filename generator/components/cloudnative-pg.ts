// Phase 2: the CloudNativePG operator, storage for the apps' PostgreSQL databases (one Cluster
// per app, rendered by the app: see databases.ts). Its CRDs come with the chart, so the apps'
// Clusters (phase 5 and later) find them; Gitea's first-boot seed carries this unit too. Its chart
// version, like the plugin's, is the catalog's (Renovate updates it there).
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { namespace } from "../render/kube.ts";
import { OPERATOR_CAPABILITY } from "./databases.ts";
import type { Component } from "./types.ts";

/** The operator's namespace; the barman-cloud plugin must run in it too (the operator finds plugins there). */
export const CNPG_NAMESPACE = "cnpg-system";
/** Release name; the chart labels the operator's pods app.kubernetes.io/name=cloudnative-pg, instance=<release>. */
export const CNPG_RELEASE = "cloudnative-pg";

export const cloudnativePg: Component = {
  name: "cloudnative-pg",
  phase: 2,
  enabled: () => true,
  verifiedValues: [
    // cloudnative-pg/charts, tag cloudnative-pg-v0.29.0, charts/cloudnative-pg/values.yaml: crds.create
    // (templates/crds/crds.yaml), monitoring.podMonitorEnabled stays false: the PodMonitor needs the
    // Prometheus Operator CRDs, which phase 2 does not have (cloudnative-pg-monitoring scrapes instead).
    { release: CNPG_RELEASE, chartVersion: "0.29.0", paths: ["crds.create", "monitoring.podMonitorEnabled"] },
  ],
  render() {
    return {
      units: [
        {
          name: "cloudnative-pg",
          path: "infrastructure/cloudnative-pg",
          files: {
            namespace: [namespace(CNPG_NAMESPACE)],
            release: helmRelease({
              name: CNPG_RELEASE,
              namespace: CNPG_NAMESPACE,
              chart: catalog.charts.cloudnativePg,
              values: { crds: { create: true }, monitoring: { podMonitorEnabled: false } },
            }),
          },
          provides: [OPERATOR_CAPABILITY],
        },
      ],
    };
  },
};
