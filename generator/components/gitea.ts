// Phase 6: Gitea, always deployed: it holds the repository Flux reads. PostgreSQL and the
// repositories live on tree-owned volumes; git over SSH is a LoadBalancer port on the node.
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { dataVolume, fqdn, namespace, SCAFFOLD_INGRESS_PATHS, scaffoldIngressValues } from "../render/kube.ts";
import type { Component, ComponentOutput } from "./types.ts";

/** Secret with username and password of the first admin (keys fixed by the chart). */
export const GITEA_ADMIN_SECRET = "gitea-admin";
/** Secret with postgres-password (admin) and password (the gitea DB user). */
export const GITEA_DATABASE_SECRET = "gitea-postgresql";

export const gitea: Component = {
  name: "gitea",
  phase: 6,
  enabled: () => true,
  verifiedValues: [
    {
      release: "gitea",
      chartVersion: "12.7.0",
      paths: [
        "postgresql-ha.enabled",
        "valkey-cluster.enabled",
        "postgresql.enabled",
        "postgresql.global.postgresql.auth.existingSecret",
        "postgresql.global.postgresql.auth.secretKeys.adminPasswordKey",
        "postgresql.global.postgresql.auth.secretKeys.userPasswordKey",
        "postgresql.primary.persistence.existingClaim",
        "persistence.enabled",
        "persistence.create",
        "persistence.mount",
        "persistence.claimName",
        "strategy.type",
        "gitea.admin.existingSecret",
        "gitea.admin.email",
        "gitea.additionalConfigFromEnvs",
        "gitea.config.server.DOMAIN",
        "gitea.config.server.ROOT_URL",
        "gitea.config.server.SSH_DOMAIN",
        "gitea.config.server.SSH_PORT",
        "gitea.config.time.DEFAULT_UI_LOCATION",
        "service.ssh.type",
        "service.ssh.port",
        ...SCAFFOLD_INGRESS_PATHS,
      ],
    },
  ],
  render({ config }): ComponentOutput {
    const settings = config.apps.gitea;
    const host = fqdn(config, settings.host);
    return {
      units: [
        {
          name: "gitea",
          path: "apps/gitea",
          timeout: "15m",
          files: {
            namespace: [namespace("gitea", { holdsData: true })],
            volume: [
              dataVolume(config, { name: "gitea-data", namespace: "gitea", size: settings.storage.size }),
              dataVolume(config, { name: "gitea-postgresql", namespace: "gitea", size: "8Gi" }),
            ],
            release: helmRelease({
              name: "gitea",
              namespace: "gitea",
              chart: { ...catalog.charts.gitea, version: settings.version },
              timeout: "15m",
              values: {
                // One node: a single PostgreSQL instead of the chart's HA defaults.
                "postgresql-ha": { enabled: false },
                "valkey-cluster": { enabled: false },
                postgresql: {
                  enabled: true,
                  global: {
                    postgresql: {
                      auth: { existingSecret: GITEA_DATABASE_SECRET, secretKeys: { adminPasswordKey: "postgres-password", userPasswordKey: "password" } },
                    },
                  },
                  primary: { persistence: { existingClaim: "gitea-postgresql" } },
                },
                persistence: { enabled: true, create: false, mount: true, claimName: "gitea-data" },
                // A ReadWriteOnce volume cannot be mounted by two pods during a rolling update.
                strategy: { type: "Recreate" },
                gitea: {
                  admin: { existingSecret: GITEA_ADMIN_SECRET, email: `admin@${config.cluster.domain}` },
                  // The chart writes its default DB password into app.ini; the env wins.
                  additionalConfigFromEnvs: [
                    { name: "GITEA__DATABASE__PASSWD", valueFrom: { secretKeyRef: { name: GITEA_DATABASE_SECRET, key: "password" } } },
                  ],
                  config: {
                    server: { DOMAIN: host, ROOT_URL: `https://${host}/`, SSH_DOMAIN: host, SSH_PORT: settings.sshPort },
                    time: { DEFAULT_UI_LOCATION: config.cluster.timezone },
                  },
                },
                service: { ssh: { type: "LoadBalancer", port: settings.sshPort } },
                ingress: scaffoldIngressValues(host, "gitea-tls"),
              },
            }),
          },
          needs: ["storage", "ingress", "certificates"],
          provides: ["git-server"],
          secrets: [
            {
              name: GITEA_ADMIN_SECRET,
              namespace: "gitea",
              // "admin" is a name Gitea reserves.
              data: { username: { literal: "homelab-admin" }, password: { generated: "gitea.adminPassword" } },
            },
            {
              name: GITEA_DATABASE_SECRET,
              namespace: "gitea",
              data: { "postgres-password": { generated: "gitea.postgresAdminPassword" }, password: { generated: "gitea.postgresPassword" } },
            },
          ],
        },
      ],
    };
  },
};
