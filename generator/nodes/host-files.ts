// The files one node needs at install, laid out as they go under / on the host: which k3s unit
// runs (server or agent), the node's k3s settings with the join token, the cluster's age key on
// the first server (where first boot runs), and the credentials bootc pulls the OS image with. They hold secrets, so they are
// written outside the repository and never committed.
import type { HomelabConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { nodeImage } from "../image/install.ts";
import { AGE_KEY, K3S_AGENT_CONFIG, K3S_SERVER_CONFIG, READER_USER } from "../image/paths.ts";
import { yamlText } from "../render/yaml.ts";
import { embeddedEtcd, firstServer, k3sUnit, registryHost, serverUrl, type ClusterNode } from "./cluster.ts";

/** The label the NVIDIA device plugin schedules on (see components/nvidia.ts): nodes with gpu: true. */
export const GPU_NODE_LABEL = "nvidia.com/gpu.present=true";
/** Where bootc (and rpm-ostree) read registry credentials. */
export const OSTREE_AUTH = "/etc/ostree/auth.json";
const UNIT_DIR = "/usr/lib/systemd/system";

export interface NodeSecrets {
  readonly token: string;
  readonly readerPassword: string;
  /** The first server only: the cluster's age identity and its public key. */
  readonly ageKey?: { readonly identity: string; readonly recipient: string };
}

/** A file (mode 0600) or a symbolic link, at a path relative to / on the host. */
export type HostFile = { readonly path: string; readonly content: string } | { readonly path: string; readonly symlink: string };

/** The node's k3s settings: a server's next to the image's own drop-in (00-image.yaml), an agent's in the agent's config folder. */
export function nodeDropIn(node: ClusterNode): string {
  return `${(node.role === "agent" ? K3S_AGENT_CONFIG : K3S_SERVER_CONFIG).slice(1)}.d/50-node.yaml`;
}

export function k3sNodeConfig(config: HomelabConfig, node: ClusterNode, token: string): Record<string, unknown> {
  const first = firstServer(config);
  const joins = node.name !== first.name;
  if (joins && !first.address) {
    throw new UserError(`${node.name} joins the first server, ${first.name}, at its address, and cluster.nodes gives it none: set its address`);
  }
  return {
    "node-name": node.name,
    ...(node.address ? { "node-ip": node.address } : {}),
    ...(joins ? { server: serverUrl(first.address as string) } : embeddedEtcd(config) ? { "cluster-init": true } : {}),
    token,
    ...(node.gpu ? { "node-label": [GPU_NODE_LABEL] } : {}),
  };
}

export function hostFiles(config: HomelabConfig, node: ClusterNode, secrets: NodeSecrets): HostFile[] {
  const unit = k3sUnit(node);
  const credentials = Buffer.from(`${READER_USER}:${secrets.readerPassword}`).toString("base64");
  const files: HostFile[] = [
    { path: `etc/systemd/system/multi-user.target.wants/${unit}`, symlink: `${UNIT_DIR}/${unit}` },
    {
      path: nodeDropIn(node),
      content: `# ${node.name}: written by \`homelab node-config ${node.name}\`; holds the cluster's join token\n${yamlText(k3sNodeConfig(config, node, secrets.token))}`,
    },
    { path: OSTREE_AUTH.slice(1), content: `${JSON.stringify({ auths: { [registryHost(config)]: { auth: credentials } } }, null, 2)}\n` },
  ];
  if (secrets.ageKey) {
    files.push({ path: AGE_KEY.slice(1), content: `# public key: ${secrets.ageKey.recipient}\n${secrets.ageKey.identity}\n` });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** What to do with the files, for README.txt beside them. */
export function hostReadme(config: HomelabConfig, node: ClusterNode, files: readonly HostFile[]): string {
  const unit = k3sUnit(node);
  const admin = config.image.admin.name;
  const target = node.address ?? node.name;
  const installs = files.filter((f) => "content" in f).map((f) => `  sudo install -D -Z -m 0600 ${f.path} /${f.path}`);
  const first = firstServer(config);
  const watch =
    node.name === first.name
      ? ["5. Log in again and watch the first boot (tens of minutes, mostly image downloads):", "  journalctl -u homelab-bootstrap -f"]
      : [`5. Check that it joined: on ${first.name}, sudo k3s kubectl get nodes`];
  return [
    `Host files for node ${node.name} (${node.role}) of cluster ${config.cluster.name}, written by \`homelab node-config ${node.name}\`.`,
    "They hold secrets (the k3s join token, the registry password" + (files.some((f) => f.path === AGE_KEY.slice(1)) ? ", the cluster's age key" : "") + "):",
    "keep this folder private and delete it once the node runs. The tree mirrors / on the node.",
    "",
    `1. Install the node from image/install/${node.name}.toml (see docs/install.md).`,
    // tar keeps the unit link as a link (scp would follow it, and it points nowhere here).
    `2. Copy this folder to it; from inside this folder:`,
    `  tar -cf - . | ssh ${admin}@${target} 'mkdir -m 0700 node-files && tar -C node-files -xf -'`,
    `3. On the node, in ~/node-files:`,
    `  sudo hostnamectl set-hostname ${node.name}`,
    ...installs,
    `4. Enable k3s (the link etc/systemd/system/multi-user.target.wants/${unit} is what this makes) and restart:`,
    `  sudo systemctl enable ${unit}`,
    "  sudo systemctl reboot",
    ...watch,
    "6. Remove the copy:  rm -rf ~/node-files",
    `7. Once the cluster's registry holds the image (docs/install.md), follow it from then on:`,
    `  sudo bootc switch ${nodeImage(config, node)}`,
    "",
  ].join("\n");
}
