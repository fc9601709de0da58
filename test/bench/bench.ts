// npm run bench: the time of `npm run generate` for the reference config and for 30 and 300
// Helm apps, as ratios to a bare `npm run` on the same machine (median of several runs).
// Goals (issue #2): reference ≤ 4× a bare npm run; 300 apps ≤ 3 s; 10× the apps ≤ 10× the
// time; re-running writes 0 files.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify, parse } from "yaml";

const root = join(import.meta.dirname, "..", "..");
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

const bare = timeMedian(["run", "-s", "bench:noop"]).ms;
const rows: [string, number, string][] = [];
const generateArgs = (config: string) => ["run", "-s", "generate", "--", "--config", config];

const temporary: string[] = [];
const reference = referenceRepo();
temporary.push(dirname(reference));
time(generateArgs(reference));
const referenceRun = timeMedian(generateArgs(reference));
rows.push(["reference config", referenceRun.ms, referenceRun.output.trim()]);
let apps30 = 0;
for (const count of [30, 300]) {
  const config = repoWithApps(count);
  temporary.push(dirname(config));
  time(generateArgs(config));
  const run = timeMedian(generateArgs(config));
  if (count === 30) apps30 = run.ms;
  rows.push([`${count} Helm apps`, run.ms, run.output.trim()]);
}

// The render-diff of the reference tree against a one-line change (goal: ≤ 2 s).
const diffRepo = referenceRepo();
temporary.push(dirname(diffRepo));
time(generateArgs(diffRepo));
for (const args of [["init", "-q"], ["add", "."], ["-c", "user.email=bench@example.org", "-c", "user.name=bench", "commit", "-qm", "tree"]]) {
  execFileSync("git", args, { cwd: dirname(diffRepo) });
}
writeFileSync(diffRepo, readFileSync(diffRepo, "utf8").replace("retention: 15d", "retention: 30d"));
time(generateArgs(diffRepo));
const kubectl = join(root, "node_modules", ".cache", "homelab-tools", "kubectl", "kubectl");
const diffRun = timeMedian(["run", "-s", "diff", "--", "--config", diffRepo, "--base", "HEAD"], { HOMELAB_KUBECTL: kubectl });

console.log(`bare npm run: ${bare.toFixed(0)} ms (median of ${RUNS})`);
for (const [name, ms, output] of rows) {
  console.log(`${name.padEnd(18)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / bare).toFixed(2)}× bare   (${output})`);
}
const apps300 = rows[2]![1];
console.log(`300 vs 30 apps: ${(apps300 / apps30).toFixed(2)}× the time for 10× the apps`);
console.log(`diff (reference tree, one-line change): ${diffRun.ms.toFixed(0)} ms; goal ≤ 2 s: ${diffRun.ms <= 2000 ? "met" : "MISSED"}`);
console.log(`goals: reference ≤ 4× bare: ${rows[0]![1] / bare <= 4 ? "met" : "MISSED"}; 300 apps ≤ 3 s: ${apps300 <= 3000 ? "met" : "MISSED"}; 10× apps ≤ 10× time: ${apps300 / apps30 <= 10 ? "met" : "MISSED"}`);
for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
