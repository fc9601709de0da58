// The one definition of homelab.yaml. The static type (HomelabConfig, the config after
// defaults) and schemas/homelab.schema.json are both derived from it.
//
// Convention: a property is required for the user only when listed in `section(..., required)`.
// Every other property either carries a `default` (so after defaults it is always present and
// the static type marks it required) or is wrapped in `optional()` (it may stay absent).
import { Type, OptionalKind, type Static, type TObject, type TProperties, type TSchema } from "@sinclair/typebox";
import { catalog } from "../catalog.ts";

export const SCHEMA_ID = "https://homelab.dev/schemas/homelab.schema.json";

const dnsLabel = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
const DnsLabel = (description: string) =>
  Type.String({ pattern: dnsLabel, description, errorMessage: "a DNS label: lowercase letters, digits and '-', at most 63" });
const dnsName = "^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$";
const exactVersion = "^v?[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$";
const quantity = "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";
const duration = "^[0-9]+(ms|s|m|h|d|w|y)$";

// Container image references as distribution/reference reads them (reference/regexp.go), written
// without lookaheads so the property tests can draw from them. No whitespace, quote or scheme
// fits: the values go into the Containerfile and the CI workflow as they are.
const imagePathComponent = "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*";
const domainComponent = "([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const ipv6Host = "\\[[a-fA-F0-9:]+\\]";
const imagePath = `${imagePathComponent}(/${imagePathComponent})*`;
const imageReference =
  `^((${domainComponent}(\\.${domainComponent})*|${ipv6Host})(:[0-9]+)?/)?${imagePath}` +
  "(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$";
// A registry is named by its first path component only when that has a '.' or a port or is
// localhost (otherwise it is a Docker Hub path): pushing and logging in need the host.
const imageRepository = `^((${domainComponent}(\\.${domainComponent})+|localhost|${ipv6Host})(:[0-9]+)?|${domainComponent}:[0-9]+)/${imagePath}$`;
// A repository path: no '.' or '..' part (rules.ts names those), no space or quote, since it
// lands in the Containerfile's COPY lines and in .containerignore.
const repositoryFile = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$";
// Kubernetes label keys ([DNS subdomain/]name) and values.
const labelKey = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const labelValue = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";

/** An object whose JSON Schema `required` list is only what the user must write. */
function section<P extends TProperties>(
  properties: P,
  options: { description: string; required?: (keyof P & string)[]; default?: unknown },
): TObject<P> {
  const schema = Type.Object(properties, { additionalProperties: false, description: options.description });
  const required = options.required ?? [];
  if (required.length > 0) schema.required = required;
  else Reflect.deleteProperty(schema, "required");
  if (options.default !== undefined) (schema as TSchema).default = options.default;
  return schema;
}

function defaulted<T extends TSchema>(schema: T, value: Static<T>, description: string): T {
  return { ...schema, default: value, description };
}

/** Absent unless the user writes it; no default. */
function optional<T extends TSchema>(schema: T, description: string) {
  return Type.Optional({ ...schema, description } as T);
}

/** A closed set of strings or numbers, emitted as `enum` so errors list the choices. */
function choice<const T extends readonly (string | number)[]>(values: T) {
  return Type.Unsafe<T[number]>({ enum: [...values] });
}

const Version = (description: string, value: string) =>
  defaulted(Type.String({ pattern: exactVersion, errorMessage: "an exact version such as 1.2.3" }), value, description);

const Host = (value: string, what: string) =>
  defaulted(
    DnsLabel(""),
    value,
    `${what} is served at <host>.<cluster.domain>.`,
  );

const Size = (value: string, description: string) =>
  defaulted(Type.String({ pattern: quantity, errorMessage: "a Kubernetes quantity such as 10Gi" }), value, description);

const Cron = (value: string, description: string) =>
  defaulted(Type.String({ format: "cron", errorMessage: "a five-field cron expression such as \"0 3 * * *\"" }), value, description);

/** How many PostgreSQL instances CloudNativePG runs for an app's database. */
const DatabaseInstances = optional(
  Type.Integer({ minimum: 1, maximum: 5 }),
  "PostgreSQL instances (one primary, the rest streaming replicas). Default: min(3, number of nodes).",
);

