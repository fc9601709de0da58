// PostgreSQL for Gitea and Authentik under CloudNativePG: each Cluster's credentials, the chart's
// external-database values and the backup wiring name the same Secrets and keys; no bundled
// database or Bitnami image is left; restore renders; the render-diff warns when a database moves.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import { compareTrees } from "../generator/diff/compare.ts";
import { objectKey, type RenderedTree, type TreeObject } from "../generator/diff/trees.ts";
import type { Rendered } from "../generator/generate.ts";
import { databaseCrdChecks } from "./support/cnpg-checks.ts";
import { configErrorOf, minimalConfig, objectsOf, referenceConfigPath, renderText } from "./support/render.ts";

type Obj = Record<string, any>;
const referenceText = readFileSync(referenceConfigPath, "utf8");
const withBackup = `${minimalConfig}storage:\n  longhorn:\n    backup:\n      target: s3://lab-backups@eu-central-1/house/\n      schedule: "30 2 * * *"\n      databaseRetention: 8w\n`;

let reference: Rendered;
beforeAll(async () => {
  reference = await renderText(referenceText, { demoState: true });
});

const objects = (rendered: Rendered): Obj[] => objectsOf(rendered.files).map(({ object }) => object);
const find = (all: Obj[], kind: string, namespace: string, name?: string) =>
  all.find((o) => o.kind === kind && o.metadata.namespace === namespace && (name === undefined || o.metadata.name === name));
const release = (all: Obj[], name: string) => all.find((o) => o.kind === "HelmRelease" && o.metadata.name === name)!;
/** A SOPS file keeps its keys in clear: the Secret's key names, without decrypting. */
const secretKeys = (all: Obj[], namespace: string, name: string): string[] => {
  const secret = find(all, "Secret", namespace, name);
  return Object.keys(secret?.stringData ?? secret?.data ?? {}).sort();
};
const checkSchema = (all: Obj[]) => {
  for (const object of all) databaseCrdChecks[`${object.apiVersion}/${object.kind}`]?.(object);
};

describe("each app's Cluster, credentials and external-database values line up", () => {
  test("Gitea: initdb's owner, database and Secret are the chart's database settings and password env", () => {
    const all = objects(reference);
    const cluster = find(all, "Cluster", "gitea")!;
    expect(cluster.metadata.name).toBe("gitea-db");
    expect(cluster.spec.bootstrap.initdb).toEqual({ database: "gitea", owner: "gitea", secret: { name: "gitea-db-credentials" } });
    // CloudNativePG reads username and password from the owner's Secret.
    expect(secretKeys(all, "gitea", "gitea-db-credentials")).toEqual(["password", "username"]);
    const values = release(all, "gitea").spec.values;
    expect(values.gitea.config.database).toMatchObject({ DB_TYPE: "postgres", HOST: "gitea-db-rw.gitea.svc.cluster.local:5432", NAME: "gitea", USER: "gitea" });
    expect(values.gitea.additionalConfigFromEnvs).toContainEqual({ name: "GITEA__DATABASE__PASSWD", valueFrom: { secretKeyRef: { name: "gitea-db-credentials", key: "password" } } });
    // No Valkey: sessions in the database survive restarts; cache and queue are Gitea's own.
    expect(values.gitea.config).toMatchObject({ session: { PROVIDER: "db" }, cache: { ADAPTER: "memory" }, queue: { TYPE: "level" } });
    expect(release(all, "gitea").spec.valuesFrom?.some((source: Obj) => /valkey/.test(source.name))).not.toBe(true);
    checkSchema(all);
  });

  test("Authentik: authentik.postgresql.* and the password env name the Cluster's service and owner Secret", () => {
    const all = objects(reference);
    const cluster = find(all, "Cluster", "authentik")!;
    expect(cluster.spec.bootstrap.initdb).toEqual({ database: "authentik", owner: "authentik", secret: { name: "authentik-db-credentials" } });
    expect(secretKeys(all, "authentik", "authentik-db-credentials")).toEqual(["password", "username"]);
    const values = release(all, "authentik").spec.values;
    expect(values.authentik.postgresql).toEqual({ host: "authentik-db-rw.authentik.svc.cluster.local", name: "authentik", user: "authentik" });
    expect(values.global.env).toContainEqual({ name: "AUTHENTIK_POSTGRESQL__PASSWORD", valueFrom: { secretKeyRef: { name: "authentik-db-credentials", key: "password" } } });
    // The size stays auth.authentik.storage.
    expect(cluster.spec.storage).toEqual({ size: "8Gi", storageClass: "longhorn-encrypted" });
  });

  test("no release turns on a bundled PostgreSQL or Valkey, and no release's values name a Bitnami image", async () => {
    for (const rendered of [reference, await renderText(minimalConfig)]) {
      const all = objects(rendered);
      for (const r of all.filter((o) => o.kind === "HelmRelease")) expect(JSON.stringify(r.spec.values ?? {}), r.metadata.name).not.toMatch(/bitnami/i);
      const gitea = release(all, "gitea").spec.values;
      expect([gitea.postgresql.enabled, gitea["postgresql-ha"].enabled, gitea.valkey.enabled, gitea["valkey-cluster"].enabled]).toEqual([false, false, false, false]);
      expect(release(all, "authentik").spec.values.postgresql).toEqual({ enabled: false });
      // The old volumes are no longer rendered (and, prune-disabled, stay in the cluster).
      expect(all.filter((o) => o.kind === "PersistentVolumeClaim" && /postgresql|valkey/.test(o.metadata.name))).toEqual([]);
    }
  });
});

