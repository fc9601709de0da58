// Phase 6: Gitea, always deployed: it holds the repository Flux reads. The repositories live on
// a tree-owned volume, PostgreSQL is a CloudNativePG Cluster (databases.ts); git over SSH is a
// LoadBalancer port on the node; its container registry holds the OS image. Login through
// Authentik arrives as a unit of its own (gitea-sso), because Gitea's chart registers the login
// source at start-up and fails while Authentik cannot be reached: first boot runs Gitea long
// before Authentik exists.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { catalog } from "../catalog.ts";
import { ADMIN_GROUP, GITEA_OIDC_SOURCE, oidcClients, oidcIssuer } from "../auth/oidc.ts";
import { READER_KUBE_SECRET, READER_PASSWORD_SECRET, READER_USER } from "../image/paths.ts";
import { helmRelease } from "../render/flux.ts";
import { dataVolume, fqdn, namespace, SCAFFOLD_INGRESS_PATHS, scaffoldIngressValues, TRUSTED_CA, trustedCaConfigMap } from "../render/kube.ts";
import { yamlText } from "../render/yaml.ts";
import type { HomelabConfig } from "../config/schema.ts";
import { giteaRunnerObjects, RUNNER_TOKEN_SECRET } from "./gitea-runner.ts";
import { issuerCheckUnit, issuerReady } from "../auth/issuer-check.ts";
import { CREDENTIAL_KEYS, postgresDatabase } from "./databases.ts";
import type { Component, ComponentOutput, SecretSpec, Unit } from "./types.ts";

/** Secret with username and password of the first admin (keys fixed by the chart). */
export const GITEA_ADMIN_SECRET = "gitea-admin";
/** The first admin ("admin" itself is a name Gitea reserves). */
export const GITEA_ADMIN_USER = "homelab-admin";
/** The login source's client id and secret (keys fixed by the chart: key, secret). */
const GITEA_OIDC_SECRET = "gitea-oidc";
/** Values the gitea-sso unit adds to the release; optional, so Gitea runs without them. */
const GITEA_SSO_VALUES = "gitea-sso-values";

/** The login source, as the chart's gitea.oauth entry (other keys become add-oauth flags). */
function ssoValues(config: HomelabConfig): Record<string, unknown> {
  return {
    gitea: {
      oauth: [
        {
          name: GITEA_OIDC_SOURCE,
          provider: "openidConnect",
          existingSecret: GITEA_OIDC_SECRET,
          autoDiscoverUrl: `${oidcIssuer(config, "gitea")}.well-known/openid-configuration`,
          // One scope string: Gitea adds openid; profile carries the groups claim.
          scopes: "email profile",
          groupClaimName: "groups",
          adminGroup: ADMIN_GROUP,
        },
      ],
    },
  };
}

function ssoUnit(config: HomelabConfig): Unit {
  const values: IConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    // helm-controller upgrades the release as soon as a watched values source changes.
    metadata: { name: GITEA_SSO_VALUES, namespace: "gitea", labels: { "reconcile.fluxcd.io/watch": "Enabled" } },
    data: { "values.yaml": yamlText(ssoValues(config)) },
  };
  return {
    name: "gitea-sso",
    path: "apps/gitea/sso",
    files: { values: [values] },
    // add-oauth fetches the issuer's discovery document at start-up: only once it answers.
    needs: ["git-server", "identity-provider", issuerReady("gitea")],
    secrets: [{ name: GITEA_OIDC_SECRET, namespace: "gitea", data: { key: { literal: "gitea" }, secret: { generated: "sso.gitea.clientSecret" } } }],
  };
}

