// `homelab smoke` against a stand-in cluster: an HTTPS API server on 127.0.0.1 (reached through
// the real @kubernetes/client-node) that records what smoke creates and answers its waits with
// recorded objects (test/fixtures/k8s-api/smoke), and a real HTTPS "ingress" on 127.0.0.1 whose
// certificate chain comes from a test CA made by the generator's own createCertificateAuthority.
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { tlsIngressAnnotations } from "../generator/render/kube.ts";
import { smokeCommand, type SmokeOptions } from "../generator/smoke/command.ts";
import { apiStatus, fixture, startFakeApi, type ApiAnswer, type ApiRequest, type FakeApi } from "./support/fake-api.ts";
import { testAuthority, type TestAuthority } from "./support/pki.ts";

const DOMAIN = "home.arpa";
const HOST = `smoke.${DOMAIN}`;
const NS = "/api/v1/namespaces/homelab-smoke";
const PV = "pvc-6b3e9d1f-0a2c-4e85-b7d4-93f1c8a25e60";
const GRAFANA = "/api/v1/namespaces/monitoring/services/kube-prometheus-stack-grafana:80/proxy";
const secret = fixture<{ data: Record<string, string> }>("smoke/secret-grafana-admin.json");
const PASSWORD = Buffer.from(secret.data["admin-password"] ?? "", "base64").toString("utf8");
const SESSION = "grafana_session=8c1f0d2e9b7a4c6e5d3f1a2b0c9e8d7f";

interface Faults {
  /** The namespace is there: from an interrupted earlier run, or someone else's. */
  leftover?: "smoke" | "foreign";
  claimNeverBinds?: boolean;
  ingressRejected?: boolean;
  /** A (misbehaving) proxy that echoes the password in its error. */
  loginEchoesPassword?: boolean;
}

/** The cluster's side: what was created, patched and deleted, and the answers that change over reads. */
function fakeCluster(faults: Faults) {
  const created = new Map<string, unknown>();
  const patched: unknown[] = [];
  const reads = new Map<string, number>();
  let namespace: "absent" | "active" | "terminating" = faults.leftover ? "active" : "absent";
  const deletes: string[] = [];
  const read = (key: string) => {
    const n = (reads.get(key) ?? 0) + 1;
    reads.set(key, n);
    return n;
  };
  const create = (key: string, body: unknown, answer: unknown = body): ApiAnswer => {
    if (namespace !== "active" && key !== "Namespace") return apiStatus(404, "NotFound", 'namespaces "homelab-smoke" not found');
    created.set(key, body);
    return { status: 201, body: answer };
  };
  const labels = faults.leftover === "foreign" ? { team: "other" } : { "app.kubernetes.io/name": "homelab-smoke", "app.kubernetes.io/managed-by": "homelab" };
  const namespaceObject = (phase: string) => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "homelab-smoke", labels, ...(phase === "Terminating" ? { deletionTimestamp: "2026-11-01T10:13:01Z" } : {}) },
    status: { phase },
  });

  const route = (r: ApiRequest): ApiAnswer | undefined => {
    const call = `${r.method} ${r.path}`;
    switch (call) {
      case "GET /api/v1/nodes":
        return { body: fixture("smoke/nodes.json") };
      case `GET ${NS}`:
        if (namespace === "absent") return apiStatus(404, "NotFound", 'namespaces "homelab-smoke" not found');
        if (namespace === "terminating") {
          namespace = "absent"; // gone after this read
          return { body: namespaceObject("Terminating") };
        }
        return { body: namespaceObject("Active") };
      case "POST /api/v1/namespaces":
        if (namespace !== "absent") return apiStatus(409, "AlreadyExists", 'namespaces "homelab-smoke" already exists');
        namespace = "active";
        return create("Namespace", r.body);
      case `DELETE ${NS}`:
        deletes.push(r.path);
        if (namespace === "absent") return apiStatus(404, "NotFound", 'namespaces "homelab-smoke" not found');
        namespace = "terminating";
        return { body: namespaceObject("Terminating") };
      case `POST ${NS}/pods`:
        return create("Pod", r.body, fixture("smoke/pod-pending.json"));
      case `GET ${NS}/pods/smoke`:
        return { body: fixture(read("pod") < 2 ? "smoke/pod-pending.json" : "smoke/pod-running.json") };
      case `POST ${NS}/persistentvolumeclaims`:
        return create("PersistentVolumeClaim", r.body, fixture("smoke/pvc-pending.json"));
      case `GET ${NS}/persistentvolumeclaims/smoke-data`:
        return { body: fixture(faults.claimNeverBinds || read("pvc") < 2 ? "smoke/pvc-pending.json" : "smoke/pvc-bound.json") };
      case `GET /api/v1/persistentvolumes/${PV}`:
        return { body: fixture("smoke/pv-longhorn.json") };
      case `PATCH /api/v1/persistentvolumes/${PV}`:
        patched.push({ contentType: r.headers["content-type"], body: r.body });
        return { body: fixture("smoke/pv-longhorn.json") };
      case "POST /apis/apps/v1/namespaces/homelab-smoke/deployments":
        return create("Deployment", r.body);
      case `POST ${NS}/services`:
        return create("Service", r.body);
      case "POST /apis/networking.k8s.io/v1/namespaces/homelab-smoke/ingresses":
        if (faults.ingressRejected) return apiStatus(500, "InternalError", 'Internal error occurred: failed calling webhook "validate.nginx.ingress.kubernetes.io"');
        return create("Ingress", r.body);
      case "GET /apis/cert-manager.io/v1/namespaces/homelab-smoke/certificates/smoke-tls":
        // cert-manager's ingress-shim makes the Certificate once the Ingress exists.
        if (!created.has("Ingress")) return apiStatus(404, "NotFound", 'certificates.cert-manager.io "smoke-tls" not found');
        return { body: fixture(read("certificate") < 2 ? "smoke/certificate-issuing.json" : "smoke/certificate-ready.json") };
      case "GET /api/v1/namespaces/monitoring/secrets/grafana-admin":
        return { body: secret };
      case `POST ${GRAFANA}/login`: {
        const body = r.body as { user?: string; password?: string };
        if (faults.loginEchoesPassword) return { status: 401, body: { message: `invalid login for admin with password ${body.password}` } };
        if (body.user !== "admin" || body.password !== PASSWORD) return { status: 401, body: { message: "Invalid username or password" } };
        return {
          body: { message: "Logged in", redirectUrl: "/" },
          headers: { "set-cookie": [`${SESSION}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax`, "grafana_session_expiry=1762000000; Path=/; Max-Age=2592000; SameSite=Lax"] },
        };
      }
      case `GET ${GRAFANA}/api/datasources`:
        if (!String(r.headers.cookie).includes(SESSION)) return { status: 401, body: { message: "Unauthorized" } };
        return { body: fixture("smoke/grafana-datasources.json") };
      case `GET ${GRAFANA}/logout`:
        return { status: 302, body: "", headers: { location: "/login" } };
      default:
        return undefined;
    }
  };
  return { route, created, patched, reads, deletes, namespace: () => namespace };
}

