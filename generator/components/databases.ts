// PostgreSQL for one app (Gitea, Authentik) under CloudNativePG: the Cluster, its owner's
// credentials, and with a backup target its WAL archive and base backups through the
// barman-cloud plugin. The app's own component renders these next to its release; the objects
// follow cloudnative-pg/cloudnative-pg v1.30.0 (api/v1) and plugin-barman-cloud v0.13.0.
import type { HomelabConfig } from "../config/schema.ts";
import type { BarmanObjectStore, CnpgCluster, CnpgExternalCluster, CnpgPlugin, CnpgScheduledBackup } from "../render/cnpg.ts";
import { BACKUP_KEYS, copiesByDefault, databaseStorageClass } from "./longhorn.ts";
import type { KubeObject, SecretSpec } from "./types.ts";

/** The plugin's name as Clusters list it (plugin-barman-cloud internal/cnpgi/metadata/constants.go). */
const BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io";
/** What the barman-cloud plugin's unit provides; a Cluster that lists the plugin needs it. */
export const BACKUP_PLUGIN_CAPABILITY = "postgres-backup-plugin";
/** What the operator's unit provides: the postgresql.cnpg.io CRDs and the operator. */
export const OPERATOR_CAPABILITY = "postgres-operator";
/** CloudNativePG's Service for the primary: <cluster>-rw (pkg/specs/services.go). */
const PRIMARY_SERVICE_SUFFIX = "-rw";
/** The Secret keys CloudNativePG reads for the owner (internal/management/utils/secrets.go: username, password). */
export const CREDENTIAL_KEYS = { username: "username", password: "password" } as const;
/** Without an archive, WAL a lagging replica's slot may hold back is capped (PostgreSQL max_slot_wal_keep_size). */
const LOCAL_WAL_LIMIT = "2GB";

interface DatabaseSpec {
  /** The app, also its database and owner: gitea, authentik. */
  readonly app: string;
  readonly namespace: string;
  readonly size: string;
  readonly instances?: number | undefined;
  readonly restore?: { readonly from: string; readonly targetTime?: string | undefined } | undefined;
  /** The generated-secret key of the owner's password, kept across the move to CloudNativePG. */
  readonly passwordKey: string;
  /**
   * Step 1 of a migration: the chart's bundled PostgreSQL, still running, that the new Cluster
   * imports the app's database from (as its postgres superuser).
   */
  readonly importFrom?: { readonly host: string; readonly passwordSecret: string; readonly passwordKey: string } | undefined;
}

interface Database {
  /** The Cluster's name; clients connect to <name>-rw. */
  readonly name: string;
  readonly host: string;
  readonly credentialsSecret: string;
  /** The objects for the tree: Cluster and, with a target, ObjectStore and ScheduledBackup. */
  readonly objects: readonly KubeObject[];
  /** The first-boot seed's copy: the Cluster without the plugin (it needs cert-manager, which the seed lacks). */
  readonly seedObjects: readonly KubeObject[];
  readonly secrets: readonly SecretSpec[];
  readonly needs: readonly string[];
}

function instanceCount(config: HomelabConfig, configured: number | undefined): number {
  return configured ?? copiesByDefault(config);
}

/** gitea-db → gitea-db-1 → gitea-db-2: a restore makes a new cluster, archived under its own name. */
function restoredName(from: string): string {
  const numbered = /^(.*)-([0-9]+)$/.exec(from);
  return numbered ? `${numbered[1]}-${Number(numbered[2]) + 1}` : `${from}-1`;
}

/** s3://bucket@region/path/ (Longhorn's form) → the bucket, region and folder barman writes under. */
function objectStorePath(target: string, app: string): { destinationPath: string; region: string } {
  const match = /^s3:\/\/([^@]+)@([^/]+)\/(.*)$/.exec(target);
  if (!match) throw new Error(`not an S3 backup target: ${target}`);
  const [, bucket, region, folder] = match as unknown as [string, string, string, string];
  // Its own prefix beside Longhorn's backupstore/ folder; barman adds the server name below it.
  return { destinationPath: `s3://${bucket}/${folder}postgres/${app}`, region };
}

