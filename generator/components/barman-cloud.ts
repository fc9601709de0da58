// Phase 3: the barman-cloud plugin for CloudNativePG (CNPG-I), which archives each database's
// WAL and takes its base backups to the backup target. It talks to the operator over mTLS with
// certificates from cert-manager (the chart's Issuer and Certificates), hence phase 3; only
// deployed with a backup target. A Cluster that lists it before it runs stays in
// PhaseUnknownPlugin (cloudnative-pg v1.30.0 api/v1/cluster_types.go), so Clusters that use it
// need this unit.
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { CNPG_NAMESPACE } from "./cloudnative-pg.ts";
import { BACKUP_PLUGIN_CAPABILITY, OPERATOR_CAPABILITY } from "./databases.ts";
import type { Component } from "./types.ts";

export const barmanCloud: Component = {
  name: "barman-cloud",
  phase: 3,
  enabled: (config) => config.storage.longhorn.backup !== undefined,
  verifiedValues: [
    // cloudnative-pg/charts, tag plugin-barman-cloud-v0.7.0, charts/plugin-barman-cloud/values.yaml:
    // crds.create (templates/crds/crds.yaml, the ObjectStore CRD).
    { release: "plugin-barman-cloud", chartVersion: "0.7.0", paths: ["crds.create"] },
  ],
  render() {
    return {
      units: [
        {
          name: "barman-cloud",
          path: "infrastructure/cloudnative-pg/barman-cloud",
          files: {
            // In the operator's namespace (created by its unit): the operator discovers plugins by
            // their Service's cnpg.io/pluginName label there.
            release: helmRelease({
              name: "plugin-barman-cloud",
              namespace: CNPG_NAMESPACE,
              chart: catalog.charts.pluginBarmanCloud,
              values: { crds: { create: true } },
            }),
          },
          needs: [OPERATOR_CAPABILITY, "cert-manager"],
          provides: [BACKUP_PLUGIN_CAPABILITY],
        },
      ],
    };
  },
};
