// The two sides of a render-diff: the tree at a git ref (unpacked into a temporary folder, the
// user's work tree untouched) and the working tree, each rendered the way Flux will see it:
// `kubectl kustomize` over every Flux Kustomization path.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { simpleGit } from "simple-git";
import { parseAllDocuments } from "yaml";
import { UserError } from "../errors.ts";
import { MANIFEST_PATH, parseManifest } from "../writer.ts";

const execFileAsync = promisify(execFile);

/** A rendered object and the Flux Kustomization that applies it. */
export interface TreeObject {
  readonly key: string;
  readonly unit: string;
  readonly object: Record<string, any>;
}

export interface RenderedTree {
  readonly objects: Map<string, TreeObject>;
  /** The homelab.yaml of that side, parsed (for versions the tree does not hold, e.g. k3s). */
  readonly config: Record<string, any>;
}

export function objectKey(object: Record<string, any>): string {
  const namespace = object.metadata?.namespace ? `${object.metadata.namespace}/` : "";
  return `${object.kind}/${namespace}${object.metadata?.name}`;
}

/** Unpacks the repository folder at `ref` into a temporary folder, with `git archive`. */
export async function checkoutToTemp(repoDir: string, ref: string): Promise<string> {
  const git = simpleGit(repoDir);
  if (!(await git.checkIsRepo())) throw new UserError(`${repoDir} is not in a git repository: there is no base to compare with`);
  try {
    await git.revparse(["--verify", `${ref}^{commit}`]);
  } catch {
    // CI checks out one commit by default: the base is then simply not fetched.
    const shallow = (await git.revparse(["--is-shallow-repository"]).catch(() => "false")).trim() === "true";
    throw new UserError(
      `the base "${ref}" does not exist in this repository ` +
        (shallow ? "— it is a shallow clone: fetch the base first (git fetch --unshallow, or git fetch origin main)" : "(try a branch, a tag or a commit, e.g. origin/main)"),
    );
  }
  const prefix = (await git.revparse(["--show-prefix"])).trim();
  const dir = mkdtempSync(join(tmpdir(), "homelab-diff-"));
  const unpacked = new Promise<void>((resolve, reject) => {
    const archive = spawn("git", ["archive", "--format=tar", ref, ...(prefix ? [prefix] : [])], { cwd: repoDir });
    const tar = spawn("tar", ["-x", "-C", dir]);
    // A tool that cannot start (not installed) or a pipe that breaks with it: an error, not a crash.
    const cannotRun = (error: NodeJS.ErrnoException) =>
      reject(new UserError(`cannot unpack the tree at ${ref}: ${error.code === "ENOENT" ? "homelab diff needs git and tar on the PATH" : error.message}`));
    archive.on("error", cannotRun);
    tar.on("error", cannotRun);
    tar.stdin.on("error", cannotRun);
    archive.stdout.pipe(tar.stdin);
    let failed = false;
    archive.on("close", (code) => {
      if (code !== 0) failed = true;
    });
    tar.on("close", (code) => (code === 0 && !failed ? resolve() : reject(new UserError(`cannot read the tree at ${ref}`))));
  });
  try {
    await unpacked;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return prefix ? join(dir, prefix) : dir;
}

export function kubectlBinary(): string {
  return process.env.HOMELAB_KUBECTL || "kubectl";
}

async function kustomize(dir: string): Promise<Record<string, any>[]> {
  try {
    const { stdout } = await execFileAsync(kubectlBinary(), ["kustomize", "--load-restrictor", "LoadRestrictionsNone", dir], { maxBuffer: 256 * 1024 * 1024 });
    return parseAllDocuments(stdout).map((d) => d.toJS() as Record<string, any>).filter((o) => o && o.kind);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new UserError("homelab diff renders with `kubectl kustomize`: install kubectl, or point HOMELAB_KUBECTL at one");
    }
    throw new UserError(`kubectl kustomize ${dir} failed: ${String((error as { stderr?: string }).stderr ?? error).split("\n")[0]}`);
  }
}

/** A file of the tree; one that is missing or unreadable says which tree and which Flux Kustomization needs it. */
function readTreeFile(root: string, path: string, why: string): string {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch (error) {
    throw new UserError(`${why} ${path}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); run \`npm run generate\``);
  }
}

/** Which Flux Kustomization applies each object: read from the files each path lists. */
function objectsOfPath(root: string, side: string, unit: Record<string, any>): string[] {
  const path = String(unit.spec?.path);
  const why = `${side}: the Flux Kustomization ${unit.metadata.name} applies`;
  const kustomization = parseAllDocuments(readTreeFile(root, join(path, "kustomization.yaml"), why))[0]?.toJS() as { resources?: string[] } | null;
  return (kustomization?.resources ?? []).flatMap((file) =>
    parseAllDocuments(readTreeFile(root, join(path, file), why))
      .map((d) => d.toJS() as Record<string, any>)
      .filter((o) => o && o.kind)
      .map(objectKey),
  );
}

/** Every object Flux would apply from the tree in `root`, keyed by kind/namespace/name. */
export async function renderTree(root: string, side: string): Promise<RenderedTree> {
  const manifestPath = join(root, MANIFEST_PATH);
  if (!existsSync(manifestPath)) throw new UserError(`${side} is not a homelab tree: it has no ${MANIFEST_PATH}`);
  const manifest = parseManifest(readFileSync(manifestPath, "utf8"));
  if ("problem" in manifest) throw new UserError(`${side}: ${MANIFEST_PATH} is not the generator's manifest (not JSON with a "files" map); run \`npm run generate\``);
  const clusterFile = Object.keys(manifest.files).find((p) => /^clusters\/[^/]+\/kustomization\.yaml$/.test(p));
  if (!clusterFile) throw new UserError(`${side} is not a homelab tree: no clusters/<name>/kustomization.yaml`);
  const clusterDir = clusterFile.slice(0, -"/kustomization.yaml".length);

  const objects = new Map<string, TreeObject>();
  const rootObjects = await kustomize(join(root, clusterDir));
  const units = rootObjects.filter((o) => o.apiVersion === "kustomize.toolkit.fluxcd.io/v1" && o.kind === "Kustomization");
  for (const object of rootObjects) {
    // A Flux Kustomization belongs to the component it applies; the rest is Flux itself.
    const unit = units.includes(object) ? (object.metadata.name as string) : "flux-system";
    objects.set(objectKey(object), { key: objectKey(object), unit, object });
  }
  // One kustomize run over every path (a kustomization in a scratch folder lists them all).
  const unitOf = new Map(units.flatMap((unit) => objectsOfPath(root, side, unit).map((key) => [key, unit.metadata.name as string] as const)));
  const scratch = mkdtempSync(join(tmpdir(), "homelab-diff-all-"));
  try {
    writeFileSync(join(scratch, "kustomization.yaml"), JSON.stringify({ resources: units.map((u) => relative(scratch, join(root, u.spec.path))) }));
    for (const object of await kustomize(scratch)) {
      const key = objectKey(object);
      objects.set(key, { key, unit: unitOf.get(key) ?? "unknown", object });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const configPath = join(root, "homelab.yaml");
  const config = existsSync(configPath) ? ((parseAllDocuments(readFileSync(configPath, "utf8"))[0]?.toJS() ?? {}) as Record<string, any>) : {};
  return { objects, config };
}
