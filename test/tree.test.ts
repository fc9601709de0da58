// The tree from the reference config: golden files, the dependsOn graph, every object against
// its schema, kustomize over every Flux Kustomization path, and the verified chart values.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { HelmRelease } from "@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2";
import { Kustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1";
import { HelmRepository, OCIRepository } from "@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1";
import { PodMonitor, PrometheusRule, ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Middleware, TLSOption } from "@kubernetes-models/traefik/traefik.io/v1alpha1";
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from "kubernetes-models/v1";
import { Ingress, NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { StorageClass } from "kubernetes-models/storage.k8s.io/v1";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { parse } from "yaml";
import { catalog } from "../generator/catalog.ts";
import { platformComponents } from "../generator/components/registry.ts";
import { generate, render, type Rendered } from "../generator/generate.ts";
import { kubectl } from "./support/tools.ts";
import { databaseCrdChecks } from "./support/cnpg-checks.ts";
import { minimalConfig, objectsOf, referenceConfigPath, renderText, tempRepo } from "./support/render.ts";

const repoRoot = dirname(referenceConfigPath);
let reference: Rendered;
beforeAll(async () => {
  reference = await render({ configPath: referenceConfigPath });
});

type Validating = new (data: any) => { validate(): void };
const models: Record<string, Validating> = {
  "v1/Namespace": Namespace,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Service": Service,
  "v1/Secret": Secret,
  "networking.k8s.io/v1/Ingress": Ingress,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "storage.k8s.io/v1/StorageClass": StorageClass,
  "helm.toolkit.fluxcd.io/v2/HelmRelease": HelmRelease,
  "source.toolkit.fluxcd.io/v1/HelmRepository": HelmRepository,
  "source.toolkit.fluxcd.io/v1/OCIRepository": OCIRepository,
  "kustomize.toolkit.fluxcd.io/v1/Kustomization": Kustomization,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "traefik.io/v1alpha1/TLSOption": TLSOption,
  "traefik.io/v1alpha1/Middleware": Middleware,
  "v1/ConfigMap": ConfigMap,
  "apps/v1/StatefulSet": StatefulSet,
  "batch/v1/Job": Job,
};

/** Custom resources without a model: the fields their CRDs require (facts from upstream sources). */
const crdChecks: Record<string, (o: any) => void> = {
  "kustomize.config.k8s.io/v1beta1/Kustomization": (o) => expect(Array.isArray(o.resources)).toBe(true),
  "fluxcd.controlplane.io/v1/FluxInstance": (o) => {
    expect(o.metadata.name).toBe("flux");
    expect(o.spec.distribution).toMatchObject({ version: expect.any(String), registry: "ghcr.io/fluxcd" });
    expect(o.spec.sync).toMatchObject({ kind: "GitRepository", ref: expect.stringMatching(/^refs\/heads\//), path: expect.any(String), url: expect.any(String) });
  },
  "helm.cattle.io/v1/HelmChartConfig": (o) => {
    expect(o.metadata).toEqual({ name: "traefik", namespace: "kube-system" });
    expect(typeof o.spec.valuesContent).toBe("string");
  },
  "longhorn.io/v1beta2/BackupTarget": (o) => {
    expect(o.metadata.name).toBe("default");
    expect(Object.keys(o.spec).sort()).toEqual(["backupTargetURL", "credentialSecret", "pollInterval"]);
    expect(o.spec.pollInterval).toMatch(/^\d+s$/);
  },
  "certmanager.step.sm/v1beta1/StepClusterIssuer": (o) => {
    expect(o.metadata).toEqual({ name: "homelab-ca" });
    expect(Object.keys(o.spec).sort()).toEqual(["caBundle", "provisioner", "url"]);
    expect(Object.keys(o.spec.provisioner.passwordRef).sort()).toEqual(["key", "name", "namespace"]);
  },
  ...databaseCrdChecks,
  "longhorn.io/v1beta2/RecurringJob": (o) => {
    expect(["snapshot", "backup"]).toContain(o.spec.task);
    expect(o.spec.name).toBe(o.metadata.name);
    expect(Number.isInteger(o.spec.retain) && Number.isInteger(o.spec.concurrency)).toBe(true);
  },
};

/** Value keys that would hold a credential inline (they must come from a Secret instead). */
function inlineCredentials(values: unknown, path = ""): string[] {
  if (values === null || typeof values !== "object") return [];
  return Object.entries(values).flatMap(([key, child]) =>
    /^(password|adminPassword|secret_key|secretKey|token|clientSecret)$/i.test(key) && typeof child === "string"
      ? [`${path}${key}`]
      : inlineCredentials(child, `${path}${key}.`),
  );
}

describe("the reference tree", () => {
  test("matches the committed demo tree byte for byte (golden)", async () => {
    const differing = reference.files.filter((file) => {
      try {
        return readFileSync(join(repoRoot, file.path), "utf8") !== file.content;
      } catch {
        return true;
      }
    });
    expect(differing.map((f) => f.path)).toEqual([]);
  });

  test("every object passes its schema (models where they exist, CRD facts otherwise)", async () => {
    const objects = objectsOf(reference.files);
    expect(objects.length).toBeGreaterThan(40);
    for (const { file, object } of objects) {
      const key = `${object.apiVersion}/${object.kind}`;
      const Model = models[key];
      const check = crdChecks[key];
      expect(Model ?? check, `${file}: no schema check for ${key}`).toBeDefined();
      // A SOPS file is a Secret plus the sops metadata, which Flux strips before applying.
      const { sops: _sops, ...applied } = object;
      if (Model) expect(() => new Model(applied).validate(), `${file}: ${key}`).not.toThrow();
      else check?.(object);
    }
  });

  test("the Flux Kustomizations: phase labels and the dependsOn edges", async () => {
    const kustomizations = objectsOf(reference.files).filter(({ object }) => object.apiVersion === "kustomize.toolkit.fluxcd.io/v1").map(({ object }) => object);
    const edges = Object.fromEntries(kustomizations.map((k) => [k.metadata.name, (k.spec.dependsOn ?? []).map((d: { name: string }) => d.name)]));
    const phases = Object.fromEntries(kustomizations.map((k) => [k.metadata.name, k.metadata.labels["homelab/phase"]]));
    expect(phases).toEqual({
      flux: "1-cluster",
      traefik: "1-cluster",
      longhorn: "2-storage",
      "longhorn-config": "2-storage",
      "cloudnative-pg": "2-storage",
      "cert-manager": "3-network",
      "barman-cloud": "3-network",
      "traefik-tls": "3-network",
      "step-ca": "3-network",
      "step-ca-config": "3-network",
      monitoring: "4-monitoring",
      "monitoring-config": "4-monitoring",
      "cloudnative-pg-monitoring": "4-monitoring",
      kured: "4-monitoring",
      authentik: "5-auth",
      gitea: "6-apps",
      "gitea-oidc-issuer": "6-apps",
      "gitea-sso": "6-apps",
      "gitea-runner": "6-apps",
      vaultwarden: "6-apps",
      "home-assistant": "6-apps",
      minecraft: "7-extras",
    });
    expect(edges).toEqual({
      flux: [],
      traefik: [],
      longhorn: [],
      "longhorn-config": ["longhorn"],
      "cloudnative-pg": [],
      "cert-manager": [],
      // The backup plugin talks to the operator over mTLS with cert-manager's certificates.
      "barman-cloud": ["cert-manager", "cloudnative-pg"],
      "traefik-tls": ["traefik"],
      // Its database is a Longhorn volume.
      "step-ca": ["cert-manager", "longhorn"],
      "step-ca-config": ["step-ca"],
      monitoring: ["longhorn", "step-ca-config", "traefik"],
      "monitoring-config": ["monitoring"],
      "cloudnative-pg-monitoring": ["cloudnative-pg", "monitoring"],
      // Its alert on nodes waiting and its ServiceMonitor need Prometheus's CRDs.
      kured: ["monitoring"],
      // A Cluster listing the backup plugin waits for it (else it stays in PhaseUnknownPlugin).
      authentik: ["barman-cloud", "cloudnative-pg", "longhorn", "step-ca-config", "traefik"],
      // Gitea does not wait for Authentik (first boot runs it first); its login source does.
      gitea: ["barman-cloud", "cloudnative-pg", "longhorn", "step-ca-config", "traefik"],
      // Gitea's login source only once its issuer answers (the Job in gitea-oidc-issuer).
      "gitea-oidc-issuer": ["authentik", "gitea"],
      "gitea-sso": ["authentik", "gitea", "gitea-oidc-issuer"],
      "gitea-runner": ["gitea", "longhorn"],
      vaultwarden: ["authentik", "longhorn", "step-ca-config", "traefik"],
      "home-assistant": ["authentik", "longhorn", "step-ca-config", "traefik"],
      minecraft: ["longhorn"],
    });
    for (const k of kustomizations) {
      expect(k.spec).toMatchObject({ wait: true, prune: true, sourceRef: { kind: "GitRepository", name: "flux-system" } });
      expect(k.spec.timeout).toMatch(/^\d+m$/);
    }
  });

  test("clusters/home/kustomization.yaml lists exactly what Flux applies", async () => {
    const list = parse(reference.files.find((f) => f.path === "clusters/home/kustomization.yaml")?.content ?? "");
    const componentFiles = reference.files.filter((f) => /^clusters\/home\/[^/]+\.yaml$/.test(f.path) && !f.path.endsWith("kustomization.yaml")).map((f) => f.path.slice("clusters/home/".length));
    expect(list?.resources).toEqual(componentFiles.sort());
  });

  test("FluxInstance syncs clusters/home from the in-cluster Gitea", async () => {
    const instance = objectsOf(reference.files).find(({ object }) => object.kind === "FluxInstance")?.object;
    expect(instance?.spec.sync).toEqual({
      kind: "GitRepository",
      url: "http://gitea-http.gitea.svc.cluster.local:3000/homelab/gitops.git",
      ref: "refs/heads/main",
      path: "clusters/home",
      pullSecret: "flux-gitea-auth",
      interval: "1m",
    });
    expect(instance?.spec.distribution.version).toBe("2.9.4");
  });

  test("HelmReleases remediate, replace CRDs and detect drift; values carry no secrets", async () => {
    const releases = objectsOf(reference.files).filter(({ object }) => object.kind === "HelmRelease").map(({ object }) => object);
    expect(releases.length).toBe(14);
    for (const release of releases) {
      expect(release.spec.install).toEqual({ crds: "CreateReplace", remediation: { retries: 3 } });
      expect(release.spec.upgrade).toMatchObject({ crds: "CreateReplace", remediation: { retries: 3, strategy: "rollback" } });
      expect(release.spec.driftDetection).toEqual({ mode: "enabled" });
      expect(inlineCredentials(release.spec.values ?? {}), release.metadata.name).toEqual([]);
    }
  });

  test("app data lives in tree-owned PVCs that pruning and Helm cannot delete", async () => {
    const pvcs = objectsOf(reference.files).filter(({ object }) => object.kind === "PersistentVolumeClaim").map(({ object }) => object);
    // PostgreSQL's volumes are CloudNativePG's (test/databases.test.ts).
    expect(pvcs.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort()).toEqual([
      "gitea/gitea-data",
      "gitea/gitea-runner-data",
      "home-assistant/home-assistant-data",
      "minecraft/minecraft-data",
      "monitoring/grafana-data",
      "step-ca/step-ca-database",
      "vaultwarden/vaultwarden-data",
    ]);
    for (const pvc of pvcs) {
      expect(pvc.metadata.annotations["kustomize.toolkit.fluxcd.io/prune"]).toBe("disabled");
      expect(pvc.metadata.labels).toMatchObject({ "recurring-job.longhorn.io/source": "enabled", "recurring-job-group.longhorn.io/homelab-backup": "enabled" });
      expect(pvc.spec.storageClassName).toBe("longhorn-encrypted");
    }
    // Deleting a namespace deletes its claims: namespaces holding data are never pruned.
    for (const ns of new Set(pvcs.map((p) => p.metadata.namespace))) {
      const object = objectsOf(reference.files).find(({ object }) => object.kind === "Namespace" && object.metadata.name === ns)?.object;
      expect(object?.metadata.annotations?.["kustomize.toolkit.fluxcd.io/prune"], ns).toBe("disabled");
    }
    const storageClass = objectsOf(reference.files).find(({ object }) => object.kind === "StorageClass")?.object;
    expect(storageClass?.reclaimPolicy).toBe("Retain");
  });

  test("the image's k3s drop-in disables local-path and opens the metrics binds", async () => {
    const dropIn = reference.files.find((f) => f.path === "image/rootfs/etc/rancher/k3s/config.yaml.d/00-image.yaml")?.content ?? "";
    expect(dropIn).toContain("- local-storage");
    expect(dropIn).toContain("bind-address=0.0.0.0");
  });

  test("every ingress names the ClusterIssuer homelab-ca", async () => {
    const values = JSON.stringify(objectsOf(reference.files).filter(({ object }) => object.kind === "HelmRelease").map(({ object }) => object.spec.values));
    const ingressCount = (values.match(/"cert-manager.io\/issuer":"homelab-ca","cert-manager.io\/issuer-kind":"StepClusterIssuer","cert-manager.io\/issuer-group":"certmanager.step.sm"/g) ?? []).length;
    expect(ingressCount).toBe(5); // grafana, authentik, gitea, vaultwarden, home-assistant
  });
});

test("kubectl kustomize builds every Flux Kustomization path (reference and minimal configs)", async () => {
  for (const [text, demoState] of [[readFileSync(referenceConfigPath, "utf8"), true], [minimalConfig, false]] as const) {
    const { dir, configPath } = tempRepo(text, { demoState });
    const { files } = await generate({ configPath });
    const paths = objectsOf(files).filter(({ object }) => object.apiVersion === "kustomize.toolkit.fluxcd.io/v1").map(({ object }) => object.spec.path as string);
    const rootSync = files.find((f) => /^clusters\/[^/]+\/kustomization\.yaml$/.test(f.path))!.path;
    for (const path of [...paths, dirname(rootSync)]) {
      expect(() => execFileSync(kubectl, ["kustomize", join(dir, path)], { stdio: "pipe" }), path).not.toThrow();
    }
  }
});

test("homelab.minimal.yaml gives every phase 1–6 component and exactly one default StorageClass", async () => {
  const { files } = await renderText(minimalConfig);
  const objects = objectsOf(files).map(({ object }) => object);
  const phases = new Set(objects.filter((o) => o.apiVersion === "kustomize.toolkit.fluxcd.io/v1").map((o) => o.metadata.labels["homelab/phase"]));
  expect([...phases].sort()).toEqual(["1-cluster", "2-storage", "3-network", "4-monitoring", "5-auth", "6-apps"]);
  const names = objects.filter((o) => o.kind === "HelmRelease").map((o) => o.metadata.name).sort();
  expect(names).toEqual(["authentik", "cert-manager", "cloudnative-pg", "flux-operator", "gitea", "home-assistant", "kube-prometheus-stack", "kured", "longhorn", "step-certificates", "step-issuer", "vaultwarden"]);
  const defaults = objects.filter((o) => o.kind === "StorageClass" && o.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true");
  const longhorn = objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "longhorn");
  expect(defaults.length + (longhorn?.spec.values.persistence.defaultClass ? 1 : 0)).toBe(1);
});

test("without encryption the chart's own class is the one default", async () => {
  const { files } = await renderText(`${minimalConfig}storage:\n  longhorn:\n    encryption: false\n`);
  const objects = objectsOf(files).map(({ object }) => object);
  expect(objects.filter((o) => o.kind === "StorageClass")).toEqual([]);
  const longhorn = objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "longhorn");
  expect(longhorn?.spec.values.persistence).toEqual({ defaultClass: true, defaultClassReplicaCount: 1, reclaimPolicy: "Retain" });
});

describe("chart values", () => {
  /** Leaf paths of a values object; a key containing "." is escaped as in the verified lists. */
  function valuePaths(values: unknown, prefix = ""): string[] {
    if (values === null || typeof values !== "object" || Array.isArray(values)) return [prefix];
    return Object.entries(values).flatMap(([key, child]) => valuePaths(child, `${prefix ? `${prefix}.` : ""}${key.replace(/\./g, "\\.")}`));
  }

  test("every value path a platform component sets was verified against its pinned chart", async () => {
    const everything = `${minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes: [{name: box, gpu: true}]\n")}gpu:\n  nvidia: true\napps:\n  ollama:\n    enabled: true\n    models: [llama3.2]\n`;
    for (const [text, demoState] of [[readFileSync(referenceConfigPath, "utf8"), true], [minimalConfig, false], [everything, false]] as const) {
      const objects = objectsOf((await renderText(text, { demoState })).files).map(({ object }) => object);
      const releases = objects.filter((object) => object.kind === "HelmRelease");
      // Values handed over through valuesFrom count too: a Secret's targetPath, a ConfigMap's whole document.
      const valuesFromPaths = (release: any): string[] =>
        (release.spec.valuesFrom ?? []).flatMap((source: any) => {
          if (source.targetPath) return [source.targetPath];
          const holder = objects.find((o) => o.kind === source.kind && o.metadata.name === source.name && o.metadata.namespace === release.metadata.namespace);
          return holder?.data ? valuePaths(parse(holder.data[source.valuesKey ?? "values.yaml"])) : [];
        });
      for (const component of platformComponents) {
        for (const verified of component.verifiedValues ?? []) {
          const release = releases.find((r) => r.metadata.name === verified.release);
          if (!release) continue;
          for (const path of [...valuePaths(release.spec.values ?? {}), ...valuesFromPaths(release)]) {
            const covered = verified.paths.some((p) => path === p || path.startsWith(`${p}.`));
            expect(covered, `${verified.release}: ${path} is not on the verified list`).toBe(true);
          }
        }
      }
    }
  });

  test("verified lists name the catalog's chart versions (a bump needs a new check)", async () => {
    const versions: Record<string, string> = {
      authentik: catalog.charts.authentik.version,
      gitea: catalog.charts.gitea.version,
      "cloudnative-pg": catalog.charts.cloudnativePg.version,
      "plugin-barman-cloud": catalog.charts.pluginBarmanCloud.version,
      vaultwarden: catalog.charts.vaultwarden.version,
      "home-assistant": catalog.charts.homeAssistant.version,
      "kube-prometheus-stack": catalog.charts.kubePrometheusStack.version,
      kured: catalog.charts.kured.version,
      "step-certificates": catalog.charts.stepCertificates.version,
      "nvidia-device-plugin": catalog.charts.nvidiaDevicePlugin.version,
      ollama: catalog.charts.ollama.version,
    };
    for (const component of platformComponents) {
      for (const verified of component.verifiedValues ?? []) expect(verified.chartVersion).toBe(versions[verified.release]);
    }
  });
});

test("apps.homeAssistant.hostNetwork: discovery on the node's network, cluster DNS kept; off by default", async () => {
  const values = async (text: string) =>
    objectsOf((await renderText(text)).files).find(({ object }) => object.kind === "HelmRelease" && object.metadata.name === "home-assistant")!.object.spec.values;
  expect(await values(`${minimalConfig}apps:\n  homeAssistant:\n    hostNetwork: true\n`)).toMatchObject({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" });
  const plain = await values(minimalConfig);
  expect(plain.hostNetwork).toBeUndefined();
  expect(plain.dnsPolicy).toBeUndefined();
});
