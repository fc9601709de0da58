// `homelab status` against a stand-in API server (HTTPS on 127.0.0.1, bearer token) that answers
// with recorded Flux objects (test/fixtures/k8s-api/status), read through the real
// @kubernetes/client-node from a kubeconfig file.
import { readFileSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { UserError } from "../generator/errors.ts";
import { formatStatus, useColor } from "../generator/status/format.ts";
import { buildReport, classify, type FluxObject } from "../generator/status/report.ts";
import { statusCommand, type StatusOptions } from "../generator/status/command.ts";
import { errorText, parseDuration } from "../generator/status/kube.ts";
import { apiStatus, fixture, startFakeApi, type ApiRequest, type FakeApi } from "./support/fake-api.ts";
import { testAuthority } from "./support/pki.ts";

const PATHS = {
  kustomizations: "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations",
  helmReleases: "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
  gitRepository: "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system",
};
/** The ConfigMap first boot writes about itself (bootstrap.sh.hbs, publish). */
const FIRST_BOOT_PATH = "/api/v1/namespaces/flux-system/configmaps/homelab-bootstrap";
/** Its data, when the cluster has it. */
let firstBoot: Record<string, string> | undefined;
const HEAD = "main@sha1:4f2a9c81e07d3b65a1f0c9e2d8b7a6c5f4e3d2c1";

interface Snapshot {
  readonly kustomizations: string | null;
  readonly helmReleases: string;
  /** Every read answers 503, as an API server that is restarting. */
  readonly unavailable?: boolean;
}
const bringup: Snapshot = { kustomizations: "kustomizations-bringup.json", helmReleases: "helmreleases-bringup.json" };
const stalled: Snapshot = { kustomizations: "kustomizations-bringup.json", helmReleases: "helmreleases-stalled.json" };
const ready: Snapshot = { kustomizations: "kustomizations-ready.json", helmReleases: "helmreleases-ready.json" };
/** Before Flux is installed: no Kustomization API. */
const noFlux: Snapshot = { kustomizations: null, helmReleases: "helmreleases-ready.json" };
const restarting: Snapshot = { ...bringup, unavailable: true };

const load = (name: string) => fixture(`status/${name}`);

/**
 * What the server answers, poll by poll. A poll reads each of the three paths once (in any
 * order, concurrently), so a path asked for again starts the next poll.
 */
let timeline: Snapshot[] = [];
let polls = 0;
let served = new Set<string>();
let api: FakeApi;

function route(request: ApiRequest) {
  if (request.method === "GET" && request.path === FIRST_BOOT_PATH) {
    return firstBoot ? { body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "homelab-bootstrap", namespace: "flux-system" }, data: firstBoot } } : undefined;
  }
  if (request.method !== "GET" || !Object.values(PATHS).includes(request.path)) return undefined;
  if (polls === 0 || served.has(request.path)) {
    polls++;
    served = new Set();
  }
  served.add(request.path);
  const snapshot = timeline[Math.min(polls - 1, timeline.length - 1)] ?? ready;
  if (snapshot.unavailable) return apiStatus(503, "ServiceUnavailable", "the API server is shutting down");
  switch (request.path) {
    case PATHS.kustomizations:
      return snapshot.kustomizations ? { body: load(snapshot.kustomizations) } : apiStatus(404, "NotFound", "the server could not find the requested resource");
    case PATHS.helmReleases:
      return { body: load(snapshot.helmReleases) };
    default:
      return { body: load("gitrepository-flux-system.json") };
  }
}

beforeAll(async () => {
  const ca = await testAuthority("home", "home.arpa");
  api = await startFakeApi({ tls: await ca.issue({ ips: ["127.0.0.1"] }), rootPem: ca.rootPem, route });
});
afterAll(() => api?.close());
beforeEach(() => {
  firstBoot = undefined;
  polls = 0;
  served = new Set();
  api.requests.length = 0;
});

async function run(snapshots: Snapshot[], options: Partial<StatusOptions> = {}): Promise<{ code: number; lines: string[]; text: string }> {
  timeline = snapshots;
  const lines: string[] = [];
  const code = await statusCommand({ kubeconfig: api.kubeconfig, color: false, out: (line) => lines.push(line), ...options });
  return { code, lines, text: lines.join("\n") };
}

const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "");

