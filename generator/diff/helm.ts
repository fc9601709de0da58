// `homelab diff --helm`: what a chart makes of a change. Every HelmRelease whose chart, values
// (valuesFrom included) or post-renderers differ between the two trees is rendered on both sides
// with `helm template`, the way helm-controller would render it, and diffed per rendered object.
//
// Flux semantics followed (fluxcd/helm-controller v1.6.3 docs/spec/v2/helmreleases.md):
// valuesFrom entries merge in order, inline values over them, and a targetPath entry over
// everything ("Values references"); valuesKey defaults to values.yaml; the release name is
// [<targetNamespace>-]<name> ("Release name"); post-renderers are kustomize patches and images,
// applied in order ("Post renderers"). helm's flags (--kube-version, --api-versions, --values,
// --namespace; `helm pull --version --destination` for OCI charts) are those of the pinned helm
// v4.1.4's `--help`.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { sha256 } from "../hash.ts";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { createTwoFilesPatch } from "diff";
import { parse, parseAllDocuments } from "yaml";
import { catalog } from "../catalog.ts";
import { yamlText } from "../render/yaml.ts";
import { objectKey, type RenderedTree } from "./trees.ts";

const execFileAsync = promisify(execFile);

export interface HelmDiffOptions {
  /** Downloaded charts, kept between runs (a git-ignored folder). */
  readonly cacheDir: string;
  readonly helm: string;
  /** For post-renderers (kustomize patches). */
  readonly kubectl: string;
  /** Per chart: fetching its index and archive together. */
  readonly fetchTimeoutMs: number;
}

/** One HelmRelease rendered on both sides. */
export interface ReleaseRender {
  readonly release: string;
  readonly unit: string;
  /** Why the release could not be rendered (a chart that cannot be fetched, a failing template). */
  readonly failure?: string;
  /** Said in the summary: noisy objects, lookup, values left out. */
  readonly notes: string[];
  readonly objects: { readonly key: string; readonly patch: string }[];
}

type Values = Record<string, unknown>;
type Obj = Record<string, any>;

interface ChartRef {
  /** A chart repository (HTTP index.yaml) or an OCI reference (oci://…/chart). */
  readonly repository: string;
  readonly chart: string;
  readonly version: string;
  readonly oci: boolean;
}

interface ReleaseInputs {
  readonly chart: ChartRef | string;
  readonly values: Values;
  readonly postRenderers: unknown[];
  readonly releaseName: string;
  readonly namespace: string;
  /** Values that could not be read (encrypted whole files, missing references). */
  readonly valueNotes: string[];
}

const isMap = (value: unknown): value is Values => value !== null && typeof value === "object" && !Array.isArray(value);

/** Helm's coalescing: maps merge key by key, anything else replaces. */
function merge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = isMap(out[key]) && isMap(value) ? merge(out[key] as Values, value) : value;
  return out;
}

/** A --set style path (dots separate, `\.` is a literal dot) and value (typed as --set types it unless literal). */
function setPath(values: Values, path: string, raw: string, literal: boolean): Values {
  const parts = path.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, "."));
  const typed: unknown = literal ? raw : raw === "true" ? true : raw === "false" ? false : /^-?(0|[1-9]\d*)$/.test(raw) ? Number(raw) : raw;
  const nested = parts.reduceRight<unknown>((inner, key) => ({ [key]: inner }), typed) as Values;
  return merge(values, nested);
}

/** A SOPS value is never decrypted: it renders as a placeholder naming where it comes from. */
const sopsPlaceholder = (namespace: string, name: string, key: string) => `sops-encrypted:${namespace}/${name}/${key}`;

function referencedValue(tree: RenderedTree, namespace: string, ref: Obj): { text?: string; encrypted?: boolean; missing?: boolean } {
  const object = tree.objects.get(`${ref.kind}/${namespace}/${ref.name}`)?.object;
  if (!object) return { missing: true };
  const key = String(ref.valuesKey ?? "values.yaml");
  if (ref.kind === "ConfigMap") return { text: object.data?.[key] };
  const stored = object.stringData?.[key] ?? object.data?.[key];
  if (stored === undefined) return {};
  if (object.sops || (typeof stored === "string" && stored.startsWith("ENC["))) return { encrypted: true };
  return { text: object.stringData?.[key] ?? Buffer.from(String(stored), "base64").toString("utf8") };
}

