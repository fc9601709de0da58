// The safety contract of generate (docs/safety.md): removals are confined to the output folder
// and earned by unchanged bytes, output folders are checked, links are never written through,
// a run is all-or-nothing (a crash at any write converges on the next run), runs take turns,
// and file-system trouble is a clean exit-1 error. Real files, real processes.
import { createHash } from "node:crypto";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { check, generate } from "../generator/generate.ts";
import { decryptDocument } from "../generator/secrets/sops.ts";
import { MANIFEST_PATH } from "../generator/writer.ts";
import { demoKeyFile, minimalConfig, tempDir, tempRepo } from "./support/render.ts";
import { requires } from "./support/requires.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
const run = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [cli, ...args], { cwd, encoding: "utf8", env: { ...process.env, ...env } });

const withMinecraft = `${minimalConfig}apps:
  minecraft:
    chart: {repository: https://itzg.github.io/minecraft-server-charts/, name: minecraft, version: 5.1.2}
    storage: {size: 10Gi, claimValue: persistence.dataDir.existingClaim}
`;

/** Every file under `dir` (but .git) with its bytes and executable bit. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (prefix: string) => {
    for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.name === ".git") continue;
      if (entry.isDirectory()) walk(path);
      else files[path] = `${statSync(join(dir, path)).mode & 0o111 ? "x " : ""}${readFileSync(join(dir, path), "utf8")}`;
    }
  };
  walk("");
  return files;
}

function generated(config = minimalConfig): { dir: string; configPath: string } {
  const repo = tempRepo(config);
  const result = run(["generate"], repo.dir);
  expect(result.status, result.stderr).toBe(0);
  return repo;
}

function editManifest(dir: string, edit: (files: Record<string, string>) => void): void {
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_PATH), "utf8")) as { files: Record<string, string> };
  edit(manifest.files);
  writeFileSync(join(dir, MANIFEST_PATH), JSON.stringify(manifest));
}

const sha256Of = (text: string) => createHash("sha256").update(text).digest("hex");

function expectClean(result: ReturnType<typeof run>, message: RegExp): void {
  expect(result.status, `${result.stdout}${result.stderr}`).toBe(1);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at |internal error/);
}

describe("removal is confined and earned", () => {
  test("a tampered manifest cannot remove files outside the output folder, the config, the store, certs/ or .git", () => {
    const { dir, configPath } = generated();
    const outside = join(tempDir(), "precious.txt");
    writeFileSync(outside, "keep me");
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, ".git", "config"), "[core]\n");
    const protectedFiles = { "homelab.yaml": readFileSync(configPath, "utf8"), ".git/config": "[core]\n" };
    const store = readdirSync(join(dir, "secrets"))[0] as string;
    const cert = readdirSync(join(dir, "certs"))[0] as string;
    editManifest(dir, (files) => {
      files[`../${outside.split("/").slice(-2).join("/")}`] = sha256Of("keep me");
      files[outside] = sha256Of("keep me");
      for (const [path, content] of Object.entries(protectedFiles)) files[path] = sha256Of(content);
      files[`secrets/${store}`] = sha256Of(readFileSync(join(dir, "secrets", store), "utf8"));
      files[`certs/${cert}`] = sha256Of(readFileSync(join(dir, "certs", cert), "utf8"));
      files["apps/../homelab.yaml"] = sha256Of(protectedFiles["homelab.yaml"]);
    });
    const result = run(["generate"], dir);
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(outside, "utf8")).toBe("keep me");
    for (const [path, content] of Object.entries(protectedFiles)) expect(readFileSync(join(dir, path), "utf8")).toBe(content);
    expect(existsSync(join(dir, "secrets", store))).toBe(true);
    expect(existsSync(join(dir, "certs", cert))).toBe(true);
    expect(result.stderr).toContain("kept homelab.yaml");
    expect(result.stderr).toContain(`kept secrets/${store}`);
    expect(result.stdout).toMatch(/0 removed/);
  });

  test("a file changed since homelab wrote it is kept and named; the others are removed and listed", () => {
    const { dir, configPath } = generated(withMinecraft);
    const release = join(dir, "apps", "minecraft", "app.yaml");
    writeFileSync(release, `${readFileSync(release, "utf8")}# my note\n`);
    writeFileSync(configPath, minimalConfig);
    const result = run(["generate"], dir);
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(release, "utf8")).toContain("# my note");
    expect(result.stderr).toContain("kept apps/minecraft/app.yaml, which the config no longer produces: it changed since homelab wrote it");
    expect(result.stdout).toContain("removed: apps/minecraft/kustomization.yaml");
    expect(result.stdout).toContain("removed: clusters/home/minecraft.yaml");
    expect(existsSync(join(dir, "apps", "minecraft", "kustomization.yaml"))).toBe(false);
  });

  test("a manifest entry reached through a symbolic link that leaves the folder is not removed", () => {
    const { dir, configPath } = generated(withMinecraft);
    const elsewhere = tempDir();
    const victim = join(elsewhere, "app.yaml");
    writeFileSync(victim, readFileSync(join(dir, "apps", "minecraft", "app.yaml")));
    rmSync(join(dir, "apps", "minecraft"), { recursive: true });
    symlinkSync(elsewhere, join(dir, "apps", "minecraft"));
    writeFileSync(configPath, minimalConfig);
    const result = run(["generate"], dir);
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(victim)).toBe(true);
    expect(result.stderr).toMatch(/kept apps\/minecraft\/app\.yaml.*symbolic link/);
  });

  test("a manifest that is not one (null, a list, broken JSON) is a clean error, and nothing is written", () => {
    for (const text of ["null", "[]", '{"files": null}', "{"]) {
      const { dir } = generated();
      writeFileSync(join(dir, MANIFEST_PATH), text);
      const before = snapshot(dir);
      expectClean(run(["generate"], dir), /generated\.json: (is not a homelab manifest|is not valid JSON)[^]*git checkout/);
      expect(snapshot(dir)).toEqual(before);
    }
  });
});

describe("output folders", () => {
  test("--out refuses /, the repository's .git, a file, and a link that leaves the repository", () => {
    const { dir } = tempRepo(minimalConfig);
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, "a-file"), "x");
    symlinkSync(tempDir(), join(dir, "linked"));
    expectClean(run(["generate", "--out", "/"], dir), /^\/: is the file system's root/);
    expectClean(run(["generate", "--out", ".git"], dir), /is inside a \.git folder/);
    expectClean(run(["generate", "--out", ".git/hooks"], dir), /is inside a \.git folder/);
    expectClean(run(["generate", "--out", "a-file"], dir), /a-file: is a file, not a folder/);
    expectClean(run(["generate", "--out", "linked/tree"], dir), /symbolic link that leaves the repository/);
    expect(readdirSync(dir).sort()).toEqual([".git", "a-file", "homelab.yaml", "linked"]);
  });

  test("a generated folder that is a symbolic link is not written through", () => {
    const { dir } = tempRepo(minimalConfig);
    const elsewhere = tempDir();
    mkdirSync(join(dir, "apps"));
    symlinkSync(elsewhere, join(dir, "apps", "gitea"));
    expectClean(run(["generate"], dir), /apps\/gitea: is a symbolic link; homelab does not write through links/);
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(existsSync(join(dir, "clusters"))).toBe(false);
  });

  test("a folder where a file belongs, and a file where a folder belongs, are clean errors; nothing is written", () => {
    const { dir } = tempRepo(minimalConfig);
    mkdirSync(join(dir, "apps", "gitea", "release.yaml"), { recursive: true });
    expectClean(run(["generate"], dir), /apps\/gitea\/release\.yaml: is a folder where homelab writes a file/);
    rmSync(join(dir, "apps"), { recursive: true });
    writeFileSync(join(dir, "apps"), "a file");
    expectClean(run(["generate"], dir), /apps: is a file where homelab needs a folder/);
    expect(readdirSync(dir).sort()).toEqual(["apps", "homelab.yaml"]);
  });

  // Permissions do not stop root: as root the command runs as nobody (setpriv).
  test("a read-only folder is a clean error naming it, and nothing is written", process.getuid?.() === 0 ? requires("setpriv") : {}, () => {
    const { dir } = generated(withMinecraft);
    const configPath = join(dir, "homelab.yaml");
    writeFileSync(configPath, withMinecraft.replace("10Gi", "20Gi"));
    chmodSync(join(dir, "apps", "minecraft"), 0o555);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync("chmod", ["-R", "a+rX", dir]);
    if (asRoot) chmodSync(join(dir, "apps", "minecraft"), 0o555);
    if (asRoot) execFileSync("chmod", ["a+w", dir, ...["apps", "clusters", "infrastructure", ".homelab", "apps/gitea", "docs", "image", "secrets", "certs"].map((p) => join(dir, p))]);
    const before = snapshot(dir);
    const command = asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, cli, "generate"] : [process.execPath, cli, "generate"];
    const result = spawnSync(command[0] as string, command.slice(1), { cwd: dir, encoding: "utf8", env: { ...process.env, HOME: dir, SOPS_AGE_KEY_FILE: demoKeyFile } });
    expectClean(result, /apps\/minecraft[^:]*: permission denied/);
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(join(dir, "apps", "minecraft")).filter((f) => f.endsWith(".homelab-tmp"))).toEqual([]);
  });
});

describe("--check", () => {
  test("reports a file whose executable bit was lost, and generate restores it", () => {
    const { dir } = generated();
    const script = join(dir, "image", "rootfs", "usr", "libexec", "homelab", "bootstrap");
    expect(statSync(script).mode & 0o100).toBe(0o100);
    chmodSync(script, 0o644);
    const checked = run(["generate", "--check"], dir);
    expect(checked.status).toBe(1);
    expect(checked.stderr).toContain("mode:    image/rootfs/usr/libexec/homelab/bootstrap");
    expect(run(["generate"], dir).status).toBe(0);
    expect(statSync(script).mode & 0o100).toBe(0o100);
    expect(run(["generate", "--check"], dir).status).toBe(0);
  });
});

describe("one run at a time", () => {
  test("a second run waits, then says who holds the lock; a lock whose process is gone is taken over", async () => {
    const { dir, configPath } = generated();
    // A change, so the run needs the pipeline (an unchanged re-run stops before it: up-to-date.ts).
    writeFileSync(configPath, `${readFileSync(configPath, "utf8")}# changed\n`);
    const holder = spawn("sleep", ["30"]);
    try {
      writeFileSync(join(dir, ".homelab", "lock"), JSON.stringify({ pid: holder.pid, host: hostname(), command: "generate", started: "2026-12-06T10:00:00.000Z" }));
      const blocked = run(["generate"], dir);
      expectClean(blocked, new RegExp(`\`homelab generate\` \\(pid ${holder.pid} on ${hostname()}, since 2026-12-06T10:00:00.000Z\\) is working on this repository`));
    } finally {
      holder.kill();
    }
    await new Promise((done) => holder.once("exit", done));
    const after = run(["generate"], dir);
    expect(after.status, after.stderr).toBe(0);
    expect(existsSync(join(dir, ".homelab", "lock"))).toBe(false);
  });
});

describe("all or nothing", () => {
  /** The values of every store file, decrypted with the demo's TEST-ONLY key. */
  async function storeValues(dir: string): Promise<Record<string, string>> {
    const identity = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-")) as string;
    const values: Record<string, string> = {};
    for (const file of readdirSync(join(dir, "secrets"))) {
      const { data } = await decryptDocument(readFileSync(join(dir, "secrets", file), "utf8"), [identity]);
      values[file] = String(data.value);
    }
    return values;
  }

  test("killed at every write, the next run converges to a checked tree and keeps every secret value", async () => {
    // The change: an app goes (removals), the LDAP outpost comes (a new generated secret, new files).
    const base = generated(withMinecraft);
    const changed = minimalConfig.replace("secrets:", "auth:\n  authentik:\n    ldap: true\nsecrets:");
    const valuesBefore = await storeValues(base.dir);
    let crashed = 0;
    for (let step = 1; ; step++) {
      const dir = tempDir();
      cpSync(base.dir, dir, { recursive: true });
      writeFileSync(join(dir, "homelab.yaml"), changed);
      const killed = run(["generate"], dir, { HOMELAB_TEST_CRASH_AT_STEP: String(step) });
      if (killed.status === 0) break; // Past the last write: every step was tried.
      expect(killed.signal, `step ${step}: ${killed.stderr}`).toBe("SIGKILL");
      crashed++;
      // The next run and the check in this process: only the killed run needs one of its own.
      const next = await generate({ configPath: join(dir, "homelab.yaml") });
      // Killed before its journal existed, a run left nothing to recover.
      if (step > 1) expect(next.recovered, `step ${step}`).toMatch(/^(finished|undone)$/);
      const { result: checked } = await check({ configPath: join(dir, "homelab.yaml") });
      expect(checked, `after a crash at step ${step}`).toEqual({ stale: [], missing: [], extra: [], mode: [] });
      const valuesAfter = await storeValues(dir);
      for (const [file, value] of Object.entries(valuesBefore)) expect(valuesAfter[file], `step ${step}: ${file}`).toBe(value);
      // The new Secret holds the value the store holds: never a value that is nowhere on disk.
      const ldap = readdirSync(join(dir, "infrastructure", "authentik")).find((f) => f.includes("ldap") && f.endsWith(".sops.yaml"));
      expect(ldap, `step ${step}`).toBeDefined();
      const identity = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-")) as string;
      const secret = await decryptDocument(readFileSync(join(dir, "infrastructure", "authentik", ldap as string), "utf8"), [identity]);
      expect(Object.values((secret.data as { stringData: Record<string, string> }).stringData)).toContain(valuesAfter["authentik.ldapBindPassword.sops.yaml"]);
      expect(readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".homelab-tmp"))).toEqual([]);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(crashed).toBeGreaterThan(10);
  }, 0);
});

describe("the command", () => {
  test("on a Node without type stripping it says which Node to use (or re-runs under the project's)", () => {
    const copy = tempDir();
    cpSync(join(import.meta.dirname, "..", "bin"), join(copy, "bin"), { recursive: true });
    const result = spawnSync(process.execPath, ["--no-experimental-strip-types", join(copy, "bin", "homelab.js"), "help"], { encoding: "utf8" });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/cannot run TypeScript sources; homelab needs Node 24[^]*npm ci/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const inProject = spawnSync(process.execPath, ["--no-experimental-strip-types", cli, "help"], { encoding: "utf8" });
    expect(inProject.status, inProject.stderr).toBe(0);
    expect(inProject.stdout).toContain("Usage: homelab");
  });
});
