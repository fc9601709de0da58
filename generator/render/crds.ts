// Typed shapes for custom resources that have no @kubernetes-models package (flux-operator,
// k3s helm-controller, Longhorn). Only the fields the generator sets; the tests check them
// against the upstream CRD facts recorded in test/fixtures.
import type { KubeObject } from "../components/types.ts";

interface Metadata {
  readonly name: string;
  readonly namespace: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface FluxInstance extends KubeObject {
  readonly apiVersion: "fluxcd.controlplane.io/v1";
  readonly kind: "FluxInstance";
  readonly metadata: Metadata;
  readonly spec: {
    readonly distribution: { readonly version: string; readonly registry: string };
    readonly components: readonly string[];
    readonly cluster: { readonly type: "kubernetes"; readonly networkPolicy: boolean; readonly domain: string };
    readonly sync: {
      readonly kind: "GitRepository";
      readonly url: string;
      readonly ref: string;
      readonly path: string;
      readonly pullSecret: string;
      readonly interval: string;
    };
  };
}

export interface HelmChartConfig extends KubeObject {
  readonly apiVersion: "helm.cattle.io/v1";
  readonly kind: "HelmChartConfig";
  readonly metadata: Metadata;
  readonly spec: { readonly valuesContent: string };
}

export interface LonghornBackupTarget extends KubeObject {
  readonly apiVersion: "longhorn.io/v1beta2";
  readonly kind: "BackupTarget";
  readonly metadata: Metadata;
  readonly spec: { readonly backupTargetURL: string; readonly credentialSecret: string; readonly pollInterval: string };
}

export interface LonghornRecurringJob extends KubeObject {
  readonly apiVersion: "longhorn.io/v1beta2";
  readonly kind: "RecurringJob";
  readonly metadata: Metadata;
  readonly spec: {
    readonly name: string;
    readonly task: "snapshot" | "backup";
    readonly cron: string;
    readonly retain: number;
    readonly concurrency: number;
    readonly groups: readonly string[];
  };
}