/** Step 1 of moving an install from before CloudNativePG (docs/upgrade-rollback.md). */
const DatabaseMigrate = defaulted(
  Type.Boolean(),
  false,
  "Step 1 of moving an install made before CloudNativePG: the app keeps running on the chart's bundled PostgreSQL (its release is suspended) while the new cluster imports the data from it; set back to false (step 2) once the cluster is ready.",
);

/** Bring an app's database back from the off-site WAL archive (docs/backup-restore.md). */
const DatabaseRestore = optional(
  section(
    {
      targetTime: optional(Type.String({ pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$", errorMessage: "an RFC 3339 time such as 2026-12-01T10:00:00Z" }), "Restore to this point in time (default: the end of the archive)."),
      from: Type.String({ pattern: "^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$", errorMessage: "the name of the database cluster whose archive is restored, e.g. gitea-db", description: "The database cluster whose archive is restored (e.g. gitea-db); the new cluster is named after it with -1, -2 … added." }),
    },
    { description: "Restore the database from the backup target into a new cluster.", required: ["from"] },
  ),
  "Restore the database from storage.longhorn.backup into a new cluster (needs a backup target).",
);

const Port = Type.Integer({ minimum: 1, maximum: 65535, errorMessage: "a port number from 1 to 65535" });

const Node = section(
  {
    name: DnsLabel("Node hostname; a DNS label, unique in the cluster."),
    role: defaulted(choice(["server", "agent"]), "server", "server runs the control plane (k3s.service); agent only runs workloads (k3s-agent.service)."),
    address: optional(
      Type.String({ anyOf: [{ format: "ipv4" }, { format: "ipv6" }], errorMessage: "an IPv4 or IPv6 address" }),
      "The node's LAN address: used for control-plane scrape endpoints and for agents to join.",
    ),
    gpu: defaulted(Type.Boolean(), false, "true: this node has an NVIDIA GPU (labelled for the device plugin)."),
  },
  { description: "A machine in the cluster.", required: ["name"] },
);

/** kured's day names (pkg/timewindow/days.go at kured 1.23.0). */
const WEEKDAYS = ["su", "mo", "tu", "we", "th", "fr", "sa"] as const;
const timeOfDay = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

const Updates = section(
  {
    window: section(
      {
        days: defaulted(Type.Array(choice(WEEKDAYS), { minItems: 1, uniqueItems: true }), [...WEEKDAYS], "Days on which nodes may reboot (su, mo, tu, we, th, fr, sa)."),
        start: defaulted(Type.String({ pattern: timeOfDay, errorMessage: "a time of day HH:MM such as 02:00" }), "02:00", "Earliest time of day a reboot starts (cluster.timezone)."),
        end: defaulted(Type.String({ pattern: timeOfDay, errorMessage: "a time of day HH:MM such as 05:00" }), "05:00", "Latest time of day a reboot starts; a window may wrap past midnight."),
      },
      { description: "When kured may drain and reboot a node.", default: {} },
    ),
    drainTimeout: defaulted(
      Type.String({ pattern: "^[1-9][0-9]*(m|h)$", errorMessage: "minutes or hours such as 30m or 1h" }),
      "30m",
      "How long a drain may take; after it, kured uncordons the node, skips the reboot and tries again later.",
    ),
  },
  { description: "OS updates: nodes stage new images themselves; kured drains and reboots one node at a time in the window.", default: {} },
);

const Cluster = section(
  {
    name: DnsLabel("The cluster's name (a DNS label); the tree goes to clusters/<name>/."),
    domain: Type.String({ pattern: dnsName, description: "Apps are served at <host>.<domain>.", errorMessage: "a DNS name such as home.arpa" }),
    timezone: defaulted(Type.String({ format: "timezone", errorMessage: "an IANA time zone such as Europe/Amsterdam" }), "UTC", "IANA time zone handed to every app that takes one."),
    nodes: optional(
      Type.Array(Node, { minItems: 1 }),
      "The machines of the cluster. Default: one server named after the cluster.",
    ),
    k3s: section(
      { version: defaulted(Type.String({ pattern: "^v[0-9]+\\.[0-9]+\\.[0-9]+\\+k3s[0-9]+$", errorMessage: "a k3s release such as v1.36.3+k3s1" }), catalog.k3s.version, "k3s release baked into the image; upgrade = change + rebuild, one minor at a time.") },
      { description: "k3s, the Kubernetes distribution of every node.", default: {} },
    ),
    updates: Updates,
  },
  { description: "The cluster and its machines.", required: ["name", "domain"] },
);

const Flux = section(
  { version: Version("Flux distribution the cluster runs (installed by flux-operator). Minor upgrades migrate stored objects: roll forward, not back.", catalog.flux.version) },
  { description: "Flux, the GitOps engine.", default: {} },
);

const Git = section(
  {
    owner: defaulted(DnsLabel(""), "homelab", "Gitea user or organisation that owns the repository."),
    // Neither may start with '.' or '-': ".." walks up in Gitea's URLs, "-x" reads as an option to git.
    repository: defaulted(
      Type.String({ pattern: "^[A-Za-z0-9_][A-Za-z0-9._-]*$", errorMessage: "a repository name: letters, digits, '.', '_', '-', not starting with '.' or '-'" }),
      "gitops",
      "Repository name in the in-cluster Gitea.",
    ),
    branch: defaulted(
      Type.String({
        pattern: "^[A-Za-z0-9_][A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]+)*(/[A-Za-z0-9_][A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]+)*)*$",
        errorMessage: "a branch name such as main or release/v1.2: parts of letters, digits, '_', '-' and single '.', not starting with '.' or '-'",
      }),
      "main",
      "Branch Flux follows.",
    ),
  },
  { description: "The in-cluster Gitea repository Flux reads.", default: {} },
);

const Secrets = section(
  {
    ageRecipients: Type.Array(
      Type.String({ pattern: "^age1[02-9ac-hj-np-z]{58}$", errorMessage: "an age public key (age1 followed by 58 bech32 characters)" }),
      { minItems: 1, uniqueItems: true, description: "age public keys that may decrypt the repository's *.sops.yaml files." },
    ),
  },
  { description: "Who can read the repository's encrypted secrets.", required: ["ageRecipients"] },
);

// The key types OpenSSH writes to .pub files. No '"' or '\' in the comment: the installer ISO
// carries the key inside a quoted kickstart argument.
const sshPublicKey = String.raw`^(ssh-ed25519|ssh-rsa|ecdsa-sha2-[a-z0-9]+|sk-[a-z0-9.@-]+) AAAA[A-Za-z0-9+/]+={0,3}( [^"\\\r\n]*)?$`;

const Admin = section(
  {
    name: defaulted(
      Type.String({ pattern: "^[a-z_][a-z0-9_-]{0,31}$", errorMessage: "a Linux user name: lowercase letters, digits, '_' and '-', at most 32" }),
      "admin",
      "The administrator's login on every node (member of wheel).",
    ),
    sshKey: optional(
      Type.String({ pattern: sshPublicKey, errorMessage: "an SSH public key line such as \"ssh-ed25519 AAAA... you@laptop\" (the whole line of your .pub file)" }),
      "The administrator's SSH public key, written into image/install/<node>.toml. bootc-image-builder takes one key per user; add more after install with ssh-copy-id.",
    ),
  },
  { description: "The administrator account the installer creates (SSH login, sudo through wheel).", default: {} },
);

const Image = section(
  {
    base: defaulted(
      Type.String({ pattern: imageReference, errorMessage: "a container image reference [registry/]path[:tag][@digest]", hint: `for example ${catalog.baseImage}, without a scheme such as https://` }),
      catalog.baseImage,
      "bootc base image: a reference with a tag or digest, no scheme.",
    ),
    registry: optional(
      Type.String({ pattern: imageRepository, errorMessage: "an image repository registry-host/path, without tag or digest", hint: "for example git.home.arpa/homelab/os, without a scheme such as https://" }),
      "Where in-cluster CI pushes built images: registry host and path, no tag. Default: the Gitea registry, git.<domain>/<git.owner>/os.",
    ),
    caCertificates: defaulted(
      Type.Array(Type.String({ pattern: repositoryFile, errorMessage: "a path inside the repository", hint: "for example certs/office-ca.crt: relative, with letters, digits, '.', '_', '-' and '/'" }), { uniqueItems: true }),
      [],
      "Extra PEM certificate files (paths inside the repository, distinct file names) layered into the host trust store; the step-ca root is always added.",
    ),
    admin: Admin,
  },
  { description: "The bootable OS image every node runs.", default: {} },
);

const Backup = section(
  {
    target: Type.String({ pattern: "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]@[a-z0-9-]+/([^\\s]*/)?$", errorMessage: "an S3 target s3://<bucket>@<region>/ (with the trailing slash)", description: "Backup store: s3://<bucket>@<region>/" }),
    endpoint: optional(Type.String({ pattern: "^https?://[^\\s/]+(/.*)?$", errorMessage: "an http(s) URL" }), "S3 endpoint for non-AWS stores, e.g. https://s3.us-west-004.backblazeb2.com."),
    schedule: Cron("0 3 * * *", "When the backup RecurringJob runs."),
    retain: defaulted(Type.Integer({ minimum: 1, maximum: 250 }), 14, "How many backups of each volume are kept."),
    databaseRetention: defaulted(
      Type.String({ pattern: "^[1-9][0-9]*[dwm]$", errorMessage: "a barman retention such as 30d, 4w or 3m" }),
      "30d",
      "How far back a PostgreSQL database (Gitea, Authentik) can be restored to a point in time: base backups and WAL older than this are deleted.",
    ),
  },
  { description: "Off-site backups of every volume (omit to run without).", required: ["target"] },
);

const Longhorn = section(
  {
    version: Version("Longhorn chart version.", catalog.charts.longhorn.version),
    dataPath: defaulted(Type.String({ pattern: "^/[^\\s]*$", errorMessage: "an absolute path" }), "/var/lib/longhorn", "Where Longhorn keeps replica data on every node."),
    replicas: optional(Type.Integer({ minimum: 1, maximum: 20 }), "Replicas per volume. Default: min(3, number of nodes)."),
    encryption: defaulted(Type.Boolean(), true, "Encrypt volumes (the default StorageClass) with a generated key kept in git, encrypted; their off-site backups stay encrypted too."),
    backup: optional(Backup, "Off-site backups to S3 or Backblaze B2."),
    snapshots: section(
      {
        schedule: Cron("0 * * * *", "When the snapshot RecurringJob runs."),
        retain: defaulted(Type.Integer({ minimum: 1, maximum: 250 }), 24, "How many snapshots of each volume are kept."),
      },
      { description: "Local snapshots of every volume.", default: {} },
    ),
  },
  { description: "Longhorn, the replicated block storage.", default: {} },
);

const Storage = section({ longhorn: Longhorn }, { description: "Persistent storage.", default: {} });

const Tls = section(
  {
    stepCa: section({ version: Version("step-certificates chart version.", catalog.charts.stepCertificates.version) }, { description: "step-ca, the internal certificate authority.", default: {} }),
    stepIssuer: section({ version: Version("step-issuer chart version.", catalog.charts.stepIssuer.version) }, { description: "step-issuer, connecting cert-manager to step-ca.", default: {} }),
    certManager: section({ version: Version("cert-manager chart version.", catalog.charts.certManager.version) }, { description: "cert-manager, issuing every ingress certificate from step-ca.", default: {} }),
  },
  { description: "TLS: step-ca is the internal CA; cert-manager issues from it.", default: {} },
);

const Monitoring = section(
  {
    enabled: defaulted(Type.Boolean(), true, "Deploy kube-prometheus-stack with Grafana."),
    version: Version("kube-prometheus-stack chart version.", catalog.charts.kubePrometheusStack.version),
    retention: defaulted(Type.String({ pattern: duration, errorMessage: "a Prometheus duration such as 15d" }), "15d", "How long Prometheus keeps metrics."),
    storage: Size("20Gi", "Prometheus volume size."),
    host: Host("grafana", "Grafana"),
    sso: defaulted(Type.Boolean(), true, "Log in to Grafana through Authentik (OIDC); members of homelab-admins are Grafana admins."),
  },
  { description: "Metrics, dashboards and alerts.", default: {} },
);

const Auth = section(
  {
    authentik: section(
      {
        version: Version("Authentik chart version.", catalog.charts.authentik.version),
        host: Host("auth", "Authentik"),
        ldap: defaulted(Type.Boolean(), false, "true: an LDAP outpost for apps that only speak LDAP."),
        storage: Size("8Gi", "Authentik's PostgreSQL volume size."),
        database: section({ instances: DatabaseInstances, restore: DatabaseRestore, migrate: DatabaseMigrate }, { description: "Authentik's PostgreSQL (CloudNativePG); its volume size is storage above.", default: {} }),
      },
      { description: "Authentik, the identity provider (SSO).", default: {} },
    ),
  },
  { description: "Single sign-on.", default: {} },
);

const PresetStorage = (size: string) =>
  section({ size: Size(size, "Volume size.") }, { description: "The app's data volume (tree-owned, retained, backed up).", default: {} });

function preset<P extends TProperties>(what: string, chartVersion: string, host: string, size: string, extra: P, enabledByDefault = true) {
  return section(
    {
      enabled: defaulted(Type.Boolean(), enabledByDefault, enabledByDefault ? `false removes ${what} (its volume is kept).` : `true deploys ${what}.`),
      version: Version(`${what} chart version.`, chartVersion),
      host: Host(host, what),
      storage: PresetStorage(size),
      ...extra,
    },
    { description: `The ${what} preset.`, default: {} },
  );
}

const Gitea = preset("Gitea", catalog.charts.gitea.version, "git", "20Gi", {
  runner: defaulted(Type.Boolean(), false, "true: an in-cluster Gitea Actions runner (registration token generated and shared as a secret)."),
  sshPort: defaulted(Port, 2222, "Node port for git over SSH (22 is the node's own sshd)."),
  database: section(
    { size: Size("8Gi", "Gitea's PostgreSQL volume size (each instance has one)."), instances: DatabaseInstances, restore: DatabaseRestore, migrate: DatabaseMigrate },
    { description: "Gitea's PostgreSQL (CloudNativePG).", default: {} },
  ),
  sso: defaulted(Type.Boolean(), true, "Log in through Authentik (OIDC); members of homelab-admins are Gitea admins. The local admin keeps working."),
});
const Vaultwarden = preset("Vaultwarden", catalog.charts.vaultwarden.version, "vault", "5Gi", {
  sso: defaulted(Type.Boolean(), true, "Log in through Authentik (OIDC); the master password still encrypts the vault."),
});
const HomeAssistant = preset("Home Assistant", catalog.charts.homeAssistant.version, "home", "10Gi", {
  sso: defaulted(Type.Boolean(), true, "Log in through Authentik (forward auth); the companion apps keep using Home Assistant's own login on /auth and /api."),
  hostNetwork: defaulted(Type.Boolean(), false, "true: run on the node's network so Home Assistant discovers devices (mDNS, SSDP); it then also listens on the node's port 8123."),
});

const Renovate = section(
  {
    enabled: defaulted(Type.Boolean(), false, "true: Renovate runs in the cluster and opens update pull requests in Gitea."),
    schedule: Cron("0 5 * * *", "When Renovate runs (a CronJob)."),
  },
  { description: "Renovate against the in-cluster Gitea: version updates arrive as pull requests the render-diff explains.", default: {} },
);

const Ollama = preset(
  "Ollama (LLM hosting)",
  catalog.charts.ollama.version,
  "ollama",
  "50Gi",
  {
    models: defaulted(Type.Array(Type.String({ pattern: "^[a-z0-9][a-z0-9._:/-]*$", errorMessage: "a model name such as llama3.2 or qwen2.5:7b" })), [], "Models pulled when Ollama starts."),
    sso: defaulted(Type.Boolean(), true, "Put Authentik's login in front of the web address (in-cluster clients use the Service directly)."),
  },
  false,
);

const GenericApp = section(
  {
    chart: section(
      {
        repository: Type.String({ pattern: "^(https?|oci)://[^\\s]+$", errorMessage: "an https:// Helm repository or oci:// registry URL", description: "Helm repository (https://) or OCI registry path (oci://, without the chart name)." }),
        name: Type.String({ pattern: "^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", description: "Chart name.", errorMessage: "a chart name such as minecraft" }),
        version: Type.String({ pattern: exactVersion, errorMessage: "an exact version such as 1.2.3", description: "Exact chart version." }),
      },
      { description: "The Helm chart.", required: ["repository", "name", "version"] },
    ),
    values: defaulted(Type.Record(Type.String(), Type.Unknown()), {}, "Helm values: only what differs from the chart's defaults."),
    namespace: optional(DnsLabel(""), "Namespace. Default: the app's name."),
    phase: defaulted(choice([6, 7]), 7, "Install phase: 6 (apps) or 7 (extras)."),
    storage: optional(
      section(
        {
          size: Size("10Gi", "Volume size."),
          claimValue: Type.String({ pattern: "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$", errorMessage: "a dotted Helm value path such as persistence.existingClaim", description: "The chart value that takes an existing claim; set to <app>-data." }),
        },
        { description: "A Longhorn volume owned by the tree (retained, backed up, never pruned), handed to the chart.", required: ["claimValue"] },
      ),
      "A tree-owned data volume <app>-data.",
    ),
    expose: optional(
      section(
        {
          tcp: optional(Port, "Raw TCP port served by the k3s service load balancer on every node."),
          udp: optional(Port, "Raw UDP port served by the k3s service load balancer."),
          targetPort: optional(Port, "Container port behind it. Default: the same port."),
          selector: optional(
            Type.Record(Type.String({ pattern: labelKey }), Type.String({ pattern: labelValue, errorMessage: "a label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit" }), {
              additionalProperties: false,
              errorMessage: "pod labels: keys such as app.kubernetes.io/name or app, values such as web",
            }),
            "Pod labels of the release's pods. Default: app.kubernetes.io/instance: <app>.",
          ),
        },
        { description: "Ports exposed outside the cluster through a LoadBalancer Service." },
      ),
      "Raw TCP/UDP exposure (not HTTP).",
    ),
    host: optional(
      section(
        {
          name: DnsLabel("Served at <name>.<cluster.domain>."),
          service: DnsLabel("The chart's Service to route to."),
          port: Port,
        },
        { description: "An HTTPS ingress to one of the chart's Services.", required: ["name", "service", "port"] },
      ),
      "HTTPS ingress at <name>.<cluster.domain> with a certificate from the internal CA.",
    ),
    sso: defaulted(Type.Boolean(), false, "true: log in through Authentik (forward auth on the host ingress; needs host)."),
  },
  { description: "Any Helm chart: the extension path.", required: ["chart"] },
);

const Apps = Type.Object(
  { gitea: Gitea, vaultwarden: Vaultwarden, homeAssistant: HomeAssistant, ollama: Ollama, renovate: Renovate },
  {
    description: "Applications. gitea, vaultwarden and homeAssistant are presets; any other key is a Helm app.",
    additionalProperties: GenericApp,
    default: {},
  },
);
Reflect.deleteProperty(Apps, "required");

const Gpu = section(
  {
    nvidia: defaulted(Type.Boolean(), false, "true: NVIDIA image variant and the device plugin for nodes with gpu: true; apps may then ask for a GPU."),
    devicePlugin: section(
      { version: Version("nvidia-device-plugin chart version.", catalog.charts.nvidiaDevicePlugin.version) },
      { description: "NVIDIA's Kubernetes device plugin.", default: {} },
    ),
  },
  { description: "GPU support.", default: {} },
);

export const HomelabSchema = Type.Object(
  {
    $schema: optional(Type.String({ pattern: "^\\S+$", errorMessage: "a schema URL or path without spaces" }), "JSON Schema reference for editors."),
    cluster: Cluster,
    flux: Flux,
    git: Git,
    secrets: Secrets,
    image: Image,
    storage: Storage,
    tls: Tls,
    monitoring: Monitoring,
    auth: Auth,
    apps: Apps,
    gpu: Gpu,
  },
  {
    $id: SCHEMA_ID,
    title: "homelab.yaml",
    description: "One file describing a whole homelab: cluster, storage, TLS, monitoring, SSO and apps.",
    additionalProperties: false,
    required: ["cluster", "secrets"],
  },
);

// Type.Object computes `required` from the non-optional properties; users must write only these.
(HomelabSchema as { required?: string[] }).required = ["cluster", "secrets"];

/** The config after defaults: every defaulted key is present. */
export type HomelabConfig = Static<typeof HomelabSchema>;
export type GenericAppConfig = Static<typeof GenericApp>;

/** True when the property schema was wrapped by optional(): absent stays absent. */
export function isOptionalProperty(schema: TSchema): boolean {
  return (schema as unknown as Record<symbol, unknown>)[OptionalKind] === "Optional";
}
