// image/Containerfile and what its build reads: the download-and-verify script, the kernel
// modules and sysctls k3s needs, and the .containerignore that keeps the build context to
// exactly those inputs (the context is the repository root).
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { imageTemplate } from "./template.ts";
import { catalog } from "../catalog.ts";
import type { HomelabConfig } from "../config/schema.ts";
import type { Plan } from "../plan.ts";
import { embeddedEtcd, nodeAddresses } from "../nodes/cluster.ts";
import { HEADER } from "../render/yaml.ts";
import type { GeneratedFile } from "../writer.ts";
import type { ImageInputs } from "./index.ts";
import { BUILD_BUNDLE, HELM_BIN, IMAGE_DIR, K3S_BIN, REPO_BUNDLE, SOPS_BIN } from "./paths.ts";
import { BASE_UPDATE_TIMERS, LONGHORN_SELINUX_MODULE, STAGE_TIMER } from "./updates.ts";

export const CONTAINERFILE = `${IMAGE_DIR}/Containerfile`;
export const FETCH_SCRIPT = `${IMAGE_DIR}/fetch-tools.sh`;
export const CONTAINERIGNORE = ".containerignore";
export const MODULES_LOAD = `${IMAGE_DIR}/rootfs/usr/lib/modules-load.d/homelab-k3s.conf`;
export const SYSCTL = `${IMAGE_DIR}/rootfs/usr/lib/sysctl.d/90-homelab-k3s.conf`;

/** The download-and-verify stage (`--target fetch` builds only it). */
export const FETCH_STAGE = "fetch";

/** An image the build makes: the stage it targets and the repository suffix of its tags. */
export interface ImageVariant {
  readonly name: string;
  readonly stage: string;
  readonly repositorySuffix: string;
}

const MAIN: ImageVariant = { name: "homelab", stage: "homelab", repositorySuffix: "" };
// A repository of its own (os-nvidia), not a tag suffix: each variant keeps a plain `latest`
// for `bootc switch` / `bootc upgrade` to follow.
const NVIDIA: ImageVariant = { name: "nvidia", stage: "nvidia", repositorySuffix: "-nvidia" };

export function imageVariants(config: HomelabConfig): ImageVariant[] {
  return config.gpu.nvidia ? [MAIN, NVIDIA] : [MAIN];
}

// Release locations (checked against upstream): k3s-io/k3s assets k3s / k3s-arm64 with
// sha256sum-<arch>.txt; getsops/sops assets sops-v<v>.linux.<arch> with sops-v<v>.checksums.txt;
// helm tarballs helm-v<v>-linux-<arch>.tar.gz with .sha256sum on get.helm.sh.
const RELEASES = {
  k3s: "https://github.com/k3s-io/k3s/releases/download",
  sops: "https://github.com/getsops/sops/releases/download",
  helm: "https://get.helm.sh",
} as const;

/** Rancher's RPM site (k3s-selinux): <site>/k3s/stable/common/{coreos,centos/<major>}/noarch. */
const RANCHER_RPM = "https://rpm.rancher.io";
/** NVIDIA's container toolkit repository (libnvidia-container). */
const NVIDIA_TOOLKIT_REPO = "https://nvidia.github.io/libnvidia-container";
const NVIDIA_AKMODS = "ghcr.io/ublue-os/akmods-nvidia-open";

// nfs-utils too, where the base has no nfs-utils-coreos (the Containerfile decides at build time).
const PACKAGES = ["container-selinux", "k3s-selinux", "iscsi-initiator-utils", "cryptsetup", "firewalld", "git-core"];
/** k3s's pod and service networks (the defaults: cluster-cidr, service-cidr). */
const TRUSTED_SOURCES = ["10.42.0.0/16", "10.43.0.0/16"];
const UNITS = ["firewalld.service", "iscsid.service", "homelab-bootstrap.service", STAGE_TIMER];

const containerfileTemplate = imageTemplate("Containerfile.hbs");
const fetchScript = readFileSync(join(import.meta.dirname, "templates", "fetch-tools.sh"), "utf8");

/**
 * The akmods image whose kernel matches the base: Fedora bases (ublue base-main, fedora-bootc)
 * use the `main-<release>` flavour, EL bases `centos-<major>`. The build checks the kernel, so
 * a base this guesses wrong for fails with a hint instead of booting without a driver.
 */
export function nvidiaAkmodsImage(base: string): string {
  const [nameAndTag = ""] = base.split("@");
  const colon = nameAndTag.lastIndexOf(":");
  const tag = colon > nameAndTag.lastIndexOf("/") ? nameAndTag.slice(colon + 1) : "";
  const name = colon > nameAndTag.lastIndexOf("/") ? nameAndTag.slice(0, colon) : nameAndTag;
  const release = /(\d+)/.exec(tag)?.[1] ?? /:(\d+)/.exec(catalog.baseImage)?.[1] ?? "";
  const flavour = /centos|almalinux|rhel/.test(name) ? "centos" : "main";
  return `${NVIDIA_AKMODS}:${flavour}-${release}`;
}

