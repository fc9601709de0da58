// First boot, rendered into image/rootfs: the k3s units (a node enables one of them),
// homelab-bootstrap.service with its script and its settings file, and tmpfiles.d for what the
// units need under /var.
import { imageTemplate } from "./template.ts";
import { GIT_PULL_SECRET, giteaRepositoryUrl } from "../components/flux.ts";
import { GITEA_ADMIN_SECRET } from "../components/gitea.ts";
import type { KubeObject } from "../components/types.ts";
import type { HomelabConfig } from "../config/schema.ts";
import type { Plan } from "../plan.ts";
import { BOOTSTRAP_FIELD_MANAGER, BOOTSTRAP_STATUS, FLUX_NAMESPACE, SOPS_AGE_SECRET } from "../render/flux.ts";
import { minimumDiskGiB } from "./disk.ts";
import { REGISTRY_SECRETS, REGISTRY_TOKEN_NAME } from "../ci/workflows.ts";
import { HEADER, plain } from "../render/yaml.ts";
import type { GeneratedFile } from "../writer.ts";
import type { ImageInputs } from "./index.ts";
import {
  AGE_KEY,
  BOOTSTRAP_DONE,
  BOOTSTRAP_ENV,
  BOOTSTRAP_SCRIPT,
  HELM_BIN,
  K3S_DATA_DIR,
  rootfsPath,
  UNIT_DIR,
  K3S_BIN,
  K3S_KUBECONFIG,
  READER_KUBE_SECRET,
  READER_USER,
  REPO_BUNDLE,
  SOPS_BIN,
  STATE_DIR,
  K3S_AGENT_CONFIG,
} from "./paths.ts";
import { seedPath } from "./seed.ts";

export const TMPFILES = "/usr/lib/tmpfiles.d/homelab.conf";
export const UNITS = ["k3s.service", "k3s-agent.service", "homelab-bootstrap.service"] as const;
export const MODPROBE = "/usr/sbin/modprobe";
/** The Gitea team giving the read-only user its access, and the name of Flux's token. */
export const READER_TEAM = "readers";
export const READER_TOKEN_NAME = "flux";

const templates = {
  k3s: imageTemplate("k3s.service.hbs"),
  agent: imageTemplate("k3s-agent.service.hbs"),
  bootstrapUnit: imageTemplate("homelab-bootstrap.service.hbs"),
  script: imageTemplate("bootstrap.sh.hbs"),
  env: imageTemplate("bootstrap.env.hbs"),
  tmpfiles: imageTemplate("tmpfiles.conf.hbs"),
};

/** A value as a POSIX shell word (single quotes; a quote inside becomes '\''). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** tmpfiles.d reads % as a specifier and \ as an escape. */
function tmpfilesPath(path: string): string {
  return path.replace(/\\/g, "\\\\").replace(/%/g, "%%");
}

interface FluxRoot {
  readonly instanceFile: string;
  readonly instanceName: string;
  readonly releaseName: string;
  readonly chart: string;
  readonly chartVersion: string;
}

/** What the bootstrap installs of flux-system, read from the tree's own objects so Flux adopts it. */
function fluxRoot(plan: Plan): FluxRoot {
  type Plain = { kind: string; metadata: { name: string }; spec?: Record<string, any> };
  for (const unit of plan.units) {
    const entries = Object.entries(unit.files).map(([file, objects]) => [file, objects.map((o: KubeObject) => plain(o) as Plain)] as const);
    const instanceEntry = entries.find(([, objects]) => objects.some((o) => o.kind === "FluxInstance"));
    if (!instanceEntry) continue;
    const objects = entries.flatMap(([, list]) => list);
    const release = objects.find((o) => o.kind === "HelmRelease");
    const source = objects.find((o) => o.kind === "OCIRepository" && o.metadata.name === release?.spec?.["chartRef"]?.name);
    if (!release || !source) throw new Error(`${unit.path}: no HelmRelease with an OCIRepository for flux-operator`);
    return {
      instanceFile: `${unit.path}/${instanceEntry[0]}.yaml`,
      instanceName: instanceEntry[1].find((o) => o.kind === "FluxInstance")?.metadata.name ?? "",
      releaseName: release.metadata.name,
      chart: String(source.spec?.["url"]),
      chartVersion: String(source.spec?.["ref"]?.tag),
    };
  }
  throw new Error("the plan has no unit with a FluxInstance");
}

