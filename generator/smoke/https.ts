// One HTTPS request that trusts only the homelab's root CA: if it succeeds, the ingress served a
// certificate for the host whose chain ends at that root (node checks chain and name).
import { request } from "node:https";
import type { PeerCertificate, TLSSocket } from "node:tls";

export interface HttpsResult {
  readonly status: number;
  /** The leaf certificate's issuer CN, e.g. "home Intermediate CA". */
  readonly issuer: string;
  /** Its subjectAltName, e.g. "DNS:smoke.home.arpa" (cert-manager sets no CN). */
  readonly names: string;
}

/** "10.0.0.5", "10.0.0.5:8443", "[::1]:8443" → where to connect; the port defaults to 443. */
export function parseAddress(address: string): { host: string; port: number } {
  const bracketed = /^\[(.+)\](?::(\d+))?$/.exec(address);
  if (bracketed) return { host: bracketed[1] ?? address, port: Number(bracketed[2] ?? 443) };
  const hostPort = /^([^:]+):(\d+)$/.exec(address);
  if (hostPort) return { host: hostPort[1] ?? address, port: Number(hostPort[2]) };
  return { host: address, port: 443 };
}

/** `timeoutMs`: how long the connection may stay silent; `signal` ends the request at the command's deadline. */
export function fetchWithRootCa(options: { host: string; address?: string; rootCaPem: string; timeoutMs: number; signal: AbortSignal }): Promise<HttpsResult> {
  const target = parseAddress(options.address ?? options.host);
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => reject(options.signal.aborted ? options.signal.reason : error);
    const req = request(
      {
        host: target.host,
        port: target.port,
        path: "/",
        method: "GET",
        // SNI and the name checked are the ingress host, wherever we connect to.
        servername: options.host,
        headers: { host: options.host },
        // Only this root: the system's CAs must not make a wrong chain pass.
        ca: options.rootCaPem,
        agent: false,
        timeout: options.timeoutMs,
        signal: options.signal,
      },
      (res) => {
        const leaf: PeerCertificate = (res.socket as TLSSocket).getPeerCertificate();
        res.resume();
        res.on("error", fail);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, issuer: String(leaf.issuer?.CN ?? "?"), names: leaf.subjectaltname ?? "" }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on("error", fail);
    req.end();
  });
}

/** Node's TLS verification codes, said in the homelab's terms. */
const TLS_PROBLEMS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the certificate does not chain to the internal root CA",
  SELF_SIGNED_CERT_IN_CHAIN: "the certificate chains to a root other than the internal CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: "a self-signed certificate (Traefik's default: has cert-manager written the secret yet?)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server sent no intermediate, or one the internal root did not sign",
  CERT_HAS_EXPIRED: "the certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "the certificate is not for this host",
};

export function describeHttpsError(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  const problem = err.code ? TLS_PROBLEMS[err.code] : undefined;
  return problem ? `${problem} (${err.message})` : err.message ?? String(error);
}
