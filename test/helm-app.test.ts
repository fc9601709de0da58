// Generic Helm apps against real charts: two fixture charts (test/fixtures/charts) with different
// label and value conventions are rendered by the pinned `helm template` with the values the
// generated HelmRelease carries, and the tree's own objects (the PVC, the LoadBalancer Service,
// the Ingress) are checked against what the chart actually renders.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { PersistentVolumeClaim, Service } from "kubernetes-models/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { HelmRelease } from "@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2";
import { parse, parseAllDocuments, stringify } from "yaml";
import { generate, render } from "../generator/generate.ts";
import { helm, kubectl } from "./support/tools.ts";
import { minimalConfig, objectsOf, tempRepo, tempDir } from "./support/render.ts";

type K8s = Record<string, any>;
type Labels = Record<string, string>;

const chartsDir = join(import.meta.dirname, "fixtures", "charts");
const helmHome = tempDir("homelab-helm-");
/** helm reads and writes nothing outside this temporary home. */
const helmEnv = { ...process.env, HELM_CACHE_HOME: join(helmHome, "cache"), HELM_CONFIG_HOME: join(helmHome, "config"), HELM_DATA_HOME: join(helmHome, "data") };

function chartYaml(chart: string): { name: string; version: string } {
  return parse(readFileSync(join(chartsDir, chart, "Chart.yaml"), "utf8"));
}

/** homelab.yaml = the minimal config plus one Helm app. */
function configFor(name: string, app: Record<string, unknown>): string {
  return `${minimalConfig}${stringify({ apps: { [name]: app } })}`;
}

interface Generated {
  readonly configPath: string;
  /** The objects under apps/<name>/, with the file each came from. */
  readonly objects: { file: string; object: K8s }[];
}

async function renderApp(name: string, app: Record<string, unknown>): Promise<Generated> {
  const { configPath } = tempRepo(configFor(name, app));
  const { files } = await render({ configPath });
  return { configPath, objects: objectsOf(files).filter(({ file }) => file.startsWith(`apps/${name}/`)) };
}

/** The one object of `kind` in apps/<name>/<file>. */
function the(generated: Generated, file: string, kind: string): K8s {
  const found = generated.objects.filter((o) => o.file === file && o.object.kind === kind).map((o) => o.object);
  expect(found.map((o) => o.metadata.name), `${kind} in ${file}`).toHaveLength(1);
  return found[0]!;
}

/** What Flux's helm-controller would install: release name and namespace as Flux derives them, and the values. */
function releaseOf(generated: Generated, name: string): { releaseName: string; namespace: string; chart: K8s; values: K8s } {
  const release = the(generated, `apps/${name}/app.yaml`, "HelmRelease");
  const { spec, metadata } = release;
  const releaseName: string = spec.releaseName ?? (spec.targetNamespace ? `${spec.targetNamespace}-${metadata.name}` : metadata.name);
  return { releaseName, namespace: spec.targetNamespace ?? metadata.namespace, chart: spec.chart.spec, values: spec.values ?? {} };
}

/** `helm template` of a fixture chart with the HelmRelease's values, parsed. */
function helmTemplate(chart: string, release: { releaseName: string; namespace: string; values: K8s }): K8s[] {
  const valuesFile = join(tempDir("homelab-values-"), "values.yaml");
  writeFileSync(valuesFile, stringify(release.values));
  const out = execFileSync(helm, ["template", release.releaseName, join(chartsDir, chart), "--namespace", release.namespace, "-f", valuesFile], {
    encoding: "utf8",
    env: helmEnv,
    stdio: "pipe",
  });
  return parseAllDocuments(out).map((d) => d.toJS() as K8s).filter((o) => o && typeof o.kind === "string");
}

/** The chart's one workload (Deployment or StatefulSet). */
function workloadOf(objects: K8s[]): K8s {
  const workloads = objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
  expect(workloads.map((w) => `${w.kind}/${w.metadata.name}`)).toHaveLength(1);
  return workloads[0]!;
}

const podLabels = (workload: K8s): Labels => workload.spec.template.metadata.labels ?? {};

/** A Service selector selects a pod when every key matches (an empty selector selects nothing here). */
const selects = (selector: Labels, labels: Labels): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);

/** The container port a Service port's targetPort resolves to (by number or by name), or undefined. */
function containerPortFor(workload: K8s, targetPort: number | string, protocol: string): K8s | undefined {
  const ports: K8s[] = workload.spec.template.spec.containers.flatMap((c: K8s) => c.ports ?? []);
  return ports.find((p) => (typeof targetPort === "number" ? p.containerPort === targetPort : p.name === targetPort) && (p.protocol ?? "TCP") === protocol);
}

