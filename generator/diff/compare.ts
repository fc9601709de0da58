// What a change does to the cluster: a summary people read in five seconds (per component:
// chart versions, values paths, resources, dependency edges, one-way warnings), then a unified
// diff per object.
import { sha256 } from "../hash.ts";
import { createTwoFilesPatch } from "diff";
import { yamlText } from "../render/yaml.ts";
import type { ReleaseRender } from "./helm.ts";
import type { RenderedTree, TreeObject } from "./trees.ts";

export interface ComponentChange {
  readonly unit: string;
  readonly status: "added" | "removed" | "changed";
  readonly charts: string[];
  /** Flux itself: the FluxInstance's distribution version, before → after. */
  readonly versions: string[];
  readonly values: string[];
  /** ConfigMaps and Secrets a HelmRelease takes values from that changed, with the unit that holds each. */
  readonly valuesFrom: string[];
  readonly added: string[];
  readonly removed: string[];
  readonly dependsOnAdded: string[];
  readonly dependsOnRemoved: string[];
  /** SOPS-encrypted Secrets written anew: which of their values changed cannot be seen. */
  readonly reencrypted: string[];
}

export interface ObjectDiff {
  readonly key: string;
  readonly unit: string;
  readonly patch: string;
}

export interface TreeDiff {
  readonly components: ComponentChange[];
  readonly warnings: string[];
  readonly objects: ObjectDiff[];
  /** With --helm: the releases whose render inputs changed, rendered on both sides. */
  readonly renders?: ReleaseRender[];
}

/** Encrypted values differ on every encryption: show a short fingerprint instead. */
function readable(object: Record<string, any>): Record<string, any> {
  const { sops: _sops, ...rest } = object;
  return JSON.parse(
    JSON.stringify(rest, (_key, value: unknown) =>
      typeof value === "string" && value.startsWith("ENC[") ? `<encrypted ${sha256(value).slice(0, 8)}>` : value,
    ),
  ) as Record<string, any>;
}

function chartVersion(object: Record<string, any>): string | undefined {
  if (object.kind === "HelmRelease") return object.spec?.chart?.spec ? `${object.spec.chart.spec.chart} ${object.spec.chart.spec.version}` : undefined;
  if (object.kind === "OCIRepository") return `${object.metadata.name} ${object.spec?.ref?.tag}`;
  return undefined;
}

/** Leaf paths where two values differ. */
function changedPaths(before: unknown, after: unknown, prefix = ""): string[] {
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isMap(before) && isMap(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix || "(all)"];
}

const major = (version: string | undefined) => /(\d+)\./.exec(version?.split(" ").pop() ?? "")?.[1];
const minor = (version: string | undefined) => /^v?(\d+\.\d+)/.exec(version ?? "")?.[1];

/** The ConfigMaps and Secrets `release` takes values from whose objects changed, each with the unit holding it. */
function changedValueSources(release: Record<string, any>, base: RenderedTree, head: RenderedTree, objects: readonly ObjectDiff[]): string[] {
  const namespace = release.metadata?.namespace as string;
  return ((release.spec?.valuesFrom ?? []) as { kind: string; name: string; optional?: boolean }[]).flatMap((ref) => {
    const key = `${ref.kind}/${namespace}/${ref.name}`;
    const change = objects.find((o) => o.key === key);
    if (!change) return [];
    const status = !base.objects.has(key) ? "new" : !head.objects.has(key) ? "removed" : "changed";
    return [`${ref.kind} ${ref.name}${ref.optional ? " (optional)" : ""} from ${change.unit}, ${status}`];
  });
}

/**
 * A change that puts an app on another database: the chart's bundled PostgreSQL switched off
 * without the import step (database.migrate), or
 * a CloudNativePG Cluster leaving the tree (a restore renders a new one beside it). The old data
 * stays on its retained volume, but the app no longer reads it (docs/upgrade-rollback.md).
 */
function databaseMoves(key: string, before: TreeObject | undefined, after: TreeObject | undefined): string[] {
  // A suspended release is step 1 of the migration: it keeps running on the bundled PostgreSQL.
  if (before?.object.kind === "HelmRelease" && before.object.spec?.values?.postgresql?.enabled === true && after?.object.spec?.values?.postgresql?.enabled !== true && after?.object.spec?.suspend !== true) {
    return [`${key}: the chart's bundled PostgreSQL is switched off; its volume is kept, but the app starts on another database: import the data first (docs/upgrade-rollback.md)`];
  }
  if (before?.object.apiVersion === "postgresql.cnpg.io/v1" && before.object.kind === "Cluster" && !after) {
    return [`${key}: the database cluster leaves the tree and Flux deletes it; its app moves to another database (its Longhorn volumes are retained)`];
  }
  return [];
}

