// In-cluster CI: the generated workflow runs the README's commands, and the render-diff comment
// is created once and then updated, against a recorded Gitea API on 127.0.0.1.
import { createServer, type IncomingMessage } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { afterEach, describe, expect, test } from "vitest";
import { COMMENT_MARKER, upsertPrComment } from "../generator/ci/pr-comment.ts";
import { SYSTEM_PACKAGES } from "../generator/ci/workflows.ts";
import { UserError } from "../generator/errors.ts";
import { referenceConfigPath, tempRepo, minimalConfig } from "./support/render.ts";

const root = join(import.meta.dirname, "..");

describe("the pull-request workflow", () => {
  const workflow = parse(readFileSync(join(root, ".gitea/workflows/pull-request.yaml"), "utf8"));
  const steps = workflow.jobs.check.steps as { name?: string; uses?: string; run?: string; with?: Record<string, unknown> }[];

  test("has the shape Gitea Actions reads", () => {
    expect(Object.keys(workflow).sort()).toEqual(["jobs", "name", "on"]);
    expect(workflow.on).toEqual({ pull_request: { branches: [parse(readFileSync(referenceConfigPath, "utf8")).git.branch] } });
    expect(workflow.jobs.check["runs-on"]).toBe("ubuntu-latest");
    for (const step of steps) expect(Boolean(step.run) !== Boolean(step.uses), JSON.stringify(step)).toBe(true);
    expect(steps[0]).toEqual({ uses: "actions/checkout@v4", with: { "fetch-depth": 0 } });
  });

  test("runs the commands the README documents, and installs what .ci/run installs", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const commands = steps.filter((s) => s.run?.startsWith("npm ")).map((s) => s.run!);
    expect(commands.slice(0, 3)).toEqual(["npm ci", "npm run generate -- --check", "npm test"]);
    for (const command of commands.slice(0, 3)) expect(readme).toContain(command);
    expect(readme).toContain("npm run diff -- --base");
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    for (const pkg of SYSTEM_PACKAGES) expect(ci).toMatch(new RegExp(`apt-get install .*\\b${pkg}\\b`));
    expect(steps.at(-1)?.run).toMatch(/^npx homelab pr-comment --file diff\.md /);
  });
});

describe("the image workflow", () => {
  const workflow = parse(readFileSync(join(root, ".gitea/workflows/image.yaml"), "utf8"));
  const steps = workflow.jobs.image.steps as { name?: string; uses?: string; run?: string; env?: Record<string, string>; with?: Record<string, unknown> }[];
  const config = parse(readFileSync(referenceConfigPath, "utf8"));

  test("runs on the main branch when the image's sources change", () => {
    expect(Object.keys(workflow).sort()).toEqual(["jobs", "name", "on"]);
    expect(workflow.on).toEqual({ push: { branches: [config.git.branch], paths: ["image/**", "certs/**"] } });
    expect(workflow.jobs.image["runs-on"]).toBe("ubuntu-latest");
    for (const step of steps) expect(Boolean(step.run) !== Boolean(step.uses), JSON.stringify(step)).toBe(true);
    // The image carries the repository's history as a bundle.
    expect(steps[0]).toEqual({ uses: "actions/checkout@v4", with: { "fetch-depth": 0 } });
  });

  test("builds and pushes with the npm script, logged in to image.registry with the repository's secrets", () => {
    const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts;
    expect(steps.map((s) => s.run).filter((r) => r?.startsWith("npm "))).toEqual(["npm ci", "npm run image:build -- --push"]);
    expect(scripts["image:build"]).toBeDefined();
    const host = config.image.registry.split("/")[0];
    const login = steps.find((s) => s.run?.includes("buildah login"))!;
    expect(login.run).toContain(`--password-stdin ${host}`);
    expect(login.env).toEqual({ REGISTRY_USER: "${{ secrets.REGISTRY_USER }}", REGISTRY_TOKEN: "${{ secrets.REGISTRY_TOKEN }}" });
    expect(steps.find((s) => s.run?.includes("certs.d"))?.run).toContain(`/etc/containers/certs.d/${host}/ca.crt`);
  });
});

describe("pr-comment against a recorded Gitea API", () => {
  let server: ReturnType<typeof createServer> | undefined;
  afterEach(() => server?.close());

  /** A Gitea stand-in: one pull request (#7) with its comments in memory. */
  async function gitea(initial: { id: number; body: string }[]) {
    const comments = [...initial];
    const calls: string[] = [];
    server = createServer(async (request: IncomingMessage, response) => {
      let text = "";
      for await (const chunk of request) text += chunk;
      calls.push(`${request.method} ${request.url}`);
      if (request.headers.authorization !== "token job-token") {
        response.writeHead(401).end();
        return;
      }
      const send = (status: number, body?: unknown) => response.writeHead(status, { "Content-Type": "application/json" }).end(body ? JSON.stringify(body) : undefined);
      if (request.method === "GET" && request.url === "/api/v1/repos/homelab/gitops/issues/7/comments") return send(200, comments);
      if (request.method === "POST" && request.url === "/api/v1/repos/homelab/gitops/issues/7/comments") {
        const comment = { id: 100 + comments.length, body: JSON.parse(text).body as string };
        comments.push(comment);
        return send(201, comment);
      }
      const patch = /^\/api\/v1\/repos\/homelab\/gitops\/issues\/comments\/(\d+)$/.exec(request.url ?? "");
      if (request.method === "PATCH" && patch) {
        const comment = comments.find((c) => c.id === Number(patch[1]));
        if (!comment) return send(404);
        comment.body = JSON.parse(text).body as string;
        return send(200, comment);
      }
      send(404);
    });
    await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
    const port = (server!.address() as { port: number }).port;
    return { api: `http://127.0.0.1:${port}/api/v1`, comments, calls };
  }

  const diffFile = (text: string) => {
    const { dir } = tempRepo(minimalConfig);
    writeFileSync(join(dir, "diff.md"), text);
    return join(dir, "diff.md");
  };

  test("creates the comment once, then updates it on the next push", async () => {
    const api = await gitea([{ id: 1, body: "LGTM" }]);
    const options = { api: api.api, repository: "homelab/gitops", pullRequest: 7, token: "job-token" };
    expect(await upsertPrComment({ ...options, file: diffFile("first diff") })).toBe("created");
    expect(await upsertPrComment({ ...options, file: diffFile("second diff") })).toBe("updated");
    expect(api.comments).toEqual([
      { id: 1, body: "LGTM" },
      { id: 101, body: `${COMMENT_MARKER}\nsecond diff` },
    ]);
    expect(api.calls).toEqual([
      "GET /api/v1/repos/homelab/gitops/issues/7/comments",
      "POST /api/v1/repos/homelab/gitops/issues/7/comments",
      "GET /api/v1/repos/homelab/gitops/issues/7/comments",
      "PATCH /api/v1/repos/homelab/gitops/issues/comments/101",
    ]);
  });

  test("a refused token is a clear error", async () => {
    const api = await gitea([]);
    await expect(upsertPrComment({ api: api.api, repository: "homelab/gitops", pullRequest: 7, token: "wrong", file: diffFile("x") })).rejects.toThrow(UserError);
  });
});
