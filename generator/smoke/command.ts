// `homelab smoke`: the seed's milestones against the live cluster, in order, each with its
// duration. It stops at the first milestone that fails (the later ones build on it) and always
// deletes what it created, failure or not. Exit code 0 when every milestone passed, else 1.
// --timeout bounds the milestones, every request included; the clean-up gets a grace period
// after it, so a run that ran out of time still removes its namespace.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, NetworkingV1Api, type KubeConfig, type V1PersistentVolumeClaim, type V1Pod } from "@kubernetes/client-node";
import { apiErrorText, Deadline, errorText, formatDuration, loadKubeConfig, makeApiClient, serverOf, sleep, statusCode } from "../status/kube.ts";
import { prometheusDatasource } from "./grafana.ts";
import { describeHttpsError, fetchWithRootCa, type HttpsResult } from "./https.ts";
import {
  CERTIFICATE_NAME,
  CLAIM_NAME,
  POD_NAME,
  SMOKE_NAMESPACE,
  smokeClaim,
  smokeDeployment,
  smokeIngress,
  smokeNamespace,
  smokePod,
  smokeService,
} from "./objects.ts";

export interface SmokeOptions {
  readonly kubeconfig?: string;
  /** The homelab's domain: the test ingress is smoke.<domain>. */
  readonly domain: string;
  /** certs/<cluster>-root-ca.crt: the only CA the HTTPS check trusts. */
  readonly rootCaPem: string;
  readonly out: (line: string) => void;
  /** Where to connect for a host ("address" or "address:port"); default: DNS. */
  readonly resolve?: (host: string) => string;
  /** How long the milestones may take, all together; default 10 minutes. */
  readonly timeoutMs?: number;
  /** Time between polls; default 2 s. */
  readonly intervalMs?: number;
}

const LONGHORN_DRIVER = "driver.longhorn.io";
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** The clean-up's time when the milestones used up theirs: enough to send the delete and see it start. */
const CLEANUP_GRACE_MS = 30_000;
/** At most this long waiting for the namespace to go; after that it is reported as being deleted. */
const CLEANUP_WAIT_MS = 120_000;

interface Clients {
  readonly kc: KubeConfig;
  /** Every request of these clients ends by it. */
  readonly deadline: Deadline;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly net: NetworkingV1Api;
  readonly custom: CustomObjectsApi;
}

/** What the run created, for the clean-up. */
interface Created {
  namespace: boolean;
}

type Poll<T> = { readonly done: T } | { readonly pending: string };

/** Polls until done, at most until the clients' deadline; on timeout the error says what it was still waiting for. */
async function waitFor<T>({ deadline }: Clients, options: SmokeOptions, probe: () => Promise<Poll<T>>): Promise<T> {
  const started = Date.now();
  let pending: string | undefined;
  for (;;) {
    let result: Poll<T>;
    try {
      result = await probe();
    } catch (error) {
      // A look the deadline cut short says nothing new when an earlier one said something.
      if (!deadline.signal.aborted || pending === undefined) throw error;
      result = { pending };
    }
    if ("done" in result) return result.done;
    // The same for a look that reports its failures as pending (the HTTPS probe).
    if (!deadline.signal.aborted || pending === undefined) pending = result.pending;
    await sleep(Math.min(options.intervalMs ?? 2_000, deadline.left()));
    // No time left for another look (it would be cut short at once): the last one is the answer.
    if (deadline.left() <= 0) throw new Error(`timed out after ${formatDuration(Date.now() - started)}: ${pending}`);
  }
}

function makeClients(kc: KubeConfig, deadline: Deadline): Clients {
  return {
    kc,
    deadline,
    core: makeApiClient(kc, CoreV1Api, deadline),
    apps: makeApiClient(kc, AppsV1Api, deadline),
    net: makeApiClient(kc, NetworkingV1Api, deadline),
    custom: makeApiClient(kc, CustomObjectsApi, deadline),
  };
}

const notFound = (error: unknown) => statusCode(error) === 404;

