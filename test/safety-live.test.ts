// The safety contract of the commands that talk to a live cluster (docs/safety.md): `status` and
// `smoke` end by their --timeout even when the API server accepts connections and never answers,
// and a kubeconfig they cannot use is a clean exit-1 error. The real CLI, as a child process,
// against real servers on 127.0.0.1 that say nothing.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { referenceConfigPath, tempDir } from "./support/render.ts";
import { testAuthority } from "./support/pki.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
/** Kills a command that hangs (the bug this file is about), so the test fails instead of waiting forever. */
const HANG_GUARD_MS = 60_000;

interface Run {
  readonly code: number | null;
  /** Set when the guard had to kill the command. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI as a child process; asynchronous, so the servers in this process keep serving. */
function homelab(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const guard = setTimeout(() => child.kill("SIGKILL"), HANG_GUARD_MS);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Exit 1 by itself, the message on stderr, no stack trace and no "internal error". */
function expectCleanError(run: Run, message: RegExp | string): void {
  expect(run.signal).toBeNull();
  expect(run.code).toBe(1);
  if (typeof message === "string") expect(run.stderr).toContain(message);
  else expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
}

/** A server that accepts every connection and never sends a byte; it closes what it accepted on close. */
async function listen(server: Server, sockets: Set<Socket>): Promise<{ port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A kubeconfig (JSON is YAML) for `server`, trusting `rootPem`, with a bearer token. */
function kubeconfig(name: string, server: string, rootPem: string): string {
  const path = join(tempDir("homelab-kubeconfig-"), name);
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "silent", cluster: { server, "certificate-authority-data": Buffer.from(rootPem).toString("base64") } }],
    users: [{ name: "admin", user: { token: "test-token-not-a-secret" } }],
    contexts: [{ name: "silent", context: { cluster: "silent", user: "admin" } }],
    "current-context": "silent",
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe("an API server that accepts connections and never answers", () => {
  let rootPem: string;
  let tls: { port: number; close: () => Promise<void> };
  let tcp: { port: number; close: () => Promise<void> };
  /** Completes the TLS handshake, then reads the request and never answers it. */
  let tlsConfig: string;
  /** Accepts the TCP connection and never answers the TLS handshake. */
  let tcpConfig: string;

  beforeAll(async () => {
    const ca = await testAuthority("home", "home.arpa");
    rootPem = ca.rootPem;
    const certificate = await ca.issue({ ips: ["127.0.0.1"] });
    const tlsSockets = new Set<Socket>();
    tls = await listen(createTlsServer({ cert: certificate.chainPem, key: certificate.keyPem }, (socket) => tlsSockets.add(socket)), tlsSockets);
    const tcpSockets = new Set<Socket>();
    tcp = await listen(createTcpServer((socket) => tcpSockets.add(socket)), tcpSockets);
    tlsConfig = kubeconfig("tls", `https://127.0.0.1:${tls.port}`, rootPem);
    tcpConfig = kubeconfig("tcp", `https://127.0.0.1:${tcp.port}`, rootPem);
  });
  afterAll(async () => {
    await tls?.close();
    await tcp?.close();
  });

  test("status --wait --timeout 2s: exit 1 at the timeout, naming the server and what it waited for", async () => {
    const run = await homelab(["status", "--kubeconfig", tlsConfig, "--wait", "--timeout", "2s"]);
    expectCleanError(run, `homelab: status --wait timed out after 2.0s: cannot read the Flux objects at https://127.0.0.1:${tls.port}: no answer before the --timeout of 2.0s ran out`);
    expect(run.stdout).toContain("waiting up to 2.0s for every object to be Ready at the branch head");
  });

  test("status without --wait: --timeout bounds its one read", async () => {
    const run = await homelab(["status", "--kubeconfig", tlsConfig, "--timeout", "1s"]);
    expectCleanError(run, `homelab: reading the Flux objects at https://127.0.0.1:${tls.port} failed: no answer before the --timeout of 1.0s ran out`);
  });

  test("smoke --timeout 1s: the first milestone fails with what it waited for, the rest are skipped, nothing to clean up", async () => {
    const run = await homelab(["smoke", "--kubeconfig", tlsConfig, "--config", referenceConfigPath, "--timeout", "1s"]);
    expect(run.signal).toBeNull();
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`homelab smoke against https://127.0.0.1:${tls.port}`);
    expect(run.stdout).toMatch(/ {2}FAIL {2}nodes Ready: no answer before the --timeout of 1\.0s ran out \([\d.]+s\)/);
    expect(run.stdout).toContain("  skip  a test pod runs");
    expect(run.stdout).toContain("  ok    clean-up: nothing was created");
    expect(run.stdout).toMatch(/homelab: smoke failed: 0 of 5 milestones passed/);
    expect(run.stderr).toBe("");
  });

  test("a TLS handshake that never completes ends the same way", async () => {
    const run = await homelab(["status", "--kubeconfig", tcpConfig, "--wait", "--timeout", "2s"]);
    expectCleanError(run, `homelab: status --wait timed out after 2.0s: cannot read the Flux objects at https://127.0.0.1:${tcp.port}: no answer before the --timeout of 2.0s ran out`);
  });

  test("a --timeout that is not a duration is a clean error", async () => {
    expectCleanError(await homelab(["smoke", "--kubeconfig", tlsConfig, "--config", referenceConfigPath, "--timeout", "soon"]), '"soon" is not a duration like 15m, 90s or 1h30m');
    expectCleanError(await homelab(["status", "--kubeconfig", tlsConfig, "--timeout", "5"]), '"5" is not a duration');
  });
});

describe("a kubeconfig that cannot be used is a clean error, for status and smoke", () => {
  const dir = tempDir("homelab-kubeconfigs-");
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  mkdirSync(join(dir, "a-folder"));
  const cases: [string, string, RegExp][] = [
    ["missing", join(dir, "no-such-file"), /cannot read the kubeconfig .*no-such-file: ENOENT.*; pass --kubeconfig FILE/],
    ["not YAML", file("not-yaml", "clusters: [\n"), /cannot read the kubeconfig .*not-yaml: [^\n]+; pass --kubeconfig FILE/],
    ["empty", file("empty", ""), /cannot read the kubeconfig .*empty: /],
    ["a folder", join(dir, "a-folder"), /cannot read the kubeconfig .*a-folder: EISDIR/],
    ["YAML, but no current cluster", file("no-context", "apiVersion: v1\nkind: Config\nclusters: []\n"), /the kubeconfig .*no-context has no current cluster/],
    [
      "a server that is not a URL",
      file("bad-server", JSON.stringify({ clusters: [{ name: "c", cluster: { server: "kube.home.arpa:6443" } }], users: [{ name: "u", user: {} }], contexts: [{ name: "x", context: { cluster: "c", user: "u" } }], "current-context": "x" })),
      /the kubeconfig's cluster c has the server "kube\.home\.arpa:6443", which is not an https:\/\/ \(or http:\/\/\) URL/,
    ],
  ];

  test.each(cases)("%s", async (_name, path, message) => {
    const status = await homelab(["status", "--kubeconfig", path]);
    expectCleanError(status, message);
    expect(status.stderr.trim().split("\n")).toHaveLength(1);
    expectCleanError(await homelab(["smoke", "--kubeconfig", path, "--config", referenceConfigPath]), message);
  });
});
