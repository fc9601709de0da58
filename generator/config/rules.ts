// Cross-field rules: what one key means for another, beyond what JSON Schema can say.
import { bech32 } from "@scure/base";
import type { Diagnostic } from "../errors.ts";
import { closest } from "./did-you-mean.ts";
import { presetKeys } from "./presets.ts";
import type { GenericAppConfig, HomelabConfig } from "./schema.ts";

type Path = (string | number)[];
type Report = (path: Path, message: string, hint?: string) => Diagnostic;

/** Names the platform uses for its own namespaces and Flux Kustomizations. */
export const reservedNames: ReadonlySet<string> = new Set([
  "default", "kube-system", "kube-public", "kube-node-lease", "flux-system", "traefik", "longhorn", "longhorn-system",
  "cert-manager", "step-ca", "monitoring", "authentik", "gitea", "vaultwarden", "home-assistant", "nvidia", "ollama", "renovate", "cluster", "kured", "cnpg-system",
  // Flux Kustomizations of the platform that are not namespaces.
  "k3s", "longhorn-config", "monitoring-config", "traefik-tls", "flux", "step-ca-config", "gitea-sso", "gitea-oidc-issuer", "gitea-runner",
  "cloudnative-pg", "barman-cloud", "cloudnative-pg-monitoring",
]);

/** Ports the node itself serves; a LoadBalancer Service cannot take them. */
const nodePorts = new Map([[22, "sshd"], [80, "Traefik (HTTP)"], [443, "Traefik (HTTPS)"], [6443, "the Kubernetes API"], [10250, "the kubelet"]]);

export function genericApps(config: HomelabConfig): [string, GenericAppConfig][] {
  const presets: readonly string[] = presetKeys;
  return Object.entries(config.apps).filter(([key]) => !presets.includes(key)) as unknown as [string, GenericAppConfig][];
}

