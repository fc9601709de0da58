// kured: reboots nodes into the OS image they staged, one node at a time, in the maintenance
// window of cluster.updates. The image's staging unit writes kured's sentinel once an image is
// staged (generator/image/updates.ts); kured drains the node and runs the image's reboot
// command on the host. Chart kubereboot/charts charts/kured at tag kured-6.1.0 (kured 1.23.0):
// every value below is a key of its values.yaml, read as daemonset.yaml turns it into flags.
import type { IPrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { catalog } from "../catalog.ts";
import type { HomelabConfig } from "../config/schema.ts";
import { REBOOT_SCRIPT, REBOOT_SENTINEL } from "../image/paths.ts";
import { helmRelease } from "../render/flux.ts";
import { namespace } from "../render/kube.ts";
import { alert, PROMETHEUS_URL, REBOOT_BLOCKING_ALERTS } from "./monitoring.ts";
import type { Component } from "./types.ts";

const KURED_NAMESPACE = "kured";
const ALL_DAYS = 7;

/**
 * kured blocks a reboot while any alert Prometheus reports matches; with alertFilterMatchOnly
 * only the alerts the regexp matches block (pkg/blockers/prometheus.go matchesRegex at 1.23.0).
 * Pending alerts count too (alertFiringOnly stays false): a volume degraded by the previous
 * node's reboot holds the next one back before its alert fires.
 */
export function blockingAlertFilter(): string {
  return `^(${REBOOT_BLOCKING_ALERTS.join("|")})$`;
}

/**
 * kured exports kured_reboot_required{node} (cmd/kured/main.go at 1.23.0). A node waiting
 * longer than a window cycle is held back: by an alert above, a drain that keeps timing out,
 * or a lock another node never released.
 */
function rebootPendingRule(config: HomelabConfig): IPrometheusRule {
  const everyDay = config.cluster.updates.window.days.length === ALL_DAYS;
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "kured", namespace: KURED_NAMESPACE },
    spec: {
      groups: [
        {
          name: "homelab.updates",
          rules: [
            alert(
              "NodeRebootPending",
              "max by (node) (kured_reboot_required) == 1",
              everyDay ? "26h" : "8d",
              "warning",
              `Node {{ $labels.node }} staged a new OS image and has not rebooted into it for ${everyDay ? "a day" : "a week"}: see docs/upgrades.md (a blocking alert, a drain that times out, or a held lock).`,
            ),
          ],
        },
      ],
    },
  };
}

export const kured: Component = {
  name: "kured",
  // With monitoring, the alert and the scrape need Prometheus's CRDs (phase 4).
  phase: 4,
  enabled: () => true,
  verifiedValues: [
    {
      release: "kured",
      chartVersion: "6.1.0",
      paths: [
        "configuration.rebootSentinel",
        "configuration.rebootCommand",
        "configuration.startTime",
        "configuration.endTime",
        "configuration.rebootDays",
        "configuration.timeZone",
        "configuration.drainTimeout",
        "configuration.prometheusUrl",
        "configuration.alertFilterRegexp",
        "configuration.alertFilterMatchOnly",
        "metrics.create",
      ],
    },
  ],
  render({ config }) {
    const updates = config.cluster.updates;
    const monitored = config.monitoring.enabled;
    return {
      units: [
        {
          name: "kured",
          path: "infrastructure/kured",
          files: {
            // hostPID and a privileged container (nsenter into the host for the reboot).
            namespace: [namespace(KURED_NAMESPACE, { labels: { "pod-security.kubernetes.io/enforce": "privileged" } })],
            release: helmRelease({
              name: "kured",
              namespace: KURED_NAMESPACE,
              chart: catalog.charts.kured,
              values: {
                configuration: {
                  // The chart mounts the sentinel's folder (useRebootSentinelHostPath, on by default).
                  rebootSentinel: REBOOT_SENTINEL,
                  // Run through nsenter on the host: the image's script (etcd snapshot, then reboot).
                  rebootCommand: REBOOT_SCRIPT,
                  startTime: updates.window.start,
                  endTime: updates.window.end,
                  rebootDays: updates.window.days,
                  timeZone: config.cluster.timezone,
                  // A drain that hangs (one node, or Longhorn's drain policy with the last
                  // replica) is given up: kured uncordons, releases the lock, retries next period.
                  drainTimeout: updates.drainTimeout,
                  ...(monitored ? { prometheusUrl: PROMETHEUS_URL, alertFilterRegexp: blockingAlertFilter(), alertFilterMatchOnly: true } : {}),
                },
                // A Service and a ServiceMonitor for kured_reboot_required.
                ...(monitored ? { metrics: { create: true } } : {}),
              },
            }),
            ...(monitored ? { alerts: [rebootPendingRule(config)] } : {}),
          },
          needs: monitored ? ["prometheus-crds"] : [],
        },
      ],
    };
  },
};
