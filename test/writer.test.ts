// The writer and the CLI contract: idempotence, pruning, foreign files, --check, exit codes.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { generate } from "../generator/generate.ts";
import { MANIFEST_PATH } from "../generator/writer.ts";
import { UserError } from "../generator/errors.ts";
import { minimalConfig, tempRepo } from "./support/render.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
const run = (args: string[], cwd: string) => spawnSync(process.execPath, [cli, ...args], { cwd, encoding: "utf8" });

const withMinecraft = `${minimalConfig}apps:
  minecraft:
    chart: {repository: https://itzg.github.io/minecraft-server-charts/, name: minecraft, version: 5.1.2}
    storage: {size: 10Gi, claimValue: persistence.dataDir.existingClaim}
`;

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)],
  );
}

describe("writer", () => {
  test("re-running generate writes nothing and keeps every byte and mtime", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    const first = await generate({ configPath });
    expect(first.result.written.length).toBe(first.files.length);
    const mtimes = first.files.map((f) => statSync(join(dir, f.path)).mtimeMs);
    const second = await generate({ configPath });
    expect(second.result).toEqual({ written: [], unchanged: first.files.map((f) => f.path), removed: [], kept: [], state: [] });
    expect(first.files.map((f) => statSync(join(dir, f.path)).mtimeMs)).toEqual(mtimes);
  });

  test("the same config and the same secret store give the same bytes in another folder", async () => {
    const first = tempRepo(withMinecraft);
    const a = (await generate({ configPath: first.configPath })).files;
    const second = tempRepo(withMinecraft);
    for (const folder of ["secrets", "certs", ".homelab"]) cpSync(join(first.dir, folder), join(second.dir, folder), { recursive: true });
    for (const file of a.filter((f) => f.path.endsWith(".sops.yaml"))) {
      mkdirSync(dirname(join(second.dir, file.path)), { recursive: true });
      writeFileSync(join(second.dir, file.path), file.content);
    }
    const b = (await generate({ configPath: second.configPath })).files;
    expect(b).toEqual(a);
  });

  test("files the config no longer produces are removed, with their empty folders; foreign files stay", async () => {
    const { dir, configPath } = tempRepo(withMinecraft);
    await generate({ configPath });
    writeFileSync(join(dir, "apps", "minecraft", "NOTES.md"), "mine");
    writeFileSync(join(dir, "README.md"), "mine too");
    writeFileSync(configPath, minimalConfig);
    const { result } = await generate({ configPath });
    expect(result.removed.sort()).toEqual([
      "apps/minecraft/app.yaml",
      "apps/minecraft/kustomization.yaml",
      "clusters/home/minecraft.yaml",
    ]);
    expect(readFileSync(join(dir, "apps", "minecraft", "NOTES.md"), "utf8")).toBe("mine");
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe("mine too");
    rmSync(join(dir, "apps", "minecraft", "NOTES.md"));
    writeFileSync(configPath, withMinecraft);
    await generate({ configPath });
    writeFileSync(configPath, minimalConfig);
    await generate({ configPath });
    expect(existsSync(join(dir, "apps", "minecraft"))).toBe(false);
  });

  test("a file homelab did not write is never overwritten, and nothing is written then", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    mkdirSync(join(dir, "apps", "gitea"), { recursive: true });
    writeFileSync(join(dir, "apps", "gitea", "release.yaml"), "# my own\n");
    await expect(generate({ configPath })).rejects.toThrow(UserError);
    expect(readFileSync(join(dir, "apps", "gitea", "release.yaml"), "utf8")).toBe("# my own\n");
    expect(listFiles(dir).sort()).toEqual(["apps/gitea/release.yaml", "homelab.yaml"]);
  });

  test("the manifest lists every generated file with its hash", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    const { files } = await generate({ configPath });
    const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_PATH), "utf8")) as { files: Record<string, string> };
    expect(Object.keys(manifest.files).sort()).toEqual(files.map((f) => f.path).sort());
    expect(Object.values(manifest.files).every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
  });
});

describe("CLI", () => {
  test("generate prints a one-line summary; --check passes on a current tree", async () => {
    const { dir } = tempRepo(minimalConfig);
    const first = run(["generate"], dir);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^homelab: \d+ written, 0 unchanged, 0 removed, \d+ secret\(s\) and CA file\(s\) created in \d+ ms\n$/);
    const again = run(["generate"], dir);
    expect(again.stdout).toMatch(/^homelab: 0 written, \d+ unchanged, 0 removed in \d+ ms\n$/);
    expect(run(["generate", "--check"], dir).status).toBe(0);
  });

  test("--check lists stale, missing and extra files, exits 1 and changes nothing", async () => {
    const { dir, configPath } = tempRepo(withMinecraft);
    run(["generate"], dir);
    writeFileSync(configPath, minimalConfig.replace("home.arpa", "lan.example"));
    rmSync(join(dir, "apps", "gitea", "volume.yaml"));
    const before = listFiles(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]);
    const result = run(["generate", "--check"], dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("stale:   apps/gitea/release.yaml");
    expect(result.stderr).toContain("missing: apps/gitea/volume.yaml");
    expect(result.stderr).toContain("extra:   apps/minecraft/app.yaml");
    expect(listFiles(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")])).toEqual(before);
  });

  test("--config and --out: the tree goes to the output folder", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    const out = join(dir, "elsewhere");
    const result = spawnSync(process.execPath, [cli, "generate", "--config", configPath, "--out", out], { encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(existsSync(join(out, "clusters", "home", "kustomization.yaml"))).toBe(true);
    expect(existsSync(join(dir, "clusters"))).toBe(false);
  });

  test("a bad config: file:line:col, exit 1, no stack trace, nothing written", async () => {
    const { dir } = tempRepo(minimalConfig.replace("domain: home.arpa", "domain: home.arpa\n  nodes: [{name: a, role: boss}]"));
    const result = run(["generate"], dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('homelab.yaml:4:27: cluster.nodes[0].role: expected one of "server", "agent", got "boss"\n');
    expect(listFiles(dir)).toEqual(["homelab.yaml"]);
  });

  test("a missing config says how to get one", async () => {
    const { dir } = tempRepo(minimalConfig);
    const result = run(["generate", "--config", "nope.yaml"], dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("nope.yaml: cannot read the config: no such file");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  test("unknown flags and commands are usage errors", async () => {
    const { dir } = tempRepo(minimalConfig);
    expect(run(["generate", "--frobnicate"], dir).status).toBe(1);
    expect(run(["frobnicate"], dir).status).toBe(1);
  });

  test("npm run generate runs on the Node the project brings (24)", async () => {
    const version = execFileSync("npm", ["exec", "--", "node", "--version"], { encoding: "utf8", cwd: join(import.meta.dirname, "..") });
    expect(version.trim()).toMatch(/^v24\./);
  });
});
