// Phase 2: Longhorn, the only default StorageClass (Retain), snapshots and off-site backups.
import type { IStorageClass } from "kubernetes-models/storage.k8s.io/v1/StorageClass";
import { catalog } from "../catalog.ts";
import type { HomelabConfig } from "../config/schema.ts";
import type { LonghornBackupTarget, LonghornRecurringJob } from "../render/crds.ts";
import { helmRelease } from "../render/flux.ts";
import { BACKUP_GROUP, defaultStorageClass, namespace, SNAPSHOT_GROUP } from "../render/kube.ts";
import type { Component } from "./types.ts";

export const LONGHORN_NAMESPACE = "longhorn-system";
/** Secret with CRYPTO_KEY_VALUE and CRYPTO_KEY_PROVIDER (the volume encryption key). */
export const CRYPTO_SECRET = "longhorn-crypto";
/** Secret with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, off AWS, AWS_ENDPOINTS. */
export const BACKUP_SECRET = "longhorn-backup-credentials";

/** Copies of data kept when the config names no number: one per node, at most three. */
export function copiesByDefault(config: HomelabConfig): number {
  return Math.min(3, config.cluster.nodes?.length ?? 1);
}

export function replicaCount(config: HomelabConfig): number {
  return config.storage.longhorn.replicas ?? copiesByDefault(config);
}

/** The off-site target's keys, which the user sets once (`homelab secrets set`) for Longhorn and the databases. */
export const BACKUP_KEYS = {
  AWS_ACCESS_KEY_ID: { supplied: "longhorn.backup.accessKeyId", requiredBy: ["storage", "longhorn", "backup"] },
  AWS_SECRET_ACCESS_KEY: { supplied: "longhorn.backup.secretAccessKey", requiredBy: ["storage", "longhorn", "backup"] },
} as const;

/**
 * The class a CloudNativePG database uses: with more than one instance PostgreSQL already keeps
 * a copy per instance, so each volume gets a single Longhorn replica (when Longhorn would
 * otherwise replicate).
 */
export function databaseStorageClass(config: HomelabConfig, instances: number): string {
  return instances > 1 && replicaCount(config) > 1 ? `${defaultStorageClass(config)}-single` : defaultStorageClass(config);
}

/** The default class (encrypted when configured), or with `single` its one-replica twin for replicated databases. */
function storageClass(config: HomelabConfig, single: boolean): IStorageClass {
  const secretParameters = config.storage.longhorn.encryption
    ? Object.fromEntries(
        ["provisioner", "node-publish", "node-stage", "node-expand"].flatMap((stage) => [
          [`csi.storage.k8s.io/${stage}-secret-name`, CRYPTO_SECRET],
          [`csi.storage.k8s.io/${stage}-secret-namespace`, LONGHORN_NAMESPACE],
        ]),
      )
    : {};
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: {
      name: single ? databaseStorageClass(config, 2) : defaultStorageClass(config),
      annotations: {
        ...(single ? {} : { "storageclass.kubernetes.io/is-default-class": "true" }),
        // Parameters are immutable and numberOfReplicas follows the node count: Flux replaces
        // the class instead of failing (existing volumes keep the parameters they were made with).
        "kustomize.toolkit.fluxcd.io/force": "Enabled",
      },
    },
    provisioner: "driver.longhorn.io",
    allowVolumeExpansion: true,
    reclaimPolicy: "Retain",
    volumeBindingMode: "Immediate",
    parameters: {
      numberOfReplicas: String(single ? 1 : replicaCount(config)),
      staleReplicaTimeout: "30",
      fromBackup: "",
      fsType: "ext4",
      ...(config.storage.longhorn.encryption ? { encrypted: "true" } : {}),
      ...secretParameters,
    },
  } satisfies IStorageClass;
}

function recurringJob(name: string, task: "snapshot" | "backup", schedule: { schedule: string; retain: number }, group: string): LonghornRecurringJob {
  return {
    apiVersion: "longhorn.io/v1beta2",
    kind: "RecurringJob",
    metadata: { name, namespace: LONGHORN_NAMESPACE },
    spec: { name, task, cron: schedule.schedule, retain: schedule.retain, concurrency: task === "backup" ? 1 : 2, groups: [group] },
  };
}

export const longhorn: Component = {
  name: "longhorn",
  phase: 2,
  enabled: () => true,
  render({ config }) {
    const settings = config.storage.longhorn;
    const replicas = replicaCount(config);
    const release = helmRelease({
      name: "longhorn",
      namespace: LONGHORN_NAMESPACE,
      chart: { ...catalog.charts.longhorn, version: settings.version },
      timeout: "15m",
      values: {
        persistence: {
          // With encryption the tree's own encrypted class is the one default.
          defaultClass: !settings.encryption,
          defaultClassReplicaCount: replicas,
          reclaimPolicy: "Retain",
        },
        defaultSettings: { defaultDataPath: settings.dataPath, defaultReplicaCount: replicas },
        // Its pre-upgrade hook job blocks GitOps upgrades.
        preUpgradeChecker: { jobEnabled: false },
      },
    });
    const jobs: LonghornRecurringJob[] = [recurringJob("snapshot", "snapshot", settings.snapshots, SNAPSHOT_GROUP)];
    const configFiles: Record<string, (LonghornRecurringJob | LonghornBackupTarget)[]> = {};
    if (settings.backup) {
      jobs.push(recurringJob("backup", "backup", settings.backup, BACKUP_GROUP));
      configFiles["backup-target"] = [
        {
          apiVersion: "longhorn.io/v1beta2",
          kind: "BackupTarget",
          metadata: { name: "default", namespace: LONGHORN_NAMESPACE },
          spec: { backupTargetURL: settings.backup.target, credentialSecret: BACKUP_SECRET, pollInterval: "300s" },
        },
      ];
    }
    configFiles["recurring-jobs"] = jobs;
    return {
      units: [
        {
          name: "longhorn",
          path: "infrastructure/longhorn",
          timeout: "15m",
          files: {
            namespace: [namespace(LONGHORN_NAMESPACE, { labels: { "pod-security.kubernetes.io/enforce": "privileged" } })],
            release,
            ...(settings.encryption || replicas > 1
              ? { "storage-class": [...(settings.encryption ? [storageClass(config, false)] : []), ...(replicas > 1 ? [storageClass(config, true)] : [])] }
              : {}),
          },
          provides: ["storage", "longhorn-crds"],
          secrets: settings.encryption
            ? [
                {
                  name: CRYPTO_SECRET,
                  namespace: LONGHORN_NAMESPACE,
                  // The key must outlive the cluster: encrypted backups are unreadable without it.
                  data: { CRYPTO_KEY_VALUE: { generated: "longhorn.cryptoKey" }, CRYPTO_KEY_PROVIDER: { literal: "secret" } },
                },
              ]
            : [],
        },
        {
          name: "longhorn-config",
          path: "infrastructure/longhorn/config",
          files: configFiles,
          needs: ["longhorn-crds"],
          provides: ["backups"],
          secrets: settings.backup
            ? [
                {
                  name: BACKUP_SECRET,
                  namespace: LONGHORN_NAMESPACE,
                  data: {
                    ...BACKUP_KEYS,
                    ...(settings.backup.endpoint ? { AWS_ENDPOINTS: { literal: settings.backup.endpoint } } : {}),
                  },
                },
              ]
            : [],
        },
      ],
    };
  },
};
