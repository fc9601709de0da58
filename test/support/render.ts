// Helpers shared by the suites: render a config string into a temporary repository.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { render, type Rendered } from "../../generator/generate.ts";
import type { GeneratedFile } from "../../generator/writer.ts";

export const referenceConfigPath = join(import.meta.dirname, "..", "..", "homelab.yaml");

const created: string[] = [];

/** Removes the temporary repositories this test file made (registered in vitest.config.ts). */
export function removeTempRepos(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function tempRepo(configText: string): { dir: string; configPath: string } {
  const dir = mkdtempSync(join(tmpdir(), "homelab-test-"));
  created.push(dir);
  const configPath = join(dir, "homelab.yaml");
  writeFileSync(configPath, configText);
  return { dir, configPath };
}

export function renderText(configText: string): Rendered {
  return render({ configPath: tempRepo(configText).configPath });
}

/** Every Kubernetes object in the generated YAML files, with the file it came from. */
export function objectsOf(files: readonly GeneratedFile[]): { file: string; object: Record<string, any> }[] {
  return files
    .filter((f) => f.path.endsWith(".yaml"))
    .flatMap((f) => parseAllDocuments(f.content).map((d) => ({ file: f.path, object: d.toJS() as Record<string, any> })))
    .filter(({ object }) => object && typeof object.kind === "string" && object.metadata);
}

export const minimalConfig = `cluster:
  name: home
  domain: home.arpa
secrets:
  ageRecipients:
    - age1lj27ds4e2q8rvjcr6nm6x0c270d08wnepxs9405xgh6tsnqgr4aqe7uvwk
`;