function chartOf(tree: RenderedTree, release: Obj): ChartRef | string {
  const namespace = release.metadata.namespace as string;
  const spec = release.spec ?? {};
  if (spec.chartRef) {
    const ref = spec.chartRef;
    const source = tree.objects.get(`${ref.kind}/${ref.namespace ?? namespace}/${ref.name}`)?.object;
    if (!source) return `its ${ref.kind} ${ref.name} is not in the tree`;
    const tag = source.spec?.ref?.tag;
    if (!tag) return `${ref.kind} ${ref.name} pins no tag (only tags are rendered)`;
    const url = String(source.spec.url);
    return { repository: url, chart: url.split("/").pop() ?? "", version: String(tag), oci: true };
  }
  const chart = spec.chart?.spec;
  if (!chart) return "it names no chart";
  const sourceRef = chart.sourceRef ?? {};
  const source = tree.objects.get(`${sourceRef.kind}/${sourceRef.namespace ?? namespace}/${sourceRef.name}`)?.object;
  if (!source) return `its ${sourceRef.kind} ${sourceRef.name} is not in the tree`;
  const url = String(source.spec?.url ?? "");
  const oci = source.spec?.type === "oci" || url.startsWith("oci://");
  return { repository: oci ? `${url.replace(/\/$/, "")}/${chart.chart}` : url, chart: String(chart.chart), version: String(chart.version ?? ""), oci };
}

function releaseInputs(tree: RenderedTree, release: Obj): ReleaseInputs {
  const namespace = release.metadata.namespace as string;
  const spec = release.spec ?? {};
  const valueNotes: string[] = [];
  let values: Values = {};
  const targeted: Obj[] = [];
  for (const ref of (spec.valuesFrom ?? []) as Obj[]) {
    const found = referencedValue(tree, namespace, ref);
    const label = `${ref.kind} ${ref.name}${ref.valuesKey ? ` (${ref.valuesKey})` : ""}`;
    if (found.missing) {
      // Made in the cluster (or by a unit not yet applied): the render goes without it.
      if (!ref.optional) valueNotes.push(`values from ${label} are not in the tree; rendered without them`);
      continue;
    }
    if (ref.targetPath) {
      targeted.push({ ...ref, value: found.encrypted ? sopsPlaceholder(namespace, ref.name, String(ref.valuesKey ?? "values.yaml")) : found.text ?? "" });
      continue;
    }
    if (found.encrypted) {
      valueNotes.push(`values from ${label} are SOPS-encrypted; rendered without them`);
      continue;
    }
    const parsed: unknown = parse(found.text ?? "");
    if (isMap(parsed)) values = merge(values, parsed);
  }
  values = merge(values, isMap(spec.values) ? spec.values : {});
  for (const ref of targeted) values = setPath(values, String(ref.targetPath), String(ref.value), ref.literal === true);
  const targetNamespace = spec.targetNamespace as string | undefined;
  return {
    chart: chartOf(tree, release),
    values,
    postRenderers: spec.postRenderers ?? [],
    releaseName: spec.releaseName ?? (targetNamespace ? `${targetNamespace}-${release.metadata.name}` : release.metadata.name),
    namespace: targetNamespace ?? namespace,
    valueNotes,
  };
}

/** The cluster's version for Capabilities.KubeVersion: the side's k3s version, else the catalog's. */
function kubeVersion(tree: RenderedTree): string {
  const version = String(tree.config.cluster?.k3s?.version ?? catalog.k3s.version);
  // k3s's "+k3s1" suffix is build metadata, not part of the Kubernetes version.
  const core = /^v?(\d+\.\d+\.\d+)/.exec(version)?.[1];
  return core ? `v${core}` : version;
}

/** Capabilities.APIVersions beyond helm's built-ins: every group/version (and /Kind) the tree's objects and CRDs use. */
function apiVersions(tree: RenderedTree): string[] {
  const found = new Set<string>();
  for (const { object } of tree.objects.values()) {
    if (typeof object.apiVersion === "string" && object.apiVersion.includes("/")) {
      found.add(object.apiVersion);
      found.add(`${object.apiVersion}/${object.kind}`);
    }
    if (object.kind === "CustomResourceDefinition") {
      for (const version of object.spec?.versions ?? []) {
        found.add(`${object.spec.group}/${version.name}`);
        found.add(`${object.spec.group}/${version.name}/${object.spec.names?.kind}`);
      }
    }
  }
  return [...found].sort();
}

async function fetchBytes(url: string, signal: AbortSignal): Promise<Buffer> {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

function writeAtomically(path: string, content: Buffer): void {
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, content);
  renameSync(partial, path);
}

/** Fetches under way, by archive path: both sides of a release (and releases sharing a chart) fetch once. */
const inFlight = new Map<string, Promise<string>>();

/** The chart archive, from the cache or its repository; throws with why it cannot be had. */
function fetchChart(chart: ChartRef, options: HelmDiffOptions): Promise<string> {
  const folder = join(options.cacheDir, sha256(chart.repository).slice(0, 16));
  const file = join(folder, `${chart.chart}-${chart.version}.tgz`);
  if (existsSync(file)) return Promise.resolve(file);
  const running = inFlight.get(file) ?? download(chart, options, folder, file).finally(() => inFlight.delete(file));
  inFlight.set(file, running);
  return running;
}

