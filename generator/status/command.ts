// `homelab status [--wait]`: every Flux Kustomization and HelmRelease of this repository by
// phase, read with @kubernetes/client-node. Exit codes: without --wait, 1 when an object has
// failed; with --wait, 0 once everything is Ready at the branch head, 1 on a failure Flux will
// not retry its way out of, or on timeout. --timeout bounds the whole command, every request to
// the API server included.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { UserError } from "../errors.ts";
import { FLUX_NAMESPACE } from "../render/flux.ts";
import { readFirstBoot } from "./first-boot.ts";
import { formatChanges, formatStatus, shortRevision } from "./format.ts";
import { apiErrorText, apiUserError, Deadline, formatDuration, loadKubeConfig, makeApiClient, REQUEST_TIMEOUT_MS, serverOf, sleep, statusCode } from "./kube.ts";
import { allItems, buildReport, GIT_REPOSITORY, isSettled, terminalFailures, type FluxObject, type StatusReport } from "./report.ts";

export interface StatusOptions {
  readonly kubeconfig?: string;
  readonly wait?: boolean;
  /** How long the command may take; default 15 minutes with --wait, else one request's timeout. */
  readonly timeoutMs?: number;
  readonly color: boolean;
  /** Time between polls of --wait; default 5 s. */
  readonly intervalMs?: number;
  readonly out: (line: string) => void;
}

const DEFAULT_WAIT_TIMEOUT_MS = 15 * 60_000;
const DEFAULT_INTERVAL_MS = 5_000;
/** With nothing changing (a long Helm install), a line now and then shows it is still waiting. */
const HEARTBEAT_MS = 60_000;

/** Either the report, or why there is none yet (Flux not installed); with what first boot says of itself. */
type Reading = ({ readonly report: StatusReport } | { readonly notYet: string }) & { readonly firstBoot?: string | undefined };

/** The reads the report needs: Kustomizations, HelmReleases (all namespaces), the root GitRepository; and first boot's ConfigMap. */
async function readCluster(api: CustomObjectsApi, core: CoreV1Api): Promise<Reading> {
  const items = (list: unknown): FluxObject[] => ((list as { items?: FluxObject[] }).items ?? []);
  const orMissing = <T>(promise: Promise<T>, missing: T): Promise<T> =>
    promise.catch((error: unknown) => {
      if (statusCode(error) === 404) return missing;
      throw error;
    });
  const [kustomizations, helmReleases, gitRepository, firstBoot] = await Promise.all([
    orMissing(api.listNamespacedCustomObject({ group: "kustomize.toolkit.fluxcd.io", version: "v1", namespace: FLUX_NAMESPACE, plural: "kustomizations" }).then(items), undefined),
    orMissing(api.listClusterCustomObject({ group: "helm.toolkit.fluxcd.io", version: "v2", plural: "helmreleases" }).then(items), []),
    orMissing(
      api.getNamespacedCustomObject({ group: "source.toolkit.fluxcd.io", version: "v1", plural: "gitrepositories", ...GIT_REPOSITORY }) as Promise<FluxObject>,
      undefined,
    ),
    readFirstBoot(core),
  ]);
  // No Kustomization API: the CRDs are not there, Flux is not (yet) installed.
  if (kustomizations === undefined) {
    return { notYet: `Flux is not installed: the cluster has no kustomize.toolkit.fluxcd.io/v1 API${firstBoot ? `; ${firstBoot}` : ""}` };
  }
  return { report: buildReport({ kustomizations, helmReleases, gitRepository }), firstBoot };
}

export async function statusCommand(options: StatusOptions): Promise<number> {
  const kc = loadKubeConfig(options.kubeconfig);
  const deadline = new Deadline(options.timeoutMs ?? (options.wait ? DEFAULT_WAIT_TIMEOUT_MS : REQUEST_TIMEOUT_MS), "the --timeout");
  const api = makeApiClient(kc, CustomObjectsApi, deadline);
  const core = makeApiClient(kc, CoreV1Api, deadline);
  if (!options.wait) {
    const reading = await readOnce(kc, api, core);
    if ("notYet" in reading) throw new UserError(reading.notYet);
    if (reading.firstBoot) options.out(reading.firstBoot);
    for (const line of formatStatus(reading.report, options)) options.out(line);
    return allItems(reading.report).some((item) => item.state === "failed") || reading.report.source !== undefined ? 1 : 0;
  }
  return waitForReady(kc, api, core, deadline, options);
}