describe("homelab status", () => {
  test("reads Kustomizations, HelmReleases of all namespaces, the root GitRepository and first boot's ConfigMap, authenticated", async () => {
    await run([ready]);
    const paths = api.requests.map((r) => `${r.method} ${r.path}`).sort();
    expect(paths).toEqual([`GET ${PATHS.kustomizations}`, `GET ${PATHS.gitRepository}`, `GET ${PATHS.helmReleases}`, `GET ${FIRST_BOOT_PATH}`].sort());
    expect(api.requests.every((r) => r.headers.authorization === "Bearer test-token-not-a-secret")).toBe(true);
  });

  test("groups by phase, HelmReleases under the Kustomization that applied them, other repositories left out", async () => {
    const { text, lines } = await run([bringup]);
    const phases = lines.filter((line) => /^\d-/.test(line));
    expect(phases).toEqual(["1-cluster", "2-storage", "3-network", "4-monitoring", "6-apps", "7-extras"]);
    // The root sync (phase 1) applied flux-operator; the cert-manager HelmRelease sits under its Kustomization.
    const section = (phase: string) => text.split(`\n${phase}\n`)[1]?.split("\n\n")[0] ?? "";
    expect(section("1-cluster")).toMatch(/Kustomization flux-system[^\n]*\n[^\n]*HelmRelease flux-system\/flux-operator/);
    expect(section("3-network")).toMatch(/Kustomization cert-manager [^\n]*\n +Progressing: [^\n]*\n[^\n]*HelmRelease cert-manager\/cert-manager/);
    expect(section("2-storage")).toContain("HelmRelease longhorn-system/longhorn");
    // podinfo belongs to another GitRepository: neither its Kustomization nor its HelmRelease is listed.
    expect(text).not.toContain("podinfo");
    expect(text).toContain("source  GitRepository flux-system/flux-system at main@sha1:4f2a9c8");
  });

  test("ready, progressing, waiting, failed and suspended, with reason and message", async () => {
    const { text, code } = await run([bringup]);
    expect(text).toMatch(/ready +Kustomization longhorn /);
    expect(text).toMatch(/progressing +Kustomization cert-manager /);
    expect(text).toMatch(/progressing +HelmRelease cert-manager\/cert-manager /);
    expect(text).toContain("Progressing: Running 'upgrade' action with timeout of 10m0s");
    expect(text).toMatch(/suspended +Kustomization home-assistant /);
    expect(text).toMatch(/failed +Kustomization minecraft /);
    expect(text).toMatch(/failed +HelmRelease minecraft\/minecraft /);
    expect(text).toContain("InstallFailed: Helm install failed for release minecraft/minecraft with chart minecraft@5.1.2: context deadline exceeded");
    expect(text).toContain("20 objects: 11 ready, 2 progressing, 4 waiting, 2 failed, 1 suspended; 8 Kustomization(s) behind the branch head");
    // Flux still retries minecraft's install: not yet reported as given up.
    expect(text).not.toContain("Flux gave up");
    expect(code).toBe(1);
  });

  test("what a waiting object waits on: its dependsOn entries that are not Ready", async () => {
    const { text } = await run([bringup]);
    expect(text).toMatch(/waiting +Kustomization step-ca +[^\n]*\n +waiting on flux-system\/cert-manager \(progressing\)/);
    expect(text).toMatch(/waiting +Kustomization step-ca-config +[^\n]*\n +waiting on flux-system\/step-ca \(waiting\)/);
    // monitoring depends on longhorn, step-ca-config and traefik: only the one not Ready is named.
    expect(text).toMatch(/Kustomization monitoring +[^\n]*\n +waiting on flux-system\/step-ca-config \(waiting\)\n/);
  });

  test("the revision applied against the branch head", async () => {
    const { text } = await run([bringup]);
    expect(text).toMatch(/Kustomization longhorn +main@sha1:4f2a9c8\n/);
    expect(text).toMatch(/Kustomization longhorn-config +main@sha1:9b1e6d0, behind head main@sha1:4f2a9c8/);
    expect(text).toMatch(/HelmRelease cert-manager\/cert-manager +chart v1.20.2, attempted v1.21.1/);
    expect(text).toMatch(/HelmRelease longhorn-system\/longhorn +chart 1.12.1\n/);
  });

  test("exit 0 when nothing failed", async () => {
    const { code, text } = await run([ready]);
    expect(code).toBe(0);
    // home-assistant is suspended at an older commit: said, but not a failure.
    expect(text).toContain("20 objects: 19 ready, 1 suspended; 1 Kustomization(s) behind the branch head");
  });

  test("plain text when color is false, ANSI colours when true, the same words either way", async () => {
    const plain = await run([bringup], { color: false });
    const colored = await run([bringup], { color: true });
    expect(plain.text).not.toContain("\u001b[");
    expect(colored.text).toContain("\u001b[32mready"); // green
    expect(colored.text).toContain("\u001b[31mfailed"); // red
    expect(colored.text).toContain("\u001b[1m3-network\u001b[0m"); // bold phase
    expect(stripAnsi(colored.text)).toBe(plain.text);
  });

  test("--wait: exits 0 once every object is Ready at the head (the answers change between polls)", async () => {
    const { code, text } = await run([bringup, bringup, ready], { wait: true, intervalMs: 20, timeoutMs: 10_000 });
    expect(code).toBe(0);
    expect(polls).toBe(3);
    expect(text).toMatch(/\] 3-network Kustomization cert-manager: progressing → ready/);
    expect(text).toMatch(/\] 7-extras HelmRelease minecraft\/minecraft: failed → ready/);
    expect(text).toContain("all 20 objects Ready at main@sha1:4f2a9c8");
  });

  test("--wait: exits 1 when Flux gives up on an object (Stalled)", async () => {
    const { code, text } = await run([bringup, stalled], { wait: true, intervalMs: 20, timeoutMs: 10_000 });
    expect(code).toBe(1);
    expect(polls).toBe(2);
    expect(text).toContain("InstallFailed: Helm install failed for release minecraft/minecraft with chart minecraft@5.1.2: context deadline exceeded; Failed to install after 4 attempt(s) (Flux gave up; fix and commit)");
    expect(text).toMatch(/failed after [\d.]+s: HelmRelease minecraft\/minecraft \(Flux will not retry this spec\)$/);
  });

  test("--wait: exits 1 on timeout, naming what is not Ready", async () => {
    const started = Date.now();
    const { code, text } = await run([bringup], { wait: true, intervalMs: 50, timeoutMs: 400 });
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(polls).toBeGreaterThan(2);
    expect(text).toMatch(/timed out after [\d.]+s: not Ready at the head: .*Kustomization flux-system\/cert-manager \(progressing\)/);
    expect(text).toContain("Kustomization flux-system/longhorn-config (ready)"); // ready, but behind the head
    expect(text).not.toContain("home-assistant (suspended)");
  });

  test("--wait: a timeout after the server stopped answering shows the last report and says the last read failed", async () => {
    const { code, text } = await run([bringup, restarting], { wait: true, intervalMs: 20, timeoutMs: 400 });
    expect(code).toBe(1);
    expect(text.match(/^source {2}GitRepository/gm)).toHaveLength(2); // the last report, printed again
    expect(text).toMatch(
      new RegExp(`timed out after [\\d.]+s: not Ready at the head: .*; the last read: cannot read the Flux objects at ${api.url.replaceAll(".", "\\.")}: HTTP 503: the API server is shutting down$`),
    );
  });

  test("--wait: waits through a cluster without Flux yet", async () => {
    const { code, text } = await run([noFlux, noFlux, ready], { wait: true, intervalMs: 20, timeoutMs: 10_000 });
    expect(code).toBe(0);
    expect(text.match(/Flux is not installed/g)).toHaveLength(1); // said once, not every poll
  });

  test("without --wait, a cluster without Flux or an unreachable server is a UserError", async () => {
    await expect(run([noFlux])).rejects.toThrow(/Flux is not installed/);
    // The same kubeconfig, pointed at a port nobody listens on (any more).
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const unreachable = `${api.kubeconfig}-unreachable`;
    writeFileSync(unreachable, readFileSync(api.kubeconfig, "utf8").replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`));
    const error = await statusCommand({ kubeconfig: unreachable, color: false, out: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(String((error as Error).message)).toMatch(new RegExp(`reading the Flux objects at https://127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`));
  });

  test("first boot stuck before Flux: the error says which step and why", async () => {
    firstBoot = { step: "disk", problem: "the filesystem of /var/lib/longhorn has 9 GiB; this tree's volumes need at least 64 GiB" };
    await expect(run([noFlux])).rejects.toThrow(/Flux is not installed: .*; first boot is stuck in step disk: the filesystem of \/var\/lib\/longhorn has 9 GiB; this tree's volumes need at least 64 GiB$/);
    // --wait times out on it with the same words.
    await expect(run([noFlux], { wait: true, intervalMs: 20, timeoutMs: 300 })).rejects.toThrow(/timed out after .*first boot is stuck in step disk: the filesystem of \/var\/lib\/longhorn has 9 GiB/);
  });

  test("first boot still running is shown above the report; once complete, nothing", async () => {
    firstBoot = { step: "gitea", problem: "" };
    expect((await run([ready])).lines[0]).toBe("first boot is in step gitea");
    firstBoot = { step: "gitea", problem: "organisation: still failing after 20 attempts (journalctl -u homelab-bootstrap)" };
    expect((await run([ready])).lines[0]).toBe("first boot is stuck in step gitea: organisation: still failing after 20 attempts (journalctl -u homelab-bootstrap)");
    firstBoot = { step: "complete", problem: "" };
    expect((await run([ready])).text).not.toContain("first boot");
  });

  test("a missing kubeconfig file is a UserError", async () => {
    await expect(statusCommand({ kubeconfig: "/nonexistent/kubeconfig", color: false, out: () => {} })).rejects.toThrow(UserError);
  });
});

