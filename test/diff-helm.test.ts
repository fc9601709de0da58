// `homelab diff --helm` with the pinned helm on real charts (test/fixtures/charts, packaged with
// `helm package` and indexed with `helm repo index`) served over HTTP on 127.0.0.1.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { simpleGit } from "simple-git";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { CHART_CACHE, diffCommand } from "../generator/diff/command.ts";
import { helmDiffs, type HelmDiffOptions } from "../generator/diff/helm.ts";
import { objectKey, type RenderedTree } from "../generator/diff/trees.ts";
import { generate } from "../generator/generate.ts";
import { helm, kubectl } from "./support/tools.ts";
import { minimalConfig, tempRepo } from "./support/render.ts";

const charts = join(import.meta.dirname, "fixtures", "charts");
const root = join(import.meta.dirname, "..");
const cli = join(root, "bin", "homelab.js");

/** A chart repository folder: each chart packaged at the versions given. */
function chartRepository(packages: { chart: string; version: string; appVersion?: string }[]): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-charts-"));
  for (const p of packages) {
    execFileSync(helm, ["package", join(charts, p.chart), "--version", p.version, ...(p.appVersion ? ["--app-version", p.appVersion] : []), "--destination", dir], { stdio: "pipe" });
  }
  execFileSync(helm, ["repo", "index", dir], { stdio: "pipe" });
  return dir;
}

/** Serves `dir` on 127.0.0.1; `hang` answers nothing (a chart repository that never replies). */
async function serve(dir: string | "hang"): Promise<{ url: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? "");
    if (dir === "hang") return;
    const file = join(dir, decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname));
    if (!file.startsWith(dir) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { url: `http://127.0.0.1:${address.port}/`, server, requests };
}

const servers: Server[] = [];
const folders: string[] = [];
let repo: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  const dir = chartRepository([
    { chart: "kv-store", version: "0.3.1" },
    { chart: "kv-store", version: "0.4.0", appVersion: "1.5.0" },
    { chart: "echo", version: "1.0.0" },
  ]);
  folders.push(dir);
  repo = await serve(dir);
  servers.push(repo.server);
});