/** The settings file the script sources: names and places, nothing secret. */
export function bootstrapSettings(config: HomelabConfig, plan: Plan): [string, string][] {
  const flux = fluxRoot(plan);
  // The URL Flux syncs from names Gitea's Service: http://<service>.<namespace>.svc…:<port>/….
  const url = new URL(giteaRepositoryUrl(config));
  const [service = "", namespace = ""] = url.hostname.split(".");
  return [
    ["CLUSTER_NAME", config.cluster.name],
    ["CLUSTER_PATH", plan.clusterPath],
    ["SEED_PATH", seedPath(plan)],
    ["FLUX_NAMESPACE", FLUX_NAMESPACE],
    ["FIELD_MANAGER", BOOTSTRAP_FIELD_MANAGER],
    ["BOOTSTRAP_STATUS", BOOTSTRAP_STATUS],
    ["LONGHORN_DATA_PATH", config.storage.longhorn.dataPath],
    ["MIN_DISK_GIB", String(minimumDiskGiB(config, plan))],
    ["FLUX_INSTANCE_FILE", flux.instanceFile],
    ["FLUX_INSTANCE_NAME", flux.instanceName],
    ["FLUX_OPERATOR_RELEASE", flux.releaseName],
    ["FLUX_OPERATOR_CHART", flux.chart],
    ["FLUX_OPERATOR_VERSION", flux.chartVersion],
    ["SOPS_AGE_SECRET", SOPS_AGE_SECRET.name],
    ["SOPS_AGE_SECRET_KEY", SOPS_AGE_SECRET.key],
    ["GIT_OWNER", config.git.owner],
    ["GIT_REPOSITORY", config.git.repository],
    ["GIT_BRANCH", config.git.branch],
    ["GIT_PULL_SECRET", GIT_PULL_SECRET],
    ["GITEA_NAMESPACE", namespace],
    ["GITEA_SERVICE", service],
    ["GITEA_PORT", url.port],
    ["GITEA_ADMIN_SECRET", GITEA_ADMIN_SECRET],
    ["READER_USER", READER_USER],
    ["READER_EMAIL", `${READER_USER}@${config.cluster.domain}`],
    ["READER_SECRET", READER_KUBE_SECRET.name],
    ["READER_TEAM", READER_TEAM],
    ["READER_TOKEN_NAME", READER_TOKEN_NAME],
    ["REGISTRY_USER_SECRET", REGISTRY_SECRETS.user],
    ["REGISTRY_TOKEN_SECRET", REGISTRY_SECRETS.token],
    ["REGISTRY_TOKEN_NAME", REGISTRY_TOKEN_NAME],
  ];
}

export function bootFiles({ config, plan }: ImageInputs): GeneratedFile[] {
  const directories = [
    { path: STATE_DIR, mode: "0700" },
    { path: "/var/lib/rancher", mode: "0755" },
    { path: K3S_DATA_DIR, mode: "0755" },
    { path: config.storage.longhorn.dataPath.replace(/(.)\/+$/, "$1"), mode: "0700" },
  ].map((d) => ({ ...d, path: tmpfilesPath(d.path) }));
  const paths = {
    env: BOOTSTRAP_ENV,
    stateDir: STATE_DIR,
    ageKey: AGE_KEY,
    repoBundle: REPO_BUNDLE,
    helm: HELM_BIN,
    sops: SOPS_BIN,
    k3s: K3S_BIN,
    kubeconfig: K3S_KUBECONFIG,
  };
  return [
    { path: rootfsPath(`${UNIT_DIR}/k3s.service`), content: templates.k3s({ header: HEADER, k3s: K3S_BIN, modprobe: MODPROBE }) },
    { path: rootfsPath(`${UNIT_DIR}/k3s-agent.service`), content: templates.agent({ header: HEADER, k3s: K3S_BIN, modprobe: MODPROBE, agentConfig: K3S_AGENT_CONFIG }) },
    {
      path: rootfsPath(`${UNIT_DIR}/homelab-bootstrap.service`),
      content: templates.bootstrapUnit({ header: HEADER, script: BOOTSTRAP_SCRIPT, ageKey: AGE_KEY, done: BOOTSTRAP_DONE, stateDir: STATE_DIR }),
    },
    { path: rootfsPath(BOOTSTRAP_SCRIPT), content: templates.script({ header: HEADER, paths }), mode: 0o755 },
    {
      path: rootfsPath(BOOTSTRAP_ENV),
      content: templates.env({ header: HEADER, script: BOOTSTRAP_SCRIPT, variables: bootstrapSettings(config, plan).map(([name, value]) => ({ name, value: shellQuote(value) })) }),
    },
    { path: rootfsPath(TMPFILES), content: templates.tmpfiles({ header: HEADER, directories }) },
  ];
}