interface Case {
  readonly chart: string;
  readonly app: Record<string, unknown>;
  /** The LoadBalancer selector the generator must write. */
  readonly selector: Labels;
  readonly ports: { protocol: "TCP" | "UDP"; port: number; targetPort: number }[];
  /** How the chart mounts the volume: proves the user's sibling values survive the claim value. */
  readonly mount: Record<string, string>;
}

const repository = "https://charts.example.com/stable";

/** Helm-standard labels; the claim at persistence.existingClaim; a LoadBalancer port that differs from the container port. */
const kvStore: Case = {
  chart: "kv-store",
  app: {
    chart: { repository, name: "kv-store", version: chartYaml("kv-store").version },
    values: { persistence: { mountPath: "/var/lib/kv" } },
    storage: { size: "2Gi", claimValue: "persistence.existingClaim" },
    expose: { tcp: 16379, targetPort: 6379 },
    host: { name: "kv", service: "kv-store", port: 80 },
  },
  selector: { "app.kubernetes.io/instance": "kv-store" }, // the default: expose.selector is not set
  ports: [{ protocol: "TCP", port: 16379, targetPort: 6379 }],
  mount: { mountPath: "/var/lib/kv" },
};

/** Old-style labels (app: <release>-game only); the claim at a nested value; TCP and UDP; its own namespace. */
const gameServerApp = (selector?: Labels): Record<string, unknown> => ({
  chart: { repository, name: "game-server", version: chartYaml("game-server").version },
  namespace: "games",
  values: { data: { volume: { subPath: "world" } } },
  storage: { size: "5Gi", claimValue: "data.volume.claim.name" },
  expose: { tcp: 27015, udp: 7777, ...(selector ? { selector } : {}) },
  host: { name: "game-status", service: "game-server-game-status", port: 80 },
});

const gameServer: Case = {
  chart: "game-server",
  app: gameServerApp({ app: "game-server-game" }),
  selector: { app: "game-server-game" },
  ports: [
    { protocol: "TCP", port: 27015, targetPort: 27015 },
    { protocol: "UDP", port: 7777, targetPort: 7777 },
  ],
  mount: { mountPath: "/srv/game", subPath: "world" },
};

test("the fixture charts are well-formed (helm lint --strict)", async () => {
  expect(() => execFileSync(helm, ["lint", "--strict", join(chartsDir, "kv-store"), join(chartsDir, "game-server")], { env: helmEnv, stdio: "pipe" })).not.toThrow();
});

