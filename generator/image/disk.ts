// How large a node's disk must be: Longhorn keeps every replica under its data path on the root
// filesystem (/var is part of it on bootc), and refuses to schedule a replica that does not fit.
// Longhorn 1.12.1 (longhorn/longhorn chart/questions.yaml, defaults the tree does not change):
// storageReservedPercentageForDefaultDisk 30 — the default disk offers 70% of the filesystem —
// and storageOverProvisioningPercentage 100 — the volumes' full sizes must fit in that share.
import type { KubeObject } from "../components/types.ts";
import { replicaCount } from "../components/longhorn.ts";
import type { HomelabConfig } from "../config/schema.ts";
import { clusterNodes } from "../nodes/cluster.ts";
import type { Plan } from "../plan.ts";

/** The share of the filesystem Longhorn's default disk may allocate (100% − 30% reserved). */
const SCHEDULABLE_SHARE = 0.7;
/** Below this the OS, k3s's images and logs alone crowd the disk, whatever the volumes. */
export const MIN_DISK_FLOOR_GIB = 40;

/** The suffixes the config's sizes take (config/schema.ts, quantity). */
const UNITS: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, "": 1 };

/** A Kubernetes quantity (the config's sizes: 20Gi, 500M, …) in bytes. */
export function quantityBytes(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|)$/.exec(quantity);
  if (!match) throw new Error(`not a storage quantity: ${quantity}`);
  return Number(match[1]) * (UNITS[match[2] ?? ""] ?? 1);
}

/**
 * The bytes Longhorn stores for the tree's volumes, every replica counted: the
 * PersistentVolumeClaims it holds and the claim templates it hands to charts (Prometheus's
 * storageSpec), wherever they sit in an object, and CloudNativePG clusters (storage.size for
 * each instance). A volume has as many replicas as its StorageClass's numberOfReplicas; a class
 * the tree does not define (Longhorn's own default) has Longhorn's replica count.
 */
function replicatedVolumeBytes(config: HomelabConfig, plan: Plan): number {
  const objects = plan.units.flatMap((unit) => Object.values(unit.files).flat()) as (KubeObject & Record<string, any>)[];
  const classReplicas = new Map(objects.filter((o) => o.kind === "StorageClass").map((o) => [o.metadata?.name, Number(o["parameters"]?.numberOfReplicas)]));
  const copies = (storageClass: unknown) => classReplicas.get(typeof storageClass === "string" ? storageClass : undefined) || replicaCount(config);
  let total = 0;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== "object") return;
    const record = value as Record<string, any>;
    const storage = record["resources"]?.requests?.storage;
    // A claim's spec: access modes next to the requested size.
    if (Array.isArray(record["accessModes"]) && typeof storage === "string") total += quantityBytes(storage) * copies(record["storageClassName"]);
    Object.values(record).forEach(visit);
  };
  for (const object of objects) {
    if (object.kind === "Cluster" && object.apiVersion === "postgresql.cnpg.io/v1") {
      const { storage, instances } = object["spec"] ?? {};
      total += quantityBytes(storage.size) * (instances ?? 1) * copies(storage.storageClass);
    } else visit(object);
  }
  return total;
}

/**
 * The smallest root filesystem a node needs, in GiB: the replicas spread over the nodes (one
 * replica of a volume per node) must fit in Longhorn's schedulable share; never below the floor.
 */
export function minimumDiskGiB(config: HomelabConfig, plan: Plan): number {
  const perNode = replicatedVolumeBytes(config, plan) / clusterNodes(config).length;
  return Math.max(MIN_DISK_FLOOR_GIB, Math.ceil(perNode / SCHEDULABLE_SHARE / 2 ** 30));
}
