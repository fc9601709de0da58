// Phase 4: kube-prometheus-stack with Grafana, the k3s scrape fixes, the monitors that link
// earlier phases (Longhorn, cert-manager, Flux) to Prometheus, and a homelab's alert rules.
import type { IPodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import type { IPrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import type { IServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { catalog } from "../catalog.ts";
import type { HomelabConfig } from "../config/schema.ts";
import { helmRelease, FLUX_NAMESPACE } from "../render/flux.ts";
import { dataVolume, defaultStorageClass, fqdn, namespace, tlsIngressAnnotations } from "../render/kube.ts";
import { LONGHORN_NAMESPACE } from "./longhorn.ts";
import { embeddedEtcd, nodeAddresses } from "../nodes/cluster.ts";
import { ADMIN_GROUP, oidcClients, oidcEndpoints } from "../auth/oidc.ts";
import type { Component, ComponentOutput } from "./types.ts";

/**
 * Prometheus's own Service: kube-prometheus-stack names it <fullname>-prometheus on port 9090
 * (templates/prometheus/service.yaml, values prometheus.service.port at 88.5.3), and the
 * fullname of release kube-prometheus-stack is the release name (_helpers.tpl).
 */
export const PROMETHEUS_URL = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090";

/**
 * The alerts that must hold back a node reboot: a volume that lost a replica (or all of them)
 * must be whole again before the next node goes down. Anything else (kube-prometheus-stack's
 * Watchdog fires all the time) must not block.
 */
export const REBOOT_BLOCKING_ALERTS = ["LonghornVolumeDegraded", "LonghornVolumeFaulted"] as const;
const [VOLUME_DEGRADED, VOLUME_FAULTED] = REBOOT_BLOCKING_ALERTS;

/** Secret with admin-user and admin-password for Grafana's local admin. */
export const GRAFANA_ADMIN_SECRET = "grafana-admin";
const GRAFANA_OIDC_SECRET = "grafana-oidc";

/**
 * k3s runs the control plane inside its own process, so kube-prometheus-stack scrapes fixed
 * endpoints (node addresses): the controller manager and the scheduler on the servers,
 * kube-proxy on every node, and with several servers embedded etcd's metrics (port 2381,
 * kubeEtcd.service.port at 88.5.3; k3s serves them on the node address with
 * etcd-expose-metrics, pkg/etcd/etcd.go metricsURL). A single server keeps its state in SQLite
 * (kine): no etcd to scrape. Without an address a node is not scraped (the config rules warn).
 */
function controlPlaneScraping(config: HomelabConfig): Record<string, unknown> {
  const target = (addresses: string[]) => (addresses.length > 0 ? { endpoints: addresses } : { enabled: false });
  const servers = nodeAddresses(config, "server");
  return {
    kubeControllerManager: target(servers),
    kubeScheduler: target(servers),
    kubeProxy: target(nodeAddresses(config)),
    kubeEtcd: embeddedEtcd(config) ? target(servers) : { enabled: false },
  };
}

type AlertRule = NonNullable<NonNullable<IPrometheusRule["spec"]["groups"]>[number]["rules"]>[number];

/** One Prometheus alerting rule (monitoring's own, and those of components that bring alerts). */
export function alert(name: string, expr: string, duration: string, severity: "warning" | "critical", summary: string): AlertRule {
  return { alert: name, expr, for: duration, labels: { severity }, annotations: { summary } };
}

const alertRules = (config: HomelabConfig): IPrometheusRule => ({
  apiVersion: "monitoring.coreos.com/v1",
  kind: "PrometheusRule",
  metadata: { name: "homelab-alerts", namespace: "monitoring" },
  spec: {
    groups: [
      {
        name: "homelab.storage",
        rules: [
          alert(VOLUME_DEGRADED, 'longhorn_volume_robustness{state="degraded"} == 1', "10m", "warning", "Longhorn volume {{ $labels.volume }} is degraded: a replica is missing."),
          alert(VOLUME_FAULTED, 'longhorn_volume_robustness{state="faulted"} == 1', "2m", "critical", "Longhorn volume {{ $labels.volume }} is faulted: its data is unavailable."),
          ...(config.storage.longhorn.backup
            ? [alert("LonghornBackupFailed", "longhorn_backup_state == 4", "5m", "critical", "Backup {{ $labels.backup }} of volume {{ $labels.volume }} failed.")]
            : []),
          alert("NodeDiskFilling", '(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}) < 0.15', "30m", "warning", "{{ $labels.mountpoint }} on {{ $labels.instance }} has less than 15% free."),
        ],
      },
      {
        name: "homelab.certificates",
        rules: [
          // Certificates from step-ca live 24 h and renew 8 h before the end; 0 means not issued yet.
          alert("CertificateExpiring", "certmanager_certificate_expiration_timestamp_seconds > 0 and certmanager_certificate_expiration_timestamp_seconds - time() < 4 * 3600", "10m", "warning", "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires within 4 hours and was not renewed."),
        ],
      },
      {
        name: "homelab.flux",
        rules: [
          alert("FluxReconciliationFailing", 'max by (exported_namespace, name, kind) (flux_resource_info{ready="False", suspended="False"}) == 1', "15m", "warning", "Flux {{ $labels.kind }} {{ $labels.exported_namespace }}/{{ $labels.name }} has not been Ready for 15 minutes."),
        ],
      },
    ],
  },
});

/** Scrapes `port` of the Services matching `labels` in `namespace`. */
function serviceMonitor(name: string, namespace: string, labels: Record<string, string>, port: string): IServiceMonitor {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: { name, namespace: "monitoring" },
    spec: { namespaceSelector: { matchNames: [namespace] }, selector: { matchLabels: labels }, endpoints: [{ port }] },
  };
}

const monitors = () => [
  serviceMonitor("longhorn", LONGHORN_NAMESPACE, { app: "longhorn-manager" }, "manager"),
  serviceMonitor("cert-manager", "cert-manager", { "app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller" }, "http-metrics"),
  // flux-operator reports every Flux object's readiness as flux_resource_info.
  serviceMonitor("flux-operator", FLUX_NAMESPACE, { "app.kubernetes.io/name": "flux-operator" }, "http"),
  {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    metadata: { name: "flux-controllers", namespace: "monitoring" },
    spec: {
      namespaceSelector: { matchNames: [FLUX_NAMESPACE] },
      selector: { matchExpressions: [{ key: "app", operator: "In", values: ["source-controller", "kustomize-controller", "helm-controller", "notification-controller"] }] },
      podMetricsEndpoints: [{ port: "http-prom" }],
    },
  } satisfies IPodMonitor,
  // Longhorn 1.12 admits only its own pods to the manager unless a policy says otherwise.
  {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "allow-prometheus-scrape", namespace: LONGHORN_NAMESPACE },
    spec: {
      podSelector: { matchLabels: { app: "longhorn-manager" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
          ports: [{ protocol: "TCP", port: 9500 }],
        },
      ],
    },
  } satisfies INetworkPolicy,
];

export const monitoring: Component = {
  name: "monitoring",
  phase: 4,
  enabled: (config) => config.monitoring.enabled,
  verifiedValues: [
    {
      release: "kube-prometheus-stack",
      chartVersion: "88.5.3",
      paths: [
        "grafana.defaultDashboardsTimezone",
        "grafana.admin.existingSecret",
        "grafana.persistence.enabled",
        "grafana.persistence.existingClaim",
        "grafana.grafana\\.ini.server.root_url",
        "grafana.grafana\\.ini.auth\\.generic_oauth",
        "grafana.envValueFrom",
        "grafana.ingress.enabled",
        "grafana.ingress.ingressClassName",
        "grafana.ingress.annotations",
        "grafana.ingress.hosts",
        "grafana.ingress.tls",
        "prometheus.prometheusSpec.retention",
        "prometheus.prometheusSpec.storageSpec",
        "prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.probeSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.scrapeConfigSelectorNilUsesHelmValues",
        "kubeControllerManager.endpoints",
        "kubeControllerManager.enabled",
        "kubeScheduler.endpoints",
        "kubeScheduler.enabled",
        "kubeProxy.endpoints",
        "kubeProxy.enabled",
        "kubeEtcd.enabled",
        "kubeEtcd.endpoints",
      ],
    },
  ],
  render({ config }): ComponentOutput {
    const settings = config.monitoring;
    const host = fqdn(config, settings.host);
    const grafanaOidc = oidcClients(config).find((client) => client.slug === "grafana");
    const endpoints = oidcEndpoints(config);
    return {
      units: [
        {
          name: "monitoring",
          path: "infrastructure/monitoring",
          timeout: "15m",
          files: {
            namespace: [namespace("monitoring", { labels: { "pod-security.kubernetes.io/enforce": "privileged" }, holdsData: true })],
            volume: [dataVolume(config, { name: "grafana-data", namespace: "monitoring", size: "2Gi" })],
            release: helmRelease({
              name: "kube-prometheus-stack",
              namespace: "monitoring",
              chart: { ...catalog.charts.kubePrometheusStack, version: settings.version },
              timeout: "15m",
              values: {
                grafana: {
                  defaultDashboardsTimezone: config.cluster.timezone,
                  ...(grafanaOidc
                    ? { envValueFrom: { GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET: { secretKeyRef: { name: GRAFANA_OIDC_SECRET, key: "client-secret" } } } }
                    : {}),
                  admin: { existingSecret: GRAFANA_ADMIN_SECRET },
                  persistence: { enabled: true, existingClaim: "grafana-data" },
                  "grafana.ini": {
                    server: { root_url: `https://${host}/` },
                    ...(grafanaOidc
                      ? {
                          "auth.generic_oauth": {
                            enabled: true,
                            name: "Authentik",
                            client_id: grafanaOidc.slug,
                            scopes: "openid email profile",
                            auth_url: endpoints.authorize,
                            token_url: endpoints.token,
                            api_url: endpoints.userinfo,
                            use_pkce: true,
                            role_attribute_path: `contains(groups, '${ADMIN_GROUP}') && 'Admin' || 'Viewer'`,
                          },
                        }
                      : {}),
                  },
                  ingress: {
                    enabled: true,
                    ingressClassName: "traefik",
                    annotations: tlsIngressAnnotations(),
                    hosts: [host],
                    tls: [{ secretName: "grafana-tls", hosts: [host] }],
                  },
                },
                prometheus: {
                  prometheusSpec: {
                    retention: settings.retention,
                    storageSpec: {
                      volumeClaimTemplate: {
                        spec: { storageClassName: defaultStorageClass(config), accessModes: ["ReadWriteOnce"], resources: { requests: { storage: settings.storage } } },
                      },
                    },
                    // Pick up every monitor and rule in the cluster, not only this release's.
                    serviceMonitorSelectorNilUsesHelmValues: false,
                    podMonitorSelectorNilUsesHelmValues: false,
                    ruleSelectorNilUsesHelmValues: false,
                    probeSelectorNilUsesHelmValues: false,
                    scrapeConfigSelectorNilUsesHelmValues: false,
                  },
                },
                ...controlPlaneScraping(config),
              },
            }),
          },
          needs: ["storage", "ingress", "certificates"],
          provides: ["prometheus-crds", "grafana"],
          secrets: [
            {
              name: GRAFANA_ADMIN_SECRET,
              namespace: "monitoring",
              data: { "admin-user": { literal: "admin" }, "admin-password": { generated: "grafana.adminPassword" } },
            },
            // The client secret Authentik's grafana provider holds too (phase 5 declares the provider).
            ...(grafanaOidc ? [{ name: GRAFANA_OIDC_SECRET, namespace: "monitoring", data: { "client-secret": { generated: grafanaOidc.secretName } } }] : []),
          ],
        },
        {
          name: "monitoring-config",
          path: "infrastructure/monitoring/config",
          files: { alerts: [alertRules(config)], monitors: monitors() },
          needs: ["prometheus-crds"],
        },
      ],
    };
  },
};