describe("backups through the barman-cloud plugin", () => {
  test("with a target: the plugin in the operator's namespace, and per Cluster a WAL archiver, its ObjectStore and a ScheduledBackup", async () => {
    const all = objects(await renderText(withBackup, { demoState: true }));
    const plugin = release(all, "plugin-barman-cloud");
    expect(plugin.metadata.namespace).toBe(release(all, "cloudnative-pg").metadata.namespace);
    for (const app of ["gitea", "authentik"]) {
      const cluster = find(all, "Cluster", app)!;
      const store = find(all, "ObjectStore", app)!;
      const scheduled = find(all, "ScheduledBackup", app)!;
      expect(cluster.spec.plugins).toEqual([{ name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true, parameters: { barmanObjectName: store.metadata.name } }]);
      expect(scheduled.spec).toMatchObject({ cluster: { name: cluster.metadata.name }, method: "plugin", pluginConfiguration: { name: "barman-cloud.cloudnative-pg.io" }, schedule: "0 30 2 * * *" });
      // Its own prefix beside Longhorn's, under the target's folder; retention from the config.
      expect(store.spec.configuration.destinationPath).toBe(`s3://lab-backups/house/postgres/${app}`);
      expect(store.spec.retentionPolicy).toBe("8w");
      expect(store.spec.configuration.endpointURL).toBeUndefined();
      // Every key the ObjectStore reads is in this namespace's copy of the credentials.
      const refs = Object.values(store.spec.configuration.s3Credentials) as { name: string; key: string }[];
      for (const ref of refs) expect(secretKeys(all, app, ref.name)).toContain(ref.key);
      expect(cluster.spec.postgresql).toBeUndefined();
    }
    checkSchema(all);
  });

  test("one `homelab secrets set`: each namespace's copy takes the same supplied values as Longhorn's credentials", async () => {
    const { loadConfigFile } = await import("../generator/config/load.ts");
    const { componentsFor } = await import("../generator/components/registry.ts");
    const { tempRepo } = await import("./support/render.ts");
    const { config } = loadConfigFile(tempRepo(withBackup).configPath);
    const context = { config, ca: {} as never, clusterPath: "clusters/home" };
    const specs = componentsFor(config)
      .filter((c) => ["longhorn", "gitea", "authentik"].includes(c.name))
      .flatMap((c) => c.render(context).units.flatMap((u) => u.secrets ?? []));
    const supplied = (name: string) =>
      Object.values(specs.find((s) => s.name === name)!.data)
        .flatMap((v) => ("supplied" in v ? [v.supplied] : []))
        .sort();
    expect(supplied("longhorn-backup-credentials")).toEqual(["longhorn.backup.accessKeyId", "longhorn.backup.secretAccessKey"]);
    expect(supplied("gitea-db-backup-credentials")).toEqual(supplied("longhorn-backup-credentials"));
    expect(supplied("authentik-db-backup-credentials")).toEqual(supplied("longhorn-backup-credentials"));
  });

  test("without a target: a warning, no plugin, no archive objects, and a bound on the WAL a slot may hold", async () => {
    const rendered = await renderText(minimalConfig);
    expect(rendered.warnings.map((w) => w.message).join("\n")).toMatch(/PostgreSQL keep no WAL archive/);
    const all = objects(rendered);
    expect(all.some((o) => o.metadata.name === "plugin-barman-cloud" || o.kind === "ObjectStore" || o.kind === "ScheduledBackup")).toBe(false);
    for (const app of ["gitea", "authentik"]) {
      const cluster = find(all, "Cluster", app)!;
      expect(cluster.spec.plugins).toBeUndefined();
      expect(cluster.spec.postgresql.parameters).toEqual({ max_slot_wal_keep_size: "2GB" });
    }
    checkSchema(all);
  });
});

