// First boot: the k3s units, homelab-bootstrap.service, its script and settings, tmpfiles.d —
// checked with the real tools (shellcheck, systemd-analyze verify against a staged root,
// systemd-tmpfiles) — and the bootstrap script run for real with bash against a stand-in
// Kubernetes API driven by the pinned kubectl and a stand-in Gitea that receives the push
// through the real git http-backend.
import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { render, type Rendered } from "../generator/generate.ts";
import { READER_TEAM, READER_TOKEN_NAME, shellQuote, TMPFILES, UNITS } from "../generator/image/boot.ts";
import { ROOTFS, UNIT_DIR } from "../generator/image/paths.ts";
import { BOOTSTRAP_FIELD_MANAGER, BOOTSTRAP_STATUS, SOPS_AGE_SECRET } from "../generator/render/flux.ts";
import { parse } from "yaml";
import { REGISTRY_SECRETS, REGISTRY_TOKEN_NAME } from "../generator/ci/workflows.ts";
import {
  AGE_KEY,
  BOOTSTRAP_DONE,
  BOOTSTRAP_ENV,
  BOOTSTRAP_SCRIPT,
  HELM_BIN,
  K3S_BIN,
  K3S_KUBECONFIG,
  READER_USER,
  REPO_BUNDLE,
  SOPS_BIN,
  STATE_DIR,
} from "../generator/image/paths.ts";
import { seedPath } from "../generator/image/seed.ts";
import { parseAgeIdentities } from "../generator/secrets/age-keys.ts";
import { decryptDocument } from "../generator/secrets/sops.ts";
import { startFakeGitea, type FakeGitea } from "./support/fake-gitea.ts";
import { CORE_TYPES, startFakeKube, type FakeKube, type ResourceType, type StoredObject } from "./support/fake-kube.ts";
import { demoKeyFile, referenceConfigPath, renderText, tempDir, tempRepo, minimalConfig } from "./support/render.ts";
import { requires } from "./support/requires.ts";
import { kubectl } from "./support/tools.ts";

const fileAt = (r: Rendered, path: string) => r.files.find((f) => f.path === path);
const rootfsPath = (path: string) => `${ROOTFS}${path}`;

let reference: Rendered;
/** The reference render's image/rootfs written out (what the image copies to /). */
let stage: string;

beforeAll(async () => {
  const { configPath } = tempRepo(readFileSync(referenceConfigPath, "utf8"), { demoState: true });
  reference = await render({ configPath });
  stage = tempDir("homelab-rootfs-");
  for (const file of reference.files.filter((f) => f.path.startsWith(`${ROOTFS}/`))) {
    const target = join(stage, file.path.slice(ROOTFS.length));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.content, { mode: file.mode ?? 0o644 });
  }
});

