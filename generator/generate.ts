// The pipeline: load → validate → defaults → plan → render → verify → write.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { formatDiagnostic, UserError, type Diagnostic } from "./errors.ts";
import { checkCaCertificateFiles } from "./config/ca-certificates.ts";
import { checkConfigFile, formatPath, loadConfigFile } from "./config/load.ts";
import { componentsFor } from "./components/registry.ts";
import { docsFiles } from "./docs.ts";
import { workflowFiles } from "./ci/workflows.ts";
import { imageFiles } from "./image/index.ts";
import { plan } from "./plan.ts";
import { caRecordFiles, ensureCertificateAuthority } from "./secrets/internal-ca.ts";
import { renderSecrets } from "./secrets/manifests.ts";
import { sopsConfigFile } from "./secrets/sops-config.ts";
import { SecretStore } from "./secrets/store.ts";
import { treeFiles } from "./tree.ts";
import { verifyFilePaths, verifyPlan } from "./verify.ts";
import { isRegularFile, runCache } from "./up-to-date.ts";
import { checkTree, MANIFEST_PATH, previousSecretFiles, writeFileAtomic, writeTree, type CheckResult, type GeneratedFile, type WriteResult } from "./writer.ts";
import { insideGitFolder, isInside, physicalPath } from "./fs-paths.ts";
import { CA_RECORD_PATH, STATE_FOLDERS } from "./state-paths.ts";
import { withRepositoryLock } from "./lock.ts";
import { recoverTransaction } from "./transaction.ts";

export interface GenerateOptions {
  readonly configPath: string;
  /** Where the tree goes; default: the config file's folder (the repository). */
  readonly outDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Generated store values to make anew although committed Secrets use them (`--regenerate`). */
  readonly regenerate?: readonly string[];
  /** Replace the internal CA with a new one (`homelab ca rotate`). */
  readonly rotateCa?: boolean;
}

export interface Rendered {
  readonly files: GeneratedFile[];
  /** Repository state created on first need: secret store entries and the CA's certificates. */
  readonly stateFiles: { path: string; content: string }[];
  readonly warnings: readonly Diagnostic[];
  readonly repoDir: string;
  readonly outDir: string;
  /** Repository files the config names, which the run read (image.caCertificates). */
  readonly extraInputs: readonly string[];
}

