// OIDC clients: apps that speak OpenID Connect get an Authentik OAuth2 provider and the same
// client secret (a generated store value) on both sides.
import type { HomelabConfig } from "../config/schema.ts";
import { fqdn } from "../render/kube.ts";
import { AUTHENTIK_SERVER } from "./forward-auth.ts";

/** The Authentik group whose members administer every app that maps groups to roles. */
export const ADMIN_GROUP = "homelab-admins";

export interface OidcClient {
  readonly slug: string;
  readonly title: string;
  readonly redirectUri: string;
  readonly launchUrl: string;
  /** The store value both sides read. */
  readonly secretName: string;
  /** The environment variable the Authentik worker reads it from (the blueprint's !Env). */
  readonly env: string;
  /**
   * Send email_verified: true. Authentik's default email mapping says false (since 2025.10),
   * and some apps (Vaultwarden) refuse such logins; Authentik's users are made by an admin.
   */
  readonly emailVerified?: boolean;
}

/** The login source name Gitea shows and puts in its callback path. */
export const GITEA_OIDC_SOURCE = "authentik";

export function oidcClients(config: HomelabConfig): OidcClient[] {
  const clients: OidcClient[] = [];
  if (config.monitoring.enabled && config.monitoring.sso) {
    const host = fqdn(config, config.monitoring.host);
    clients.push({
      slug: "grafana",
      title: "Grafana",
      redirectUri: `https://${host}/login/generic_oauth`,
      launchUrl: `https://${host}`,
      secretName: "sso.grafana.clientSecret",
      env: "HOMELAB_OIDC_GRAFANA_CLIENT_SECRET",
    });
  }
  const gitea = config.apps.gitea;
  if (gitea.sso) {
    const host = fqdn(config, gitea.host);
    clients.push({
      slug: "gitea",
      title: "Gitea",
      redirectUri: `https://${host}/user/oauth2/${GITEA_OIDC_SOURCE}/callback`,
      launchUrl: `https://${host}`,
      secretName: "sso.gitea.clientSecret",
      env: "HOMELAB_OIDC_GITEA_CLIENT_SECRET",
    });
  }
  const vaultwarden = config.apps.vaultwarden;
  if (vaultwarden.enabled && vaultwarden.sso) {
    const host = fqdn(config, vaultwarden.host);
    clients.push({
      slug: "vaultwarden",
      title: "Vaultwarden",
      redirectUri: `https://${host}/identity/connect/oidc-signin`,
      launchUrl: `https://${host}`,
      secretName: "sso.vaultwarden.clientSecret",
      env: "HOMELAB_OIDC_VAULTWARDEN_CLIENT_SECRET",
      emailVerified: true,
    });
  }
  return clients;
}

/** The issuer of a client's provider (Authentik issues per application; the trailing / is part of it). */
export function oidcIssuer(config: HomelabConfig, slug: string): string {
  return `https://${fqdn(config, config.auth.authentik.host)}/application/o/${slug}/`;
}

/** Authentik's OAuth2 endpoints: the browser goes to the public host, servers talk in-cluster. */
export function oidcEndpoints(config: HomelabConfig) {
  const publicBase = `https://${fqdn(config, config.auth.authentik.host)}/application/o`;
  // In-cluster HTTP: the apps' containers need not trust the internal CA for the back channel.
  const internalBase = `http://${AUTHENTIK_SERVER}/application/o`;
  return { authorize: `${publicBase}/authorize/`, token: `${internalBase}/token/`, userinfo: `${internalBase}/userinfo/` };
}
