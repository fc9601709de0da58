// Phase 6: Vaultwarden (Bitwarden-compatible password manager) on a tree-owned volume.
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { dataVolume, fqdn, namespace, tlsIngressAnnotations } from "../render/kube.ts";
import type { Component } from "./types.ts";

/** Secret with ADMIN_TOKEN for the /admin page. */
export const VAULTWARDEN_ADMIN_SECRET = "vaultwarden-admin";

export const vaultwarden: Component = {
  name: "vaultwarden",
  phase: 6,
  enabled: (config) => config.apps.vaultwarden.enabled,
  verifiedValues: [
    {
      release: "vaultwarden",
      chartVersion: "0.43.1",
      paths: [
        "domain",
        "timeZone",
        "signupsAllowed",
        "storage.existingVolumeClaim.claimName",
        "adminToken.existingSecret",
        "adminToken.existingSecretKey",
        "ingress.enabled",
        "ingress.class",
        "ingress.nginxIngressAnnotations",
        "ingress.additionalAnnotations",
        "ingress.hostname",
        "ingress.tls",
        "ingress.tlsSecret",
      ],
    },
  ],
  render({ config }) {
    const settings = config.apps.vaultwarden;
    const host = fqdn(config, settings.host);
    return {
      units: [
        {
          name: "vaultwarden",
          path: "apps/vaultwarden",
          files: {
            namespace: [namespace("vaultwarden", { holdsData: true })],
            volume: [dataVolume(config, { name: "vaultwarden-data", namespace: "vaultwarden", size: settings.storage.size })],
            release: helmRelease({
              name: "vaultwarden",
              namespace: "vaultwarden",
              chart: { ...catalog.charts.vaultwarden, version: settings.version },
              values: {
                domain: `https://${host}`,
                timeZone: config.cluster.timezone,
                // Accounts are invited from the admin page, not created by anyone who finds the URL.
                signupsAllowed: false,
                storage: { existingVolumeClaim: { claimName: "vaultwarden-data" } },
                adminToken: { existingSecret: VAULTWARDEN_ADMIN_SECRET, existingSecretKey: "ADMIN_TOKEN" },
                ingress: {
                  enabled: true,
                  class: "traefik",
                  nginxIngressAnnotations: false,
                  additionalAnnotations: tlsIngressAnnotations(),
                  hostname: host,
                  tls: true,
                  tlsSecret: "vaultwarden-tls",
                },
              },
            }),
          },
          needs: ["storage", "ingress", "certificates"],
          secrets: [
            {
              name: VAULTWARDEN_ADMIN_SECRET,
              namespace: "vaultwarden",
              // The Secret holds an Argon2 hash; the token to type is in the store (secrets list).
              data: { ADMIN_TOKEN: { generated: "vaultwarden.adminToken", form: "vaultwarden-admin-token" } },
            },
          ],
        },
      ],
    };
  },
};