describe("rendered files", () => {
  test("land at the node paths the Containerfile, the units and the script share (paths.ts)", () => {
    for (const unit of UNITS) expect(fileAt(reference, rootfsPath(`${UNIT_DIR}/${unit}`)), unit).toBeDefined();
    expect(fileAt(reference, rootfsPath(BOOTSTRAP_SCRIPT))?.mode).toBe(0o755);
    expect(fileAt(reference, rootfsPath(BOOTSTRAP_ENV))).toBeDefined();
    expect(fileAt(reference, rootfsPath(TMPFILES))).toBeDefined();
    expect(BOOTSTRAP_DONE).toBe(`${STATE_DIR}/bootstrap.done`);
  });

  test("the script reads the paths in paths.ts", () => {
    const script = fileAt(reference, rootfsPath(BOOTSTRAP_SCRIPT))?.content ?? "";
    const assigned = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(script)?.[1];
    expect({
      env: assigned("ENV_FILE"),
      state: assigned("STATE_DIR"),
      key: assigned("AGE_KEY"),
      bundle: assigned("REPO_BUNDLE"),
      helm: assigned("HELM"),
      sops: assigned("SOPS"),
      k3s: assigned("K3S"),
      kubeconfig: assigned("K3S_KUBECONFIG"),
      done: assigned("DONE_FILE"),
    }).toEqual({
      env: BOOTSTRAP_ENV,
      state: STATE_DIR,
      key: AGE_KEY,
      bundle: REPO_BUNDLE,
      helm: HELM_BIN,
      sops: SOPS_BIN,
      k3s: K3S_BIN,
      kubeconfig: K3S_KUBECONFIG,
      done: "$STATE_DIR/bootstrap.done",
    });
  });

  test("shellcheck passes the script, following its settings file", requires("shellcheck"), () => {
    const script = join(stage, BOOTSTRAP_SCRIPT);
    expect(() => execFileSync("shellcheck", ["--external-sources", script], { cwd: dirname(script), stdio: "pipe" })).not.toThrow();
    // The source directive points at the settings file as the image lays it out: checked, not skipped.
    const info = execFileSync("shellcheck", ["--severity=info", "--external-sources", "--format=gcc", script], { cwd: dirname(script), encoding: "utf8" });
    expect(info).not.toMatch(/SC1091/);
  });

  test("the settings file is shell, quoted, and names what the tree holds", () => {
    const settings = Object.fromEntries(
      execFileSync("bash", ["-c", `set -eu; . "$1"; for v in $(sed -n 's/^\\([A-Z_]*\\)=.*/\\1/p' "$1"); do printf '%s=%s\\n' "$v" "\${!v}"; done`, "bash", join(stage, BOOTSTRAP_ENV)], { encoding: "utf8" })
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(settings).toMatchObject({
      CLUSTER_PATH: "clusters/home",
      SEED_PATH: "clusters/home/bootstrap",
      FLUX_INSTANCE_FILE: "clusters/home/flux-system/flux-instance.yaml",
      FLUX_OPERATOR_RELEASE: "flux-operator",
      FLUX_OPERATOR_CHART: "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator",
      FLUX_NAMESPACE: "flux-system",
      GIT_OWNER: "homelab",
      GIT_REPOSITORY: "gitops",
      GIT_BRANCH: "main",
      GIT_PULL_SECRET: "flux-gitea-auth",
      GITEA_NAMESPACE: "gitea",
      GITEA_SERVICE: "gitea-http",
      GITEA_PORT: "3000",
      READER_USER,
      SOPS_AGE_SECRET: SOPS_AGE_SECRET.name,
    });
    // The files these name exist in the tree, and the operator version is the tree's.
    expect(fileAt(reference, settings["FLUX_INSTANCE_FILE"] ?? "")?.content).toContain("kind: FluxInstance");
    expect(fileAt(reference, `${settings["SEED_PATH"]}/kustomization.yaml`)).toBeDefined();
    expect(fileAt(reference, "clusters/home/flux-system/flux-operator.yaml")?.content).toContain(`tag: ${settings["FLUX_OPERATOR_VERSION"]}`);
    // Flux decrypts with the Secret the bootstrap writes.
    expect(fileAt(reference, "clusters/home/gitea.yaml")?.content).toContain(`name: ${SOPS_AGE_SECRET.name}`);
    // Quoting holds for any value a shell would otherwise interpret.
    const nasty = `it's $(touch /tmp/x) \`y\` "z" \\ ;|&`;
    expect(execFileSync("bash", ["-c", `V=${shellQuote(nasty)}; printf %s "$V"`], { encoding: "utf8" })).toBe(nasty);
  });

  test("every unit passes systemd-analyze verify against a staged root", requires("systemd-analyze"), () => {
    const root = tempDir("homelab-units-");
    // The host's own units (targets the units are ordered against), then ours and stand-ins
    // for what they execute.
    cpSync("/usr/lib/systemd/system", join(root, UNIT_DIR), { recursive: true, dereference: false });
    cpSync(join(stage, "usr"), join(root, "usr"), { recursive: true });
    for (const executable of [K3S_BIN, "/usr/sbin/modprobe"]) {
      mkdirSync(dirname(join(root, executable)), { recursive: true });
      writeFileSync(join(root, executable), "#!/bin/sh\n", { mode: 0o755 });
    }
    const verify = (unit: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile("systemd-analyze", ["verify", `--root=${root}`, `${UNIT_DIR}/${unit}`], (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }));
      });
    return (async () => {
      for (const unit of UNITS) expect(await verify(unit), unit).toEqual({ code: 0, stderr: "" });
      // The staging is what makes it pass: without the script the bootstrap unit fails.
      chmodSync(join(root, BOOTSTRAP_SCRIPT), 0o644);
      expect((await verify("homelab-bootstrap.service")).code).not.toBe(0);
    })();
  });

  test("homelab-bootstrap.service: only on the server with the key, once, restarted until done, never starting k3s", () => {
    const unit = fileAt(reference, rootfsPath(`${UNIT_DIR}/homelab-bootstrap.service`))?.content ?? "";
    const lines = unit.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));
    expect(lines).toEqual(
      expect.arrayContaining([
        `ConditionPathExists=${AGE_KEY}`,
        `ConditionPathExists=!${BOOTSTRAP_DONE}`,
        "Type=oneshot",
        "RemainAfterExit=yes",
        `ExecStart=${BOOTSTRAP_SCRIPT}`,
        "Restart=on-failure",
        "WantedBy=multi-user.target",
      ]),
    );
    expect(lines.find((l) => l.startsWith("After="))).toContain("k3s.service");
    expect(lines.filter((l) => /^(Wants|Requires|BindsTo)=.*k3s/.test(l))).toEqual([]);
    const k3s = fileAt(reference, rootfsPath(`${UNIT_DIR}/k3s.service`))?.content ?? "";
    const agent = fileAt(reference, rootfsPath(`${UNIT_DIR}/k3s-agent.service`))?.content ?? "";
    expect(k3s).toContain(`ExecStart=${K3S_BIN} server\n`);
    expect(agent).toContain(`ExecStart=${K3S_BIN} agent\n`);
    for (const text of [k3s, agent]) {
      for (const line of ["Delegate=yes", "KillMode=process", "LimitNOFILE=1048576", "Restart=always", "WantedBy=multi-user.target"]) expect(text).toContain(`${line}\n`);
    }
    expect(k3s).toContain("Conflicts=k3s-agent.service\n");
  });

  test("tmpfiles.d makes the state folder, k3s's and Longhorn's data path, as systemd-tmpfiles reads it", requires("systemd-tmpfiles"), async () => {
    const { files } = await renderText(`${minimalConfig}storage:\n  longhorn:\n    dataPath: /var/mnt/disk%1/longhorn/\n`);
    const conf = join(tempDir(), "homelab.conf");
    writeFileSync(conf, fileAt({ files } as Rendered, rootfsPath(TMPFILES))?.content ?? "");
    const root = tempDir("homelab-tmpfiles-");
    execFileSync("systemd-tmpfiles", ["--create", `--root=${root}`, conf], { stdio: "pipe" });
    const mode = (path: string) => (statSync(join(root, path)).mode & 0o777).toString(8);
    expect(mode(STATE_DIR)).toBe("700");
    expect(mode("/var/lib/rancher/k3s")).toBe("755");
    expect(mode("/var/mnt/disk%1/longhorn")).toBe("700");
  });
});

