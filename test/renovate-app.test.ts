// apps.renovate: the CronJob, its Secret (the same Gitea admin value Gitea uses) and the token
// step, run for real with Node against a Gitea API stand-in on 127.0.0.1.
import { execFile, execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CronJob } from "kubernetes-models/batch/v1";
import { generate } from "../generator/generate.ts";
import { decryptDocument } from "../generator/secrets/sops.ts";
import { demoKeyFile, minimalConfig, objectsOf, renderText, tempDir, tempRepo } from "./support/render.ts";
import { kubectl } from "./support/tools.ts";

const run = promisify(execFile);
const script = join(import.meta.dirname, "..", "generator", "components", "renovate", "gitea-token.mjs");
const withRenovate = `${minimalConfig}apps:\n  renovate:\n    enabled: true\n    schedule: "30 4 * * 1"\n`;

describe("the renovate app", () => {
  test("off by default", async () => {
    const { files } = await renderText(minimalConfig);
    expect(files.some((f) => f.path.startsWith("apps/renovate/"))).toBe(false);
  });

  test("a CronJob on the configured schedule against the in-cluster Gitea, with no credential inline", async () => {
    const { dir, configPath } = tempRepo(withRenovate);
    const { files } = await generate({ configPath });
    const objects = objectsOf(files).map(({ object }) => object);
    const cronJob = objects.find((o) => o.kind === "CronJob")!;
    expect(() => new CronJob(cronJob as ConstructorParameters<typeof CronJob>[0]).validate()).not.toThrow();
    expect(cronJob.spec).toMatchObject({ schedule: "30 4 * * 1", timeZone: "UTC", concurrencyPolicy: "Forbid" });
    const pod = cronJob.spec.jobTemplate.spec.template.spec;
    const env = Object.fromEntries(pod.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ RENOVATE_PLATFORM: "gitea", RENOVATE_REPOSITORIES: "homelab/gitops", RENOVATE_GIT_URL: "endpoint" });
    expect(JSON.stringify(cronJob)).not.toMatch(/RENOVATE_TOKEN"?,\s*"?value/);

    // The admin password Renovate's token step uses is the one Gitea's admin Secret holds.
    const identity = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
    const decrypt = async (path: string) => ((await decryptDocument(readFileSync(join(dir, path), "utf8"), [identity])).data as any).stringData;
    const renovateSide = await decrypt("apps/renovate/renovate-gitea.sops.yaml");
    const giteaSide = await decrypt("apps/gitea/gitea-admin.sops.yaml");
    expect([renovateSide["admin-username"], renovateSide["admin-password"]]).toEqual([giteaSide.username, giteaSide.password]);
    expect(renovateSide["bot-password"]).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const unit = objects.find((o) => o.kind === "Kustomization" && o.metadata.name === "renovate")!;
    expect(unit.spec.dependsOn.map((d: { name: string }) => d.name)).toContain("gitea");
    expect(() => execFileSync(kubectl, ["kustomize", join(dir, "apps/renovate")], { stdio: "pipe" })).not.toThrow();
  });
});

