// Phase 7: NVIDIA GPUs. k3s finds the NVIDIA container runtime on a node (the image's NVIDIA
// variant) and ships the RuntimeClass "nvidia" itself; the device plugin advertises the GPUs
// of nodes labelled nvidia.com/gpu.present=true (the nodes with gpu: true) as nvidia.com/gpu.
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { namespace } from "../render/kube.ts";
import type { Component } from "./types.ts";

/** The RuntimeClass k3s registers for the NVIDIA runtime; GPU pods run with it. */
export const NVIDIA_RUNTIME_CLASS = "nvidia";

export const nvidia: Component = {
  name: "nvidia",
  phase: 7,
  enabled: (config) => config.gpu.nvidia,
  verifiedValues: [{ release: "nvidia-device-plugin", chartVersion: "0.20.0", paths: ["runtimeClassName"] }],
  render({ config }) {
    return {
      units: [
        {
          name: "nvidia",
          path: "infrastructure/nvidia",
          files: {
            namespace: [namespace("nvidia", { labels: { "pod-security.kubernetes.io/enforce": "privileged" } })],
            release: helmRelease({
              name: "nvidia-device-plugin",
              namespace: "nvidia",
              chart: { ...catalog.charts.nvidiaDevicePlugin, version: config.gpu.devicePlugin.version },
              // Without the runtime the plugin finds no GPU (k3s keeps runc as the default).
              values: { runtimeClassName: NVIDIA_RUNTIME_CLASS },
            }),
          },
          provides: ["gpu"],
        },
      ],
    };
  },
};