// ------------------------------------------------------------------------------------------
// The script, run for real.

const FLUX_OPERATOR: ResourceType = { group: "fluxcd.controlplane.io", version: "v1", kind: "FluxInstance", plural: "fluxinstances", namespaced: true };
const K3S_TYPES: ResourceType[] = [
  { group: "helm.cattle.io", version: "v1", kind: "HelmChartConfig", plural: "helmchartconfigs", namespaced: true },
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
];
/** What the FluxInstance installs. */
const FLUX_TYPES: ResourceType[] = [
  { group: "source.toolkit.fluxcd.io", version: "v1", kind: "HelmRepository", plural: "helmrepositories", namespaced: true },
  { group: "source.toolkit.fluxcd.io", version: "v1", kind: "OCIRepository", plural: "ocirepositories", namespaced: true },
  { group: "helm.toolkit.fluxcd.io", version: "v2", kind: "HelmRelease", plural: "helmreleases", namespaced: true },
];
/** What helm-controller's install of the longhorn HelmRelease brings. */
const LONGHORN_TYPES: ResourceType[] = [
  { group: "longhorn.io", version: "v1beta2", kind: "RecurringJob", plural: "recurringjobs", namespaced: true },
  { group: "longhorn.io", version: "v1beta2", kind: "BackupTarget", plural: "backuptargets", namespaced: true },
];
/** What helm-controller's install of the cloudnative-pg HelmRelease brings (Gitea's database). */
const CNPG_TYPES: ResourceType[] = [{ group: "postgresql.cnpg.io", version: "v1", kind: "Cluster", plural: "clusters", namespaced: true }];
const ALL_TYPES = [...CORE_TYPES, FLUX_OPERATOR, ...K3S_TYPES, ...FLUX_TYPES, ...LONGHORN_TYPES, ...CNPG_TYPES];
const typeOf = (o: { apiVersion: string; kind: string }) => ALL_TYPES.find((t) => (t.group ? `${t.group}/${t.version}` : t.version) === o.apiVersion && t.kind === o.kind);

const ATTEMPTS = 3;
const SCRIPT = () => join(stage, BOOTSTRAP_SCRIPT);

/** The repository the image carries: the rendered tree committed on main, tagged, bundled. */
let bundle: string;
let sourceRepo: string;
let identities: string[];
/** Every secret value the run handles, to look for in its output. */
let secrets: string[];
let admin: { username: string; password: string };
let readerPassword: string;

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } }).trim();

async function decrypt(path: string): Promise<Record<string, any>> {
  return (await decryptDocument(fileAt(reference, path)?.content ?? "", identities)).data;
}

beforeAll(async () => {
  identities = parseAgeIdentities(readFileSync(demoKeyFile, "utf8"), demoKeyFile);
  sourceRepo = tempDir("homelab-source-");
  for (const file of reference.files) {
    mkdirSync(dirname(join(sourceRepo, file.path)), { recursive: true });
    writeFileSync(join(sourceRepo, file.path), file.content);
  }
  git(sourceRepo, "init", "--quiet", "--initial-branch=main");
  git(sourceRepo, "add", "-A");
  git(sourceRepo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "the tree");
  git(sourceRepo, "tag", "v1");
  git(sourceRepo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "--allow-empty", "-m", "second");
  git(sourceRepo, "branch", "feature", "v1");
  bundle = join(tempDir(), "homelab.bundle");
  git(sourceRepo, "bundle", "create", bundle, "--all");

  const seedSecrets = reference.files.filter((f) => f.path.startsWith(`${seedPath({ clusterPath: "clusters/home", units: [], files: [] })}/`) && f.path.endsWith(".sops.yaml"));
  const values = await Promise.all(seedSecrets.map(async (f) => Object.values((await decrypt(f.path))["stringData"] as Record<string, string>)));
  const adminSecret = (await decrypt("apps/gitea/gitea-admin.sops.yaml"))["stringData"];
  admin = { username: adminSecret.username, password: adminSecret.password };
  readerPassword = (await decrypt("apps/gitea/gitea-reader.sops.yaml"))["stringData"].password;
  const ageSecret = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-")) ?? "";
  // Literal values (a provider name, an endpoint URL the docs show) are not secrets.
  const published = reference.files.filter((f) => !f.path.endsWith(".sops.yaml")).map((f) => f.content).join("\n");
  secrets = [...values.flat().filter((v) => v.length >= 8 && !published.includes(v)), ageSecret];
});