export function checkRules(config: HomelabConfig, report: Report): { errors: Diagnostic[]; warnings: Diagnostic[] } {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const error = (path: Path, message: string, hint?: string) => errors.push(report(path, message, hint));
  const warn = (path: Path, message: string, hint?: string) => warnings.push(report(path, message, hint));

  const nodes = config.cluster.nodes;
  if (nodes) {
    if (!nodes.some((n) => n.role === "server")) {
      error(["cluster", "nodes"], "expected at least one node with role: server", "the first server runs the control plane; agents join it");
    }
    const seen = new Map<string, number>();
    nodes.forEach((node, i) => {
      const first = seen.get(node.name);
      if (first !== undefined) error(["cluster", "nodes", i, "name"], `node name "${node.name}" is already used by cluster.nodes[${first}]`, "node names are hostnames and must be unique");
      else seen.set(node.name, i);
    });
    const first = nodes.findIndex((n) => n.role === "server");
    if (first >= 0 && nodes.length > 1 && !nodes[first]?.address) {
      warn(["cluster", "nodes", first], `the other nodes join the first server, ${nodes[first]?.name}, at its address, and it has none`, "set its address: `homelab node-config` needs it for every other node");
    }
  }
  const window = config.cluster.updates.window;
  if (window.start === window.end) {
    // kured's window would then last one second (pkg/timewindow/timewindow.go), and it looks once an hour.
    error(["cluster", "updates", "window", "end"], "the maintenance window starts and ends at the same time, so nodes would never reboot", "give it a few hours, e.g. start: \"02:00\", end: \"05:00\"");
  }
  const serverCount = (nodes ?? []).filter((n) => n.role === "server").length;
  if (serverCount === 2) {
    warn(["cluster", "nodes"], "two servers run embedded etcd with two members, which needs both: losing either stops the API, so two servers survive no failure", "use one server or three");
  }
  const homeAssistant = config.apps.homeAssistant;
  if (homeAssistant.enabled && homeAssistant.hostNetwork && (nodes ?? []).length > 1) {
    const withoutAddress = (nodes ?? []).filter((n) => !n.address).map((n) => n.name);
    warn(
      ["apps", "homeAssistant", "hostNetwork"],
      `Home Assistant trusts Traefik's requests from the node addresses${withoutAddress.length > 0 ? `, and ${withoutAddress.join(", ")} has none (requests through it get 400)` : ""}; the chart writes configuration.yaml (trusted_proxies) only on its first start`,
      "on an existing install, add the node addresses to http.trusted_proxies in configuration.yaml on its volume yourself",
    );
  }
  if (config.monitoring.enabled) {
    const servers = (nodes ?? []).filter((n) => n.role === "server");
    const withoutAddress = nodes ? servers.filter((n) => !n.address).map((n) => n.name) : [config.cluster.name];
    if (withoutAddress.length > 0) {
      warn(nodes ? ["cluster", "nodes"] : ["cluster"], `control-plane metrics (controller-manager, scheduler, kube-proxy) are not scraped: no address for ${withoutAddress.join(", ")}`, "give each server node an address to scrape them");
    }
  }

  checkAdmin(config.image.admin, error, warn);

  // Each file lands in the host's trust store under its own file name (the schema keeps the
  // paths relative; ca-certificates.ts checks the files themselves).
  const anchors = new Map<string, number>();
  config.image.caCertificates.forEach((path, i) => {
    if (path.split("/").some((part) => part === "." || part === "..")) {
      error(["image", "caCertificates", i], `expected a path inside the repository, not ${path}`, "copy the certificate into the repository, e.g. certs/, and name that path without ./ or ../");
      return;
    }
    const name = path.slice(path.lastIndexOf("/") + 1);
    const first = anchors.get(name);
    if (first !== undefined) {
      error(["image", "caCertificates", i], `has the same file name as image.caCertificates[${first}] (${name})`, "rename one: the trust store needs distinct names");
    } else anchors.set(name, i);
  });

  config.secrets.ageRecipients.forEach((recipient, i) => {
    try {
      // age recipients are bech32 with the "age" prefix: decoding checks the checksum.
      if (bech32.decode(recipient as `${string}1${string}`).prefix !== "age") throw new Error("not an age key");
    } catch {
      error(["secrets", "ageRecipients", i], "expected a valid age public key (its checksum does not match)", "copy the public key printed by age-keygen again");
    }
  });

  const longhorn = config.storage.longhorn;
  if (longhorn.backup && !longhorn.encryption) {
    warn(["storage", "longhorn", "encryption"], "off-site backups are stored unencrypted: anyone who can read the bucket can read your data", "keep encryption: true so volumes and their backups are encrypted");
  }
  if (!longhorn.backup) {
    warn(
      ["storage", "longhorn"],
      "no off-site backups: a failed disk loses every volume, and Gitea's and Authentik's PostgreSQL keep no WAL archive (no point-in-time restore; local WAL is recycled)",
      "add storage.longhorn.backup with an S3 or Backblaze target",
    );
  }
  for (const [path, database] of [[["apps", "gitea", "database", "restore"], config.apps.gitea.database], [["auth", "authentik", "database", "restore"], config.auth.authentik.database]] as const) {
    if (database.restore && !longhorn.backup) error([...path], "a database is restored from the WAL archive on storage.longhorn.backup, and there is none", "set storage.longhorn.backup to the target the database was archived to");
    if (database.restore && database.migrate) error([...path], "a database is either imported from the bundled PostgreSQL (migrate) or restored from its archive, not both", "finish the migration first, then restore");
  }
  const nodeCount = nodes?.length ?? 1;
  if (longhorn.replicas !== undefined && longhorn.replicas > nodeCount) {
    warn(["storage", "longhorn", "replicas"], `${longhorn.replicas} replicas on ${nodeCount} node(s): volumes stay degraded`, `use at most ${nodeCount}`);
  }

  if (config.gpu.nvidia && !(nodes ?? []).some((n) => n.gpu)) {
    warn(["gpu", "nvidia"], "no node has gpu: true, so the device plugin finds no GPU", "set gpu: true on the nodes with an NVIDIA GPU");
  }

  if (!config.apps.gitea.enabled) {
    error(["apps", "gitea", "enabled"], "Gitea cannot be removed: it holds the repository Flux reads", "remove this line");
  }

  const hosts = new Map<string, Path>([[config.auth.authentik.host, ["auth", "authentik", "host"]]]);
  if (config.monitoring.enabled) claimHost(hosts, config.monitoring.host, ["monitoring", "host"], error);
  for (const key of presetKeys) {
    const preset = config.apps[key];
    if (preset.enabled && "host" in preset) claimHost(hosts, preset.host, ["apps", key, "host"], error);
  }
  const ports = new Map<string, string>([[`tcp/${config.apps.gitea.sshPort}`, "apps.gitea.sshPort"]]);
  for (const [port, owner] of nodePorts) ports.set(`tcp/${port}`, owner);
  if (nodePorts.has(config.apps.gitea.sshPort)) {
    error(["apps", "gitea", "sshPort"], `port ${config.apps.gitea.sshPort} is taken by ${nodePorts.get(config.apps.gitea.sshPort)} on the node`, "choose another port, e.g. 2222");
  }

  for (const [name, app] of genericApps(config)) {
    const path: Path = ["apps", name];
    const preset = closest(name, presetKeys);
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
      error(path, `app name "${name}" is not a DNS label`, preset ? `did you mean the preset "${preset}"?` : "use lowercase letters, digits and '-'");
      continue;
    }
    // Service names (<app>-lb) must start with a letter.
    if (!/^[a-z]/.test(name)) error(path, `app name "${name}" must start with a letter`, "Kubernetes Service names start with a letter");
    // Helm release names stop at 53 characters.
    if (name.length > 53) error(path, `app name "${name}" is longer than 53 characters, the limit of Helm release names`, "choose a shorter name");
    if (reservedNames.has(name) || reservedNames.has(app.namespace ?? name)) {
      error(app.namespace && reservedNames.has(app.namespace) ? [...path, "namespace"] : path, `"${app.namespace ?? name}" is used by the platform itself`, "choose another name");
    }
    if (app.host) claimHost(hosts, app.host.name, [...path, "host", "name"], error);
    if (app.expose) {
      if (app.expose.tcp === undefined && app.expose.udp === undefined) error([...path, "expose"], "expected tcp or udp (or both)");
      if (app.expose.tcp !== undefined && app.expose.udp !== undefined && app.expose.targetPort !== undefined && app.expose.tcp !== app.expose.udp) {
        error([...path, "expose", "targetPort"], "targetPort applies to both ports, but tcp and udp differ", "leave targetPort out, or expose both on the same port number");
      }
      for (const protocol of ["tcp", "udp"] as const) {
        const port = app.expose[protocol];
        if (port === undefined) continue;
        const owner = ports.get(`${protocol}/${port}`);
        if (owner) error([...path, "expose", protocol], `${protocol.toUpperCase()} port ${port} is already taken by ${owner}`, "every exposed port binds on the node: choose a free one");
        else ports.set(`${protocol}/${port}`, `apps.${name}`);
      }
    }
    const mergeKey = findKey(app.values, "<<");
    if (mergeKey) {
      error([...path, "values", ...mergeKey], 'a values key "<<" is read as a YAML merge key by kustomize, even quoted, and dropped', "rename the key");
    }
    const protoKey = findKey(app.values, "__proto__");
    if (protoKey) error([...path, "values", ...protoKey], 'a values key "__proto__" cannot be carried into the HelmRelease', "rename the key");
    if (app.sso && !app.host) {
      error([...path, "sso"], "SSO puts a login in front of the app's web address, and the app has no host", "add host: {name, service, port}, or set sso: false");
    }
  }
  return { errors, warnings };
}