afterAll(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

const noWarning = (message: string) => {
  throw new Error(`unexpected warning: ${message}`);
};

/** A generated, committed repository with one Helm app per entry; `change` edits homelab.yaml and regenerates. */
async function committedRepo(apps: string) {
  const { dir, configPath } = tempRepo(`${minimalConfig}apps:\n${apps}`);
  await generate({ configPath });
  await simpleGit(dir).init().addConfig("user.email", "test@example.org").addConfig("user.name", "test").add(".").commit("tree");
  const change = async (edit: (text: string) => string) => {
    writeFileSync(configPath, edit(readFileSync(configPath, "utf8")));
    await generate({ configPath });
  };
  const diff = (chartTimeoutMs?: number) => diffCommand({ configPath, base: "HEAD", format: "text", warn: noWarning, helm: true, ...(chartTimeoutMs ? { chartTimeoutMs } : {}) });
  return { dir, configPath, change, diff };
}

const kvApp = (url: string, version = "0.3.1") => `  kv:\n    chart: {repository: ${url}, name: kv-store, version: ${version}}\n    values:\n      service: {port: 80}\n`;

describe("homelab diff --helm on generated trees", () => {
  test("a chart version bump shows what the new chart renders differently", async () => {
    const r = await committedRepo(kvApp(repo.url));
    await r.change((t) => t.replace("version: 0.3.1", "version: 0.4.0"));
    const text = await r.diff();
    expect(text).toContain("kv: chart kv-store 0.3.1 → 0.4.0; HelmRelease/kv/kv renders 2 changed object(s)");
    expect(text).toContain("== Deployment/kv/kv-kv-store (rendered by HelmRelease/kv/kv) (kv)");
    expect(text).toMatch(/- +image: ghcr\.io\/example\/kv-store:1\.4\.0\n\+ +image: ghcr\.io\/example\/kv-store:1\.5\.0/);
    // Charts are kept in the repository's git-ignored cache.
    expect(readdirSync(join(r.dir, CHART_CACHE), { recursive: true }).map(String)).toEqual(expect.arrayContaining([expect.stringMatching(/kv-store-0\.4\.0\.tgz$/)]));
  });

  test("a values change shows the rendered Service port; without --helm nothing is rendered", async () => {
    const r = await committedRepo(kvApp(repo.url));
    await r.change((t) => t.replace("port: 80}", "port: 8081}"));
    const text = await r.diff();
    expect(text).toContain("kv: values: service.port; HelmRelease/kv/kv renders 1 changed object(s)");
    expect(text).toMatch(/== Service\/kv\/kv-kv-store \(rendered by HelmRelease\/kv\/kv\)[\s\S]*- +port: 80\n\+ +port: 8081/);
    const plain = await diffCommand({ configPath: r.configPath, base: "HEAD", format: "text", warn: noWarning });
    expect(plain).not.toContain("rendered by");
  });

  test("the CLI: --helm renders with the pinned helm when HOMELAB_HELM names none", async () => {
    const r = await committedRepo(kvApp(repo.url));
    await r.change((t) => t.replace("port: 80}", "port: 8081}"));
    const { HOMELAB_HELM: _named, ...env } = process.env;
    const { stdout } = await promisify(execFile)(process.execPath, [cli, "diff", "--config", r.configPath, "--base", "HEAD", "--helm", "--format", "text"], { env });
    expect(stdout).toContain("kv: values: service.port; HelmRelease/kv/kv renders 1 changed object(s)");
  });

  test("with the chart cached, a render needs no chart repository", async () => {
    const dir = chartRepository([{ chart: "kv-store", version: "0.3.1" }]);
    folders.push(dir);
    const once = await serve(dir);
    const r = await committedRepo(kvApp(once.url));
    await r.change((t) => t.replace("port: 80}", "port: 8081}"));
    expect(await r.diff()).toContain("renders 1 changed object(s)");
    const fetched = once.requests.length;
    expect(fetched).toBe(2); // index.yaml and the archive, once
    once.server.close();
    expect(await r.diff()).toContain("renders 1 changed object(s)");
  });

  test("a chart that cannot be fetched is noted for its release; the rest of the diff still shows", async () => {
    const hanging = await serve("hang");
    servers.push(hanging.server);
    const apps = `${kvApp(repo.url)}  gone:\n    chart: {repository: ${repo.url}missing/, name: nothing, version: 1.0.0}\n    values: {a: 1}\n  slow:\n    chart: {repository: ${hanging.url}, name: slow, version: 1.0.0}\n    values: {a: 1}\n`;
    const r = await committedRepo(apps);
    await r.change((t) => t.replace("port: 80}", "port: 8081}").replaceAll("values: {a: 1}", "values: {a: 2}"));
    const started = Date.now();
    const text = await r.diff(1_000);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(text).toMatch(/gone: values: a; HelmRelease\/gone\/gone not rendered: .*index\.yaml: HTTP 404$/m);
    expect(text).toContain("slow: values: a; HelmRelease/slow/slow not rendered: no answer within 1 s\n");
    expect(text).toMatch(/== Service\/kv\/kv-kv-store \(rendered by HelmRelease\/kv\/kv\)[\s\S]*\+ +port: 8081/);
  });

  test("the markdown comment puts rendered objects under the summary and stays within its budget", async () => {
    const r = await committedRepo(kvApp(repo.url));
    await r.change((t) => t.replace("version: 0.3.1", "version: 0.4.0"));
    const comment = await diffCommand({ configPath: r.configPath, base: "HEAD", format: "markdown", warn: noWarning, helm: true });
    const summary = comment.indexOf("- `kv`: chart kv-store 0.3.1 → 0.4.0; HelmRelease/kv/kv renders 2 changed object(s)");
    expect(summary).toBeGreaterThan(0);
    expect(comment.indexOf("#### Rendered by helm")).toBeGreaterThan(summary);
    expect(comment.indexOf("#### Objects")).toBeGreaterThan(comment.indexOf("<code>Deployment/kv/kv-kv-store (rendered by HelmRelease/kv/kv)</code>"));
    expect(comment.length).toBeLessThanOrEqual(60_000);
  });
});

// Trees built by hand around the echo chart, for what the generated apps do not use:
// valuesFrom, SOPS-valued inputs, post-renderers, random values and lookup.
const NS = "echo";

function tree(objects: Record<string, any>[], k3s = "v1.36.3+k3s1"): RenderedTree {
  return { objects: new Map(objects.map((object) => [objectKey(object), { key: objectKey(object), unit: object.kind === "ConfigMap" && object.metadata.name === "echo-extra" ? "echo-extra" : "echo", object }])), config: { cluster: { k3s: { version: k3s } } } };
}

const source = (url: string) => ({ apiVersion: "source.toolkit.fluxcd.io/v1", kind: "HelmRepository", metadata: { name: "echo", namespace: NS }, spec: { url } });

function release(spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { name: "echo", namespace: NS },
    spec: { chart: { spec: { chart: "echo", version: "1.0.0", sourceRef: { kind: "HelmRepository", name: "echo" } } }, ...spec },
  };
}

const valuesConfigMap = (greeting: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "echo-extra", namespace: NS }, data: { "values.yaml": `greeting: ${greeting}\n` } });

/** A real SOPS file of the demo tree (its values are never decrypted here), moved to the echo namespace. */
function sopsSecret(): Record<string, any> {
  const object = parse(readFileSync(join(root, "apps", "vaultwarden", "vaultwarden-admin.sops.yaml"), "utf8")) as Record<string, any>;
  return { ...object, metadata: { ...object.metadata, name: "echo-sops", namespace: NS } };
}

