// The yardstick of issue #13: cdk8s synthesizing the objects homelab writes for N generic Helm
// apps (the bench's apps: namespace, HelmRepository, HelmRelease, LoadBalancer Service, claim,
// Flux Kustomization), one YAML file per app, into the folder given. Plain JavaScript, so cdk8s
// pays nothing for type stripping. Usage: node cdk8s-apps.mjs OUT_DIR COUNT
import { ApiObject, App, Chart } from "cdk8s";

const [outdir, count] = [process.argv[2], Number(process.argv[3] ?? 300)];
const app = new App({ outdir });
for (let i = 0; i < count; i++) {
  const name = `app-${i}`;
  const port = 20000 + i;
  const chart = new Chart(app, name, { namespace: name });
  const prune = { "kustomize.toolkit.fluxcd.io/prune": "disabled" };
  new ApiObject(chart, "namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name, annotations: prune } });
  new ApiObject(chart, "repository", { apiVersion: "source.toolkit.fluxcd.io/v1", kind: "HelmRepository", metadata: { name }, spec: { interval: "12h", url: "https://charts.example.org/" } });
  new ApiObject(chart, "release", {
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { name },
    spec: {
      interval: "30m",
      timeout: "10m",
      chart: { spec: { chart: "web", version: "1.0.0", sourceRef: { kind: "HelmRepository", name }, interval: "12h" } },
      install: { crds: "CreateReplace", remediation: { retries: 3 } },
      upgrade: { crds: "CreateReplace", cleanupOnFail: true, remediation: { retries: 3, strategy: "rollback" } },
      driftDetection: { mode: "enabled" },
      values: { replicaCount: 1, image: { tag: `v${i}` }, persistence: { existingClaim: `${name}-data` } },
    },
  });
  new ApiObject(chart, "service", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `${name}-lb` },
    spec: { type: "LoadBalancer", selector: { "app.kubernetes.io/instance": name }, ports: [{ name: `tcp-${port}`, protocol: "TCP", port, targetPort: port }] },
  });
  new ApiObject(chart, "volume", {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: `${name}-data`,
      labels: { "recurring-job.longhorn.io/source": "enabled", "recurring-job-group.longhorn.io/homelab-snapshot": "enabled", "recurring-job-group.longhorn.io/homelab-backup": "enabled" },
      annotations: prune,
    },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "longhorn-encrypted", resources: { requests: { storage: "1Gi" } } },
  });
  new ApiObject(chart, "flux", {
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { name, namespace: "flux-system", labels: { "homelab/phase": "7-extras" } },
    spec: { interval: "30m", retryInterval: "2m", timeout: "10m", path: `./apps/${name}`, prune: true, wait: true, sourceRef: { kind: "GitRepository", name: "flux-system" }, dependsOn: [{ name: "longhorn" }] },
  });
}
app.synth();