function checkAdmin(admin: HomelabConfig["image"]["admin"], error: (path: Path, message: string, hint?: string) => void, warn: (path: Path, message: string, hint?: string) => void) {
  const path: Path = ["image", "admin"];
  // bootc-image-builder cannot configure root (osbuild/bootc-image-builder#143), and root should not log in over SSH.
  if (admin.name === "root") error([...path, "name"], "the administrator cannot be root", "choose another name, e.g. admin; it gets sudo through wheel");
  if (admin.sshKey === undefined) {
    warn(path, "no SSH key for the administrator: nobody can log in to an installed node", "set image.admin.sshKey to the line in your ~/.ssh/id_ed25519.pub");
  } else if (!keyDataMatches(admin.sshKey)) {
    error([...path, "sshKey"], "the key data is cut or does not match its type", "copy the whole line of your .pub file again");
  }
}

/**
 * An OpenSSH public key's data is a run of length-prefixed fields, the first its own type name
 * (RFC 4253 §6.6): a cut or mixed-up line fails this.
 */
function keyDataMatches(line: string): boolean {
  const [type = "", data = ""] = line.split(" ");
  const bytes = Buffer.from(data, "base64");
  const fields: string[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + 4 > bytes.length) return false;
    const end = at + 4 + bytes.readUInt32BE(at);
    if (end > bytes.length) return false;
    fields.push(bytes.subarray(at + 4, end).toString("latin1"));
    at = end;
  }
  return fields.length >= 2 && fields[0] === type;
}

/** The path to the first mapping key named `key`, at any depth. */
function findKey(value: unknown, key: string): Path | undefined {
  if (value === null || typeof value !== "object") return undefined;
  for (const [name, child] of Object.entries(value)) {
    if (name === key) return [Array.isArray(value) ? Number(name) : name];
    const below = findKey(child, key);
    if (below) return [Array.isArray(value) ? Number(name) : name, ...below];
  }
  return undefined;
}

function claimHost(hosts: Map<string, Path>, host: string, path: Path, error: (path: Path, message: string, hint?: string) => void) {
  const owner = hosts.get(host);
  if (owner) error(path, `host "${host}" is already served by ${owner.join(".")}`, "every app needs its own host name");
  else hosts.set(host, path);
}
