// The re-run with nothing to do stops early (generator/up-to-date.ts), and any change to what a
// run reads or wrote makes it run the whole pipeline. Which path a run took is seen through the
// repository lock: the pipeline takes it, the early stop does not, so while a live process
// holds it the pipeline fails naming the holder and the early stop succeeds.
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CACHE_PATH } from "../generator/up-to-date.ts";
import { minimalConfig, tempDir, tempRepo } from "./support/render.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
// A pipeline that meets the held lock fails at once instead of waiting for it.
const run = (args: string[], cwd: string) => spawnSync(process.execPath, [cli, ...args], { cwd, encoding: "utf8", env: { ...process.env, HOMELAB_LOCK_WAIT_MS: "0" } });

let holder: ReturnType<typeof spawn>;
/** Generated once; each test takes a copy (the cache keeps relative paths, so a copy keeps it). */
let generatedRepo: string;
/** What the whole pipeline prints on a re-run with nothing to write. */
let pipelineRerun: ReturnType<typeof run>;
beforeAll(() => {
  holder = spawn("sleep", ["600"]);
  generatedRepo = tempRepo(minimalConfig).dir;
  const first = run(["generate"], generatedRepo);
  expect(first.status, first.stderr).toBe(0);
  rmSync(join(generatedRepo, CACHE_PATH));
  pipelineRerun = run(["generate"], generatedRepo);
  expect(pipelineRerun.status, pipelineRerun.stderr).toBe(0);
});
afterAll(() => {
  holder.kill();
});

/** A copy of the generated repository, whose lock a live process holds. */
function lockedRepo(): string {
  const dir = tempDir();
  cpSync(generatedRepo, dir, { recursive: true });
  writeFileSync(join(dir, ".homelab", "lock"), JSON.stringify({ pid: holder.pid, host: hostname(), command: "generate", started: "2026-12-06T10:00:00.000Z" }));
  return dir;
}

const tookPipeline = (result: ReturnType<typeof run>) => result.status === 1 && result.stderr.includes("is working on this repository");

describe("a re-run with nothing changed", () => {
  test("stops early, in a copy of the repository too: the same summary and warnings, without the pipeline", () => {
    const early = run(["generate"], lockedRepo());
    expect(early.status, early.stderr).toBe(0);
    expect(early.stderr).toBe(pipelineRerun.stderr);
    expect(early.stdout.replace(/in \d+ ms/, "")).toBe(pipelineRerun.stdout.replace(/in \d+ ms/, ""));
  });

  test.each([
    ["the config", (dir: string) => appendFileSync(join(dir, "homelab.yaml"), "# a comment\n")],
    ["a secret store file", (dir: string) => appendFileSync(join(dir, "secrets", readdirSync(join(dir, "secrets"))[0] as string), "\n")],
    ["a new store file", (dir: string) => writeFileSync(join(dir, "secrets", "new.sops.yaml"), "x")],
    ["a CA file", (dir: string) => appendFileSync(join(dir, "certs", "home-root-ca.crt"), "\n")],
    ["a generated file", (dir: string) => appendFileSync(join(dir, "apps", "gitea", "release.yaml"), "#\n")],
    ["a deleted generated file", (dir: string) => rmSync(join(dir, "apps", "gitea", "release.yaml"))],
    ["a lost executable bit", (dir: string) => chmodSync(join(dir, "image", "rootfs", "usr", "libexec", "homelab", "bootstrap"), 0o644)],
    ["the manifest", (dir: string) => appendFileSync(join(dir, ".homelab", "generated.json"), "\n")],
    ["another generator", (dir: string) => writeFileSync(join(dir, CACHE_PATH), readFileSync(join(dir, CACHE_PATH), "utf8").replace(/"generator":"[0-9a-f]+"/, `"generator":"${"0".repeat(64)}"`))],
    ["an interrupted run", (dir: string) => writeFileSync(join(dir, ".homelab", "transaction.json"), JSON.stringify({ state: "preparing", writes: [], chmods: [], removals: [] }))],
  ])("runs the pipeline after a change to %s", (_what, change) => {
    const dir = lockedRepo();
    change(dir);
    expect(tookPipeline(run(["generate"], dir))).toBe(true);
  });

  test("--check and --regenerate always run the pipeline", () => {
    const dir = lockedRepo();
    expect(tookPipeline(run(["generate", "--regenerate", "grafana.adminPassword"], dir))).toBe(true);
    // --check takes no lock: it reads; it passes on the current tree.
    expect(run(["generate", "--check"], dir).status).toBe(0);
  });
});