export async function smokeCommand(options: SmokeOptions): Promise<number> {
  const kc = loadKubeConfig(options.kubeconfig);
  const clients = makeClients(kc, new Deadline(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, "the --timeout"));
  // Every line goes through here: a secret read along the way never reaches the output.
  const secrets = new Set<string>();
  const say = (line: string) => options.out([...secrets].filter((s) => s.length > 0).reduce((text, secret) => text.split(secret).join("***"), line));
  const created: Created = { namespace: false };
  const host = `smoke.${options.domain}`;

  const milestones: { title: string; run: () => Promise<string> }[] = [
    { title: "nodes Ready", run: () => nodesReady(clients, options) },
    { title: "a test pod runs", run: () => podRuns(clients, options, created) },
    { title: "a test PVC binds on Longhorn", run: () => claimBinds(clients, options) },
    { title: `HTTPS to ${host} presents a certificate from the internal CA`, run: () => httpsWorks(clients, options, host) },
    { title: "Grafana has its Prometheus datasource", run: () => grafanaDatasource(clients, secrets) },
  ];

  say(`homelab smoke against ${serverOf(kc)}`);
  const started = Date.now();
  let passed = 0;
  let failed = false;
  try {
    for (const milestone of milestones) {
      if (failed) {
        say(`  skip  ${milestone.title}`);
        continue;
      }
      const t0 = Date.now();
      try {
        const detail = await milestone.run();
        passed++;
        say(`  ok    ${milestone.title}: ${detail} (${formatDuration(Date.now() - t0)})`);
      } catch (error) {
        failed = true;
        say(`  FAIL  ${milestone.title}: ${apiErrorText(error)} (${formatDuration(Date.now() - t0)})`);
      }
    }
  } finally {
    const t0 = Date.now();
    const cleanupDeadline = new Deadline(Math.min(CLEANUP_WAIT_MS, Math.max(clients.deadline.left(), CLEANUP_GRACE_MS)), "the clean-up's time");
    try {
      const detail = await cleanUp(makeClients(kc, cleanupDeadline), options, created);
      say(`  ok    clean-up: ${detail} (${formatDuration(Date.now() - t0)})`);
    } catch (error) {
      failed = true;
      say(`  FAIL  clean-up: ${apiErrorText(error)}; remove it with \`kubectl delete namespace ${SMOKE_NAMESPACE}\``);
    }
  }
  const total = formatDuration(Date.now() - started);
  say(failed ? `homelab: smoke failed: ${passed} of ${milestones.length} milestones passed (${total})` : `homelab: smoke passed: all ${milestones.length} milestones (${total})`);
  return failed ? 1 : 0;
}

async function nodesReady(clients: Clients, options: SmokeOptions): Promise<string> {
  return waitFor<string>(clients, options, async () => {
    const nodes = (await clients.core.listNode()).items;
    if (nodes.length === 0) return { pending: "the cluster has no nodes" };
    const notReady = nodes.filter((n) => n.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True");
    if (notReady.length > 0) {
      const why = notReady.map((n) => {
        const ready = n.status?.conditions?.find((c) => c.type === "Ready");
        return `${n.metadata?.name} (${ready?.reason ?? "no Ready condition"}${ready?.message ? `: ${ready.message}` : ""})`;
      });
      return { pending: `not Ready: ${why.join(", ")}` };
    }
    return { done: nodes.map((n) => `${n.metadata?.name} (${n.status?.nodeInfo?.kubeletVersion ?? "?"})`).join(", ") };
  });
}

/** Creates the namespace, first waiting out (or removing) one left by an interrupted run. */
async function createNamespace(clients: Clients, options: SmokeOptions, created: Created): Promise<void> {
  const { core } = clients;
  try {
    const existing = await core.readNamespace({ name: SMOKE_NAMESPACE });
    // Only ever delete a namespace this command made (its labels say so).
    if (existing.metadata?.labels?.["app.kubernetes.io/name"] !== smokeNamespace().metadata?.labels?.["app.kubernetes.io/name"]) {
      throw new Error(`namespace ${SMOKE_NAMESPACE} exists and was not made by homelab smoke; not touching it`);
    }
    if (!existing.metadata?.deletionTimestamp) await core.deleteNamespace({ name: SMOKE_NAMESPACE });
    await waitFor(clients, options, async () => {
      try {
        await core.readNamespace({ name: SMOKE_NAMESPACE });
        return { pending: `namespace ${SMOKE_NAMESPACE} from an earlier run is still being deleted` };
      } catch (error) {
        if (notFound(error)) return { done: undefined };
        throw error;
      }
    });
  } catch (error) {
    if (!notFound(error)) throw error;
  }
  created.namespace = true;
  await core.createNamespace({ body: smokeNamespace() });
}

function podProblem(pod: V1Pod): string {
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  const why = waiting ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}` : unscheduled ? `${unscheduled.reason}: ${unscheduled.message}` : "";
  return `pod is ${pod.status?.phase ?? "not started"}${why ? ` (${why})` : ""}`;
}

async function podRuns(clients: Clients, options: SmokeOptions, created: Created): Promise<string> {
  await createNamespace(clients, options, created);
  await clients.core.createNamespacedPod({ namespace: SMOKE_NAMESPACE, body: smokePod() });
  return waitFor<string>(clients, options, async () => {
    const pod = await clients.core.readNamespacedPod({ name: POD_NAME, namespace: SMOKE_NAMESPACE });
    const phase = pod.status?.phase;
    if (phase === "Failed") throw new Error(podProblem(pod));
    if (phase === "Running") return { done: `${SMOKE_NAMESPACE}/${POD_NAME} on ${pod.spec?.nodeName ?? "?"}` };
    return { pending: podProblem(pod) };
  });
}

async function claimBinds(clients: Clients, options: SmokeOptions): Promise<string> {
  const { core } = clients;
  await core.createNamespacedPersistentVolumeClaim({ namespace: SMOKE_NAMESPACE, body: smokeClaim() });
  const claim = await waitFor<V1PersistentVolumeClaim>(clients, options, async () => {
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: CLAIM_NAME, namespace: SMOKE_NAMESPACE });
    if (pvc.status?.phase === "Bound" && pvc.spec?.volumeName) return { done: pvc };
    return { pending: `claim is ${pvc.status?.phase ?? "Pending"} (storage class ${pvc.spec?.storageClassName ?? "none: is there a default StorageClass?"})` };
  });
  const volumeName = claim.spec?.volumeName ?? "";
  const volume = await core.readPersistentVolume({ name: volumeName });
  // The homelab's encrypted class retains volumes; this one is a test, so it goes with its claim.
  if (volume.spec?.persistentVolumeReclaimPolicy !== "Delete") {
    await core.patchPersistentVolume({ name: volumeName, body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Delete" }] });
  }
  const driver = volume.spec?.csi?.driver;
  if (driver !== LONGHORN_DRIVER) throw new Error(`bound, but by ${driver ?? "a non-CSI provisioner"}, not Longhorn: the default StorageClass (${claim.spec?.storageClassName}) is not Longhorn's`);
  return `${CLAIM_NAME} → ${volumeName} (${claim.spec?.storageClassName}, ${claim.status?.capacity?.storage ?? "?"})`;
}

