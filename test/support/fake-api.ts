// A stand-in Kubernetes API server for the status and smoke tests: HTTPS on 127.0.0.1 with a
// certificate from a test CA, a bearer token, JSON answers from a route function (usually the
// recorded objects in this folder), every request recorded. The commands under test reach it
// through the real @kubernetes/client-node and a kubeconfig written here.
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerCertificate } from "./pki.ts";

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON when the body is JSON, else the text. */
  readonly body: unknown;
}

export interface ApiAnswer {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string | string[]>;
}

/** The answer to a request, or undefined for a 404 as the API server sends it. */
export type Route = (request: ApiRequest) => ApiAnswer | undefined;

export interface FakeApi {
  readonly url: string;
  /** A kubeconfig file for this server (CA, token, current context). */
  readonly kubeconfig: string;
  readonly requests: ApiRequest[];
  close(): Promise<void>;
}

export const TOKEN = "test-token-not-a-secret";

/** A metav1.Status, as the API server answers errors. */
export function apiStatus(code: number, reason: string, message: string): ApiAnswer {
  return { status: code, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code } };
}

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "k8s-api", name), "utf8")) as T;
}

export async function startFakeApi(options: { tls: ServerCertificate; rootPem: string; route: Route }): Promise<FakeApi> {
  const requests: ApiRequest[] = [];
  const server = createServer({ cert: options.tls.chainPem, key: options.tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "https://127.0.0.1");
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      const request: ApiRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, body };
      requests.push(request);
      let answer: ApiAnswer;
      if (req.headers.authorization !== `Bearer ${TOKEN}`) answer = apiStatus(401, "Unauthorized", "Unauthorized");
      else {
        try {
          answer = options.route(request) ?? apiStatus(404, "NotFound", "the server could not find the requested resource");
        } catch (error) {
          answer = apiStatus(500, "InternalError", String(error));
        }
      }
      const payload = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? {});
      res.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), "homelab-fake-api-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "  - name: fake",
      "    cluster:",
      `      server: ${url}`,
      `      certificate-authority-data: ${Buffer.from(options.rootPem).toString("base64")}`,
      "users:",
      "  - name: admin",
      "    user:",
      `      token: ${TOKEN}`,
      "contexts:",
      "  - name: fake",
      "    context: { cluster: fake, user: admin }",
      "current-context: fake",
      "",
    ].join("\n"),
  );
  return {
    url,
    kubeconfig,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