let ca: TestAuthority;
let api: FakeApi;
let cluster: ReturnType<typeof fakeCluster>;
let ingress: Server;
let ingressPort: number;
const ingressRequests: { host?: string; servername?: string | false | null }[] = [];

beforeAll(async () => {
  ca = await testAuthority("home", DOMAIN);
  api = await startFakeApi({ tls: await ca.issue({ ips: ["127.0.0.1"] }), rootPem: ca.rootPem, route: (r) => cluster.route(r) });
  // Traefik's part: serve smoke.<domain> with a leaf from the internal CA (and the intermediate).
  const leaf = await ca.issue({ dns: [HOST] });
  ingress = createServer({ cert: leaf.chainPem, key: leaf.keyPem }, (req, res) => {
    ingressRequests.push({ host: req.headers.host, servername: (req.socket as TLSSocket).servername });
    // The first request comes before Traefik has the route: 404, as Traefik answers then.
    res.writeHead(ingressRequests.length === 1 ? 404 : 200, { "content-type": "text/plain" });
    res.end(ingressRequests.length === 1 ? "404 page not found\n" : "Hostname: smoke-web-6d9c7b8f5-x2k4q\nIP: 10.42.0.88\n");
  });
  await new Promise<void>((resolve) => ingress.listen(0, "127.0.0.1", resolve));
  ingressPort = (ingress.address() as AddressInfo).port;
});
afterAll(async () => {
  ingress?.closeAllConnections();
  await new Promise((resolve) => ingress?.close(resolve));
  await api?.close();
});

async function smoke(faults: Faults = {}, options: Partial<SmokeOptions> = {}): Promise<{ code: number; lines: string[]; text: string }> {
  cluster = fakeCluster(faults);
  api.requests.length = 0;
  ingressRequests.length = 0;
  const lines: string[] = [];
  const code = await smokeCommand({
    kubeconfig: api.kubeconfig,
    domain: DOMAIN,
    rootCaPem: ca.rootPem,
    out: (line) => lines.push(line),
    resolve: (host) => (host === HOST ? `127.0.0.1:${ingressPort}` : host),
    timeoutMs: 5_000,
    intervalMs: 20,
    ...options,
  });
  return { code, lines, text: lines.join("\n") };
}

