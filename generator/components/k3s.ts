// Phase 1: what k3s brings (Traefik, ServiceLB, helm-controller), tuned through the tree, and
// the server settings the tree relies on, rendered as the image's k3s config drop-in.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { HelmChartConfig } from "../render/crds.ts";
import { fqdn } from "../render/kube.ts";
import { yamlFile, yamlText } from "../render/yaml.ts";
import type { HomelabConfig } from "../config/schema.ts";
import { K3S_AGENT_CONFIG, K3S_SERVER_CONFIG, rootfsPath } from "../image/paths.ts";
import { embeddedEtcd } from "../nodes/cluster.ts";
import type { Component } from "./types.ts";

export const K3S_DROP_IN = rootfsPath(`${K3S_SERVER_CONFIG}.d/00-image.yaml`);
/** Agents read their own config file (image/paths.ts): the image's agent flags go beside it. */
export const K3S_AGENT_DROP_IN = rootfsPath(`${K3S_AGENT_CONFIG}.d/00-image.yaml`);

/**
 * Flags of every node: all an agent gets (k3s agent refuses server-only keys), and part of a
 * server's. k3s-selinux is installed, and k3s only runs containers with SELinux labels when
 * told (`selinux`, docs.k3s.io/advanced#enabling-selinux-enforcement).
 */
function k3sAgentImageConfig(config: HomelabConfig): Record<string, unknown> {
  return {
    selinux: true,
    // kube-prometheus-stack scrapes kube-proxy on every node from the node address.
    ...(config.monitoring.enabled ? { "kube-proxy-arg": ["metrics-bind-address=0.0.0.0"] } : {}),
  };
}

/** Server flags; k3s reads them from config.yaml.d, so they belong to the image, not the tree. */
export function k3sImageConfig(config: HomelabConfig): Record<string, unknown> {
  return {
    // Longhorn must be the only default StorageClass.
    disable: ["local-storage"],
    "secrets-encryption": true,
    ...k3sAgentImageConfig(config),
    // kube-prometheus-stack scrapes these from the node address; several servers run embedded
    // etcd, whose metrics k3s serves on the node address (port 2381) only when told.
    ...(config.monitoring.enabled
      ? {
          "kube-controller-manager-arg": ["bind-address=0.0.0.0"],
          "kube-scheduler-arg": ["bind-address=0.0.0.0"],
          ...(embeddedEtcd(config) ? { "etcd-expose-metrics": true } : {}),
        }
      : {}),
  };
}

/**
 * Pods reach the hosts apps call each other on (OIDC discovery and tokens at Authentik, git and
 * the registry at Gitea) through Traefik, whatever the LAN's DNS says: k3s's CoreDNS imports
 * *.override files from the ConfigMap coredns-custom. Exact rewrites also rewrite the answer.
 */
function inClusterDns(config: HomelabConfig): IConfigMap {
  const hosts = [config.auth.authentik.host, config.apps.gitea.host].map((host) => fqdn(config, host));
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "coredns-custom", namespace: "kube-system" },
    data: { "homelab.override": hosts.map((host) => `rewrite name exact ${host} traefik.kube-system.svc.cluster.local\n`).join("") },
  };
}

export const k3s: Component = {
  name: "k3s",
  phase: 1,
  enabled: () => true,
  render({ config }) {
    const traefik: HelmChartConfig = {
      apiVersion: "helm.cattle.io/v1",
      kind: "HelmChartConfig",
      metadata: { name: "traefik", namespace: "kube-system" },
      spec: {
        valuesContent: yamlText({
          ports: { web: { http: { redirections: { entryPoint: { to: "websecure", scheme: "https", permanent: true } } } } },
          providers: {
            // Forward-auth middlewares live in Authentik's namespace and serve every app's ingress.
            kubernetesCRD: { allowCrossNamespace: true },
            // Apps route the outpost's paths to Authentik through ExternalName Services.
            kubernetesIngress: { allowExternalNameServices: true },
          },
        }),
      },
    };
    return {
      units: [{ name: "traefik", path: "infrastructure/traefik", files: { "helm-chart-config": [traefik], "coredns-custom": [inClusterDns(config)] }, provides: ["ingress"] }],
      files: [
        { path: K3S_DROP_IN, content: yamlFile([k3sImageConfig(config)]) },
        { path: K3S_AGENT_DROP_IN, content: yamlFile([k3sAgentImageConfig(config)]) },
      ],
    };
  },
};