describe("classify and formatStatus (pure)", () => {
  const hr = (conditions: object[], extra: object = {}): FluxObject =>
    ({ metadata: { name: "x", namespace: "y", generation: 2 }, status: { observedGeneration: 2, conditions }, ...extra }) as FluxObject;

  test("a stall recorded for an older generation is not terminal", () => {
    const stalledCondition = { type: "Stalled", status: "True", reason: "RetriesExceeded", message: "Failed to install after 4 attempt(s)" };
    expect(classify(hr([stalledCondition])).stalled).toBe(true);
    const older = { metadata: { name: "x", namespace: "y", generation: 3 }, status: { observedGeneration: 2, conditions: [stalledCondition] } } as FluxObject;
    expect(classify(older).state).toBe("progressing");
  });

  test("Ready=True for an older generation is progressing; suspend wins over everything", () => {
    const readyCondition = { type: "Ready", status: "True", reason: "InstallSucceeded" };
    expect(classify({ metadata: { name: "x", generation: 3 }, status: { observedGeneration: 2, conditions: [readyCondition] } }).state).toBe("progressing");
    expect(classify({ metadata: { name: "x" }, spec: { suspend: true }, status: { conditions: [readyCondition] } }).state).toBe("suspended");
  });

  test("a BuildFailed Kustomization is terminal only when it failed on the head", () => {
    const failedOn = (revision: string): FluxObject => ({
      metadata: { name: "apps", namespace: "flux-system", labels: { "homelab/phase": "6-apps" } },
      status: { lastAttemptedRevision: revision, conditions: [{ type: "Ready", status: "False", reason: "BuildFailed", message: "kustomize build failed" }] },
    });
    const gitRepository = { metadata: { name: "flux-system" }, status: { artifact: { revision: HEAD }, conditions: [{ type: "Ready", status: "True" }] } };
    const atHead = buildReport({ kustomizations: [failedOn(HEAD)], helmReleases: [], gitRepository });
    const older = buildReport({ kustomizations: [failedOn("main@sha1:0000000000000000000000000000000000000000")], helmReleases: [], gitRepository });
    expect(atHead.phases[0]?.items[0]?.terminal).toBe(true);
    expect(older.phases[0]?.items[0]?.terminal).toBe(false);
  });

  test("colour on a terminal, none when piped; NO_COLOR and FORCE_COLOR win", () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(useColor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(useColor({ isTTY: true }, { TERM: "dumb" })).toBe(false);
  });

  test("--timeout durations", () => {
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("90s")).toBe(90_000);
    expect(() => parseDuration("15")).toThrow(UserError);
    expect(() => parseDuration("15 minutes")).toThrow(UserError);
  });

  test("a failure without a message still says something, and a connection failure names its cause", () => {
    expect(errorText(new Error(""))).toBe("Error without a message (a kubeconfig credential plugin that failed?)");
    expect(errorText(new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) }))).toBe("fetch failed (ECONNREFUSED)");
  });

  test("no GitRepository: the source is reported missing", () => {
    const lines = formatStatus(buildReport({ kustomizations: [], helmReleases: [] }), { color: false });
    expect(lines[0]).toContain("missing (is Flux installed?)");
  });
});
