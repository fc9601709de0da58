// Phase 4: CloudNativePG's metrics and alerts. The operator's chart has a PodMonitor switch but
// the operator comes in phase 2, before the Prometheus Operator CRDs exist, and the chart ships
// no alerts: both live here, with the monitoring stack.
import type { IPodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import type { IPrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { CNPG_NAMESPACE, CNPG_RELEASE } from "./cloudnative-pg.ts";
import { OPERATOR_CAPABILITY } from "./databases.ts";
import { alert } from "./monitoring.ts";
import type { Component } from "./types.ts";

export const cloudnativePgMonitoring: Component = {
  name: "cloudnative-pg-monitoring",
  phase: 4,
  enabled: (config) => config.monitoring.enabled,
  render({ config }) {
    const monitors: IPodMonitor[] = [
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        metadata: { name: "cloudnative-pg-operator", namespace: "monitoring" },
        // The selector the chart's own PodMonitor uses (charts/cloudnative-pg/templates/podmonitor.yaml, 0.29.0): port metrics (8080).
        spec: {
          namespaceSelector: { matchNames: [CNPG_NAMESPACE] },
          selector: { matchLabels: { "app.kubernetes.io/name": "cloudnative-pg", "app.kubernetes.io/instance": CNPG_RELEASE } },
          podMetricsEndpoints: [{ port: "metrics" }],
        },
      },
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        metadata: { name: "cloudnative-pg-instances", namespace: "monitoring" },
        // Every PostgreSQL instance pod carries cnpg.io/podRole=instance and serves port metrics
        // (cloudnative-pg v1.30.0 pkg/utils/labels_annotations.go, pkg/specs/pods.go).
        spec: {
          namespaceSelector: { any: true },
          selector: { matchLabels: { "cnpg.io/podRole": "instance" } },
          podMetricsEndpoints: [{ port: "metrics" }],
        },
      },
    ];
    // Metric names: cnpg_collector_* (pkg/management/postgres/webserver/metricserver/pg_collector.go)
    // and cnpg_pg_stat_archiver_* (the chart's default monitoring queries, pg_stat_archiver).
    const rules: IPrometheusRule = {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: { name: "cloudnative-pg-alerts", namespace: "monitoring" },
      spec: {
        groups: [
          {
            name: "homelab.databases",
            rules: [
              alert("PostgresInstanceDown", "cnpg_collector_up == 0", "5m", "critical", "PostgreSQL in {{ $labels.namespace }}/{{ $labels.pod }} is down."),
              alert("PostgresWalPiling", 'cnpg_collector_pg_wal_archive_status{value="ready"} > 64', "15m", "warning", "{{ $labels.pod }} has more than 64 WAL segments waiting to be archived: its volume is filling."),
              ...(config.storage.longhorn.backup
                ? [
                    alert("PostgresArchivingFailing", "cnpg_pg_stat_archiver_seconds_since_last_failure < cnpg_pg_stat_archiver_seconds_since_last_archival", "30m", "critical", "{{ $labels.pod }} fails to archive WAL to the backup target: point-in-time restore falls behind."),
                  ]
                : []),
            ],
          },
        ],
      },
    };
    return {
      units: [
        {
          name: "cloudnative-pg-monitoring",
          path: "infrastructure/cloudnative-pg/monitoring",
          files: { monitors, alerts: [rules] },
          needs: ["prometheus-crds", OPERATOR_CAPABILITY],
        },
      ],
    };
  },
};
