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
}

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
  return clients;
}

/** Authentik's OAuth2 endpoints: the browser goes to the public host, servers talk in-cluster. */
export function oidcEndpoints(config: HomelabConfig) {
  const publicBase = `https://${fqdn(config, config.auth.authentik.host)}/application/o`;
  // In-cluster HTTP: the apps' containers need not trust the internal CA for the back channel.
  const internalBase = `http://${AUTHENTIK_SERVER}/application/o`;
  return { authorize: `${publicBase}/authorize/`, token: `${internalBase}/token/`, userinfo: `${internalBase}/userinfo/` };
}
