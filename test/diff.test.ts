// `homelab diff` on real git repositories: commit a tree, change the config, regenerate, diff.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { simpleGit } from "simple-git";
import { describe, expect, test } from "vitest";
import { requires } from "./support/requires.ts";
import { diffCommand } from "../generator/diff/command.ts";
import { UserError } from "../generator/errors.ts";
import { generate } from "../generator/generate.ts";
import { DEMO_RECIPIENT } from "../generator/init.ts";
import { SecretStore } from "../generator/secrets/store.ts";
import { MANIFEST_PATH } from "../generator/writer.ts";
import { minimalConfig, tempRepo } from "./support/render.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");

const minecraft = `  minecraft:
    chart: {repository: https://itzg.github.io/minecraft-server-charts/, name: minecraft, version: 5.1.2}
    values:
      minecraftServer: {eula: "TRUE", memory: 1024M}
      persistence: {dataDir: {enabled: true}}
    storage: {size: 10Gi, claimValue: persistence.dataDir.existingClaim}
`;
const base = `${minimalConfig}apps:\n${minecraft}`;

/** A git repository whose first commit holds the generated tree of `config`. */
async function committedRepo(config: string, existing?: string) {
  const { dir, configPath } = existing ? { dir: existing, configPath: join(existing, "homelab.yaml") } : tempRepo(config);
  await generate({ configPath });
  const git = simpleGit(dir);
  await git.init().addConfig("user.email", "test@example.org").addConfig("user.name", "test").add(".").commit("tree");
  const change = async (edit: (text: string) => string) => {
    writeFileSync(configPath, edit(readFileSync(configPath, "utf8")));
    await generate({ configPath });
  };
  return { dir, configPath, git, change };
}

/** For trees generated from their homelab.yaml: a stale-tree warning there is a bug. */
const noWarning = (message: string) => {
  throw new Error(`unexpected warning: ${message}`);
};
const diff = (configPath: string, format: "markdown" | "text" = "text") => diffCommand({ configPath, base: "HEAD", format, warn: noWarning });