/** Ports opened in the default zone: the API, kubelet, flannel, etcd between servers, ServiceLB's and host-network apps'. */
function firewallPorts(config: HomelabConfig, plan: Plan): string[] {
  // Embedded etcd's peers talk on 2379-2380.
  const ports = ["6443/tcp", "10250/tcp", "8472/udp", ...(embeddedEtcd(config) ? ["2379-2380/tcp"] : [])];
  const loadBalanced = new Set([80, 443, config.apps.gitea.sshPort].map((port) => `${port}/tcp`));
  // Home Assistant on the node's network: its web port, and the mDNS and SSDP answers of discovery.
  const homeAssistant = config.apps.homeAssistant;
  const hostNetwork = homeAssistant.enabled && homeAssistant.hostNetwork ? ["8123/tcp", "5353/udp", "1900/udp"] : [];
  for (const unit of plan.units) {
    for (const objects of Object.values(unit.files)) {
      for (const object of objects as readonly { kind: string; spec?: { type?: string; ports?: { port: number; protocol?: string }[] } }[]) {
        if (object.kind !== "Service" || object.spec?.type !== "LoadBalancer") continue;
        for (const port of object.spec.ports ?? []) loadBalanced.add(`${port.port}/${(port.protocol ?? "TCP").toLowerCase()}`);
      }
    }
  }
  return [...ports, ...loadBalanced, ...hostNetwork];
}

/**
 * What kube-prometheus-stack scrapes on every node: node-exporter (9100), kube-proxy (10249),
 * the controller manager (10257) and the scheduler (10259), and with several servers etcd's
 * metrics (2381, k3s etcd-expose-metrics). Prometheus reaches another node from that node's
 * address, so each port is open to the cluster's node addresses only: one firewalld rich rule
 * per address and port, one command per address.
 */
export const METRICS_PORTS = [9100, 10249, 10257, 10259] as const;
export const ETCD_METRICS_PORT = 2381;

function metricsRules(config: HomelabConfig): string[][] {
  if (!config.monitoring.enabled) return [];
  const ports = [...METRICS_PORTS, ...(embeddedEtcd(config) ? [ETCD_METRICS_PORT] : [])];
  return nodeAddresses(config).map((address) => {
    const family = address.includes(":") ? "ipv6" : "ipv4";
    return ports.map((port) => `rule family="${family}" source address="${address}" port port="${port}" protocol="tcp" accept`);
  });
}

/**
 * The internal root CA first, then image.caCertificates (deduplicated), each with its anchor
 * name (the config rules keep the names distinct and the paths inside the repository).
 */
function caCertificates(config: HomelabConfig, rootPath: string): { source: string; name: string }[] {
  return [...new Set([rootPath, ...config.image.caCertificates])].map((source) => ({ source, name: basename(source) }));
}

function containerignore(caFiles: readonly string[]): string {
  const included = [FETCH_SCRIPT, `${IMAGE_DIR}/rootfs`, BUILD_BUNDLE, ...caFiles];
  return [
    HEADER,
    "# The build context is the repository root: only what image/Containerfile reads goes in,",
    "# never node_modules, secrets/ or anything else.",
    "*",
    ...included.map((path) => `!${path}`),
    "",
  ].join("\n");
}

export function containerfileFiles({ config, plan, ca }: ImageInputs): GeneratedFile[] {
  const cas = caCertificates(config, ca.rootPath);
  const containerfile = containerfileTemplate({
    header: HEADER,
    baseImage: config.image.base,
    fetchStage: FETCH_STAGE,
    mainStage: MAIN.stage,
    fetchScript: FETCH_SCRIPT,
    k3s: { version: config.cluster.k3s.version, releaseUrl: RELEASES.k3s },
    sops: { version: catalog.sops.version, releaseUrl: RELEASES.sops },
    helm: { version: catalog.helm.version, releaseUrl: RELEASES.helm },
    rancherRpm: { site: RANCHER_RPM },
    packages: PACKAGES.join(" "),
    bins: { k3s: K3S_BIN, sops: SOPS_BIN, helm: HELM_BIN },
    caCertificates: cas,
    trustedSources: TRUSTED_SOURCES,
    ports: firewallPorts(config, plan),
    etcd: embeddedEtcd(config),
    metricsRules: metricsRules(config),
    selinuxModule: LONGHORN_SELINUX_MODULE,
    maskedTimers: BASE_UPDATE_TIMERS.join(" "),
    stageTimer: STAGE_TIMER,
    units: UNITS.join(" "),
    buildBundle: BUILD_BUNDLE,
    repoBundle: REPO_BUNDLE,
    nvidia: config.gpu.nvidia ? { stage: NVIDIA.stage, akmodsImage: nvidiaAkmodsImage(config.image.base), toolkitRepo: NVIDIA_TOOLKIT_REPO } : false,
  });
  const [shebang, ...script] = fetchScript.split("\n");
  return [
    { path: CONTAINERFILE, content: containerfile },
    { path: FETCH_SCRIPT, content: [shebang, HEADER, ...script].join("\n") },
    { path: CONTAINERIGNORE, content: containerignore(cas.map((ca) => ca.source)) },
    // br_netfilter and overlay for k3s's networking and containerd, iscsi_tcp for Longhorn's
    // volumes, dm_crypt for its encrypted ones.
    { path: MODULES_LOAD, content: `${HEADER}\nbr_netfilter\noverlay\niscsi_tcp\ndm_crypt\n` },
    {
      path: SYSCTL,
      content: `${HEADER}\nnet.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n`,
    },
  ];
}