async function readOnce(kc: KubeConfig, api: CustomObjectsApi, core: CoreV1Api): Promise<Reading> {
  try {
    return await readCluster(api, core);
  } catch (error) {
    throw apiUserError(kc, "reading the Flux objects", error);
  }
}

async function waitForReady(kc: KubeConfig, api: CustomObjectsApi, core: CoreV1Api, deadline: Deadline, options: StatusOptions): Promise<number> {
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const started = Date.now();
  const elapsed = () => formatDuration(Date.now() - started);
  const { out } = options;
  out(`waiting up to ${formatDuration(deadline.ms)} for every object to be Ready at the branch head`);
  let previous: StatusReport | undefined;
  let lastProblem: string | undefined;
  let lastFirstBoot: string | undefined;
  let lastLine = Date.now();
  const say = (line: string) => {
    lastLine = Date.now();
    out(line);
  };
  for (;;) {
    let reading: Reading | undefined;
    try {
      reading = await readCluster(api, core);
    } catch (error) {
      const code = statusCode(error);
      // Credentials do not fix themselves; an API server restarting (k3s upgrade) does.
      if (code === 401 || code === 403) throw apiUserError(kc, "reading the Flux objects", error);
      // A read the deadline cut short says nothing new when an earlier one said something.
      const cutShort = deadline.signal.aborted && (previous !== undefined || lastProblem !== undefined);
      if (!cutShort) reading = { notYet: `cannot read the Flux objects at ${serverOf(kc)}: ${apiErrorText(error)}` };
    }
    if (reading !== undefined && "notYet" in reading) {
      if (reading.notYet !== lastProblem) say(`[${elapsed()}] ${reading.notYet}`);
      lastProblem = reading.notYet;
    } else if (reading !== undefined) {
      lastProblem = undefined;
      if (reading.firstBoot && reading.firstBoot !== lastFirstBoot) say(`[${elapsed()}] ${reading.firstBoot}`);
      lastFirstBoot = reading.firstBoot;
      const report = reading.report;
      if (previous) for (const line of formatChanges(previous, report, { color: options.color, elapsed: elapsed() })) say(line);
      else for (const line of formatStatus(report, options)) say(line);
      if (Date.now() - lastLine >= HEARTBEAT_MS) say(`[${elapsed()}] still waiting: ${countText(report)}`);
      previous = report;
      if (isSettled(report)) {
        out(`all ${allItems(report).length} objects Ready at ${shortRevision(report.head ?? "")} after ${elapsed()}`);
        return 0;
      }
      const failures = terminalFailures(report);
      if (failures.length > 0) {
        out("");
        for (const line of formatStatus(report, options)) out(line);
        out(`failed after ${elapsed()}: ${failures.map((item) => `${item.kind} ${item.namespace}/${item.name}`).join(", ")} (Flux will not retry this spec)`);
        return 1;
      }
    }
    await sleep(Math.min(intervalMs, deadline.left()));
    // No time left for another read (it would be cut short at once): the last one is the answer.
    if (deadline.left() <= 0) {
      // Never an answer to show: an error, as without --wait.
      if (!previous) throw new UserError(`status --wait timed out after ${elapsed()}: ${lastProblem}`);
      out("");
      for (const line of formatStatus(previous, options)) out(line);
      out(`timed out after ${elapsed()}: ${notReadyText(previous)}${lastProblem ? `; the last read: ${lastProblem}` : ""}`);
      return 1;
    }
  }
}

function countText(report: StatusReport): string {
  const counts = new Map<string, number>();
  for (const item of allItems(report)) counts.set(item.state, (counts.get(item.state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${n} ${state}`).join(", ");
}

function notReadyText(report: StatusReport): string {
  const pending = allItems(report).filter((item) => item.state !== "suspended" && (item.state !== "ready" || item.atHead === false));
  if (pending.length === 0) return report.head ? "the source is not Ready" : "Flux has not fetched the branch yet";
  return `not Ready at the head: ${pending.map((item) => `${item.kind} ${item.namespace}/${item.name} (${item.state})`).join(", ")}`;
}