describe("homelab diff", () => {
  test("nothing changed", async () => {
    const { configPath } = await committedRepo(base);
    expect(await diff(configPath)).toBe("homelab diff: no changes\n");
    expect(await diff(configPath, "markdown")).toContain("No changes.");
  });

  test("a chart bump: the summary names versions, the diff shows the line, a major bump warns", async () => {
    const repo = await committedRepo(base);
    await repo.change((t) => t.replace("version: 5.1.2", "version: 6.0.0"));
    const text = await diff(repo.configPath);
    expect(text).toContain("minecraft: chart minecraft 5.1.2 → 6.0.0");
    expect(text).toContain("-      version: 5.1.2\n+      version: 6.0.0");
    expect(text).toContain("warning: HelmRelease/minecraft/minecraft: chart major version minecraft 5.1.2 → minecraft 6.0.0");
  });

  test("a values change lists the value paths", async () => {
    const repo = await committedRepo(base);
    await repo.change((t) => t.replace("memory: 1024M", "memory: 2048M"));
    const text = await diff(repo.configPath);
    expect(text).toContain("minecraft: values: minecraftServer.memory");
    expect(text).not.toContain("warning");
  });

  test("an app added, and a dependency change of an existing component", async () => {
    const repo = await committedRepo(base);
    await repo.change((t) => `${t}  web:\n    chart: {repository: https://charts.example.org/, name: web, version: 1.0.0}\n    host: {name: web, service: web, port: 80}\n`);
    await repo.change((t) => t.replace("    storage: {size: 10Gi, claimValue: persistence.dataDir.existingClaim}\n", "    host: {name: mc, service: minecraft, port: 80}\n"));
    const text = await diff(repo.configPath);
    expect(text).toContain("web (new)");
    expect(text).toMatch(/minecraft: .*now waits for step-ca-config, traefik; no longer waits for longhorn/);
  });

  test("an app removed: its volume is retained, and the diff says so", async () => {
    const repo = await committedRepo(base);
    await repo.change((t) => t.replace(`apps:\n${minecraft}`, ""));
    const text = await diff(repo.configPath, "markdown");
    expect(text).toContain("`minecraft` (removed)");
    expect(text).toContain("warning: volume minecraft/minecraft-data leaves the tree but is retained with its data");
  });

  test("a missing base and a base that is not a homelab tree fail clearly", async () => {
    const repo = await committedRepo(base);
    await expect(diffCommand({ configPath: repo.configPath, base: "no-such-branch", format: "text", warn: noWarning })).rejects.toThrow('the base "no-such-branch" does not exist');
    await repo.git.checkout(["--orphan", "empty"]);
    await repo.git.rm(["-r", "--cached", "."]);
    writeFileSync(join(repo.dir, "README.md"), "nothing here");
    await repo.git.add("README.md").commit("not a tree");
    await expect(diffCommand({ configPath: repo.configPath, base: "empty", format: "text", warn: noWarning })).rejects.toThrow(UserError);
    await expect(diffCommand({ configPath: repo.configPath, base: "empty", format: "text", warn: noWarning })).rejects.toThrow("is not a homelab tree");
  });

  test("the comment stays under 60,000 characters: summary whole, diffs cut with a note; --output keeps everything", async () => {
    const apps = Array.from({ length: 60 }, (_, i) => `  app-${i}:\n    chart: {repository: https://charts.example.org/, name: web, version: 1.0.0}\n    values: {text: "${"x".repeat(900)}"}\n`).join("");
    const repo = await committedRepo(`${minimalConfig}apps:\n${apps}`);
    await repo.change((t) => t.replaceAll('"x', '"y'));
    const output = join(repo.dir, "full.md");
    const comment = await diffCommand({ configPath: repo.configPath, base: "HEAD", format: "markdown", output, warn: noWarning });
    expect(comment.length).toBeLessThanOrEqual(60_000);
    for (let i = 0; i < 60; i++) expect(comment).toContain(`\`app-${i}\`: values: text`);
    expect(comment).toMatch(/more object diff\(s\) left out to fit a comment|diff cut to fit a comment/);
    const full = readFileSync(output, "utf8");
    expect(full.length).toBeGreaterThan(60_000);
    for (let i = 0; i < 60; i++) expect(full).toContain(`<code>HelmRelease/app-${i}/app-${i}</code>`);
  });

  test("encrypted values show as fingerprints, never as ciphertext noise", async () => {
    const withBackup = `${base}storage:\n  longhorn:\n    backup:\n      target: s3://b-1@us-east-1/\n      endpoint: https://s3.one.example\n`;
    const { dir } = tempRepo(withBackup);
    const store = new SecretStore(dir, [DEMO_RECIPIENT]);
    await store.set("longhorn.backup.accessKeyId", "id");
    await store.set("longhorn.backup.secretAccessKey", "secret");
    store.writeStaged();
    const repo = await committedRepo(withBackup, dir);
    await repo.change((t) => t.replace("https://s3.one.example", "https://s3.two.example"));
    const text = await diff(repo.configPath);
    expect(text).toContain("== Secret/longhorn-system/longhorn-backup-credentials (longhorn-config)");
    expect(text).toContain("longhorn-config: re-encrypted Secret/longhorn-system/longhorn-backup-credentials");
    expect(text).toMatch(/\+\s+AWS_ENDPOINTS: <encrypted [0-9a-f]{8}>/);
    expect(text).not.toMatch(/ENC\[AES256_GCM|sops:/);
  });

  test("the CLI: --base is required; markdown by default", async () => {
    const repo = await committedRepo(base);
    const missing = spawnSync(process.execPath, [cli, "diff"], { cwd: repo.dir, encoding: "utf8" });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("diff needs --base REF");
    const ok = spawnSync(process.execPath, [cli, "diff", "--base", "HEAD"], { cwd: repo.dir, encoding: "utf8" });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("### homelab diff against `HEAD`");
  });
});

/** `homelab diff ARGS` in `dir`, as a child process; `asUser` runs it through setpriv. */
const runDiff = (dir: string, args: string[], asUser: string[] = []) => {
  const command = [...asUser, process.execPath, cli, "diff", ...args];
  return spawnSync(command[0] as string, command.slice(1), { cwd: dir, encoding: "utf8" });
};

/** Exit 1 with `message` on stderr: no stack trace, no "internal error". */
function expectCleanError(result: ReturnType<typeof runDiff>, message: string): void {
  expect(result.status).toBe(1);
  expect(result.stderr).toContain(message);
  expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
}

describe("homelab diff: the safety contract (docs/safety.md)", () => {
  test("homelab.yaml edited but not generated: a warning on stderr and in the report, not a bare \"No changes\"", async () => {
    const repo = await committedRepo(base);
    writeFileSync(repo.configPath, readFileSync(repo.configPath, "utf8").replace("version: 5.1.2", "version: 5.2.0"));
    const stale = runDiff(repo.dir, ["--base", "HEAD", "--output", "full.md"]);
    expect(stale.status).toBe(0);
    const warning = "the tree is not what homelab.yaml makes (out of date: apps/minecraft/app.yaml, .homelab/generated.json), so this diff shows the files as they are";
    expect(stale.stderr).toContain(`homelab: warning: ${warning}`);
    expect(stale.stderr).toContain("run `npm run generate` first, then diff again");
    expect(stale.stdout).toContain(`> **Warning:** ${warning}`);
    expect(stale.stdout.indexOf("> **Warning:**")).toBeLessThan(stale.stdout.indexOf("No changes."));
    expect(readFileSync(join(repo.dir, "full.md"), "utf8")).toBe(stale.stdout);
    // Generated: no warning, and the diff shows the edit.
    await generate({ configPath: repo.configPath });
    const current = runDiff(repo.dir, ["--base", "HEAD", "--format", "text"]);
    expect(current.status).toBe(0);
    expect(current.stderr).toBe("");
    expect(current.stdout).toContain("minecraft: chart minecraft 5.1.2 → 5.2.0");
  });

  test("--output a folder, under a missing folder or under a file: a clean error before any work, nothing written", async () => {
    const repo = await committedRepo(base);
    writeFileSync(join(repo.dir, "notes.txt"), "a file");
    mkdirSync(join(repo.dir, "out"));
    const before = readdirSync(repo.dir).sort();
    expectCleanError(runDiff(repo.dir, ["--base", "HEAD", "--output", "out"]), "homelab: --output out: that is a folder; give a file name");
    expectCleanError(runDiff(repo.dir, ["--base", "HEAD", "--output", "missing/full.md"]), `homelab: --output missing/full.md: the folder ${join(repo.dir, "missing")} does not exist`);
    expectCleanError(runDiff(repo.dir, ["--base", "HEAD", "--output", "notes.txt/full.md"]), `homelab: --output notes.txt/full.md: ${join(repo.dir, "notes.txt")} is a file, not a folder`);
    // Checked first: not even the base is looked at.
    const first = runDiff(repo.dir, ["--base", "no-such-branch", "--output", "out"]);
    expectCleanError(first, "--output out: that is a folder");
    expect(first.stderr).not.toContain("no-such-branch");
    expect(readdirSync(repo.dir).sort()).toEqual(before);
    expect(readdirSync(join(repo.dir, "out"))).toEqual([]);
  });

  // Permissions do not stop root: as root the command runs as nobody (setpriv).
  test("--output in a folder the user may not write to: a clean error, nothing written", process.getuid?.() === 0 ? requires("setpriv") : {}, async () => {
    const repo = await committedRepo(base);
    const readOnly = join(repo.dir, "read-only");
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    // Permissions do not stop root: run as nobody then, in a repository nobody may read.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chmodSync(repo.dir, 0o755);
    const result = runDiff(repo.dir, ["--base", "HEAD", "--output", "read-only/full.md"], asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []);
    expectCleanError(result, `homelab: --output read-only/full.md: no permission to write in ${readOnly}`);
    expect(existsSync(join(readOnly, "full.md"))).toBe(false);
  });

  test("a --config that does not exist, an unknown base, a broken working tree: clean errors", async () => {
    const repo = await committedRepo(base);
    expectCleanError(runDiff(repo.dir, ["--base", "HEAD", "--config", "elsewhere/homelab.yaml"]), "elsewhere/homelab.yaml: no such file");
    expectCleanError(runDiff(repo.dir, ["--base", "no-such-branch"]), 'homelab: the base "no-such-branch" does not exist in this repository');
    // A Flux Kustomization whose folder is gone.
    rmSync(join(repo.dir, "apps", "minecraft"), { recursive: true });
    expectCleanError(runDiff(repo.dir, ["--base", "HEAD"]), "homelab: the working tree: the Flux Kustomization minecraft applies apps/minecraft/kustomization.yaml, which cannot be read (ENOENT)");
    // A manifest that is not one.
    writeFileSync(join(repo.dir, MANIFEST_PATH), "{");
    expectCleanError(runDiff(repo.dir, ["--base", "HEAD"]), `homelab: the working tree: ${MANIFEST_PATH} is not the generator's manifest`);
  });
});