interface World {
  readonly kube: FakeKube;
  readonly gitea: FakeGitea;
  readonly state: string;
  readonly env: NodeJS.ProcessEnv;
  readonly helmLog: string;
  /** Faults the stand-ins answer with while set. */
  /** diskGiB: the size the df stand-in reports for Longhorn's data path. */
  readonly faults: { withholdLonghorn: boolean; neverReady: boolean; helmFails: boolean; diskGiB: number };
  setReady(): void;
  close(): Promise<void>;
}

/** Stand-ins for helm (records its arguments) and sops (the project's own SOPS decryption). */
function tools(dir: string): { helm: string; sops: string } {
  const helm = join(dir, "helm");
  writeFileSync(helm, `#!/bin/bash\nprintf '%s\\n' "$*" >>"$HELM_STANDIN_LOG"\n[[ -z \${HELM_STANDIN_FAIL:-} ]] || { echo 'Error: INSTALLATION FAILED: injected' >&2; exit 1; }\n`, { mode: 0o755 });
  const sopsMain = join(dir, "sops.ts");
  const repo = join(import.meta.dirname, "..");
  writeFileSync(
    sopsMain,
    [
      `import { readFileSync } from "node:fs";`,
      `import { decryptDocument } from ${JSON.stringify(join(repo, "generator/secrets/sops.ts"))};`,
      `import { parseAgeIdentities } from ${JSON.stringify(join(repo, "generator/secrets/age-keys.ts"))};`,
      `import { yamlText } from ${JSON.stringify(join(repo, "generator/render/yaml.ts"))};`,
      `const [flag, file] = process.argv.slice(2);`,
      `if (flag !== "--decrypt" || !file) { console.error("usage: sops --decrypt FILE"); process.exit(2); }`,
      `const keyFile = process.env.SOPS_AGE_KEY_FILE ?? "";`,
      `const { data } = await decryptDocument(readFileSync(file, "utf8"), parseAgeIdentities(readFileSync(keyFile, "utf8"), keyFile));`,
      `process.stdout.write(yamlText(data));`,
      "",
    ].join("\n"),
  );
  const sops = join(dir, "sops");
  writeFileSync(sops, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(sopsMain)} "$@"\n`, { mode: 0o755 });
  return { helm, sops };
}

async function world(): Promise<World> {
  const dir = tempDir("homelab-boot-");
  const kube = await startFakeKube([...CORE_TYPES, FLUX_OPERATOR, ...K3S_TYPES]);
  const gitea = await startFakeGitea({ root: join(dir, "gitea"), admin });
  // Larger than any minimum the reference tree asks for.
  const faults = { withholdLonghorn: false, neverReady: false, helmFails: false, diskGiB: 4096 };
  const setReady = () => {
    const instance = kube.object(FLUX_OPERATOR, "flux-system", "flux");
    if (instance) instance["status"] = { conditions: [{ type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Reconciliation finished", lastTransitionTime: "2026-11-26T10:00:00Z" }] };
  };
  // What the cluster's controllers would do in answer to what the bootstrap applies.
  kube.onApply = (o: StoredObject) => {
    if (o.kind === "FluxInstance") kube.addTypes(FLUX_TYPES);
    if (o.kind === "HelmRelease" && o.metadata.name === "longhorn" && !faults.withholdLonghorn) kube.addTypes(LONGHORN_TYPES);
    if (o.kind === "HelmRelease" && o.metadata.name === "cloudnative-pg") kube.addTypes(CNPG_TYPES);
    if (o.kind === "Secret" && o.metadata.name === "flux-gitea-auth" && !faults.neverReady) setReady();
  };
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const { helm, sops } = tools(bin);
  // GNU df's answer to `df --block-size=1 --output=size PATH`: a header, then the size in bytes.
  writeFileSync(join(bin, "df"), `#!/bin/bash\n[[ "$1 $2" == "--block-size=1 --output=size" && -e $3 ]] || exit 1\nprintf '1B-blocks\\n%15s\\n' "$DF_STANDIN_BYTES"\n`, { mode: 0o755 });
  const helmLog = join(dir, "helm.log");
  writeFileSync(helmLog, "");
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env["PATH"]}`,
    HOME: join(dir, "home"),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    KUBECONFIG: kube.api.kubeconfig,
    HOMELAB_KUBECTL: kubectl,
    HOMELAB_BOOTSTRAP_ENV: join(stage, BOOTSTRAP_ENV),
    HOMELAB_STATE_DIR: join(dir, "state"),
    HOMELAB_AGE_KEY: demoKeyFile,
    HOMELAB_REPO_BUNDLE: bundle,
    HOMELAB_HELM: helm,
    HOMELAB_SOPS: sops,
    HOMELAB_RETRY_ATTEMPTS: String(ATTEMPTS),
    HOMELAB_RETRY_DELAY: "0",
    HOMELAB_RETRY_MAX_DELAY: "0",
    HOMELAB_READY_TIMEOUT: "1s",
    GITEA_URL: gitea.url,
    HELM_STANDIN_LOG: helmLog,
  };
  return {
    kube,
    gitea,
    state: join(dir, "state"),
    env,
    helmLog,
    faults,
    setReady,
    close: async () => {
      await kube.close();
      await gitea.close();
    },
  };
}

/** Runs the script (bash, for real); output is stdout and stderr as the journal gets them. */
function bootstrap(w: World, args: string[] = []): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const env = { ...w.env, DF_STANDIN_BYTES: String(w.faults.diskGiB * 2 ** 30), ...(w.faults.helmFails ? { HELM_STANDIN_FAIL: "1" } : {}) };
    const child = spawn("bash", [SCRIPT(), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

const STEPS = ["api", "disk", "flux", "seed", "gitea", "ready"] as const;
const markers = (w: World) => STEPS.filter((s) => existsSync(join(w.state, `${s}.done`)));
/** API calls that change something (git traffic left out). */
const writes = (w: World) => w.gitea.calls.filter((c) => c.method !== "GET" && !c.path.includes(".git/"));
const kubeWrites = (w: World) => w.kube.api.requests.filter((r) => r.method !== "GET");
const secretData = (w: World, namespace: string, name: string) => {
  const data = (w.kube.object(CORE_TYPES[1] as ResourceType, namespace, name)?.["data"] ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
};

function expectNoSecretIn(text: string, w: World, where = "the output"): void {
  const found = [...secrets, ...w.gitea.tokens.map((t) => t.sha1)].filter((value) => text.includes(value));
  expect(found.map((value) => `${value.slice(0, 4)}… in ${where}`)).toEqual([]);
}

/** Every file under a folder, for plaintext that must never be written. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe("the bootstrap script", requires("curl"), () => {
  let w: World;
  let first: { code: number; output: string };
  beforeAll(async () => {
    w = await world();
    w.kube.notReadyFor(1);
    first = await bootstrap(w);
  });
  afterAll(() => w?.close());

  test("a first run does every step in order, then records completion", () => {
    expect(first.code, first.output).toBe(0);
    const started = [...first.output.matchAll(/^(\w+): started$/gm)].map((m) => m[1]);
    expect(started).toEqual([...STEPS]);
    expect(first.output).toMatch(/^api: API server ready: not yet \(attempt 1\)/m);
    expect(markers(w)).toEqual([...STEPS]);
    expect(existsSync(join(w.state, "bootstrap.done"))).toBe(true);
  });

  test("api: flux-system and the age key as the Secret Flux decrypts with", () => {
    expect(w.kube.object(CORE_TYPES[0] as ResourceType, "", "flux-system")).toBeDefined();
    expect(secretData(w, "flux-system", SOPS_AGE_SECRET.name)).toEqual({ [SOPS_AGE_SECRET.key]: readFileSync(demoKeyFile, "utf8").trimEnd() });
  });

  test("flux: flux-operator installed as the tree's release, the FluxInstance from the repository", () => {
    expect(readFileSync(w.helmLog, "utf8").trim().split("\n")).toEqual([
      `upgrade --install flux-operator oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator --version 0.58.1 --namespace flux-system --kubeconfig ${w.kube.api.kubeconfig} --wait --timeout 10m`,
    ]);
    const instance = w.kube.object(FLUX_OPERATOR, "flux-system", "flux");
    expect(instance?.["spec"]).toMatchObject({ sync: { url: "http://gitea-http.gitea.svc.cluster.local:3000/homelab/gitops.git", ref: "refs/heads/main", pullSecret: "flux-gitea-auth" } });
  });

  test("seed: every seed object applied (after the CRDs appeared), its secrets decrypted on the way in", async () => {
    const seedFolder = seedPath({ clusterPath: "clusters/home", units: [], files: [] });
    const built = execFileSync(kubectl, ["kustomize", join(sourceRepo, seedFolder)], { encoding: "utf8" });
    const objects = built.split(/^---$/m).map((doc) => {
      const kind = /^kind: (\S+)$/m.exec(doc)?.[1] ?? "";
      const apiVersion = /^apiVersion: (\S+)$/m.exec(doc)?.[1] ?? "";
      const name = /^metadata:\n(?: {2}.*\n)*? {2}name: (\S+)$/m.exec(doc)?.[1] ?? "";
      const namespace = /^metadata:\n(?: {2}.*\n)*? {2}namespace: (\S+)$/m.exec(doc)?.[1] ?? "";
      return { kind, apiVersion, name, namespace };
    });
    expect(objects.length).toBeGreaterThan(8);
    for (const o of objects) {
      const type = typeOf(o);
      expect(type, `no stand-in type for ${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(w.kube.object(type as ResourceType, o.namespace, o.name), `${o.kind} ${o.namespace}/${o.name}`).toBeDefined();
    }
    const sopsFiles = reference.files.filter((f) => f.path.startsWith(`${seedFolder}/`) && f.path.endsWith(".sops.yaml"));
    expect(sopsFiles.length).toBeGreaterThan(3);
    for (const file of sopsFiles) {
      const plain = await decrypt(file.path);
      expect(secretData(w, plain["metadata"].namespace, plain["metadata"].name), file.path).toEqual(plain["stringData"]);
    }
  });

  test("gitea: organisation, private repository, user, team and token made once each", () => {
    const made = writes(w).map((c) => `${c.method} ${c.path} ${c.status}`);
    expect(made).toEqual([
      "POST /orgs 201",
      "POST /orgs/homelab/repos 201",
      "POST /admin/users 201",
      "POST /orgs/homelab/teams 201",
      expect.stringMatching(/^PUT \/teams\/\d+\/members\/homelab-reader 204$/),
      expect.stringMatching(/^PUT \/teams\/\d+\/repos\/homelab\/gitops 204$/),
      `DELETE /users/homelab-reader/tokens/${READER_TOKEN_NAME} 404`,
      "POST /users/homelab-reader/tokens 201",
      `DELETE /users/${admin.username}/tokens/${REGISTRY_TOKEN_NAME} 404`,
      `POST /users/${admin.username}/tokens 201`,
      `PUT /repos/homelab/gitops/actions/secrets/${REGISTRY_SECRETS.user} 201`,
      `PUT /repos/homelab/gitops/actions/secrets/${REGISTRY_SECRETS.token} 201`,
    ]);
    const calls = Object.fromEntries(writes(w).map((c) => [c.path.replace(/\d+/, "ID"), c]));
    expect(calls["/orgs"]?.body).toEqual({ username: "homelab", visibility: "private" });
    expect(calls["/orgs/homelab/repos"]?.body).toMatchObject({ name: "gitops", private: true, auto_init: false, default_branch: "main" });
    expect(calls["/admin/users"]?.body).toMatchObject({ username: READER_USER, email: "homelab-reader@home.arpa", password: readerPassword, must_change_password: false });
    expect(calls["/orgs/homelab/teams"]?.body).toMatchObject({ name: READER_TEAM, permission: "read", includes_all_repositories: false, units_map: { "repo.code": "read", "repo.packages": "read" } });
    // Everything as the admin, but the token: Gitea makes tokens only for the user itself, with its password.
    const readerTokens = (c: { path: string }) => c.path.startsWith(`/users/${READER_USER}/tokens`);
    expect(writes(w).filter(readerTokens).map((c) => `${c.user}/${c.auth}`)).toEqual(["homelab-reader/basic", "homelab-reader/basic"]);
    expect(writes(w).filter((c) => !readerTokens(c)).every((c) => c.user === admin.username && c.auth === "basic")).toBe(true);
    expect(w.gitea.tokens.map((t) => ({ user: t.user, name: t.name, scopes: t.scopes }))).toEqual([
      { user: READER_USER, name: READER_TOKEN_NAME, scopes: ["read:repository", "read:package"] },
      // The image workflow's: it may write packages and nothing else.
      { user: admin.username, name: REGISTRY_TOKEN_NAME, scopes: ["write:package"] },
    ]);
  });

  test("gitea: the repository pushed whole, every branch and tag, over HTTP", () => {
    const pushed = w.gitea.repositoryPath("homelab", "gitops");
    const refs = (dir: string) => git(dir, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags");
    expect(refs(pushed)).toBe(refs(sourceRepo));
    expect(git(pushed, "rev-list", "--count", "main")).toBe("2");
    expect(w.gitea.calls.some((c) => c.path.endsWith("/git-receive-pack") && c.user === admin.username)).toBe(true);
  });

  test("gitea: the image workflow's registry credentials are the repository's Actions secrets", () => {
    const secrets = w.gitea.actionsSecrets.get("homelab/gitops");
    expect(Object.fromEntries(secrets ?? [])).toEqual({
      [REGISTRY_SECRETS.user]: admin.username,
      [REGISTRY_SECRETS.token]: w.gitea.tokens.find((t) => t.name === REGISTRY_TOKEN_NAME)?.sha1,
    });
  });

  test("gitea: Flux's Secret holds the reader and its token, which reads the repository", () => {
    const token = w.gitea.tokens.find((t) => t.user === READER_USER)?.sha1;
    expect(secretData(w, "flux-system", "flux-gitea-auth")).toEqual({ username: READER_USER, password: token });
    const team = w.gitea.teams.find((t) => t.name === READER_TEAM);
    expect([...(team?.members ?? [])]).toEqual([READER_USER]);
    expect([...(team?.repos ?? [])]).toEqual(["homelab/gitops"]);
  });

  test("no secret reaches the output or the disk", () => {
    expectNoSecretIn(first.output, w);
    for (const file of filesUnder(w.state)) expectNoSecretIn(readFileSync(file, "latin1"), w, file);
  });

  test("a second run does nothing: every step finished earlier", async () => {
    const [gitea, kube, helm] = [w.gitea.calls.length, kubeWrites(w).length, readFileSync(w.helmLog, "utf8")];
    const again = await bootstrap(w);
    expect(again.code, again.output).toBe(0);
    expect([...again.output.matchAll(/^bootstrap: (\w+): finished earlier$/gm)].map((m) => m[1])).toEqual([...STEPS]);
    expect([w.gitea.calls.length, kubeWrites(w).length, readFileSync(w.helmLog, "utf8")]).toEqual([gitea, kube, helm]);
  });

  test("the gitea step run again makes nothing new in Gitea and keeps the working token", async () => {
    const before = { writes: writes(w).length, tokens: w.gitea.tokens.map((t) => t.sha1), refs: git(w.gitea.repositoryPath("homelab", "gitops"), "for-each-ref") };
    const again = await bootstrap(w, ["step", "gitea"]);
    expect(again.code, again.output).toBe(0);
    expect({ writes: writes(w).length, tokens: w.gitea.tokens.map((t) => t.sha1), refs: git(w.gitea.repositoryPath("homelab", "gitops"), "for-each-ref") }).toEqual(before);
    expect(secretData(w, "flux-system", "flux-gitea-auth")["password"]).toBe(w.gitea.tokens.find((t) => t.user === READER_USER)?.sha1);
    expectNoSecretIn(again.output, w);
  });

  test("a token whose Secret was lost is replaced: the old one deleted by name first", async () => {
    // Flux's Secret write fails once after Gitea made the token (a crash between the two).
    w.kube.objects.delete("/secrets/flux-system/flux-gitea-auth");
    w.kube.failApply.set("flux-system/flux-gitea-auth", 1);
    const readerToken = () => w.gitea.tokens.filter((t) => t.user === READER_USER);
    const old = readerToken()[0]?.sha1;
    const again = await bootstrap(w, ["step", "gitea"]);
    expect(again.code, again.output).toBe(0);
    const tokenCalls = w.gitea.calls.filter((c) => c.path.startsWith("/users/homelab-reader/tokens")).slice(-4);
    expect(tokenCalls.map((c) => `${c.method} ${c.status}`)).toEqual(["DELETE 204", "POST 201", "DELETE 204", "POST 201"]);
    expect(readerToken()).toHaveLength(1);
    expect(readerToken()[0]?.sha1).not.toBe(old);
    expect(secretData(w, "flux-system", "flux-gitea-auth")["password"]).toBe(readerToken()[0]?.sha1);
    expectNoSecretIn(again.output, w);
  });

  test("every apply is by a field manager kustomize-controller takes over, as the FluxInstance configures it", () => {
    const applies = w.kube.api.requests.filter((r) => r.method === "PATCH" && String(r.headers["content-type"]).startsWith("application/apply-patch"));
    expect(applies.length).toBeGreaterThan(10);
    // kustomize-controller v1.9.4 (internal/controller/kustomization_controller.go) takes the
    // fields of "kubectl" (Apply) over, and those of every --override-manager in its arguments,
    // which a FluxInstance would add through a kustomize patch of the controller's Deployment.
    const settings = readFileSync(join(stage, BOOTSTRAP_ENV), "utf8");
    const instanceFile = /^FLUX_INSTANCE_FILE='(.*)'$/m.exec(settings)?.[1] ?? "";
    const instance = parse(fileAt(reference, instanceFile)?.content ?? "");
    expect(instance.kind).toBe("FluxInstance");
    const overrides = ((instance.spec.kustomize?.patches ?? []) as { patch: string }[]).flatMap((p) => [...p.patch.matchAll(/--override-manager=([\w.-]+)/g)].map((m) => m[1]));
    const takenOver = new Set(["kubectl", ...overrides]);
    const managers = [...new Set(applies.map((r) => r.query.get("fieldManager")))];
    expect(managers).toEqual([BOOTSTRAP_FIELD_MANAGER]);
    for (const manager of managers) expect(takenOver).toContain(manager);
    // Forcing: what first boot wrote becomes kubectl's, whoever wrote it before.
    expect(applies.every((r) => r.query.get("force") === "true")).toBe(true);
  });

  test("first boot's ConfigMap says it is complete, for homelab status", () => {
    expect(w.kube.object(K3S_TYPES[1] as ResourceType, "flux-system", BOOTSTRAP_STATUS)?.["data"]).toEqual({ step: "complete", problem: "" });
  });

  test("after Gitea's database was restored, the gitea step sees Flux's token refused (401) and makes a new one", async () => {
    // The restored database is older than Flux's token: Gitea knows no such token.
    const known = w.gitea.tokens.filter((t) => t.user !== READER_USER);
    w.gitea.tokens.splice(0, w.gitea.tokens.length, ...known);
    const stale = secretData(w, "flux-system", "flux-gitea-auth")["password"];
    const repaired = await bootstrap(w, ["step", "gitea"]);
    expect(repaired.code, repaired.output).toBe(0);
    expect(repaired.output).toMatch(/^gitea: Gitea refuses Flux's token \(401: unknown to it, e\.g\. its database was restored\): replacing it$/m);
    const token = w.gitea.tokens.find((t) => t.user === READER_USER)?.sha1;
    expect(token).toBeDefined();
    expect(token).not.toBe(stale);
    expect(secretData(w, "flux-system", "flux-gitea-auth")).toEqual({ username: READER_USER, password: token });
    // The new token reads the repository, as Flux will.
    const read = await fetch(`${w.gitea.url}/api/v1/repos/homelab/gitops`, { headers: { Authorization: `token ${token}` } });
    expect(read.status).toBe(200);
    expect(w.kube.object(K3S_TYPES[1] as ResourceType, "flux-system", BOOTSTRAP_STATUS)?.["data"]).toEqual({ step: "complete", problem: "" });
    expectNoSecretIn(repaired.output, w);
  });

  test("an unknown step is refused", async () => {
    const wrong = await bootstrap(w, ["step", "everything"]);
    expect(wrong.code).toBe(2);
    expect(wrong.output).toContain("usage: bootstrap step {api disk flux seed gitea ready}");
  });
});

