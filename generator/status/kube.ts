// What `status` and `smoke` share: the kubeconfig, API errors turned into messages a user can
// act on, polling, and raw requests through the API server (for what the generated client
// cannot send: a service-proxy POST with a body and cookies).
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { ApiException, createConfiguration, KubeConfig, ServerConfiguration, type ApiConstructor, type ApiType } from "@kubernetes/client-node";
import { UserError } from "../errors.ts";

const NO_KUBECONFIG_HINT = "pass --kubeconfig FILE or set KUBECONFIG (on a k3s server: /etc/rancher/k3s/k3s.yaml)";

/** The given kubeconfig, else the usual one (KUBECONFIG, ~/.kube/config), with its current context. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (error) {
    // The YAML parser's message continues with a drawing of the place: its first line says it.
    const reason = errorText(error).split("\n")[0];
    throw new UserError(`cannot read the kubeconfig ${file ?? process.env.KUBECONFIG ?? "~/.kube/config"}: ${reason}; ${NO_KUBECONFIG_HINT}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster && file) throw new UserError(`the kubeconfig ${file} has no current cluster: its current-context must name a context whose cluster it lists`);
  // With no kubeconfig at all, loadFromDefault falls back to an unauthenticated localhost:8080.
  if (!cluster || (!file && cluster.name === "cluster" && cluster.server === "http://localhost:8080")) {
    throw new UserError(`no Kubernetes cluster configured: ${NO_KUBECONFIG_HINT}`);
  }
  // Checked here: the client would only fail on the first request, with the URL parser's words.
  if (!URL.canParse(cluster.server) || !/^https?:$/.test(new URL(cluster.server).protocol)) {
    throw new UserError(`the kubeconfig's cluster ${cluster.name} has the server "${cluster.server}", which is not an https:// (or http://) URL`);
  }
  return kc;
}

/**
 * How long one request to the API server may go unanswered. The API server answers a plain read
 * in well under a second and gives up on a request itself after 60 s.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

/** setTimeout's limit: a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A signal that aborts after `ms` with `reason` as the error; the timer keeps no process alive. */
function abortAfter(ms: number, reason: string): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error(reason)), Math.min(ms, MAX_TIMER_MS)).unref();
  return controller.signal;
}

/**
 * The time a command may take (--timeout). Every request ends at the sooner of its own timeout
 * and this deadline, so a server that accepts connections and never answers cannot hold the
 * command past it.
 */
export class Deadline {
  readonly ms: number;
  /** Aborts when the deadline passes. */
  readonly signal: AbortSignal;
  private readonly end: number;

  /** `name`: what the user knows this time as, for the message, e.g. "the --timeout". */
  constructor(ms: number, name: string) {
    this.ms = ms;
    this.end = Date.now() + ms;
    this.signal = abortAfter(ms, `no answer before ${name} of ${formatDuration(ms)} ran out`);
  }

  left(): number {
    return Math.max(0, this.end - Date.now());
  }

  /** The signal for one request to the API server. */
  requestSignal(): AbortSignal {
    return AbortSignal.any([this.signal, abortAfter(REQUEST_TIMEOUT_MS, `the API server did not answer within ${formatDuration(REQUEST_TIMEOUT_MS)}`)]);
  }
}

/**
 * kc.makeApiClient, with a time limit on every request: the generated client hands a request's
 * AbortSignal to fetch, and this client's middleware gives each request one from `deadline`.
 */
export function makeApiClient<T extends ApiType>(kc: KubeConfig, type: ApiConstructor<T>, deadline: Deadline): T {
  return new type(
    createConfiguration({
      baseServer: new ServerConfiguration(serverOf(kc), {}),
      authMethods: { default: kc },
      promiseMiddleware: [
        {
          pre: async (request) => {
            request.setSignal(deadline.requestSignal());
            return request;
          },
          post: async (response) => response,
        },
      ],
    }),
  );
}

export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? "(no server)";
}

/** The HTTP status of a failed API call, or undefined when the call never got an answer. */
export function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/**
 * One line for a failed API call: the Status message the API server sent, or why the
 * connection failed (undici hides that in `cause`). Never the response headers.
 */
export function apiErrorText(error: unknown): string {
  if (error instanceof ApiException) {
    const body = parseJson(error.body);
    const message = typeof body === "object" && body !== null && "message" in body ? String(body.message) : typeof error.body === "string" ? error.body.trim() : "";
    return `HTTP ${error.code}${message ? `: ${message}` : ""}`;
  }
  return errorText(error);
}

/** A failed call as a UserError: it names the server, which is what users get wrong most often. */
export function apiUserError(kc: KubeConfig, what: string, error: unknown): UserError {
  const code = statusCode(error);
  const hint =
    code === 401 || code === 403
      ? "; the kubeconfig's user is not allowed to (use the cluster admin's kubeconfig)"
      : code === undefined
        ? "; is the cluster up and the kubeconfig's server reachable from here?"
        : "";
  return new UserError(`${what} at ${serverOf(kc)} failed: ${apiErrorText(error)}${hint}`);
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : undefined;
  // A client-go credential plugin that fails can leave nothing but an empty message.
  const message = error.message.trim() === "" ? `${error.name} without a message (a kubeconfig credential plugin that failed?)` : error.message;
  return causeText && !message.includes(causeText) ? `${message} (${causeText})` : message;
}

function parseJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** "15m", "90s", "1h30m" (Go's duration style, as Flux's own timeouts) → milliseconds; for --timeout. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new UserError(`"${text}" is not a duration like 15m, 90s or 1h30m`);
  return parts.reduce((total, [, value, unit]) => total + Number(value) * (units[unit ?? ""] ?? 0), 0);
}

/** "1.2s", "3m05s": durations as people read them. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, "0")}s`;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * A request to the API server with the kubeconfig's credentials and trust (client certificate,
 * token, CA, proxy), through node:https: the generated client has no way to send a body or
 * headers to a service proxy, nor to read Set-Cookie.
 */
export async function rawRequest(
  kc: KubeConfig,
  options: { method: "GET" | "POST"; path: string; headers?: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<RawResponse> {
  const server = new URL(serverOf(kc));
  const url = new URL(server.pathname.replace(/\/$/, "") + options.path, server);
  const requestOptions: RequestOptions = { method: options.method, headers: {}, signal: options.signal };
  await kc.applyToHTTPSOptions(requestOptions);
  requestOptions.headers = { ...requestOptions.headers, ...options.headers };
  return new Promise((resolve, reject) => {
    // An abort says why (the deadline's reason), not node's generic "The operation was aborted".
    const fail = (error: unknown) => reject(options.signal.aborted ? options.signal.reason : error);
    // A plain-http server is only allowed by client-node with insecure-skip-tls-verify; honour it here too.
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    const req = send(url, requestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", fail);
    });
    req.on("error", fail);
    req.end(options.body);
  });
}