describe("instances and volumes", () => {
  const threeNodes = minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes: [{name: a, address: 10.0.0.1}, {name: b, role: agent}, {name: c, role: agent}]\n");

  test("one instance on one node, on the encrypted default class", async () => {
    const cluster = find(objects(await renderText(minimalConfig)), "Cluster", "gitea")!;
    expect(cluster.spec).toMatchObject({ instances: 1, storage: { size: "8Gi", storageClass: "longhorn-encrypted" } });
  });

  test("instances follow the node count; their volumes use a one-replica twin of the encrypted class", async () => {
    const all = objects(await renderText(threeNodes));
    const cluster = find(all, "Cluster", "gitea")!;
    expect(cluster.spec).toMatchObject({ instances: 3, storage: { storageClass: "longhorn-encrypted-single" } });
    const single = all.find((o) => o.kind === "StorageClass" && o.metadata.name === "longhorn-encrypted-single")!;
    const normal = all.find((o) => o.kind === "StorageClass" && o.metadata.name === "longhorn-encrypted")!;
    expect(single.parameters).toEqual({ ...normal.parameters, numberOfReplicas: "1" });
    expect(single.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"]).toBeUndefined();
    expect(normal.parameters.numberOfReplicas).toBe("3");
  });

  test("apps.gitea.database and auth.authentik.database set instances and size", async () => {
    const all = objects(await renderText(`${threeNodes}apps:\n  gitea:\n    database: {instances: 1, size: 12Gi}\nauth:\n  authentik:\n    storage: 4Gi\n    database: {instances: 2}\n`));
    expect(find(all, "Cluster", "gitea")!.spec).toMatchObject({ instances: 1, storage: { size: "12Gi", storageClass: "longhorn-encrypted" } });
    expect(find(all, "Cluster", "authentik")!.spec).toMatchObject({ instances: 2, storage: { size: "4Gi", storageClass: "longhorn-encrypted-single" } });
  });
});

describe("existing installs: the two-step move from the bundled PostgreSQL", () => {
  test("step 1 (database.migrate): releases suspended on their bundled PostgreSQL, its Secrets kept, each Cluster imports from it", async () => {
    const rendered = await renderText(`${minimalConfig}apps:\n  gitea:\n    database: {migrate: true}\nauth:\n  authentik:\n    database: {migrate: true}\n`);
    const all = objects(rendered);
    for (const [app, secret] of [["gitea", "gitea-postgresql"], ["authentik", "authentik-secrets"]] as const) {
      expect(release(all, app).spec.suspend, app).toBe(true);
      const cluster = find(all, "Cluster", app)!;
      expect(cluster.spec.bootstrap.initdb.import).toEqual({ type: "microservice", databases: [app], source: { externalCluster: "bundled" } });
      expect(cluster.spec.externalClusters).toEqual([
        { name: "bundled", connectionParameters: { host: `${app}-postgresql`, user: "postgres", dbname: app }, password: { name: secret, key: "postgres-password" } },
      ]);
      // The superuser password the import reads is in the tree, so pruning cannot take it away mid-import.
      expect(secretKeys(all, app, secret)).toEqual(expect.arrayContaining(["password", "postgres-password"]));
    }
    expect(secretKeys(all, "gitea", "gitea-valkey")).toEqual(["password"]);
    checkSchema(all);
    // Step 2 (migrate removed): running again, on the Cluster, with the old Secrets gone.
    const after = objects(await renderText(minimalConfig));
    expect(release(after, "gitea").spec.suspend).toBeUndefined();
    expect(find(after, "Secret", "gitea", "gitea-postgresql")).toBeUndefined();
    expect(secretKeys(after, "authentik", "authentik-secrets")).toEqual(["secret-key"]);
  });

  test("migrate and restore together are a config error", () => {
    expect(configErrorOf(`${minimalConfig}apps:\n  gitea:\n    database: {migrate: true, restore: {from: gitea-db}}\n`)).toMatch(/apps\.gitea\.database\.restore: a database is either imported/);
  });
});

describe("restore is a config change", () => {
  const restoring = `${withBackup}apps:\n  gitea:\n    database:\n      restore:\n        from: gitea-db\n        targetTime: "2026-12-01T10:00:00Z"\n`;

  test("a new Cluster recovers the old one's archive through the plugin, to the point in time; Gitea moves to it", async () => {
    const all = objects(await renderText(restoring, { demoState: true }));
    const cluster = find(all, "Cluster", "gitea")!;
    expect(cluster.metadata.name).toBe("gitea-db-1");
    expect(cluster.spec.bootstrap).toEqual({
      recovery: { source: "origin", database: "gitea", owner: "gitea", secret: { name: "gitea-db-credentials" }, recoveryTarget: { targetTime: "2026-12-01T10:00:00Z" } },
    });
    expect(cluster.spec.externalClusters).toEqual([{ name: "origin", plugin: { name: "barman-cloud.cloudnative-pg.io", parameters: { barmanObjectName: "gitea-db", serverName: "gitea-db" } } }]);
    // It archives again, under its own name (the plugin's default serverName), into the same store.
    expect(cluster.spec.plugins).toEqual([{ name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true, parameters: { barmanObjectName: "gitea-db" } }]);
    expect(find(all, "ScheduledBackup", "gitea")!.spec.cluster.name).toBe("gitea-db-1");
    expect(release(all, "gitea").spec.values.gitea.config.database.HOST).toBe("gitea-db-1-rw.gitea.svc.cluster.local:5432");
    checkSchema(all);
  });

  test("a second restore numbers on; a restore without a backup target is a config error", async () => {
    const again = objects(await renderText(restoring.replace("from: gitea-db\n", "from: gitea-db-1\n"), { demoState: true }));
    expect(find(again, "Cluster", "gitea")!.metadata.name).toBe("gitea-db-2");
    expect(configErrorOf(`${minimalConfig}auth:\n  authentik:\n    database:\n      restore: {from: authentik-db}\n`)).toMatch(/homelab\.yaml:\d+:\d+: auth\.authentik\.database\.restore: .*storage\.longhorn\.backup, and there is none/);
  });

  test("the render-diff warns when a change moves a database", async () => {
    const tree = (rendered: Rendered): RenderedTree => ({
      objects: new Map<string, TreeObject>(objects(rendered).map((object) => [objectKey(object), { key: objectKey(object), unit: "x", object }])),
      config: {},
    });
    const before = tree(await renderText(withBackup, { demoState: true }));
    const after = tree(await renderText(restoring, { demoState: true }));
    expect(compareTrees(before, after).warnings).toContainEqual(expect.stringMatching(/^Cluster\/gitea\/gitea-db: the database cluster leaves the tree/));
    // An install from before CloudNativePG: Gitea's release had the bundled PostgreSQL on.
    const legacy = structuredClone(before.objects.get("HelmRelease/gitea/gitea")!);
    legacy.object.spec.values.postgresql = { enabled: true };
    const old: RenderedTree = { objects: new Map(before.objects).set(legacy.key, legacy), config: {} };
    expect(compareTrees(old, before).warnings).toContainEqual(expect.stringMatching(/^HelmRelease\/gitea\/gitea: the chart's bundled PostgreSQL is switched off.*import the data first/));
    // Step 1 of the migration keeps the release (suspended) on the bundled PostgreSQL: no warning.
    const suspended = structuredClone(before.objects.get("HelmRelease/gitea/gitea")!);
    suspended.object.spec.suspend = true;
    expect(compareTrees(old, { objects: new Map(before.objects).set(suspended.key, suspended), config: {} }).warnings.filter((w) => /bundled/.test(w))).toEqual([]);
    expect(compareTrees(before, before).warnings).toEqual([]);
  });
});