describe("helmDiffs", () => {
  let options: HelmDiffOptions;
  beforeAll(() => {
    const cacheDir = mkdtempSync(join(tmpdir(), "homelab-chart-cache-"));
    folders.push(cacheDir);
    options = { cacheDir, helm, kubectl, fetchTimeoutMs: 10_000 };
  });

  test("a valuesFrom change (a ConfigMap another unit holds) renders the release anew", async () => {
    const spec = { valuesFrom: [{ kind: "ConfigMap", name: "echo-extra", optional: true }] };
    const [render] = await helmDiffs(tree([source(repo.url), release(spec), valuesConfigMap("hello")]), tree([source(repo.url), release(spec), valuesConfigMap("goodbye")]), options);
    expect(render?.release).toBe("HelmRelease/echo/echo");
    expect(render?.objects.map((o) => o.key)).toEqual(["ConfigMap/echo/echo-echo"]);
    expect(render?.objects[0]?.patch).toContain('-  greeting: hello\n+  greeting: goodbye');
  });

  test("a SOPS-valued input renders as a placeholder, never decrypted; rendered Secrets are masked", async () => {
    const secret = sopsSecret();
    const key = Object.keys(secret.data ?? secret.stringData)[0]!;
    const spec = { valuesFrom: [{ kind: "Secret", name: "echo-sops", valuesKey: key, targetPath: "password" }] };
    const [render] = await helmDiffs(tree([source(repo.url), secret]), tree([source(repo.url), release(spec), secret]), options);
    const text = render?.objects.map((o) => o.patch).join("\n") ?? "";
    expect(text).toContain(`+  passwordEcho: sops-encrypted:echo/echo-sops/${key}`);
    expect(text).toMatch(/\+ {2}password: <masked [0-9a-f]{8}>/);
    expect(text).not.toContain("ENC[");
    expect(text).not.toContain("password: sops-encrypted");
  });

  test("a SOPS Secret holding a whole values file is left out and said so", async () => {
    const secret = sopsSecret();
    const key = Object.keys(secret.data ?? secret.stringData)[0]!;
    const spec = { valuesFrom: [{ kind: "Secret", name: "echo-sops", valuesKey: key }], values: { greeting: "hi" } };
    const [render] = await helmDiffs(tree([source(repo.url), secret]), tree([source(repo.url), release(spec), secret]), options);
    expect(render?.notes).toContain(`values from Secret echo-sops (${key}) are SOPS-encrypted; rendered without them`);
  });

  test("renders as the cluster would: its Kubernetes version, the APIs the tree uses, the post-renderers", async () => {
    const serviceMonitor = { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "x", namespace: NS }, spec: {} };
    const patch = { patch: "- op: add\n  path: /metadata/labels\n  value: {team: blue}\n", target: { kind: "ConfigMap", name: "echo-echo" } };
    const [fresh] = await helmDiffs(tree([source(repo.url)]), tree([source(repo.url), release(), serviceMonitor], "v1.35.2+k3s1"), options);
    const added = fresh?.objects.find((o) => o.key === "ConfigMap/echo/echo-echo")?.patch ?? "";
    expect(added).toContain('+  kubeVersion: v1.35.2');
    expect(added).toContain('+  serviceMonitors: "true"');
    const [patched] = await helmDiffs(tree([source(repo.url), release()]), tree([source(repo.url), release({ postRenderers: [{ kustomize: { patches: [patch] } }] })]), options);
    expect(patched?.objects.map((o) => o.key)).toEqual(["ConfigMap/echo/echo-echo"]);
    expect(patched?.objects[0]?.patch).toMatch(/\+ {2}labels:\n\+ {4}team: blue/);
  });

  test("random values and lookup are marked noisy, not shown as changed", async () => {
    const [render] = await helmDiffs(
      tree([source(repo.url), release({ values: { randomToken: true } })]),
      tree([source(repo.url), release({ values: { randomToken: true, greeting: "changed" } })]),
      options,
    );
    expect(render?.objects.map((o) => o.key)).toEqual(["ConfigMap/echo/echo-echo"]);
    expect(render?.notes).toContain("renders differently every time (random values), so left out: Secret/echo/echo-token");
    expect(render?.notes).toContain("the chart uses `lookup`, which renders empty outside the cluster: the cluster may differ");
  });

  test("an unchanged release is not rendered", async () => {
    const same = tree([source(repo.url), release({ values: { greeting: "same" } })]);
    expect(await helmDiffs(same, same, options)).toEqual([]);
  });
});


test("the pull-request workflow posts the diff with --helm, rendering with the pinned helm and kubectl", () => {
  const workflow = parse(readFileSync(join(root, ".gitea", "workflows", "pull-request.yaml"), "utf8")) as { jobs: { check: { steps: { name?: string; run?: string; env?: Record<string, string> }[] } } };
  const step = workflow.jobs.check.steps.find((s) => s.name === "render-diff");
  expect(step?.run).toMatch(/^npm run -s diff -- --base .+ --helm /);
  expect(join(root, step?.env?.["HOMELAB_HELM"] ?? "")).toBe(helm);
  expect(join(root, step?.env?.["HOMELAB_KUBECTL"] ?? "")).toBe(kubectl);
});
