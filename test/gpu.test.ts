// GPU and LLM hosting: the device plugin on GPU nodes, and Ollama asking for a GPU when there is one.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { generate } from "../generator/generate.ts";
import { parseConfig } from "../generator/config/load.ts";
import { kubectl } from "./support/tools.ts";
import { minimalConfig, objectsOf, renderText, tempRepo } from "./support/render.ts";

const gpuNode = minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes: [{name: box, gpu: true}]\n");
const withOllama = (gpu: boolean) => `${gpu ? gpuNode : minimalConfig}gpu:\n  nvidia: ${gpu}\napps:\n  ollama:\n    enabled: true\n    models: [llama3.2, "qwen2.5:7b"]\n`;

async function objects(text: string) {
  return objectsOf((await renderText(text)).files).map(({ object }) => object);
}

describe("GPU and Ollama", () => {
  test("gpu.nvidia adds the device plugin, running with the nvidia RuntimeClass k3s provides", async () => {
    const all = await objects(withOllama(true));
    const plugin = all.find((o) => o.kind === "HelmRelease" && o.metadata.name === "nvidia-device-plugin")!;
    expect(plugin.spec.chart.spec).toMatchObject({ chart: "nvidia-device-plugin", version: "0.20.0" });
    expect(plugin.spec.values).toEqual({ runtimeClassName: "nvidia" });
    expect(all.find((o) => o.kind === "Kustomization" && o.metadata.name === "nvidia")?.metadata.labels["homelab/phase"]).toBe("7-extras");
  });

  test("Ollama with a GPU: asks for one, runs with the runtime, waits for the device plugin; models on a tree-owned volume", async () => {
    const all = await objects(withOllama(true));
    const release = all.find((o) => o.kind === "HelmRelease" && o.metadata.name === "ollama")!;
    expect(release.spec.values.ollama).toEqual({ gpu: { enabled: true, type: "nvidia", number: 1 }, models: { pull: ["llama3.2", "qwen2.5:7b"] } });
    expect(release.spec.values.runtimeClassName).toBe("nvidia");
    expect(release.spec.values.persistentVolume).toEqual({ enabled: true, existingClaim: "ollama-data" });
    const pvc = all.find((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === "ollama-data")!;
    expect(pvc.metadata.annotations["kustomize.toolkit.fluxcd.io/prune"]).toBe("disabled");
    const unit = all.find((o) => o.kind === "Kustomization" && o.metadata.name === "ollama")!;
    expect(unit.spec.dependsOn.map((d: { name: string }) => d.name)).toContain("nvidia");
  });

  test("Ollama without a GPU runs on the CPU and does not wait for a device plugin", async () => {
    const all = await objects(withOllama(false));
    const release = all.find((o) => o.kind === "HelmRelease" && o.metadata.name === "ollama")!;
    expect(release.spec.values.ollama.gpu).toBeUndefined();
    expect(release.spec.values.runtimeClassName).toBeUndefined();
    expect(all.some((o) => o.metadata?.name === "nvidia-device-plugin")).toBe(false);
  });

  test("gpu.nvidia without a GPU node is a warning, not an error", () => {
    const { warnings } = parseConfig(`${minimalConfig}gpu:\n  nvidia: true\n`);
    expect(warnings.map((w) => w.message)).toContain("no node has gpu: true, so the device plugin finds no GPU");
  });

  test("kubectl kustomize builds the new paths", async () => {
    const { dir, configPath } = tempRepo(withOllama(true));
    await generate({ configPath });
    for (const path of ["infrastructure/nvidia", "apps/ollama"]) {
      expect(() => execFileSync(kubectl, ["kustomize", join(dir, path)], { stdio: "pipe" }), path).not.toThrow();
    }
  });
});
