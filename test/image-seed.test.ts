// The seed (clusters/<name>/bootstrap/): Gitea's unit and the storage it runs on, byte-for-byte
// copies of the tree's files, built by the real (pinned) kustomize, with the units' SOPS files
// beside them but not in the kustomization, and never synced by Flux.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import type { Phase } from "../generator/components/types.ts";
import { render, type Rendered } from "../generator/generate.ts";
import { seedPath, seedUnits } from "../generator/image/seed.ts";
import { plan as planOf, type Plan, type PlannedUnit } from "../generator/plan.ts";
import { componentsFor } from "../generator/components/registry.ts";
import { loadConfigFile } from "../generator/config/load.ts";
import { ensureCertificateAuthority } from "../generator/secrets/internal-ca.ts";
import { SecretStore } from "../generator/secrets/store.ts";
import { referenceConfigPath, tempDir, tempRepo } from "./support/render.ts";
import { kubectl } from "./support/tools.ts";

let reference: Rendered;
let referencePlan: Plan;
const SEED = "clusters/home/bootstrap";

beforeAll(async () => {
  const { configPath } = tempRepo(readFileSync(referenceConfigPath, "utf8"), { demoState: true });
  reference = await render({ configPath });
  // The plan generate made the tree from (the demo's CA, as committed).
  const { config } = loadConfigFile(configPath);
  const { ca } = await ensureCertificateAuthority(config, dirname(configPath), new SecretStore(dirname(configPath), config.secrets.ageRecipients));
  referencePlan = planOf(config, componentsFor(config), ca);
});

const content = (path: string) => reference.files.find((f) => f.path === path)?.content;
const seedFiles = () => reference.files.filter((f) => f.path.startsWith(`${SEED}/`));

describe("the reference seed", () => {
  test("holds Gitea and what it runs on up to storage: Longhorn, its config, CloudNativePG, k3s's Traefik settings; not flux-system", () => {
    expect(seedPath(referencePlan)).toBe(SEED);
    expect(seedUnits(referencePlan).map((u) => u.name).sort()).toEqual(["cloudnative-pg", "gitea", "longhorn", "longhorn-config", "traefik"]);
  });

  test("every object file is the tree's file, byte for byte, but for the units' first-boot variants", () => {
    const objectFiles = seedFiles().filter((f) => !f.path.endsWith(".sops.yaml") && !f.path.endsWith("/kustomization.yaml"));
    expect(objectFiles.length).toBeGreaterThan(6);
    for (const unit of seedUnits(referencePlan)) {
      for (const name of Object.keys(unit.files).filter((file) => !unit.seedFiles?.[file])) {
        expect(content(`${SEED}/${unit.name}/${name}.yaml`), `${unit.name}/${name}`).toBe(content(`${unit.path}/${name}.yaml`));
      }
    }
    expect(objectFiles.length).toBe(seedUnits(referencePlan).reduce((n, u) => n + Object.keys(u.files).length, 0));
  });

  test("the units' SOPS files are copied unchanged and left out of the kustomization", () => {
    const listed: string[] = parse(content(`${SEED}/kustomization.yaml`) ?? "").resources;
    const sopsFiles = seedFiles().filter((f) => f.path.endsWith(".sops.yaml"));
    const expected = seedUnits(referencePlan).flatMap((u) => (u.secrets ?? []).map((s) => ({ seed: `${SEED}/${u.name}/${s.name}.sops.yaml`, tree: `${u.path}/${s.name}.sops.yaml` })));
    expect(sopsFiles.map((f) => f.path).sort()).toEqual(expected.map((e) => e.seed).sort());
    expect(expected.map((e) => e.seed)).toEqual(expect.arrayContaining([`${SEED}/gitea/gitea-admin.sops.yaml`, `${SEED}/longhorn/longhorn-crypto.sops.yaml`]));
    for (const { seed, tree } of expected) expect(content(seed), seed).toBe(content(tree));
    expect(listed.filter((r) => r.endsWith(".sops.yaml"))).toEqual([]);
  });

  test("kustomize builds it into exactly the tree's objects of those units", () => {
    const dir = tempDir("homelab-seed-");
    for (const file of seedFiles()) {
      mkdirSync(dirname(join(dir, file.path)), { recursive: true });
      writeFileSync(join(dir, file.path), file.content);
    }
    const built = execFileSync(kubectl, ["kustomize", join(dir, SEED)], { encoding: "utf8" });
    const key = (o: any) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const objects = parseAllDocuments(built).map((d) => d.toJS());
    const tree = seedUnits(referencePlan).flatMap((u) =>
      Object.keys(u.files).flatMap((name) => (u.seedFiles?.[name] ? u.seedFiles[name].map((o) => JSON.parse(JSON.stringify(o))) : parseAllDocuments(content(`${u.path}/${name}.yaml`) ?? "").map((d) => d.toJS()))),
    );
    expect(objects.map(key).sort()).toEqual(tree.map(key).sort());
    expect(objects.map(key)).toEqual(expect.arrayContaining(["helm.toolkit.fluxcd.io/v2 HelmRelease gitea/gitea", "helm.toolkit.fluxcd.io/v2 HelmRelease longhorn-system/longhorn"]));
    // Same objects, not just the same names.
    const byKey = new Map(tree.map((o) => [key(o), o]));
    for (const object of objects) expect(object, key(object)).toEqual(byKey.get(key(object)));
  });

  test("Gitea's database comes up from it: the operator, and the tree's Cluster without the backup plugin, which needs cert-manager", () => {
    const seedDocs = parseAllDocuments(content(`${SEED}/gitea/database.yaml`) ?? "").map((d) => d.toJS());
    const treeDocs = parseAllDocuments(content("apps/gitea/database.yaml") ?? "").map((d) => d.toJS());
    const treeCluster = treeDocs.find((o) => o.kind === "Cluster");
    // The reference config has a backup target: the tree's Cluster archives through the plugin.
    expect(treeCluster.spec.plugins).toEqual([{ name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true, parameters: { barmanObjectName: "gitea-db" } }]);
    const { plugins: _plugins, ...spec } = treeCluster.spec;
    expect(seedDocs).toEqual([{ ...treeCluster, spec }]);
    // No ObjectStore or ScheduledBackup either: their plugin and CRD arrive with Flux.
    expect(treeDocs.map((o) => o.kind).sort()).toEqual(["Cluster", "ObjectStore", "ScheduledBackup"]);
    expect(content(`${SEED}/cloudnative-pg/release.yaml`)).toBe(content("infrastructure/cloudnative-pg/release.yaml"));
    expect(seedUnits(referencePlan).some((u) => u.name === "barman-cloud" || u.name === "cert-manager")).toBe(false);
  });

  test("Flux does not sync it: the cluster's kustomization does not list it", () => {
    const resources: string[] = parse(content("clusters/home/kustomization.yaml") ?? "").resources;
    expect(resources.some((r) => r.startsWith("bootstrap"))).toBe(false);
    expect(reference.files.some((f) => f.path === `${SEED}/kustomization.yaml`)).toBe(true);
  });
});