describe("the disk step", requires("curl"), () => {
  test("a disk smaller than the tree needs stops first boot, saying why in the log and for homelab status", async () => {
    const w = await world();
    try {
      const minimum = Number(/^MIN_DISK_GIB='(\d+)'$/m.exec(readFileSync(join(stage, BOOTSTRAP_ENV), "utf8"))?.[1]);
      expect(minimum).toBeGreaterThan(0);
      w.faults.diskGiB = minimum - 1;
      const small = await bootstrap(w);
      expect(small.code, small.output).not.toBe(0);
      const problem = `the filesystem of /var/lib/longhorn has ${minimum - 1} GiB; this tree's volumes need at least ${minimum} GiB (docs/install.md): install on a larger disk or grow it`;
      expect(small.output).toContain(`disk: ${problem}\n`);
      expect(markers(w)).toEqual(["api"]);
      expect(w.kube.object(K3S_TYPES[1] as ResourceType, "flux-system", BOOTSTRAP_STATUS)?.["data"]).toEqual({ step: "disk", problem });
      // Exactly the minimum is enough, and the next step clears the problem.
      w.faults.diskGiB = minimum;
      const enough = await bootstrap(w, ["step", "disk"]);
      expect(enough.code, enough.output).toBe(0);
      expect(enough.output).toContain(`disk: the filesystem of /var/lib/longhorn has ${minimum} GiB (at least ${minimum} needed)\n`);
    } finally {
      await w.close();
    }
  });

  test("with the real df: the size of the filesystem the data path will be made on", async () => {
    const w = await world();
    try {
      const dir = tempDir("homelab-disk-");
      const { blocks, bsize } = statfsSync(dir);
      const gib = Math.floor((blocks * bsize) / 2 ** 30);
      const env = { ...w.env, PATH: process.env["PATH"], HOMELAB_DATA_PATH: join(dir, "not", "yet", "longhorn") };
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile("bash", [SCRIPT(), "step", "disk"], { env }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }));
      });
      expect(result.output).toContain(`the filesystem of ${join(dir, "not", "yet", "longhorn")} has ${gib} GiB`);
    } finally {
      await w.close();
    }
  });
});

