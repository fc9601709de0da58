// What the cluster says about this repository's Flux objects, as a report: pure functions from
// the objects the API returned (plain JSON) to a state per object, grouped by phase.
//
// The states follow Flux's conditions (fluxcd/pkg runtime/conditions, kstatus):
// - suspended: spec.suspend; Flux does nothing with it, so `--wait` does not wait for it;
// - ready: Ready=True for the current generation;
// - waiting: Ready=False with reason DependencyNotReady: a dependsOn entry is not Ready yet;
// - progressing: Ready=Unknown or missing, or Ready=True for an older generation;
// - failed: Ready=False (any other reason; Flux may be retrying) or Stalled=True. It is *terminal* when Flux has
//   given up on the current spec (Stalled: e.g. a HelmRelease's install retries are used up)
//   or the reason cannot go away without a new commit; other failures (a health check timing
//   out, an install with retries left) are retried by Flux, so `--wait` keeps waiting on them.
import { phases } from "../components/types.ts";
import { FLUX_NAMESPACE, ROOT_SOURCE } from "../render/flux.ts";

export type State = "ready" | "progressing" | "waiting" | "failed" | "suspended";

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

/** The fields of a Flux object this report reads (the API returns much more). */
export interface FluxObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly generation?: number;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly suspend?: boolean;
    readonly dependsOn?: readonly { readonly name: string; readonly namespace?: string }[];
  };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly conditions?: readonly Condition[];
    /** Kustomization */
    readonly lastAppliedRevision?: string;
    readonly lastAttemptedRevision?: string;
    /** HelmRelease: the releases it made, newest first. */
    readonly history?: readonly { readonly chartVersion?: string; readonly status?: string }[];
    /** GitRepository */
    readonly artifact?: { readonly revision?: string };
  };
}

export interface Dependency {
  /** namespace/name, as Flux names it in "dependency 'flux-system/x' is not ready". */
  readonly ref: string;
  readonly state: State | "missing";
}

export interface Item {
  readonly kind: "Kustomization" | "HelmRelease";
  readonly namespace: string;
  readonly name: string;
  readonly state: State;
  readonly reason?: string;
  readonly message?: string;
  /** Failed and Flux will not get it right by retrying (see the top of this file). */
  readonly terminal: boolean;
  /** Kustomization: the Git revision applied; HelmRelease: the chart version released. */
  readonly revision?: string;
  /** HelmReleases: the Helm status of that latest release ("deployed", "failed", …). */
  readonly releaseStatus?: string;
  /** What Flux last tried, when it differs from `revision`. */
  readonly attempted?: string;
  /** Kustomizations: whether `revision` is the branch head; undefined when the head is unknown. */
  readonly atHead?: boolean;
  /** The dependsOn entries that are not Ready (only for objects not Ready themselves). */
  readonly waitingOn: readonly Dependency[];
  /** HelmReleases: the Kustomization that applied it. */
  readonly appliedBy?: string;
}

export interface PhaseGroup {
  /** "1-cluster" … "7-extras", as the homelab/phase label. */
  readonly phase: string;
  /** Kustomizations by name, each followed by the HelmReleases it applied. */
  readonly items: readonly Item[];
}

export interface StatusReport {
  /** The branch head Flux has fetched (GitRepository flux-system), e.g. "main@sha1:…". */
  readonly head?: string;
  /** The GitRepository itself, when it is not Ready (everything else then stands still). */
  readonly source?: { readonly state: State; readonly reason?: string; readonly message?: string } | "missing";
  readonly phases: readonly PhaseGroup[];
}

export const PHASE_LABEL = "homelab/phase";
/** Set by kustomize-controller on every object it applies. */
export const APPLIED_BY_NAME = "kustomize.toolkit.fluxcd.io/name";
export const APPLIED_BY_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace";
/** The FluxInstance's own sync: applies clusters/<name> (the phase Kustomizations) and the flux unit. */
export const ROOT_KUSTOMIZATION = "flux-system";
const ROOT_PHASE = phases[1];

/** Ready=False reasons that only a new commit (new spec) changes. */
const TERMINAL_REASONS = new Set(["BuildFailed", "RetriesExceeded", "MissingRollbackTarget"]);

function condition(object: FluxObject, type: string): Condition | undefined {
  return object.status?.conditions?.find((c) => c.type === type);
}

/** The state of one object, from its conditions (see the top of this file). */
export function classify(object: FluxObject): { state: State; reason?: string; message?: string; stalled: boolean } {
  const ready = condition(object, "Ready");
  const stalled = condition(object, "Stalled");
  const reconciling = condition(object, "Reconciling");
  const detail = (c: Condition | undefined) => ({ reason: c?.reason, message: c?.message });
  if (object.spec?.suspend) return { state: "suspended", stalled: false, ...detail(ready) };
  const generation = object.metadata.generation;
  const observed = object.status?.observedGeneration;
  // Flux records the generation it last finished with; until then a Ready=True or a stall
  // describes an older spec. A Ready=False is news whatever the generation.
  const current = generation === undefined || observed === undefined || observed >= generation;
  if (stalled?.status === "True" && current) {
    // Stalled says why Flux stopped ("RetriesExceeded"); Ready says what failed.
    const failure = ready?.status === "False" ? ready : stalled;
    return { state: "failed", stalled: true, reason: failure.reason, message: joinMessages(failure.message, failure === stalled ? undefined : stalled.message) };
  }
  if (ready?.status === "True") return current ? { state: "ready", stalled: false, ...detail(ready) } : { state: "progressing", stalled: false, ...detail(reconciling ?? ready) };
  if (ready?.status === "False") {
    // With Reconciling=True (reason ProgressingWithRetry) Flux will try again; it still failed.
    return { state: ready.reason === "DependencyNotReady" ? "waiting" : "failed", stalled: false, ...detail(ready) };
  }
  return { state: "progressing", stalled: false, ...detail(reconciling?.status === "True" ? reconciling : ready) };
}