const calls = () => api.requests.map((r) => `${r.method} ${r.path}`);

describe("homelab smoke", () => {
  test("every milestone passes, each reported with its duration, and the namespace is deleted", async () => {
    const { code, lines, text } = await smoke();
    expect(code).toBe(0);
    const ok = lines.filter((line) => line.startsWith("  ok "));
    expect(ok.map((line) => line.replace(/: .*/, "").trim())).toEqual([
      "ok    nodes Ready",
      "ok    a test pod runs",
      "ok    a test PVC binds on Longhorn",
      `ok    HTTPS to ${HOST} presents a certificate from the internal CA`,
      "ok    Grafana has its Prometheus datasource",
      "ok    clean-up",
    ]);
    for (const line of ok) expect(line).toMatch(/\(\d+\.\ds\)$/);
    expect(text).toContain("nodes Ready: hearth (v1.36.3+k3s1)");
    expect(text).toContain("a test pod runs: homelab-smoke/smoke on hearth");
    expect(text).toContain(`a test PVC binds on Longhorn: smoke-data → ${PV} (longhorn-encrypted, 1Gi)`);
    expect(text).toContain(`https://${HOST}/ → HTTP 200, certificate for DNS:${HOST} issued by home Intermediate CA`);
    expect(text).toContain("Prometheus → http://kube-prometheus-stack-prometheus.monitoring:9090/ (default)");
    expect(text).toContain("clean-up: namespace homelab-smoke deleted");
    expect(text).toMatch(/homelab: smoke passed: all 5 milestones \([\d.]+s\)$/);
  });

  test("creates the test objects: namespace, pod, default-class claim, web Deployment+Service, TLS ingress", async () => {
    await smoke();
    const { created } = cluster;
    expect([...created.keys()]).toEqual(["Namespace", "Pod", "PersistentVolumeClaim", "Deployment", "Service", "Ingress"]);
    expect(created.get("Namespace")).toMatchObject({ kind: "Namespace", metadata: { name: "homelab-smoke" } });
    expect(created.get("Pod")).toMatchObject({ metadata: { name: "smoke", namespace: "homelab-smoke" }, spec: { containers: [{ image: "docker.io/traefik/whoami:v1.11.0" }] } });
    const claim = created.get("PersistentVolumeClaim") as { spec: Record<string, unknown> };
    expect(claim.spec).not.toHaveProperty("storageClassName"); // the default class: Longhorn's
    const ingressObject = created.get("Ingress") as { metadata: { annotations: Record<string, string> }; spec: { tls: unknown[]; rules: { host: string }[] } };
    expect(ingressObject.metadata.annotations).toEqual(tlsIngressAnnotations());
    expect(ingressObject.spec.tls).toEqual([{ hosts: [HOST], secretName: "smoke-tls" }]);
    expect(ingressObject.spec.rules[0]?.host).toBe(HOST);
    expect(created.get("Service")).toMatchObject({ spec: { ports: [{ port: 80, targetPort: "http" }] } });
  });

  test("waits: pod Running, claim Bound, Certificate Ready, the ingress serving 200 with the internal CA's chain", async () => {
    await smoke();
    expect(cluster.reads.get("pod")).toBe(2);
    expect(cluster.reads.get("pvc")).toBe(2);
    expect(cluster.reads.get("certificate")).toBe(2);
    // The first HTTPS answer (404, no route yet) was retried; SNI and Host were smoke.<domain>.
    expect(ingressRequests).toEqual([
      { host: HOST, servername: HOST },
      { host: HOST, servername: HOST },
    ]);
    // The test volume is set to be deleted with its claim (the encrypted class retains volumes).
    expect(cluster.patched).toEqual([
      { contentType: "application/json-patch+json", body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Delete" }] },
    ]);
    // Grafana through the service proxy: login, datasources with the session cookie, logout.
    expect(calls().filter((c) => c.includes("/proxy/"))).toEqual([`POST ${GRAFANA}/login`, `GET ${GRAFANA}/api/datasources`, `GET ${GRAFANA}/logout`]);
    // Deleted, then read until gone.
    expect(calls().slice(-3)).toEqual([`DELETE ${NS}`, `GET ${NS}`, `GET ${NS}`]);
    expect(cluster.namespace()).toBe("absent");
  });

  test("no secret value appears in the output", async () => {
    const { text } = await smoke();
    expect(PASSWORD.length).toBeGreaterThan(20);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(secret.data["admin-password"]);
    expect(text).not.toContain(SESSION.split("=")[1]);
  });

  test("a secret echoed back in an error is masked", async () => {
    const { code, text } = await smoke({ loginEchoesPassword: true });
    expect(code).toBe(1);
    expect(text).toContain("FAIL  Grafana has its Prometheus datasource: Grafana login as the admin from grafana-admin failed: HTTP 401: invalid login for admin with password ***");
    expect(text).not.toContain(PASSWORD);
    expect(cluster.deletes).toHaveLength(1);
  });

  test("a claim that never binds: FAIL with what it waited for, later milestones skipped, namespace still deleted", async () => {
    const { code, text } = await smoke({ claimNeverBinds: true }, { timeoutMs: 2_000 });
    expect(code).toBe(1);
    expect(text).toMatch(/FAIL  a test PVC binds on Longhorn: timed out after [\d.]+s: claim is Pending \(storage class longhorn-encrypted\)/);
    expect(text).toContain(`  skip  HTTPS to ${HOST} presents a certificate from the internal CA`);
    expect(text).toContain("  skip  Grafana has its Prometheus datasource");
    expect(cluster.created.has("Ingress")).toBe(false);
    expect(calls()).toContain(`DELETE ${NS}`);
    expect(cluster.namespace()).toBe("absent");
    expect(text).toMatch(/homelab: smoke failed: 2 of 5 milestones passed/);
  });

  test("an API error mid-way (the Ingress rejected): FAIL with the API's message, namespace still deleted", async () => {
    const { code, text } = await smoke({ ingressRejected: true });
    expect(code).toBe(1);
    expect(text).toContain('FAIL  HTTPS to smoke.home.arpa presents a certificate from the internal CA: HTTP 500: Internal error occurred: failed calling webhook "validate.nginx.ingress.kubernetes.io"');
    expect(cluster.deletes).toEqual([NS]);
    expect(text).toContain("ok    clean-up: namespace homelab-smoke deleted");
  });

  test("a namespace left by an interrupted run is removed first", async () => {
    const { code } = await smoke({ leftover: "smoke" });
    expect(code).toBe(0);
    const first = calls().slice(0, 4);
    expect(first).toEqual(["GET /api/v1/nodes", `GET ${NS}`, `DELETE ${NS}`, `GET ${NS}`]);
    expect(cluster.deletes).toHaveLength(2); // the leftover, and this run's
  });

  test("a namespace of the same name that smoke did not make is left alone", async () => {
    const { code, text } = await smoke({ leftover: "foreign" });
    expect(code).toBe(1);
    expect(text).toContain("FAIL  a test pod runs: namespace homelab-smoke exists and was not made by homelab smoke; not touching it");
    expect(cluster.deletes).toEqual([]);
    expect(text).toContain("ok    clean-up: nothing was created");
  });

  test("a certificate from another CA fails the HTTPS milestone", async () => {
    const other = await testAuthority("other", DOMAIN);
    const leaf = await other.issue({ dns: [HOST] });
    const impostor = createServer({ cert: leaf.chainPem, key: leaf.keyPem }, (_req, res) => res.end("hi"));
    await new Promise<void>((resolve) => impostor.listen(0, "127.0.0.1", resolve));
    try {
      const port = (impostor.address() as AddressInfo).port;
      const { code, text } = await smoke({}, { resolve: () => `127.0.0.1:${port}`, timeoutMs: 2_000 });
      expect(code).toBe(1);
      expect(text).toMatch(/FAIL  HTTPS to smoke\.home\.arpa presents a certificate from the internal CA: timed out after [\d.]+s: https:\/\/smoke\.home\.arpa\/: the certificate does not chain to the internal root CA \(unable to get local issuer certificate\)/);
      expect(cluster.deletes).toEqual([NS]);
    } finally {
      impostor.closeAllConnections();
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  test("credentials the API server rejects: the first milestone fails at once, nothing to clean up", async () => {
    const lines: string[] = [];
    const broken = `${api.kubeconfig}-wrong-token`;
    writeFileSync(broken, readFileSync(api.kubeconfig, "utf8").replace(/token: .*/, "token: wrong"));
    cluster = fakeCluster({});
    const code = await smokeCommand({ kubeconfig: broken, domain: DOMAIN, rootCaPem: ca.rootPem, out: (line) => lines.push(line), timeoutMs: 5_000, intervalMs: 20 });
    expect(code).toBe(1);
    expect(lines.join("\n")).toContain("FAIL  nodes Ready: HTTP 401");
    expect(lines.join("\n")).toContain("ok    clean-up: nothing was created");
  });
});
