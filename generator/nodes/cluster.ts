// The machines of the cluster and what they share: how they join, where their OS image lives.
import type { HomelabConfig } from "../config/schema.ts";
import { fqdn } from "../render/kube.ts";

export type ClusterNode = NonNullable<HomelabConfig["cluster"]["nodes"]>[number];

/** The k3s API port every node joins on. */
const API_PORT = 6443;

/** cluster.nodes, or its default: one server named after the cluster. */
export function clusterNodes(config: HomelabConfig): ClusterNode[] {
  return config.cluster.nodes ?? [{ name: config.cluster.name, role: "server", gpu: false }];
}

/** More than one server runs k3s's embedded etcd (one server keeps its state in SQLite). */
export function embeddedEtcd(config: HomelabConfig): boolean {
  return clusterNodes(config).filter((node) => node.role === "server").length > 1;
}

/** The LAN addresses of the nodes that have one (of one role, or all). */
export function nodeAddresses(config: HomelabConfig, role?: ClusterNode["role"]): string[] {
  return clusterNodes(config)
    .filter((node) => role === undefined || node.role === role)
    .flatMap((node) => (node.address ? [node.address] : []));
}

/** The server the cluster starts on: every other node joins it. */
export function firstServer(config: HomelabConfig): ClusterNode {
  const server = clusterNodes(config).find((node) => node.role === "server");
  // The config rules reject a cluster without a server.
  if (!server) throw new Error("cluster.nodes has no server");
  return server;
}

export function serverUrl(address: string): string {
  return `https://${address.includes(":") ? `[${address}]` : address}:${API_PORT}`;
}

/** The systemd unit that makes a node a server or an agent (the image ships both). */
export function k3sUnit(node: ClusterNode): string {
  return node.role === "server" ? "k3s.service" : "k3s-agent.service";
}

/** Where the built OS image is pushed and nodes pull it from: image.registry, or Gitea's registry. */
export function imageRegistry(config: HomelabConfig): string {
  return config.image.registry ?? `${fqdn(config, config.apps.gitea.host)}/${config.git.owner}/os`;
}

/** The registry's host (with its port, if any): the key of the node's registry credentials. */
export function registryHost(config: HomelabConfig): string {
  return imageRegistry(config).split("/")[0] as string;
}