/** Just enough of Gitea's API for the token step: users, collaborators, tokens; every call recorded. */
function fakeGitea() {
  const users = new Map<string, { password: string }>([["homelab-admin", { password: "admin-pass-not-a-secret" }]]);
  const tokens: { id: number; user: string; name: string; sha1: string }[] = [];
  const collaborators: string[] = [];
  const calls: string[] = [];
  let nextId = 1;
  const authUser = (req: IncomingMessage) => {
    const [user, password] = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString().split(":");
    return users.get(user ?? "")?.password === password ? user : undefined;
  };
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c));
    req.on("end", () => {
      const path = (req.url ?? "").replace(/^\/api\/v1/, "");
      const body = text ? JSON.parse(text) : {};
      calls.push(`${req.method} ${path}`);
      const send = (status: number, payload?: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(payload === undefined ? "" : JSON.stringify(payload));
      };
      const who = authUser(req);
      if (!who) return send(401, { message: "unauthorized" });
      let m: RegExpMatchArray | null;
      if (req.method === "GET" && (m = path.match(/^\/users\/([^/]+)$/))) return users.has(m[1]!) ? send(200, { login: m[1] }) : send(404, { message: "not found" });
      if (req.method === "POST" && path === "/admin/users" && who === "homelab-admin") {
        users.set(body.username, { password: body.password });
        return send(201, { login: body.username });
      }
      if (req.method === "PATCH" && (m = path.match(/^\/admin\/users\/([^/]+)$/)) && who === "homelab-admin") {
        users.set(m[1]!, { password: body.password });
        return send(200, { login: m[1] });
      }
      if (req.method === "PUT" && (m = path.match(/^\/repos\/homelab\/gitops\/collaborators\/([^/]+)$/))) {
        if (!collaborators.includes(m[1]!)) collaborators.push(m[1]!);
        return send(204);
      }
      if ((m = path.match(/^\/users\/([^/]+)\/tokens(?:\/(\d+))?$/)) && who === m[1]) {
        if (req.method === "GET") return send(200, tokens.filter((t) => t.user === who).map(({ id, name }) => ({ id, name })));
        if (req.method === "DELETE") {
          tokens.splice(tokens.findIndex((t) => t.id === Number(m![2])), 1);
          return send(204);
        }
        const token = { id: nextId++, user: who, name: body.name, sha1: `token-${nextId}-not-a-secret` };
        tokens.push(token);
        return send(201, { id: token.id, name: token.name, sha1: token.sha1, scopes: body.scopes });
      }
      return send(404, { message: "not found" });
    });
  });
  return { server, users, tokens, collaborators, calls };
}

describe("the Gitea token step", () => {
  const gitea = fakeGitea();
  let url = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => gitea.server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(gitea.server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => gitea.server.close(() => resolve())));

  const step = (tokenFile: string, botPassword = "bot-pass-not-a-secret") =>
    run(process.execPath, [script], {
      env: {
        GITEA_URL: url,
        ADMIN_USER: "homelab-admin",
        ADMIN_PASSWORD: "admin-pass-not-a-secret",
        BOT_USER: "renovate",
        BOT_PASSWORD: botPassword,
        BOT_EMAIL: "renovate@home.arpa",
        REPOSITORY: "homelab/gitops",
        TOKEN_FILE: tokenFile,
      },
    });

  test("creates the user, makes it a collaborator, and leaves one fresh token in the file; a rerun replaces it", async () => {
    const dir = tempDir();
    const { stdout } = await step(join(dir, "token"));
    expect(gitea.users.get("renovate")).toEqual({ password: "bot-pass-not-a-secret" });
    expect(gitea.collaborators).toEqual(["renovate"]);
    const first = readFileSync(join(dir, "token"), "utf8");
    expect(gitea.tokens.map((t) => t.sha1)).toEqual([first]);
    expect(statSync(join(dir, "token")).mode & 0o777).toBe(0o600);
    expect(stdout).not.toContain(first);

    // A later run (with a rotated password) updates the user and swaps the token.
    gitea.calls.length = 0;
    await step(join(dir, "token2"), "rotated-not-a-secret");
    expect(gitea.calls).toContain("PATCH /admin/users/renovate");
    expect(gitea.calls).not.toContain("POST /admin/users");
    const second = readFileSync(join(dir, "token2"), "utf8");
    expect(second).not.toBe(first);
    expect(gitea.tokens.map((t) => t.sha1)).toEqual([second]);
  });

  test("a wrong admin password fails the step (and so the run), naming the call", async () => {
    await expect(
      run(process.execPath, [script], {
        env: { GITEA_URL: url, ADMIN_USER: "homelab-admin", ADMIN_PASSWORD: "wrong", BOT_USER: "renovate", BOT_PASSWORD: "x", BOT_EMAIL: "r@h", REPOSITORY: "homelab/gitops", TOKEN_FILE: join(tempDir(), "t") },
      }),
    ).rejects.toThrow(/GET \/users\/renovate: HTTP 401/);
  });
});
