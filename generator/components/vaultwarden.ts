// Phase 6: Vaultwarden (Bitwarden-compatible password manager) on a tree-owned volume.
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { oidcClients, oidcIssuer } from "../auth/oidc.ts";
import { dataVolume, fqdn, namespace, tlsIngressAnnotations, TRUSTED_CA, trustedCaConfigMap } from "../render/kube.ts";
import type { Component, SecretSpec } from "./types.ts";

/** Secret with ADMIN_TOKEN for the /admin page. */
export const VAULTWARDEN_ADMIN_SECRET = "vaultwarden-admin";
/** Secret with the OIDC client id and secret. */
const VAULTWARDEN_OIDC_SECRET = "vaultwarden-oidc";
/** The system roots plus the internal CA, made by an init container (Vaultwarden has no extra-CA setting). */
const TRUST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** Vaultwarden calls Authentik's HTTPS endpoints (discovery, token, keys): it must trust the internal CA. */
function trustValues() {
  return {
    initContainers: [
      {
        name: "trust-homelab-ca",
        image: catalog.images.vaultwarden,
        command: ["sh", "-c", `cat ${TRUST_BUNDLE} ${TRUSTED_CA.mountPath}/${TRUSTED_CA.key} > /trust/ca-certificates.crt`],
        volumeMounts: [
          { name: "homelab-ca", mountPath: TRUSTED_CA.mountPath, readOnly: true },
          { name: "trust", mountPath: "/trust" },
        ],
      },
    ],
    extraVolumes: [
      { name: "homelab-ca", configMap: { name: TRUSTED_CA.configMap } },
      { name: "trust", emptyDir: {} },
    ],
    extraVolumeMounts: [{ name: "trust", mountPath: TRUST_BUNDLE, subPath: "ca-certificates.crt", readOnly: true }],
  };
}

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
        "sso.enabled",
        "sso.authority",
        "sso.existingSecret",
        "sso.clientId.existingSecretKey",
        "sso.clientSecret.existingSecretKey",
        "sso.scopes",
        "initContainers",
        "extraVolumes",
        "extraVolumeMounts",
      ],
    },
  ],
  render({ config, ca }) {
    const settings = config.apps.vaultwarden;
    const host = fqdn(config, settings.host);
    const sso = oidcClients(config).some((client) => client.slug === "vaultwarden");
    const secrets: SecretSpec[] = [
      {
        name: VAULTWARDEN_ADMIN_SECRET,
        namespace: "vaultwarden",
        // The Secret holds an Argon2 hash; the token to type is in the store (secrets list).
        data: { ADMIN_TOKEN: { generated: "vaultwarden.adminToken", form: "vaultwarden-admin-token" } },
      },
      ...(sso
        ? [{ name: VAULTWARDEN_OIDC_SECRET, namespace: "vaultwarden", data: { "client-id": { literal: "vaultwarden" }, "client-secret": { generated: "sso.vaultwarden.clientSecret" } } }]
        : []),
    ];
    return {
      units: [
        {
          name: "vaultwarden",
          path: "apps/vaultwarden",
          files: {
            namespace: [namespace("vaultwarden", { holdsData: true })],
            ...(sso ? { "trusted-ca": [trustedCaConfigMap("vaultwarden", ca.rootCertificate)] } : {}),
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
                ...(sso
                  ? {
                      sso: {
                        enabled: true,
                        // Authentik's issuer, trailing slash included (Vaultwarden compares it exactly).
                        authority: oidcIssuer(config, "vaultwarden"),
                        existingSecret: VAULTWARDEN_OIDC_SECRET,
                        clientId: { existingSecretKey: "client-id" },
                        clientSecret: { existingSecretKey: "client-secret" },
                        // offline_access: a refresh token, so sessions outlive the 5-minute access token.
                        scopes: "email profile offline_access",
                      },
                      ...trustValues(),
                    }
                  : {}),
              },
            }),
          },
          needs: ["storage", "ingress", "certificates", ...(sso ? ["identity-provider"] : [])],
          secrets,
        },
      ],
    };
  },
};