export function postgresDatabase(config: HomelabConfig, spec: DatabaseSpec): Database {
  const name = spec.restore ? restoredName(spec.restore.from) : `${spec.app}-db`;
  const instances = instanceCount(config, spec.instances);
  const credentialsSecret = `${spec.app}-db-credentials`;
  const backup = config.storage.longhorn.backup;
  const backupSecret = `${spec.app}-db-backup-credentials`;
  const objectStoreName = `${spec.app}-db`;
  const owner = { database: spec.app, owner: spec.app, secret: { name: credentialsSecret } };
  const archiver: CnpgPlugin | undefined = backup
    ? { name: BARMAN_PLUGIN, isWALArchiver: true, parameters: { barmanObjectName: objectStoreName } }
    : undefined;
  // A logical import (pg_dump/pg_restore of the app's database) from a running server:
  // BootstrapInitDB.Import, type microservice (api/v1/cluster_types.go).
  const bundled: CnpgExternalCluster | undefined = spec.importFrom
    ? {
        name: "bundled",
        connectionParameters: { host: spec.importFrom.host, user: "postgres", dbname: spec.app },
        password: { name: spec.importFrom.passwordSecret, key: spec.importFrom.passwordKey },
      }
    : undefined;
  const origin: CnpgExternalCluster | undefined = spec.restore
    ? // The plugin reads the archive of serverName (default: this cluster's name) from the ObjectStore.
      { name: "origin", plugin: { name: BARMAN_PLUGIN, parameters: { barmanObjectName: objectStoreName, serverName: spec.restore.from } } }
    : undefined;
  const cluster = (plugins: readonly CnpgPlugin[]): CnpgCluster => ({
    apiVersion: "postgresql.cnpg.io/v1",
    kind: "Cluster",
    metadata: { name, namespace: spec.namespace },
    spec: {
      instances,
      // PostgreSQL replicates between instances itself: more than one, and Longhorn keeps one copy each.
      storage: { size: spec.size, storageClass: databaseStorageClass(config, instances) },
      // Without an archive PostgreSQL recycles WAL itself (CloudNativePG's archive command skips
      // when no backup is configured: pkg/management/postgres/archiver/archiver.go); only a
      // replication slot could hold it back without bound.
      ...(backup ? {} : { postgresql: { parameters: { max_slot_wal_keep_size: LOCAL_WAL_LIMIT } } }),
      bootstrap: origin
        ? { recovery: { source: origin.name, ...owner, ...(spec.restore?.targetTime ? { recoveryTarget: { targetTime: spec.restore.targetTime } } : {}) } }
        : { initdb: bundled ? { ...owner, import: { type: "microservice", databases: [spec.app], source: { externalCluster: bundled.name } } } : owner },
      ...(origin || bundled ? { externalClusters: [(origin ?? bundled)!] } : {}),
      ...(plugins.length > 0 ? { plugins } : {}),
    },
  });
  const secrets: SecretSpec[] = [
    {
      name: credentialsSecret,
      namespace: spec.namespace,
      data: { [CREDENTIAL_KEYS.username]: { literal: spec.app }, [CREDENTIAL_KEYS.password]: { generated: spec.passwordKey } },
    },
  ];
  const objects: KubeObject[] = [cluster(archiver ? [archiver] : [])];
  if (backup) {
    const storePath = objectStorePath(backup.target, spec.app);
    // The same supplied values as Longhorn's credentials (one `homelab secrets set`), copied into this namespace.
    secrets.push({ name: backupSecret, namespace: spec.namespace, data: { ...BACKUP_KEYS, AWS_REGION: { literal: storePath.region } } });
    const store: BarmanObjectStore = {
      apiVersion: "barmancloud.cnpg.io/v1",
      kind: "ObjectStore",
      metadata: { name: objectStoreName, namespace: spec.namespace },
      spec: {
        configuration: {
          destinationPath: storePath.destinationPath,
          ...(backup.endpoint ? { endpointURL: backup.endpoint } : {}),
          s3Credentials: {
            accessKeyId: { name: backupSecret, key: "AWS_ACCESS_KEY_ID" },
            secretAccessKey: { name: backupSecret, key: "AWS_SECRET_ACCESS_KEY" },
            region: { name: backupSecret, key: "AWS_REGION" },
          },
          wal: { compression: "gzip" },
          data: { compression: "gzip" },
        },
        retentionPolicy: backup.databaseRetention,
      },
    };
    const scheduled: CnpgScheduledBackup = {
      apiVersion: "postgresql.cnpg.io/v1",
      kind: "ScheduledBackup",
      metadata: { name, namespace: spec.namespace },
      spec: {
        // CloudNativePG's schedule has a seconds field first; the config's is a five-field cron.
        schedule: `0 ${backup.schedule}`,
        cluster: { name },
        method: "plugin",
        pluginConfiguration: { name: BARMAN_PLUGIN },
        // Backups belong to the ScheduledBackup: the plugin's retention policy prunes the store.
        backupOwnerReference: "self",
        immediate: true,
      },
    };
    objects.push(store, scheduled);
  }
  return {
    name,
    host: `${name}${PRIMARY_SERVICE_SUFFIX}.${spec.namespace}.svc.cluster.local`,
    credentialsSecret,
    objects,
    seedObjects: [cluster([])],
    secrets,
    needs: [OPERATOR_CAPABILITY, ...(backup ? [BACKUP_PLUGIN_CAPABILITY] : [])],
  };
}
