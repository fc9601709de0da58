// Schema facts for CloudNativePG's and the barman-cloud plugin's custom resources, which have no
// @kubernetes-models package: the required fields and enums of their CRDs as shipped by
// cloudnative-pg/charts (charts/cloudnative-pg/templates/crds/crds.yaml at cloudnative-pg-v0.29.0,
// charts/plugin-barman-cloud/templates/crds/crds.yaml at plugin-barman-cloud-v0.7.0) and the Go
// types behind them (cloudnative-pg v1.30.0 api/v1, plugin-barman-cloud v0.13.0 api/v1).
import { expect } from "vitest";

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const secretKeyRef = (ref: any) => expect(Object.keys(ref).sort()).toEqual(["key", "name"]);

export const databaseCrdChecks: Record<string, (o: any) => void> = {
  "postgresql.cnpg.io/v1/Cluster": (o) => {
    expect(o.metadata.name).toMatch(DNS_LABEL);
    expect(Number.isInteger(o.spec.instances) && o.spec.instances >= 1).toBe(true);
    expect(o.spec.storage.size).toMatch(/^[0-9]+(Mi|Gi|Ti)$/);
    // Exactly one bootstrap method (the webhook rejects more: internal/webhook/v1/cluster_webhook.go).
    expect(Object.keys(o.spec.bootstrap).length).toBe(1);
    const method = o.spec.bootstrap.initdb ?? o.spec.bootstrap.recovery;
    expect(method).toMatchObject({ database: expect.any(String), owner: expect.any(String), secret: { name: expect.any(String) } });
    if (o.spec.bootstrap.initdb?.import) {
      expect(["microservice", "monolith"]).toContain(o.spec.bootstrap.initdb.import.type);
      expect(o.spec.externalClusters.map((c: any) => c.name)).toContain(o.spec.bootstrap.initdb.import.source.externalCluster);
    }
    if (o.spec.bootstrap.recovery) expect(o.spec.externalClusters.map((c: any) => c.name)).toContain(o.spec.bootstrap.recovery.source);
    for (const plugin of o.spec.plugins ?? []) expect(typeof plugin.name).toBe("string");
    // At most one WAL archiver (PluginConfiguration.IsWALArchiver).
    expect((o.spec.plugins ?? []).filter((p: any) => p.isWALArchiver).length).toBeLessThanOrEqual(1);
    for (const external of o.spec.externalClusters ?? []) {
      expect(external.name).toMatch(DNS_LABEL);
      if (external.password) secretKeyRef(external.password);
    }
    for (const value of Object.values(o.spec.postgresql?.parameters ?? {})) expect(typeof value).toBe("string");
  },
  "postgresql.cnpg.io/v1/ScheduledBackup": (o) => {
    // robfig/cron with seconds: six fields.
    expect(o.spec.schedule.split(" ").length).toBe(6);
    expect(typeof o.spec.cluster.name).toBe("string");
    expect(["barmanObjectStore", "volumeSnapshot", "plugin"]).toContain(o.spec.method);
    expect(["none", "self", "cluster"]).toContain(o.spec.backupOwnerReference);
    if (o.spec.method === "plugin") expect(typeof o.spec.pluginConfiguration.name).toBe("string");
  },
  "barmancloud.cnpg.io/v1/ObjectStore": (o) => {
    expect(o.spec.configuration.destinationPath.length).toBeGreaterThan(0);
    // serverName belongs to the Cluster's plugin parameters (the CRD's x-kubernetes-validations).
    expect(o.spec.configuration.serverName).toBeUndefined();
    const s3 = o.spec.configuration.s3Credentials;
    for (const key of Object.keys(s3)) expect(["accessKeyId", "secretAccessKey", "region", "sessionToken", "inheritFromIAMRole"]).toContain(key);
    secretKeyRef(s3.accessKeyId);
    secretKeyRef(s3.secretAccessKey);
    if (s3.region) secretKeyRef(s3.region);
    expect(["bzip2", "gzip", "lz4", "snappy", "xz", "zstd"]).toContain(o.spec.configuration.wal.compression);
    expect(["bzip2", "gzip", "lz4", "snappy"]).toContain(o.spec.configuration.data.compression);
    expect(o.spec.retentionPolicy).toMatch(/^[1-9][0-9]*[dwm]$/);
  },
};
