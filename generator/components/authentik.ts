// Phase 5: Authentik, the identity provider, with its PostgreSQL on a tree-owned volume.
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { dataVolume, fqdn, namespace, tlsIngressAnnotations } from "../render/kube.ts";
import type { Component } from "./types.ts";

/** Secret with secret-key, postgres-password (admin) and password (the authentik DB user). */
export const AUTHENTIK_SECRET = "authentik-secrets";

export const authentik: Component = {
  name: "authentik",
  phase: 5,
  enabled: () => true,
  verifiedValues: [
    {
      release: "authentik",
      chartVersion: "2026.8.0",
      paths: [
        "global.env",
        "postgresql.enabled",
        "postgresql.auth.existingSecret",
        "postgresql.auth.secretKeys.adminPasswordKey",
        "postgresql.auth.secretKeys.userPasswordKey",
        "postgresql.primary.persistence.existingClaim",
        "server.ingress.enabled",
        "server.ingress.ingressClassName",
        "server.ingress.annotations",
        "server.ingress.hosts",
        "server.ingress.tls",
      ],
    },
  ],
  render({ config }) {
    const settings = config.auth.authentik;
    const host = fqdn(config, settings.host);
    const fromSecret = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: AUTHENTIK_SECRET, key } } });
    return {
      units: [
        {
          name: "authentik",
          path: "infrastructure/authentik",
          timeout: "15m",
          files: {
            namespace: [namespace("authentik", { holdsData: true })],
            volume: [dataVolume(config, { name: "authentik-postgresql", namespace: "authentik", size: settings.storage })],
            release: helmRelease({
              name: "authentik",
              namespace: "authentik",
              chart: { ...catalog.charts.authentik, version: settings.version },
              timeout: "15m",
              values: {
                // secret_key and the DB password stay out of values: they come from the Secret.
                global: { env: [fromSecret("AUTHENTIK_SECRET_KEY", "secret-key"), fromSecret("AUTHENTIK_POSTGRESQL__PASSWORD", "password")] },
                postgresql: {
                  enabled: true,
                  auth: { existingSecret: AUTHENTIK_SECRET, secretKeys: { adminPasswordKey: "postgres-password", userPasswordKey: "password" } },
                  primary: { persistence: { existingClaim: "authentik-postgresql" } },
                },
                server: {
                  ingress: {
                    enabled: true,
                    ingressClassName: "traefik",
                    annotations: tlsIngressAnnotations(),
                    hosts: [host],
                    tls: [{ secretName: "authentik-tls", hosts: [host] }],
                  },
                },
              },
            }),
          },
          needs: ["storage", "ingress", "certificates"],
          provides: ["identity-provider"],
          secrets: [
            {
              name: AUTHENTIK_SECRET,
              namespace: "authentik",
              data: {
                // Never change secret-key after the first install: Authentik signs sessions with it.
                "secret-key": { generated: "authentik.secretKey" },
                "postgres-password": { generated: "authentik.postgresAdminPassword" },
                password: { generated: "authentik.postgresPassword" },
              },
            },
          ],
        },
      ],
    };
  },
};
