// Phase 3: cert-manager, which gives every ingress a certificate from the ClusterIssuer
// homelab-ca, and Traefik's TLS defaults.
import type { ITLSOption } from "@kubernetes-models/traefik/traefik.io/v1alpha1/TLSOption";
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { namespace } from "../render/kube.ts";
import type { Component, ComponentOutput } from "./types.ts";

export const certManager: Component = {
  name: "cert-manager",
  phase: 3,
  enabled: () => true,
  render({ config }): ComponentOutput {
    const tlsDefaults = {
      apiVersion: "traefik.io/v1alpha1",
      kind: "TLSOption",
      // Traefik applies the TLSOption named "default" to every router without its own.
      metadata: { name: "default", namespace: "kube-system" },
      spec: { minVersion: "VersionTLS12" },
    } satisfies ITLSOption;
    return {
      units: [
        {
          name: "cert-manager",
          path: "infrastructure/cert-manager",
          files: {
            namespace: [namespace("cert-manager")],
            release: helmRelease({
              name: "cert-manager",
              namespace: "cert-manager",
              chart: { ...catalog.charts.certManager, version: config.tls.certManager.version },
              values: {
                crds: { enabled: true, keep: true },
                // Replaces the default list: cert-manager's own issuers plus step-issuer's.
                approveSignerNames: ["issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*", "stepclusterissuers.certmanager.step.sm/*"],
              },
            }),
          },
          provides: ["cert-manager"],
        },
        { name: "traefik-tls", path: "infrastructure/traefik/tls", files: { "tls-option": [tlsDefaults] }, needs: ["ingress"], provides: ["tls-defaults"] },
      ],
    };
  },
};
