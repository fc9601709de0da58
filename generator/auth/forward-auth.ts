// Forward auth: apps that cannot speak OIDC log in through Authentik's embedded outpost. Traefik
// asks the outpost about every request (the Middleware), and the app's host routes the
// outpost's own paths (/outpost.goauthentik.io/) to it.
import type { IIngress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import type { IService } from "kubernetes-models/v1/Service";
import type { HomelabConfig } from "../config/schema.ts";
import { genericApps } from "../config/rules.ts";
import { fqdn } from "../render/kube.ts";

export const AUTHENTIK_NAMESPACE = "authentik";
export const FORWARD_AUTH_MIDDLEWARE = "forward-auth";
/** The chart's server Service (release "authentik"): port 80 to the server's 9000. */
export const AUTHENTIK_SERVER = `authentik-server.${AUTHENTIK_NAMESPACE}.svc.cluster.local`;

/** The Traefik annotation value that puts the middleware in front of an ingress. */
export const FORWARD_AUTH_ANNOTATION = { "traefik.ingress.kubernetes.io/router.middlewares": `${AUTHENTIK_NAMESPACE}-${FORWARD_AUTH_MIDDLEWARE}@kubernetescrd` };

export interface ForwardAuthApp {
  /** Authentik application slug and provider name. */
  readonly slug: string;
  readonly title: string;
  readonly host: string;
  readonly namespace: string;
  /** Paths the outpost lets through unauthenticated (the app guards them itself). */
  readonly skipPathRegex?: string;
}

export function forwardAuthApps(config: HomelabConfig): ForwardAuthApp[] {
  const apps: ForwardAuthApp[] = [];
  const homeAssistant = config.apps.homeAssistant;
  if (homeAssistant.enabled && homeAssistant.sso) {
    // The companion apps log in with Home Assistant's own OAuth on /auth/ and use /api/:
    // those paths skip the outpost, and Home Assistant's login protects them.
    apps.push({ slug: "home-assistant", title: "Home Assistant", host: fqdn(config, homeAssistant.host), namespace: "home-assistant", skipPathRegex: "^/(auth|api)/.*" });
  }
  const ollama = config.apps.ollama;
  if (ollama.enabled && ollama.sso) apps.push({ slug: "ollama", title: "Ollama", host: fqdn(config, ollama.host), namespace: "ollama" });
  for (const [name, app] of genericApps(config)) {
    if (app.sso && app.host) apps.push({ slug: name, title: name, host: fqdn(config, app.host.name), namespace: app.namespace ?? name });
  }
  return apps;
}

/** The outpost's paths on the app's host, through an ExternalName Service (no middleware on it). */
export function outpostRoute(app: ForwardAuthApp, tlsSecret: string): (IService | IIngress)[] {
  const service: IService = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "authentik-outpost", namespace: app.namespace },
    spec: { type: "ExternalName", externalName: AUTHENTIK_SERVER, ports: [{ name: "http", port: 80, protocol: "TCP" }] },
  };
  const ingress: IIngress = {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: {
      name: `${app.slug}-outpost`,
      namespace: app.namespace,
      annotations: { "traefik.ingress.kubernetes.io/router.entrypoints": "websecure", "traefik.ingress.kubernetes.io/router.tls": "true" },
    },
    spec: {
      ingressClassName: "traefik",
      // The certificate is the app's own (same host); this ingress only adds a path.
      tls: [{ hosts: [app.host], secretName: tlsSecret }],
      rules: [{ host: app.host, http: { paths: [{ path: "/outpost.goauthentik.io/", pathType: "Prefix", backend: { service: { name: "authentik-outpost", port: { number: 80 } } } }] } }],
    },
  };
  return [service, ingress];
}