describe("which units are seeded", () => {
  const unit = (name: string, component: string, phase: Phase, options: Partial<PlannedUnit> = {}): PlannedUnit => ({
    name,
    component,
    phase,
    path: `x/${name}`,
    files: {},
    dependsOn: [],
    ...options,
  });
  const plan = (units: PlannedUnit[]): Plan => ({ clusterPath: "clusters/lab", units, files: [] });

  test("Gitea's dependencies up to storage and their components' other units; nothing later, nothing of Flux, nothing unneeded", () => {
    const units = [
      unit("flux", "flux", 1, { provides: ["flux"] }),
      unit("traefik", "k3s", 1, { provides: ["ingress"] }),
      unit("storage", "longhorn", 2, { provides: ["storage"] }),
      unit("storage-config", "longhorn", 2, { dependsOn: ["storage"] }),
      unit("other-storage", "nfs", 2, { provides: ["nfs"] }),
      unit("certs", "cert-manager", 3, { dependsOn: ["storage"], provides: ["certificates"] }),
      unit("git", "gitea", 6, { dependsOn: ["certs", "storage", "traefik"], provides: ["git-server"] }),
      unit("git-runner", "gitea", 6, { dependsOn: ["git"] }),
    ];
    expect(seedUnits(plan(units)).map((u) => u.name)).toEqual(["traefik", "storage", "storage-config", "git"]);
  });

  test("a seeded unit's own dependencies come along, even through a sibling", () => {
    const units = [
      unit("crds", "operators", 1, { provides: ["crds"] }),
      unit("storage", "longhorn", 2, { provides: ["storage"] }),
      unit("storage-config", "longhorn", 2, { dependsOn: ["crds", "storage"] }),
      unit("git", "gitea", 6, { dependsOn: ["storage"], provides: ["git-server"] }),
    ];
    expect(seedUnits(plan(units)).map((u) => u.name)).toEqual(["crds", "storage", "storage-config", "git"]);
  });

  test("the seed folder is clusters/<name>/bootstrap", () => {
    expect(seedPath(plan([]))).toBe("clusters/lab/bootstrap");
  });
});