/** Everything but the write: the files the config produces. Throws UserError on a bad config. */
export async function render(options: GenerateOptions): Promise<Rendered> {
  const configPath = resolve(options.configPath);
  const repoDir = dirname(configPath);
  const outDir = resolve(options.outDir ?? repoDir);
  const { config, warnings, locate } = loadConfigFile(configPath);
  const store = new SecretStore(repoDir, config.secrets.ageRecipients, options.env);
  const { ca, files: caFiles } = await ensureCertificateAuthority(config, repoDir, store, { rotate: options.rotateCa === true });
  checkCaCertificateFiles(config, repoDir, ca.rootPath, locate);
  const planned = plan(config, componentsFor(config), ca);
  verifyPlan(planned);
  const secretFiles = await renderSecrets(planned.units, store, previousSecretFiles(outDir, repoDir), options.regenerate ?? [], (value) => ({
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
  verifyFilePaths(files, planned, config, locate);
  return {
    files,
    stateFiles: [...caFiles, ...store.stagedFiles(), ...caRecordFiles(config, repoDir, store, ca)],
    warnings,
    repoDir,
    outDir,
    extraInputs: config.image.caCertificates,
  };
}

/** Kernel file systems: what looks like files there are not, and writing may hang or change the system. */
const SYSTEM_FOLDERS = ["/proc", "/sys", "/dev"];
/** Memory-backed folders under them, which are ordinary folders. */
const ORDINARY_SYSTEM_FOLDERS = ["/dev/shm"];

/** Refuses output folders that would write where homelab must not: /, a .git folder, the repository's state, the kernel's, a file, a link out of the repository. */
function checkOutDir(repoDir: string, outDir: string): void {
  const refuse = (message: string, hint: string) => new UserError([{ file: outDir, line: 0, col: 0, path: "", message, hint }]);
  if (outDir === resolve("/")) throw refuse("is the file system's root", "choose a folder of its own with --out");
  if (statSync(outDir, { throwIfNoEntry: false })?.isDirectory() === false) throw refuse("is a file, not a folder", "choose a folder with --out");
  const real = physicalPath(outDir);
  const realRepo = realpathSync(repoDir);
  if (real === resolve("/")) throw refuse("leads to the file system's root", "choose a folder of its own with --out");
  // This repository's .git, and any other repository's: git keeps its objects and settings there.
  const ownGit = [join(repoDir, ".git"), join(realRepo, ".git")].some((gitDir) => isInside(gitDir, outDir) || isInside(gitDir, real));
  if (ownGit || insideGitFolder(outDir) || insideGitFolder(real)) throw refuse("is inside a .git folder", "choose a folder outside .git with --out");
  for (const folder of [...STATE_FOLDERS, dirname(CA_RECORD_PATH)]) {
    if (isInside(join(realRepo, folder), real)) throw refuse(`is inside the repository's ${folder}/, which holds what homelab cannot make again`, "choose a folder of its own with --out");
  }
  if (SYSTEM_FOLDERS.some((folder) => isInside(folder, real)) && !ORDINARY_SYSTEM_FOLDERS.some((folder) => isInside(folder, real))) {
    throw refuse("is inside a kernel file system", "choose a folder on disk with --out");
  }
  if (isInside(repoDir, outDir) && !isInside(realRepo, real)) throw refuse("is reached through a symbolic link that leaves the repository", "use the link's real target with --out, or a real folder");
}

/** Runs `work` on the output folder: one run at a time, after finishing or undoing an interrupted one. */
async function inOutputFolder<T>(options: GenerateOptions, command: string | undefined, work: (outDir: string, recovered: string | undefined) => Promise<T>): Promise<T> {
  const repoDir = dirname(resolve(options.configPath));
  const outDir = resolve(options.outDir ?? repoDir);
  // Said first: without the config there is no repository to check the output folder against.
  checkConfigFile(resolve(options.configPath));
  checkOutDir(repoDir, outDir);
  // Only reading (--check): there is nothing to lock.
  if (command === undefined) return work(outDir, undefined);
  return withRepositoryLock(outDir, command, async () => work(outDir, recoverTransaction(outDir)));
}

export async function generate(options: GenerateOptions): Promise<Rendered & { result: WriteResult; recovered?: string }> {
  return inOutputFolder(options, options.rotateCa ? "ca rotate" : "generate", async (outDir, recovered) => {
    const rendered = await render(options);
    // A preview in another folder takes the state it needs with it and leaves the repository's alone.
    const result = writeTree(outDir, rendered.files, { stateFiles: rendered.stateFiles, protectedFiles: [resolve(options.configPath)], env: options.env });
    // A clean run is remembered, so the next one with the same inputs can stop early (up-to-date.ts);
    // a config from a pipe cannot be read again to check that.
    if (result.kept.length === 0 && isRegularFile(resolve(options.configPath))) {
      const manifest = { path: MANIFEST_PATH, content: readFileSync(join(outDir, MANIFEST_PATH), "utf8") };
      const cache = runCache({
        configPath: options.configPath,
        outDir,
        files: [...rendered.files, manifest],
        extraInputs: rendered.extraInputs,
        warnings: rendered.warnings.map((w) => formatDiagnostic(w, "warning")),
      });
      writeFileAtomic(join(outDir, cache.path), cache.content);
    }
    return { ...rendered, result, ...(recovered ? { recovered } : {}) };
  });
}

export async function check(options: GenerateOptions): Promise<Rendered & { result: CheckResult }> {
  return inOutputFolder(options, undefined, async (outDir) => {
    const rendered = await render(options);
    const result = checkTree(outDir, rendered.files);
    // State that generate would create is missing from the repository, too.
    const missingState = rendered.stateFiles.filter((f) => !existsSync(join(outDir, f.path)) || readFileSync(join(outDir, f.path), "utf8") !== f.content);
    return { ...rendered, result: { ...result, missing: [...result.missing, ...missingState.map((f) => f.path)] } };
  });
}