function joinMessages(first: string | undefined, second: string | undefined): string | undefined {
  return [first, second].filter(Boolean).join("; ") || undefined;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/** Builds the report from what the API returned; objects of other repositories are left out. */
export function buildReport(input: {
  readonly kustomizations: readonly FluxObject[];
  readonly helmReleases: readonly FluxObject[];
  readonly gitRepository?: FluxObject;
}): StatusReport {
  const head = input.gitRepository?.status?.artifact?.revision;
  const ours = input.kustomizations.filter((k) => phaseOf(k) !== undefined);
  const phaseByKustomization = new Map(ours.map((k) => [k.metadata.name, phaseOf(k) ?? ROOT_PHASE]));
  const releases = input.helmReleases.filter((hr) => {
    const labels = hr.metadata.labels ?? {};
    const owner = labels[APPLIED_BY_NAME];
    return owner !== undefined && labels[APPLIED_BY_NAMESPACE] === FLUX_NAMESPACE && phaseByKustomization.has(owner);
  });

  // Every object by namespace/name and kind, to say what a waiting object waits on.
  const states = new Map<string, State>();
  for (const k of ours) states.set(`Kustomization ${key(FLUX_NAMESPACE, k.metadata.name)}`, classify(k).state);
  for (const hr of releases) states.set(`HelmRelease ${key(hr.metadata.namespace ?? "default", hr.metadata.name)}`, classify(hr).state);

  const toItem = (object: FluxObject, kind: Item["kind"]): Item => {
    const namespace = object.metadata.namespace ?? (kind === "Kustomization" ? FLUX_NAMESPACE : "default");
    const { state, reason, message, stalled } = classify(object);
    const status = object.status ?? {};
    const latest = status.history?.[0];
    const revision = kind === "Kustomization" ? status.lastAppliedRevision : latest?.chartVersion;
    const attempted = status.lastAttemptedRevision && status.lastAttemptedRevision !== revision ? status.lastAttemptedRevision : undefined;
    const waitingOn =
      state === "ready" || state === "suspended"
        ? []
        : (object.spec?.dependsOn ?? [])
            .map((d): Dependency => {
              const ref = key(d.namespace ?? namespace, d.name);
              return { ref, state: states.get(`${kind} ${ref}`) ?? "missing" };
            })
            .filter((d) => d.state !== "ready");
    // A failure reported for an older commit than the head may be gone once Flux gets to it.
    const failedAtHead = kind === "HelmRelease" || head === undefined || status.lastAttemptedRevision === undefined || status.lastAttemptedRevision === head;
    return {
      kind,
      namespace,
      name: object.metadata.name,
      state,
      reason,
      message,
      terminal: state === "failed" && failedAtHead && (stalled || TERMINAL_REASONS.has(reason ?? "")),
      revision,
      releaseStatus: kind === "HelmRelease" ? latest?.status : undefined,
      attempted,
      atHead: kind === "Kustomization" && head !== undefined ? revision === head : undefined,
      waitingOn,
      appliedBy: kind === "HelmRelease" ? object.metadata.labels?.[APPLIED_BY_NAME] : undefined,
    };
  };

  const groups = new Map<string, Item[]>();
  const byName = (a: FluxObject, b: FluxObject) => key(a.metadata.namespace ?? "", a.metadata.name).localeCompare(key(b.metadata.namespace ?? "", b.metadata.name));
  for (const k of [...ours].sort(byName)) {
    const phase = phaseByKustomization.get(k.metadata.name) ?? ROOT_PHASE;
    const items = groups.get(phase) ?? [];
    items.push(toItem(k, "Kustomization"));
    for (const hr of releases.filter((r) => r.metadata.labels?.[APPLIED_BY_NAME] === k.metadata.name).sort(byName)) items.push(toItem(hr, "HelmRelease"));
    groups.set(phase, items);
  }
  const source = input.gitRepository ? classify(input.gitRepository) : undefined;
  return {
    head,
    source: source === undefined ? "missing" : source.state === "ready" ? undefined : { state: source.state, reason: source.reason, message: source.message },
    phases: [...groups.entries()].sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true })).map(([phase, items]) => ({ phase, items })),
  };
}

/**
 * A Kustomization's phase: its homelab/phase label; the root sync has none but is the flux
 * unit's (phase 1). Undefined: not this repository's.
 */
function phaseOf(kustomization: FluxObject): string | undefined {
  const label = kustomization.metadata.labels?.[PHASE_LABEL];
  if (label) return label;
  const isRoot = kustomization.metadata.name === ROOT_KUSTOMIZATION && (kustomization.metadata.namespace ?? FLUX_NAMESPACE) === FLUX_NAMESPACE;
  return isRoot ? ROOT_PHASE : undefined;
}

export function allItems(report: StatusReport): Item[] {
  return report.phases.flatMap((group) => group.items);
}

/** Ready at the head: every object not suspended is Ready, and every Kustomization applied the head. */
export function isSettled(report: StatusReport): boolean {
  if (report.head === undefined || report.source !== undefined) return false;
  const items = allItems(report);
  return items.length > 0 && items.every((item) => item.state === "suspended" || (item.state === "ready" && item.atHead !== false));
}

export function terminalFailures(report: StatusReport): Item[] {
  return allItems(report).filter((item) => item.terminal);
}

// The root source is looked up by name; exported so the command and the tests agree.
export const GIT_REPOSITORY = { namespace: FLUX_NAMESPACE, name: ROOT_SOURCE } as const;
