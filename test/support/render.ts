// Helpers shared by the suites: render a config string into a temporary repository.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../../generator/config/load.ts";
import { UserError } from "../../generator/errors.ts";
import { render, type Rendered } from "../../generator/generate.ts";
import type { GeneratedFile } from "../../generator/writer.ts";

export const referenceConfigPath = join(import.meta.dirname, "..", "..", "homelab.yaml");

const created: string[] = [];

/** Removes the temporary repositories this test file made (registered in vitest.config.ts). */
export function removeTempRepos(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

const repoRoot = join(import.meta.dirname, "..", "..");

/** The demo's secret store and CA, so the reference config renders with its TEST-ONLY secrets. */
export function copyDemoState(dir: string): void {
  for (const folder of ["secrets", "certs"]) cpSync(join(repoRoot, folder), join(dir, folder), { recursive: true });
}

/** A temporary folder, removed after the test file (see removeTempRepos). */
export function tempDir(prefix = "homelab-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function tempRepo(configText: string, options: { demoState?: boolean } = {}): { dir: string; configPath: string } {
  const dir = tempDir();
  if (options.demoState) copyDemoState(dir);
  const configPath = join(dir, "homelab.yaml");
  writeFileSync(configPath, configText);
  return { dir, configPath };
}

export function renderText(configText: string, options: { demoState?: boolean } = {}): Promise<Rendered> {
  return render({ configPath: tempRepo(configText, options).configPath });
}

/**
 * Every Kubernetes object in the generated YAML files, with the file it came from. The first-boot
 * seed (clusters/<name>/bootstrap/) holds copies of tree objects: it is left out, so each object
 * counts once (test/image-seed.test.ts checks the copies).
 */
export function objectsOf(files: readonly GeneratedFile[]): { file: string; object: Record<string, any> }[] {
  return files
    .filter((f) => f.path.endsWith(".yaml") && !/^clusters\/[^/]+\/bootstrap\//.test(f.path))
    .flatMap((f) => parseAllDocuments(f.content).map((d) => ({ file: f.path, object: d.toJS() as Record<string, any> })))
    .filter(({ object }) => object && typeof object.kind === "string" && object.metadata);
}

/** The demo's TEST-ONLY age key: vitest.config.ts points SOPS_AGE_KEY_FILE at it. */
export const demoKeyFile = join(import.meta.dirname, "..", "fixtures", "demo-age.key");

export const minimalConfig = `cluster:
  name: home
  domain: home.arpa
secrets:
  ageRecipients:
    - age1gkzd20j67qr0cpelrm223u90x0dj05xjk9kn3pad55tja777svqqpg5h5l
`;

/** The minimal config with off-site backups to Backblaze B2 (its keys are set with `secrets set`). */
export const withBackup = `${minimalConfig}storage:
  longhorn:
    backup:
      target: s3://homelab-backups@us-west-004/
      endpoint: https://s3.us-west-004.backblazeb2.com
`;

/** The message a rejected config gives (fails the test when the config is accepted). */
export function configErrorOf(text: string): string {
  try {
    parseConfig(text);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return error.message;
  }
  throw new Error("expected the config to be rejected");
}