export const gitea: Component = {
  name: "gitea",
  phase: 6,
  enabled: () => true,
  verifiedValues: [
    {
      release: "gitea",
      chartVersion: "12.7.0",
      // The sub-charts off, and the database, session, cache and queue settings the chart's
      // templates/_helpers.tpl (gitea.inline_configuration.defaults, …defaults.database) fills in
      // only while they are on (gitea.com/gitea/helm-chart 12.x; read at its GitHub mirror
      // project-mirrors/gitea-helm-chart, commit 2d7a0d6).
      paths: [
        "postgresql-ha.enabled",
        "valkey-cluster.enabled",
        "valkey.enabled",
        "postgresql.enabled",
        "gitea.config.database.DB_TYPE",
        "gitea.config.database.HOST",
        "gitea.config.database.NAME",
        "gitea.config.database.USER",
        "gitea.config.database.SSL_MODE",
        "gitea.config.session.PROVIDER",
        "gitea.config.cache.ADAPTER",
        "gitea.config.queue.TYPE",
        "persistence.enabled",
        "persistence.create",
        "persistence.mount",
        "persistence.claimName",
        "strategy.type",
        "deployment.env",
        "extraVolumes",
        "extraContainerVolumeMounts",
        "extraInitVolumeMounts",
        "gitea.admin.existingSecret",
        "gitea.admin.email",
        "gitea.additionalConfigFromEnvs",
        "gitea.config.server.DOMAIN",
        "gitea.config.server.ROOT_URL",
        "gitea.config.server.SSH_DOMAIN",
        "gitea.config.server.SSH_PORT",
        "gitea.config.time.DEFAULT_UI_LOCATION",
        "gitea.config.packages.ENABLED",
        "gitea.config.actions.ENABLED",
        "gitea.config.oauth2_client.ENABLE_AUTO_REGISTRATION",
        "gitea.config.oauth2_client.ACCOUNT_LINKING",
        "gitea.config.oauth2_client.USERNAME",
        "gitea.oauth",
        "service.ssh.type",
        "service.ssh.port",
        ...SCAFFOLD_INGRESS_PATHS,
      ],
    },
  ],
  render({ config, ca }): ComponentOutput {
    const settings = config.apps.gitea;
    const host = fqdn(config, settings.host);
    const sso = oidcClients(config).some((client) => client.slug === "gitea");
    const caVolume = { name: "homelab-ca", mountPath: TRUSTED_CA.mountPath, readOnly: true };
    // The owner's password keeps its generated key from the bundled PostgreSQL days.
    const database = postgresDatabase(config, {
      app: "gitea",
      namespace: "gitea",
      size: settings.database.size,
      instances: settings.database.instances,
      restore: settings.database.restore,
      passwordKey: "gitea.postgresPassword",
      // The chart's Bitnami sub-chart: Service <release>-postgresql, superuser password in the
      // Secret this component gave it (auth.existingSecret, key postgres-password).
      importFrom: settings.database.migrate ? { host: "gitea-postgresql", passwordSecret: "gitea-postgresql", passwordKey: "postgres-password" } : undefined,
    });
    const secrets: SecretSpec[] = [
      {
        name: GITEA_ADMIN_SECRET,
        namespace: "gitea",
        data: { username: { literal: GITEA_ADMIN_USER }, password: { generated: "gitea.adminPassword" } },
      },
      ...database.secrets,
      // Step 1 of a migration: the suspended release still runs the bundled PostgreSQL and Valkey
      // on these Secrets (the same generated values as before), so they stay until step 2.
      ...(settings.database.migrate
        ? [
            {
              name: "gitea-postgresql",
              namespace: "gitea",
              data: { "postgres-password": { generated: "gitea.postgresAdminPassword" }, password: { generated: "gitea.postgresPassword" } },
            },
            { name: "gitea-valkey", namespace: "gitea", data: { password: { generated: "gitea.valkeyPassword" } } },
          ]
        : []),
      // First boot creates this read-only user: Flux pulls with its token, nodes pull the OS image with it.
      { ...READER_KUBE_SECRET, data: { username: { literal: READER_USER }, password: { generated: READER_PASSWORD_SECRET } } },
      ...(settings.runner ? [RUNNER_TOKEN_SECRET] : []),
    ];
    const units: Unit[] = [
      {
        name: "gitea",
        path: "apps/gitea",
        timeout: "15m",
        files: {
          namespace: [namespace("gitea", { holdsData: true })],
          "trusted-ca": [trustedCaConfigMap("gitea", ca.rootCertificate)],
          volume: [dataVolume(config, { name: "gitea-data", namespace: "gitea", size: settings.storage.size })],
          database: database.objects,
          release: helmRelease({
            name: "gitea",
            namespace: "gitea",
            chart: { ...catalog.charts.gitea, version: settings.version },
            timeout: "15m",
            valuesFrom: sso ? [{ kind: "ConfigMap" as const, name: GITEA_SSO_VALUES, valuesKey: "values.yaml", optional: true }] : [],
            values: {
              // No bundled database or Valkey (Bitnami images): PostgreSQL is CloudNativePG's,
              // cache and queue are Gitea's own (memory, level).
              "postgresql-ha": { enabled: false },
              "valkey-cluster": { enabled: false },
              valkey: { enabled: false },
              postgresql: { enabled: false },
              persistence: { enabled: true, create: false, mount: true, claimName: "gitea-data" },
              // A ReadWriteOnce volume cannot be mounted by two pods during a rolling update.
              strategy: { type: "Recreate" },
              // Go adds SSL_CERT_DIR to the system roots: Gitea then trusts Authentik's certificate
              // (the login source is registered by an init container, so it gets the mount too).
              deployment: {
                env: [
                  { name: "SSL_CERT_DIR", value: `${TRUSTED_CA.mountPath}:/etc/ssl/certs` },
                  ...(settings.runner ? [{ name: "GITEA_RUNNER_REGISTRATION_TOKEN", valueFrom: { secretKeyRef: { name: RUNNER_TOKEN_SECRET.name, key: "token" } } }] : []),
                ],
              },
              extraVolumes: [{ name: "homelab-ca", configMap: { name: TRUSTED_CA.configMap } }],
              extraContainerVolumeMounts: [caVolume],
              extraInitVolumeMounts: [caVolume],
              gitea: {
                admin: { existingSecret: GITEA_ADMIN_SECRET, email: `admin@${config.cluster.domain}` },
                // The password stays out of values and app.ini's template: the env wins.
                additionalConfigFromEnvs: [
                  { name: "GITEA__DATABASE__PASSWD", valueFrom: { secretKeyRef: { name: database.credentialsSecret, key: CREDENTIAL_KEYS.password } } },
                ],
                config: {
                  // CloudNativePG's server certificate is signed by its own CA: encrypted, not verified.
                  database: { DB_TYPE: "postgres", HOST: `${database.host}:5432`, NAME: "gitea", USER: "gitea", SSL_MODE: "require" },
                  // Sessions in the database survive a restart; Valkey is gone.
                  session: { PROVIDER: "db" },
                  cache: { ADAPTER: "memory" },
                  queue: { TYPE: "level" },
                  server: { DOMAIN: host, ROOT_URL: `https://${host}/`, SSH_DOMAIN: host, SSH_PORT: settings.sshPort },
                  time: { DEFAULT_UI_LOCATION: config.cluster.timezone },
                  // In-cluster CI pushes the OS image to the container registry.
                  packages: { ENABLED: true },
                  actions: { ENABLED: true },
                  // An Authentik user gets a Gitea account on first login (same username), or is
                  // linked to the existing account with the same email.
                  ...(sso ? { oauth2_client: { ENABLE_AUTO_REGISTRATION: true, ACCOUNT_LINKING: "auto", USERNAME: "nickname" } } : {}),
                },
              },
              service: { ssh: { type: "LoadBalancer", port: settings.sshPort } },
              ingress: scaffoldIngressValues(host, "gitea-tls"),
            },
            // Step 1 of a migration: Gitea keeps running on the bundled PostgreSQL.
            suspend: settings.database.migrate,
          }),
        },
        needs: ["storage", "ingress", "certificates", ...database.needs],
        provides: ["git-server"],
        secrets,
        // First boot has no cert-manager, so no backup plugin: the seed's Cluster runs without it.
        seedFiles: { database: database.seedObjects },
      },
      ...(sso ? [issuerCheckUnit(config, { slug: "gitea", namespace: "gitea", path: "apps/gitea/sso/issuer", needs: ["git-server", "identity-provider"] }), ssoUnit(config)] : []),
      ...(settings.runner ? [{ name: "gitea-runner", path: "apps/gitea/runner", files: giteaRunnerObjects(config), needs: ["git-server", "storage"] }] : []),
    ];
    return { units };
  },
};
