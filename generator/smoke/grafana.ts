// Grafana's datasources, read through the API server's service proxy: no ingress, DNS or
// certificate involved, so a failure here is Grafana's own.
//
// Why a login and a cookie rather than basic auth: the API server authenticates the caller
// and then deletes the Authorization header (k8s.io/apiserver WithAuthentication), so
// Grafana would never see one sent through the proxy. Cookies pass through untouched.
import type { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { GRAFANA_ADMIN_SECRET } from "../components/monitoring.ts";
import { rawRequest, type Deadline, type RawResponse } from "../status/kube.ts";

export const GRAFANA_NAMESPACE = "monitoring";
/** kube-prometheus-stack's Grafana Service (<release>-grafana, port 80). */
export const GRAFANA_PROXY = `/api/v1/namespaces/${GRAFANA_NAMESPACE}/services/kube-prometheus-stack-grafana:80/proxy`;

export interface Datasource {
  readonly name: string;
  readonly type: string;
  readonly url?: string;
  readonly isDefault?: boolean;
}

/**
 * The Prometheus datasource, or an Error saying what is missing. `secrets` receives the admin
 * password (and its base64 form) as soon as it is read, so the caller can keep it out of
 * anything it prints. The user name is not secret: the generator writes it as a literal.
 * Each request through the proxy ends with `deadline`, as the client's own do.
 */
export async function prometheusDatasource(kc: KubeConfig, core: CoreV1Api, deadline: Deadline, secrets: Set<string>): Promise<Datasource> {
  const { data } = await core.readNamespacedSecret({ name: GRAFANA_ADMIN_SECRET, namespace: GRAFANA_NAMESPACE });
  const value = (key: string, secret: boolean): string => {
    const encoded = data?.[key];
    if (!encoded) throw new Error(`Secret ${GRAFANA_NAMESPACE}/${GRAFANA_ADMIN_SECRET} has no ${key}`);
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    if (secret) secrets.add(decoded).add(encoded);
    return decoded;
  };
  const password = value("admin-password", true);
  const user = value("admin-user", false);

  const login = await rawRequest(kc, {
    method: "POST",
    path: `${GRAFANA_PROXY}/login`,
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ user, password }),
    signal: deadline.requestSignal(),
  });
  if (login.status !== 200) throw new Error(`Grafana login as the admin from ${GRAFANA_ADMIN_SECRET} failed: ${describe(login)}`);
  const cookie = cookiesOf(login);
  if (!cookie) throw new Error("Grafana accepted the login but set no session cookie");
  try {
    const answer = await rawRequest(kc, { method: "GET", path: `${GRAFANA_PROXY}/api/datasources`, headers: { cookie, accept: "application/json" }, signal: deadline.requestSignal() });
    if (answer.status !== 200) throw new Error(`GET /api/datasources: ${describe(answer)}`);
    const datasources = JSON.parse(answer.body) as Datasource[];
    const prometheus = datasources.find((d) => d.type === "prometheus");
    if (!prometheus) throw new Error(`no Prometheus datasource; Grafana has ${datasources.map((d) => `${d.name} (${d.type})`).join(", ") || "none"}`);
    return prometheus;
  } finally {
    // Ends the session the login opened; a failure here changes nothing about the result.
    await rawRequest(kc, { method: "GET", path: `${GRAFANA_PROXY}/logout`, headers: { cookie }, signal: deadline.requestSignal() }).catch(() => undefined);
  }
}

/** "name=value; name2=value2" from the Set-Cookie headers. */
function cookiesOf(response: RawResponse): string {
  const header = response.headers["set-cookie"];
  const list = Array.isArray(header) ? header : header ? [header] : [];
  return list.map((c) => c.split(";")[0]?.trim() ?? "").filter(Boolean).join("; ");
}

/** The status and Grafana's (or the API server's) message, never the whole body. */
function describe(response: RawResponse): string {
  let message = "";
  try {
    const body = JSON.parse(response.body) as { message?: unknown };
    if (typeof body.message === "string") message = body.message;
  } catch {
    message = response.body.slice(0, 200).replace(/\s+/g, " ");
  }
  const hint = response.status === 503 || response.status === 404 ? " (is the monitoring phase deployed and Grafana running?)" : "";
  return `HTTP ${response.status}${message ? `: ${message}` : ""}${hint}`;
}
