// The pipeline: load → validate → defaults → plan → render → verify → write.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UserError, type Diagnostic } from "./errors.ts";
import { formatPath, loadConfigFile } from "./config/load.ts";
import { componentsFor } from "./components/registry.ts";
import { docsFiles } from "./docs.ts";
import { workflowFiles } from "./ci/workflows.ts";
import { imageFiles } from "./image/index.ts";
import { plan } from "./plan.ts";
import { ensureCertificateAuthority } from "./secrets/internal-ca.ts";
import { renderSecrets } from "./secrets/manifests.ts";
import { sopsConfigFile } from "./secrets/sops-config.ts";
import { SecretStore } from "./secrets/store.ts";
import { treeFiles } from "./tree.ts";
import { verifyPlan } from "./verify.ts";
import { checkTree, previousSecretFiles, writeFiles, writeTree, type CheckResult, type GeneratedFile, type WriteResult } from "./writer.ts";

export interface GenerateOptions {
  readonly configPath: string;
  /** Where the tree goes; default: the config file's folder (the repository). */
  readonly outDir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface Rendered {
  readonly files: GeneratedFile[];
  /** Repository state created on first need: secret store entries and the CA's certificates. */
  readonly stateFiles: { path: string; content: string }[];
  readonly warnings: readonly Diagnostic[];
  readonly repoDir: string;
  readonly outDir: string;
}

/** Everything but the write: the files the config produces. Throws UserError on a bad config. */
export async function render(options: GenerateOptions): Promise<Rendered> {
  const configPath = resolve(options.configPath);
  const repoDir = dirname(configPath);
  const outDir = resolve(options.outDir ?? repoDir);
  const { config, warnings, locate } = loadConfigFile(configPath);
  const store = new SecretStore(repoDir, config.secrets.ageRecipients, options.env);
  const { ca, files: caFiles } = await ensureCertificateAuthority(config, repoDir, store);
  // The image build copies these from the repository (the internal root is made just above).
  const missingCertificates = config.image.caCertificates.flatMap((path, i) =>
    path === ca.rootPath || existsSync(join(repoDir, path))
      ? []
      : [{ file: "homelab.yaml", ...locate(["image", "caCertificates", i]), path: formatPath(["image", "caCertificates", i]), message: `${path} does not exist in the repository`, hint: "add the PEM file there, or remove the entry" }],
  );
  if (missingCertificates.length > 0) throw new UserError(missingCertificates);
  const planned = plan(config, componentsFor(config), ca);
  verifyPlan(planned);
  const secretFiles = await renderSecrets(planned.units, store, previousSecretFiles(outDir), (value) => ({
    file: "homelab.yaml",
    ...locate(value.requiredBy),
    path: formatPath(value.requiredBy),
    message: `needs the secret "${value.supplied}", which is not set`,
    hint: `run \`npx homelab secrets set ${value.supplied}\` and type the value`,
  }));
  const files = [
    ...treeFiles(planned),
    ...secretFiles,
    sopsConfigFile(config),
    ...workflowFiles(config),
    ...docsFiles(planned),
    ...imageFiles({ config, plan: planned, secretFiles, ca }),
  ];
  return { files, stateFiles: [...caFiles, ...store.stagedFiles()], warnings, repoDir, outDir };
}

export async function generate(options: GenerateOptions): Promise<Rendered & { result: WriteResult & { state: string[] } }> {
  const rendered = await render(options);
  const result = writeTree(rendered.outDir, rendered.files);
  return { ...rendered, result: { ...result, state: writeFiles(rendered.repoDir, rendered.stateFiles) } };
}

export async function check(options: GenerateOptions): Promise<Rendered & { result: CheckResult }> {
  const rendered = await render(options);
  const result = checkTree(rendered.outDir, rendered.files);
  // State that generate would create is missing from the repository, too.
  const missingState = rendered.stateFiles.filter((f) => !existsSync(join(rendered.repoDir, f.path)) || readFileSync(join(rendered.repoDir, f.path), "utf8") !== f.content);
  return { ...rendered, result: { ...result, missing: [...result.missing, ...missingState.map((f) => f.path)] } };
}