async function httpsWorks(clients: Clients, options: SmokeOptions, host: string): Promise<string> {
  const { core, apps, net, custom, deadline } = clients;
  await apps.createNamespacedDeployment({ namespace: SMOKE_NAMESPACE, body: smokeDeployment() });
  await core.createNamespacedService({ namespace: SMOKE_NAMESPACE, body: smokeService() });
  await net.createNamespacedIngress({ namespace: SMOKE_NAMESPACE, body: smokeIngress(host) });
  await waitFor(clients, options, async () => {
    try {
      const certificate = (await custom.getNamespacedCustomObject({
        group: "cert-manager.io",
        version: "v1",
        namespace: SMOKE_NAMESPACE,
        plural: "certificates",
        name: CERTIFICATE_NAME,
      })) as { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };
      const ready = certificate.status?.conditions?.find((c) => c.type === "Ready");
      if (ready?.status === "True") return { done: undefined };
      return { pending: `Certificate ${CERTIFICATE_NAME} not Ready${ready ? ` (${ready.reason}: ${ready.message})` : ""}` };
    } catch (error) {
      if (notFound(error)) return { pending: `no Certificate ${CERTIFICATE_NAME} yet (is cert-manager's ingress-shim running?)` };
      throw error;
    }
  });
  const address = options.resolve?.(host);
  // Traefik may serve its default certificate, or 404, until it has read the new secret and route.
  const result = await waitFor<HttpsResult>(clients, options, async () => {
    try {
      const answer = await fetchWithRootCa({ host, address, rootCaPem: options.rootCaPem, timeoutMs: 10_000, signal: deadline.signal });
      if (answer.status !== 200) return { pending: `https://${host}/ answered HTTP ${answer.status}` };
      return { done: answer };
    } catch (error) {
      return { pending: `https://${host}/: ${describeHttpsError(error)}` };
    }
  });
  return `https://${host}/ → HTTP ${result.status}, certificate for ${result.names || host} issued by ${result.issuer}`;
}

async function grafanaDatasource({ kc, core, deadline }: Clients, secrets: Set<string>): Promise<string> {
  const datasource = await prometheusDatasource(kc, core, deadline, secrets);
  return `${datasource.name} → ${datasource.url ?? "?"}${datasource.isDefault ? " (default)" : ""}`;
}

/** Runs with its own clients and deadline (see CLEANUP_GRACE_MS). */
async function cleanUp(clients: Clients, options: SmokeOptions, created: Created): Promise<string> {
  const { core } = clients;
  if (!created.namespace) return "nothing was created";
  try {
    await core.deleteNamespace({ name: SMOKE_NAMESPACE, propagationPolicy: "Background" });
  } catch (error) {
    if (!notFound(error)) throw error;
  }
  // Deleting the namespace deletes the claim, and with it the volume (reclaim policy Delete).
  try {
    await waitFor(clients, options, async () => {
      try {
        await core.readNamespace({ name: SMOKE_NAMESPACE });
        return { pending: "still terminating" };
      } catch (error) {
        if (notFound(error)) return { done: undefined };
        throw error;
      }
    });
    return `namespace ${SMOKE_NAMESPACE} deleted`;
  } catch (error) {
    if (statusCode(error) !== undefined) throw error;
    return `namespace ${SMOKE_NAMESPACE} is being deleted (${errorText(error)})`;
  }
}