describe.each([kvStore, gameServer])("Helm app $chart rendered by the real chart", (c) => {
  const name = c.chart;
  let generated: Generated;
  let release: ReturnType<typeof releaseOf>;
  let chartObjects: K8s[];
  let workload: K8s;

  beforeAll(async () => {
    generated = await renderApp(name, c.app);
    release = releaseOf(generated, name);
    chartObjects = helmTemplate(c.chart, release);
    workload = workloadOf(chartObjects);
  });

  test("the HelmRelease installs this chart, and every object is valid", async () => {
    const fixture = chartYaml(c.chart);
    expect(release.releaseName).toBe(name);
    expect(release.chart).toMatchObject({ chart: fixture.name, version: fixture.version, sourceRef: { kind: "HelmRepository", name: fixture.name } });
    const models: Record<string, new (data: any) => { validate(): void }> = {
      Deployment, StatefulSet, Service, PersistentVolumeClaim, Ingress, HelmRelease,
    };
    const all = [...chartObjects, ...generated.objects.map((o) => o.object)];
    for (const object of all) {
      const Model = models[object.kind];
      if (Model) expect(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
    // The chart's own selector sees its pods (a sanity check of the fixture itself).
    expect(selects(workload.spec.selector.matchLabels, podLabels(workload))).toBe(true);
  });

  test("storage: the pod mounts the tree-owned PVC <name>-data, which pruning cannot delete", async () => {
    const pvc = the(generated, `apps/${name}/app.yaml`, "PersistentVolumeClaim");
    expect(pvc.metadata.name).toBe(`${name}-data`);
    expect(pvc.metadata.annotations).toMatchObject({ "kustomize.toolkit.fluxcd.io/prune": "disabled" });
    expect(pvc.metadata.namespace).toBe(release.namespace);

    // The chart creates no claim of its own: the tree's PVC is the only one.
    expect(chartObjects.filter((o) => o.kind === "PersistentVolumeClaim")).toEqual([]);
    expect(workload.metadata.namespace).toBe(pvc.metadata.namespace);
    const pod = workload.spec.template.spec;
    const claimed = (pod.volumes as K8s[]).filter((v) => v.persistentVolumeClaim);
    expect(claimed.map((v) => v.persistentVolumeClaim.claimName)).toEqual([pvc.metadata.name]);
    // ...and a container mounts that volume, where the user's own values say.
    const mounts = (pod.containers as K8s[]).flatMap((ct) => ct.volumeMounts ?? []).filter((m: K8s) => m.name === claimed[0]!.name);
    expect(mounts).toHaveLength(1);
    expect(mounts[0]).toMatchObject(c.mount);
  });

  test("expose: the LoadBalancer selects the chart's pods and targets their container ports", async () => {
    const lb = the(generated, `apps/${name}/app.yaml`, "Service");
    expect(lb.metadata).toMatchObject({ name: `${name}-lb`, namespace: workload.metadata.namespace });
    expect(lb.spec.type).toBe("LoadBalancer");
    expect(lb.spec.selector).toEqual(c.selector);
    expect(selects(lb.spec.selector, podLabels(workload)), `selector ${JSON.stringify(lb.spec.selector)} vs pod labels ${JSON.stringify(podLabels(workload))}`).toBe(true);

    expect(lb.spec.ports.map(({ protocol, port, targetPort }: K8s) => ({ protocol, port, targetPort }))).toEqual(c.ports);
    for (const port of lb.spec.ports as K8s[]) {
      const target = containerPortFor(workload, port.targetPort, port.protocol);
      expect(target, `${port.protocol} ${port.port} -> ${port.targetPort}`).toBeDefined();
    }
  });

  test("host: the Ingress routes to a Service the chart renders, on a port it serves, in the same namespace", async () => {
    const ingress = the(generated, `apps/${name}/app.yaml`, "Ingress");
    const paths: K8s[] = ingress.spec.rules.flatMap((r: K8s) => r.http.paths);
    expect(paths).toHaveLength(1);
    const backend = paths[0]!.backend.service;

    const services = chartObjects.filter((o) => o.kind === "Service" && o.metadata.name === backend.name);
    expect(services, `the chart renders Service ${backend.name}`).toHaveLength(1);
    const service = services[0]!;
    expect(service.metadata.namespace).toBe(ingress.metadata.namespace);
    const servicePort = (service.spec.ports as K8s[]).find((p) => p.port === backend.port.number);
    expect(servicePort, `Service ${backend.name} serves port ${backend.port.number}`).toBeDefined();
    // The chain ends at a pod: the chart's Service selects it and its targetPort is a TCP container port.
    expect(selects(service.spec.selector, podLabels(workload))).toBe(true);
    expect(containerPortFor(workload, servicePort!.targetPort ?? servicePort!.port, "TCP")).toBeDefined();
  });

  test("kubectl kustomize builds the written apps/<name> tree, object for object", async () => {
    const outDir = tempDir("homelab-tree-");
    await generate({ configPath: generated.configPath, outDir });
    const out = execFileSync(kubectl, ["kustomize", join(outDir, "apps", name)], { encoding: "utf8", stdio: "pipe" });
    const built = parseAllDocuments(out).map((d) => d.toJS() as K8s);
    const key = (o: K8s) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const byKey = (list: K8s[]) => Object.fromEntries(list.map((o) => [key(o), o]));
    expect(byKey(built)).toEqual(byKey(generated.objects.filter((o) => o.file !== `apps/${name}/kustomization.yaml`).map((o) => o.object)));
    expect(Object.keys(byKey(built)).sort()).toEqual(
      [
        `HelmRelease/${release.namespace}/${name}`,
        `HelmRepository/${release.namespace}/${c.chart}`,
        `Ingress/${release.namespace}/${name}`,
        `Namespace//${release.namespace}`,
        `PersistentVolumeClaim/${release.namespace}/${name}-data`,
        `Service/${release.namespace}/${name}-lb`,
      ].sort(),
    );
  });
});

test("without storage the chart falls back to an emptyDir and the tree writes no volume", async () => {
  const { storage: _storage, ...app } = kvStore.app;
  const generated = await renderApp("kv-store", app);
  expect(generated.objects.filter((o) => o.object.kind === "PersistentVolumeClaim")).toEqual([]);
  const workload = workloadOf(helmTemplate("kv-store", releaseOf(generated, "kv-store")));
  expect(workload.spec.template.spec.volumes).toEqual([{ name: "data", emptyDir: {} }]);
});

test("why expose.selector exists: the default selector misses pods labelled only app: <release>-game", async () => {
  const generated = await renderApp("game-server", gameServerApp());
  const lb = the(generated, "apps/game-server/app.yaml", "Service");
  expect(lb.spec.selector).toEqual({ "app.kubernetes.io/instance": "game-server" });
  const chartObjects = helmTemplate("game-server", releaseOf(generated, "game-server"));
  const pods = chartObjects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet").map(podLabels);
  expect(pods).toEqual([{ app: "game-server-game" }]);
  // No pod of the release matches: the LoadBalancer would have no endpoints.
  expect(pods.filter((labels) => selects(lb.spec.selector, labels))).toEqual([]);
});
