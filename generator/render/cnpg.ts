// Typed shapes for CloudNativePG's custom resources and the barman-cloud plugin's ObjectStore,
// which have no @kubernetes-models package. Only the fields the generator sets, named as in
// cloudnative-pg/cloudnative-pg v1.30.0 api/v1/cluster_types.go and scheduledbackup_types.go,
// and cloudnative-pg/plugin-barman-cloud v0.13.0 api/v1/objectstore_types.go (with the
// BarmanObjectStoreConfiguration of the CRD the plugin-barman-cloud chart 0.7.0 ships).
import type { KubeObject } from "../components/types.ts";

interface Metadata {
  readonly name: string;
  readonly namespace: string;
}

interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

/** Cluster.spec.plugins[] and ExternalCluster.plugin (PluginConfiguration). */
export interface CnpgPlugin {
  readonly name: string;
  readonly isWALArchiver?: boolean;
  readonly parameters: Readonly<Record<string, string>>;
}

export interface CnpgExternalCluster {
  readonly name: string;
  readonly connectionParameters?: Readonly<Record<string, string>>;
  readonly password?: SecretKeyRef;
  readonly plugin?: CnpgPlugin;
}

export interface CnpgCluster extends KubeObject {
  readonly apiVersion: "postgresql.cnpg.io/v1";
  readonly kind: "Cluster";
  readonly metadata: Metadata;
  readonly spec: {
    readonly instances: number;
    readonly storage: { readonly size: string; readonly storageClass: string };
    readonly postgresql?: { readonly parameters: Readonly<Record<string, string>> };
    readonly bootstrap:
      | {
          readonly initdb: {
            readonly database: string;
            readonly owner: string;
            readonly secret: { readonly name: string };
            readonly import?: { readonly type: "microservice"; readonly databases: readonly string[]; readonly source: { readonly externalCluster: string } };
          };
        }
      | {
          readonly recovery: {
            readonly source: string;
            readonly database: string;
            readonly owner: string;
            readonly secret: { readonly name: string };
            readonly recoveryTarget?: { readonly targetTime: string };
          };
        };
    readonly externalClusters?: readonly CnpgExternalCluster[];
    readonly plugins?: readonly CnpgPlugin[];
  };
}

export interface CnpgScheduledBackup extends KubeObject {
  readonly apiVersion: "postgresql.cnpg.io/v1";
  readonly kind: "ScheduledBackup";
  readonly metadata: Metadata;
  readonly spec: {
    /** Six fields: robfig/cron with seconds first. */
    readonly schedule: string;
    readonly cluster: { readonly name: string };
    readonly method: "plugin";
    readonly pluginConfiguration: { readonly name: string };
    readonly backupOwnerReference: "none" | "self" | "cluster";
    readonly immediate: boolean;
  };
}

export interface BarmanObjectStore extends KubeObject {
  readonly apiVersion: "barmancloud.cnpg.io/v1";
  readonly kind: "ObjectStore";
  readonly metadata: Metadata;
  readonly spec: {
    readonly configuration: {
      readonly destinationPath: string;
      readonly endpointURL?: string;
      readonly s3Credentials: { readonly accessKeyId: SecretKeyRef; readonly secretAccessKey: SecretKeyRef; readonly region: SecretKeyRef };
      readonly wal: { readonly compression: "gzip" };
      readonly data: { readonly compression: "gzip" };
    };
    /** ^[1-9][0-9]*[dwm]$ */
    readonly retentionPolicy: string;
  };
}