async function download(chart: ChartRef, options: HelmDiffOptions, folder: string, file: string): Promise<string> {
  if (chart.oci) {
    mkdirSync(folder, { recursive: true });
    const scratch = mkdtempSync(join(folder, "pull-"));
    try {
      await execFileAsync(options.helm, ["pull", chart.repository, "--version", chart.version, "--destination", scratch], { timeout: options.fetchTimeoutMs });
      const pulled = join(scratch, `${chart.chart}-${chart.version.replace(/^v/, "")}.tgz`);
      renameSync(existsSync(pulled) ? pulled : join(scratch, `${chart.chart}-${chart.version}.tgz`), file);
    } catch (error) {
      const e = error as { killed?: boolean; stderr?: string; message: string };
      throw new Error(e.killed ? `no answer within ${options.fetchTimeoutMs / 1000} s` : (e.stderr || e.message).trim().split("\n")[0]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return file;
  }
  const signal = AbortSignal.timeout(options.fetchTimeoutMs);
  try {
    const base = chart.repository.endsWith("/") ? chart.repository : `${chart.repository}/`;
    const index = parse((await fetchBytes(new URL("index.yaml", base).href, signal)).toString("utf8")) as { entries?: Record<string, { version: string; urls?: string[] }[]> };
    const entry = index?.entries?.[chart.chart]?.find((e) => e.version === chart.version || e.version === chart.version.replace(/^v/, ""));
    const url = entry?.urls?.[0];
    if (!url) throw new Error(`${chart.chart} ${chart.version} is not in ${base}index.yaml`);
    const archive = await fetchBytes(new URL(url, base).href, signal);
    mkdirSync(folder, { recursive: true });
    writeAtomically(file, archive);
    return file;
  } catch (error) {
    if ((error as Error).name === "TimeoutError") throw new Error(`no answer within ${options.fetchTimeoutMs / 1000} s`);
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new Error(cause ? `${chart.repository}: ${cause}` : (error as Error).message);
  }
}

/** Whether the chart's templates call `lookup`: helm template answers it with nothing, the cluster with its objects. */
function usesLookup(archive: string): boolean {
  const tar = gunzipSync(readFileSync(archive));
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString("utf8").replace(/\0.*$/s, "");
    // ustar: a path over 100 bytes is split into prefix (offset 345) and name (offset 0).
    const prefix = field(345, 155);
    const name = `${prefix}${prefix ? "/" : ""}${field(0, 100)}`;
    const size = parseInt(field(124, 12).trim() || "0", 8);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    if (/\/templates\//.test(name) && /\blookup\s+"/.test(body.toString("utf8"))) return true;
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return false;
}

/** Per process: equal Secret values get equal masks within one diff, and nothing is learnt across runs. */
const maskKey = randomBytes(32);

function masked(object: Obj): Obj {
  if (object.kind !== "Secret") return object;
  const mask = (data: Record<string, unknown> | undefined) =>
    data && Object.fromEntries(Object.entries(data).map(([k, v]) => [k, `<masked ${sha256(Buffer.concat([maskKey, Buffer.from(String(v))])).slice(0, 8)}>`]));
  return { ...object, ...(object.data ? { data: mask(object.data) } : {}), ...(object.stringData ? { stringData: mask(object.stringData) } : {}) };
}

async function postRender(manifest: string, postRenderers: unknown[], options: HelmDiffOptions): Promise<string> {
  let current = manifest;
  for (const renderer of postRenderers as Obj[]) {
    const kustomize = renderer.kustomize;
    if (!kustomize) continue;
    const dir = mkdtempSync(join(tmpdir(), "homelab-post-render-"));
    try {
      writeFileSync(join(dir, "rendered.yaml"), current);
      writeFileSync(join(dir, "kustomization.yaml"), JSON.stringify({ resources: ["rendered.yaml"], ...(kustomize.patches ? { patches: kustomize.patches } : {}), ...(kustomize.images ? { images: kustomize.images } : {}) }));
      current = (await execFileAsync(options.kubectl, ["kustomize", dir], { maxBuffer: 256 * 1024 * 1024 })).stdout;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return current;
}

/** The release rendered: rendered object key → its YAML (Secrets masked). */
async function render(archive: string, inputs: ReleaseInputs, tree: RenderedTree, options: HelmDiffOptions): Promise<Map<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), "homelab-helm-"));
  try {
    const valuesFile = join(dir, "values.yaml");
    writeFileSync(valuesFile, JSON.stringify(inputs.values));
    const args = ["template", inputs.releaseName, archive, "--namespace", inputs.namespace, "--values", valuesFile, "--kube-version", kubeVersion(tree)];
    for (const api of apiVersions(tree)) args.push("--api-versions", api);
    let manifest: string;
    try {
      manifest = (await execFileAsync(options.helm, args, { maxBuffer: 256 * 1024 * 1024 })).stdout;
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === "ENOENT") throw new Error("homelab diff --helm renders with `helm template`: install helm, or point HOMELAB_HELM at one");
      throw new Error(`helm template failed: ${(e.stderr || e.message).trim().split("\n")[0]}`);
    }
    if (inputs.postRenderers.length > 0) manifest = await postRender(manifest, inputs.postRenderers, options);
    const objects = new Map<string, string>();
    for (const doc of parseAllDocuments(manifest)) {
      const object = doc.toJS() as Obj | null;
      if (!object?.kind) continue;
      objects.set(objectKey({ ...object, metadata: { ...object.metadata, namespace: object.metadata?.namespace ?? inputs.namespace } }), yamlText(masked(object)));
    }
    return objects;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sameInputs = (a: ReleaseInputs | undefined, b: ReleaseInputs | undefined) =>
  JSON.stringify(a && [a.chart, a.values, a.postRenderers, a.releaseName, a.namespace]) === JSON.stringify(b && [b.chart, b.values, b.postRenderers, b.releaseName, b.namespace]);

async function renderSide(tree: RenderedTree, inputs: ReleaseInputs, options: HelmDiffOptions, twice: boolean) {
  if (typeof inputs.chart === "string") throw new Error(inputs.chart);
  const archive = await fetchChart(inputs.chart, options);
  const renders = await Promise.all((twice ? [0, 1] : [0]).map(() => render(archive, inputs, tree, options)));
  return { renders, lookup: usesLookup(archive) };
}

async function releaseRender(key: string, base: RenderedTree, head: RenderedTree, options: HelmDiffOptions): Promise<ReleaseRender | undefined> {
  const before = base.objects.get(key);
  const after = head.objects.get(key);
  const inputsBefore = before && releaseInputs(base, before.object);
  const inputsAfter = after && releaseInputs(head, after.object);
  if (sameInputs(inputsBefore, inputsAfter)) return undefined;
  const unit = (after ?? before)!.unit;
  const notes = [...new Set([...(inputsBefore?.valueNotes ?? []), ...(inputsAfter?.valueNotes ?? [])])];
  let sides: [Awaited<ReturnType<typeof renderSide>> | undefined, Awaited<ReturnType<typeof renderSide>> | undefined];
  try {
    // The head twice: what differs between two renders of the same input is noise (random values).
    sides = await Promise.all([inputsBefore && renderSide(base, inputsBefore, options, false), inputsAfter && renderSide(head, inputsAfter, options, true)]);
  } catch (error) {
    return { release: key, unit, failure: (error as Error).message, notes, objects: [] };
  }
  const [old, now] = sides;
  const oldObjects = old?.renders[0] ?? new Map<string, string>();
  const newObjects = now?.renders[0] ?? new Map<string, string>();
  const noisy = new Set([...newObjects].filter(([k, text]) => now?.renders[1]?.get(k) !== text).map(([k]) => k));
  if (noisy.size > 0) notes.push(`renders differently every time (random values), so left out: ${[...noisy].sort().join(", ")}`);
  if (old?.lookup || now?.lookup) notes.push("the chart uses `lookup`, which renders empty outside the cluster: the cluster may differ");
  const objects: ReleaseRender["objects"] = [];
  for (const objectKeyText of [...new Set([...oldObjects.keys(), ...newObjects.keys()])].sort()) {
    if (noisy.has(objectKeyText)) continue;
    const a = oldObjects.get(objectKeyText) ?? "";
    const b = newObjects.get(objectKeyText) ?? "";
    if (a === b) continue;
    const patch = createTwoFilesPatch(a ? `a/${objectKeyText}` : "/dev/null", b ? `b/${objectKeyText}` : "/dev/null", a, b, "", "", { context: 3 })
      .split("\n")
      .filter((line) => !line.startsWith("==="))
      .join("\n")
      .trimEnd();
    objects.push({ key: objectKeyText, patch });
  }
  return { release: key, unit, notes, objects };
}

/** Every HelmRelease whose render inputs changed, rendered on both sides and diffed. */
export async function helmDiffs(base: RenderedTree, head: RenderedTree, options: HelmDiffOptions): Promise<ReleaseRender[]> {
  const releases = [...new Set([...base.objects.values(), ...head.objects.values()].filter((o) => o.object.kind === "HelmRelease").map((o) => o.key))].sort();
  const renders = await Promise.all(releases.map((key) => releaseRender(key, base, head, options)));
  return renders.filter((r): r is ReleaseRender => r !== undefined);
}