describe("the bootstrap script resumes after a failure in any step", requires("curl"), () => {
  const faults: Record<(typeof STEPS)[number], (w: World) => () => void> = {
    api: (w) => {
      w.kube.notReadyFor(ATTEMPTS);
      return () => undefined;
    },
    flux: (w) => {
      w.faults.helmFails = true;
      return () => (w.faults.helmFails = false);
    },
    seed: (w) => {
      w.faults.withholdLonghorn = true;
      return () => (w.faults.withholdLonghorn = false);
    },
    gitea: (w) => {
      w.gitea.faults.failures.set("POST /orgs", ATTEMPTS);
      return () => undefined;
    },
    disk: (w) => {
      w.faults.diskGiB = 9;
      return () => (w.faults.diskGiB = 4096);
    },
    ready: (w) => {
      w.faults.neverReady = true;
      return () => w.setReady();
    },
  };

  for (const step of STEPS) {
    test(`fails in ${step}, then a new run finishes without repeating the finished steps`, async () => {
      const w = await world();
      try {
        const clear = faults[step](w);
        const failed = await bootstrap(w);
        expect(failed.code, failed.output).not.toBe(0);
        const done = STEPS.slice(0, STEPS.indexOf(step));
        expect(markers(w)).toEqual(done);
        expect(existsSync(join(w.state, "bootstrap.done"))).toBe(false);
        expectNoSecretIn(failed.output, w);

        clear();
        const helmRuns = readFileSync(w.helmLog, "utf8");
        const resumed = await bootstrap(w);
        expect(resumed.code, resumed.output).toBe(0);
        expect([...resumed.output.matchAll(/^(\w+): started$/gm)].map((m) => m[1])).toEqual(STEPS.slice(STEPS.indexOf(step)));
        expect(markers(w)).toEqual([...STEPS]);
        expect(existsSync(join(w.state, "bootstrap.done"))).toBe(true);
        // Finished steps were not repeated: helm ran again only if flux had not finished.
        if (done.includes("flux")) expect(readFileSync(w.helmLog, "utf8")).toBe(helmRuns);
        // Gitea holds one of each (the reader's token and the image workflow's), whatever failed.
        expect([w.gitea.orgs.size, w.gitea.repos.size, w.gitea.tokens.length, w.gitea.teams.filter((t) => t.name === READER_TEAM).length]).toEqual([1, 1, 2, 1]);
        expectNoSecretIn(resumed.output, w);
      } finally {
        await w.close();
      }
    });
  }
});

test("the settings follow the config: another owner, repository and branch", async () => {
  const { files } = await renderText(`${minimalConfig}git:\n  owner: family\n  repository: infra\n  branch: live\n`);
  const settings = fileAt({ files } as Rendered, rootfsPath(BOOTSTRAP_ENV))?.content ?? "";
  for (const line of ["GIT_OWNER='family'", "GIT_REPOSITORY='infra'", "GIT_BRANCH='live'", "FLUX_INSTANCE_FILE='clusters/home/flux-system/flux-instance.yaml'"]) expect(settings).toContain(`${line}\n`);
});
