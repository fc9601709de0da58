// Phase 7: Ollama, LLM hosting: models on a tree-owned volume, a GPU when the cluster has one.
import { FORWARD_AUTH_ANNOTATION, forwardAuthApps, outpostRoute } from "../auth/forward-auth.ts";
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { dataVolume, fqdn, namespace, SCAFFOLD_INGRESS_PATHS, scaffoldIngressValues } from "../render/kube.ts";
import { NVIDIA_RUNTIME_CLASS } from "./nvidia.ts";
import type { Component, ComponentOutput } from "./types.ts";

export const ollama: Component = {
  name: "ollama",
  phase: 7,
  enabled: (config) => config.apps.ollama.enabled,
  verifiedValues: [
    {
      release: "ollama",
      chartVersion: "1.77.0",
      paths: [
        "ollama.gpu.enabled",
        "ollama.gpu.type",
        "ollama.gpu.number",
        "ollama.models.pull",
        "runtimeClassName",
        "persistentVolume.enabled",
        "persistentVolume.existingClaim",
        ...SCAFFOLD_INGRESS_PATHS,
      ],
    },
  ],
  render({ config }): ComponentOutput {
    const settings = config.apps.ollama;
    const host = fqdn(config, settings.host);
    const gpu = config.gpu.nvidia;
    const forwardAuth = forwardAuthApps(config).find((app) => app.slug === "ollama");
    return {
      units: [
        {
          name: "ollama",
          path: "apps/ollama",
          timeout: "30m",
          files: {
            namespace: [namespace("ollama", { holdsData: true })],
            volume: [dataVolume(config, { name: "ollama-data", namespace: "ollama", size: settings.storage.size })],
            ...(forwardAuth ? { "outpost-route": outpostRoute(forwardAuth, "ollama-tls") } : {}),
            release: helmRelease({
              name: "ollama",
              namespace: "ollama",
              chart: { ...catalog.charts.ollama, version: settings.version },
              timeout: "30m",
              values: {
                ollama: {
                  // The chart then asks for nvidia.com/gpu and tolerates GPU nodes.
                  ...(gpu ? { gpu: { enabled: true, type: "nvidia", number: 1 } } : {}),
                  ...(settings.models.length > 0 ? { models: { pull: settings.models } } : {}),
                },
                ...(gpu ? { runtimeClassName: NVIDIA_RUNTIME_CLASS } : {}),
                persistentVolume: { enabled: true, existingClaim: "ollama-data" },
                ingress: scaffoldIngressValues(host, "ollama-tls", forwardAuth ? FORWARD_AUTH_ANNOTATION : {}),
              },
            }),
          },
          needs: ["storage", "ingress", "certificates", ...(gpu ? ["gpu"] : []), ...(forwardAuth ? ["forward-auth"] : [])],
        },
      ],
    };
  },
};
