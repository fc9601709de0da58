// apps.renovate: the CronJob, its Secret (the same Gitea admin value Gitea uses) and the token
// step, run for real with Node against the Gitea stand-in on 127.0.0.1 (test/support/fake-gitea.ts).
import { execFile, execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CronJob } from "kubernetes-models/batch/v1";
import { generate } from "../generator/generate.ts";
import { decryptDocument } from "../generator/secrets/sops.ts";
import { demoKeyFile, minimalConfig, objectsOf, renderText, tempDir, tempRepo } from "./support/render.ts";
import { kubectl } from "./support/tools.ts";
import { startFakeGitea, type FakeGitea } from "./support/fake-gitea.ts";

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

describe("the Gitea token step", () => {
  const admin = { username: "homelab-admin", password: "admin-pass-not-a-secret" };
  let gitea: FakeGitea;
  beforeAll(async () => {
    gitea = await startFakeGitea({ root: tempDir(), admin });
    // The organisation and repository first boot makes.
    const auth = `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString("base64")}`;
    for (const [path, body] of [["/orgs", { username: "homelab" }], ["/orgs/homelab/repos", { name: "gitops", private: true }]] as const) {
      const response = await fetch(`${gitea.url}/api/v1${path}`, { method: "POST", headers: { authorization: auth, "content-type": "application/json" }, body: JSON.stringify(body) });
      expect(response.status).toBe(201);
    }
  });
  afterAll(() => gitea.close());

  const step = (tokenFile: string, botPassword = "bot-pass-not-a-secret") =>
    run(process.execPath, [script], {
      env: {
        GITEA_URL: gitea.url,
        ADMIN_USER: admin.username,
        ADMIN_PASSWORD: admin.password,
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
    expect(gitea.users.get("renovate")?.password).toBe("bot-pass-not-a-secret");
    expect(Object.fromEntries(gitea.collaborators.get("homelab/gitops") ?? [])).toEqual({ renovate: "write" });
    const first = readFileSync(join(dir, "token"), "utf8");
    expect(gitea.tokens.map((t) => t.sha1)).toEqual([first]);
    expect(statSync(join(dir, "token")).mode & 0o777).toBe(0o600);
    expect(stdout).not.toContain(first);

    // A later run (with a rotated password) updates the user and swaps the token.
    gitea.calls.length = 0;
    await step(join(dir, "token2"), "rotated-not-a-secret");
    const calls = gitea.calls.map((c) => `${c.method} ${c.path}`);
    expect(calls).toContain("PATCH /admin/users/renovate");
    expect(calls).not.toContain("POST /admin/users");
    const second = readFileSync(join(dir, "token2"), "utf8");
    expect(second).not.toBe(first);
    expect(gitea.tokens.map((t) => t.sha1)).toEqual([second]);
  });

  test("a wrong admin password fails the step (and so the run), naming the call", async () => {
    await expect(
      run(process.execPath, [script], {
        env: { GITEA_URL: gitea.url, ADMIN_USER: admin.username, ADMIN_PASSWORD: "wrong", BOT_USER: "renovate", BOT_PASSWORD: "x", BOT_EMAIL: "r@h", REPOSITORY: "homelab/gitops", TOKEN_FILE: join(tempDir(), "t") },
      }),
    ).rejects.toThrow(/GET \/users\/renovate: HTTP 401/);
  });
});