export function compareTrees(base: RenderedTree, head: RenderedTree): TreeDiff {
  const keys = [...new Set([...base.objects.keys(), ...head.objects.keys()])].sort();
  const byUnit = new Map<string, { before: TreeObject[]; after: TreeObject[] }>();
  const objects: ObjectDiff[] = [];
  const warnings: string[] = [];

  for (const key of keys) {
    const before = base.objects.get(key);
    const after = head.objects.get(key);
    const unit = (after ?? before)!.unit;
    const entry = byUnit.get(unit) ?? { before: [], after: [] };
    if (before) entry.before.push(before);
    if (after) entry.after.push(after);
    byUnit.set(unit, entry);
    const beforeText = before ? yamlText(readable(before.object)) : "";
    const afterText = after ? yamlText(readable(after.object)) : "";
    if (beforeText === afterText) continue;
    const patch = createTwoFilesPatch(before ? `a/${key}` : "/dev/null", after ? `b/${key}` : "/dev/null", beforeText, afterText, "", "", { context: 3 })
      .split("\n")
      .filter((line) => !line.startsWith("===")) // jsdiff's separator line
      .join("\n")
      .trimEnd();
    objects.push({ key, unit, patch });

    // One-way changes: a revert does not undo them.
    if (before && !after && before.object.kind === "PersistentVolumeClaim" && before.object.metadata?.annotations?.["kustomize.toolkit.fluxcd.io/prune"] === "disabled") {
      warnings.push(`volume ${before.object.metadata.namespace}/${before.object.metadata.name} leaves the tree but is retained with its data (delete it in Longhorn when you no longer need it)`);
    }
    if (before && after && before.object.kind === "HelmRelease" && major(chartVersion(before.object)) !== major(chartVersion(after.object))) {
      warnings.push(`${key}: chart major version ${chartVersion(before.object)} → ${chartVersion(after.object)}; apps migrate their data on upgrade, so git revert may not roll it back (take a snapshot first)`);
    }
    warnings.push(...databaseMoves(key, before, after));
    if (before && after && before.object.kind === "FluxInstance") {
      const from = before.object.spec?.distribution?.version as string | undefined;
      const to = after.object.spec?.distribution?.version as string | undefined;
      if (minor(from) !== minor(to)) warnings.push(`Flux ${from} → ${to}: Flux migrates its stored objects on a minor upgrade; roll forward, not back`);
    }
  }
  const k3sBefore = base.config.cluster?.k3s?.version as string | undefined;
  const k3sAfter = head.config.cluster?.k3s?.version as string | undefined;
  if (k3sBefore !== k3sAfter && (k3sBefore || k3sAfter)) {
    warnings.push(`k3s ${k3sBefore ?? "(default)"} → ${k3sAfter ?? "(default)"}: rebuild the image; upgrade one minor version at a time, and bootc rollback to go back`);
  }

  const components: ComponentChange[] = [];
  for (const [unit, { before, after }] of [...byUnit].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const beforeKeys = new Set(before.map((o) => o.key));
    const afterKeys = new Set(after.map((o) => o.key));
    const added = [...afterKeys].filter((k) => !beforeKeys.has(k));
    const removed = [...beforeKeys].filter((k) => !afterKeys.has(k));
    const charts: string[] = [];
    const versions: string[] = [];
    const values: string[] = [];
    const valuesFrom: string[] = [];
    const reencrypted: string[] = [];
    for (const a of after) {
      // Values another unit provides (gitea-sso's ConfigMap for Gitea): changed there, they change this release.
      if (a.object.kind === "HelmRelease") valuesFrom.push(...changedValueSources(a.object, base, head, objects));
      const b = before.find((o) => o.key === a.key);
      if (!b) continue;
      if (a.object.sops && b.object.sops && JSON.stringify(a.object) !== JSON.stringify(b.object)) reencrypted.push(a.key);
      const from = chartVersion(b.object);
      const to = chartVersion(a.object);
      if (from && to && from !== to) charts.push(`${from} → ${to.split(" ").pop()}`);
      if (a.object.kind === "HelmRelease") values.push(...changedPaths(b.object.spec?.values ?? {}, a.object.spec?.values ?? {}));
      if (a.object.kind === "FluxInstance") {
        const fluxFrom = b.object.spec?.distribution?.version as string | undefined;
        const fluxTo = a.object.spec?.distribution?.version as string | undefined;
        if (fluxFrom !== fluxTo) versions.push(`Flux ${fluxFrom} → ${fluxTo}`);
      }
    }
    const dependsOn = (list: TreeObject[]) =>
      new Set(list.filter((o) => o.object.kind === "Kustomization" && o.object.metadata?.name === unit).flatMap((o) => (o.object.spec?.dependsOn ?? []).map((d: { name: string }) => d.name)));
    const depsBefore = dependsOn(before);
    const depsAfter = dependsOn(after);
    const change: ComponentChange = {
      unit,
      status: before.length === 0 ? "added" : after.length === 0 ? "removed" : "changed",
      charts,
      versions,
      values,
      valuesFrom,
      added: before.length === 0 ? [] : added,
      removed: after.length === 0 ? [] : removed,
      dependsOnAdded: [...depsAfter].filter((d) => !depsBefore.has(d)),
      dependsOnRemoved: [...depsBefore].filter((d) => !depsAfter.has(d)),
      reencrypted,
    };
    const touched = objects.some((o) => o.unit === unit) || valuesFrom.length > 0;
    if (touched) components.push(change);
  }
  return { components, warnings, objects };
}
