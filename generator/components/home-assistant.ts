// Phase 6: Home Assistant on a tree-owned volume, behind Traefik.
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { dataVolume, fqdn, namespace, SCAFFOLD_INGRESS_PATHS, scaffoldIngressValues } from "../render/kube.ts";
import { FORWARD_AUTH_ANNOTATION, forwardAuthApps, outpostRoute } from "../auth/forward-auth.ts";
import { nodeAddresses } from "../nodes/cluster.ts";
import type { Component, ComponentOutput } from "./types.ts";

/** k3s's pod network: Traefik's requests come from here. */
const POD_CIDR = "10.42.0.0/16";

export const homeAssistant: Component = {
  name: "home-assistant",
  phase: 6,
  enabled: (config) => config.apps.homeAssistant.enabled,
  verifiedValues: [
    {
      release: "home-assistant",
      chartVersion: "0.3.72",
      paths: [
        "controller.type",
        "deploymentStrategy",
        "persistence.enabled",
        "persistence.existingClaim",
        "env",
        "configuration.enabled",
        "configuration.trusted_proxies",
        "hostNetwork",
        "dnsPolicy",
        ...SCAFFOLD_INGRESS_PATHS,
      ],
    },
  ],
  render({ config }): ComponentOutput {
    const settings = config.apps.homeAssistant;
    const host = fqdn(config, settings.host);
    const forwardAuth = forwardAuthApps(config).find((app) => app.slug === "home-assistant");
    return {
      units: [
        {
          name: "home-assistant",
          path: "apps/home-assistant",
          files: {
            namespace: [namespace("home-assistant", { holdsData: true })],
            volume: [dataVolume(config, { name: "home-assistant-data", namespace: "home-assistant", size: settings.storage.size })],
            ...(forwardAuth ? { "outpost-route": outpostRoute(forwardAuth, "home-assistant-tls") } : {}),
            release: helmRelease({
              name: "home-assistant",
              namespace: "home-assistant",
              chart: { ...catalog.charts.homeAssistant, version: settings.version },
              values: {
                // The chart honours an existing claim only for a Deployment.
                controller: { type: "Deployment" },
                deploymentStrategy: "Recreate",
                persistence: { enabled: true, existingClaim: "home-assistant-data" },
                env: [{ name: "TZ", value: config.cluster.timezone }],
                // Home Assistant rejects forwarded requests from proxies it does not trust. On the
                // node's network, Traefik on another node reaches it from that node's address
                // (flannel masquerades pod traffic leaving the pod network).
                configuration: { enabled: true, trusted_proxies: [POD_CIDR, ...(settings.hostNetwork ? nodeAddresses(config) : [])] },
                // Discovery (mDNS, SSDP, Bluetooth proxies) needs the node's own network; the
                // pod then resolves cluster names only with this DNS policy.
                ...(settings.hostNetwork ? { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" } : {}),
                ingress: scaffoldIngressValues(host, "home-assistant-tls", settings.sso ? FORWARD_AUTH_ANNOTATION : {}),
              },
            }),
          },
          needs: ["storage", "ingress", "certificates", ...(settings.sso ? ["forward-auth"] : [])],
        },
      ],
    };
  },
};
