// Issue 11, updates and several nodes: the bases' update timers masked and one staging unit on
// every base, kured rebooting one node at a time in the window (sentinel and reboot command
// shared with the image, only Longhorn's alerts blocking), graceful node shutdown, SELinux on
// with Longhorn's iscsid module, the EL10 package steps, and the multi-node scraping, firewall
// and proxy settings. Checked on the generated files of the reference config and of multi-node
// configs, with the real tools (shellcheck, systemd-analyze, systemd-tmpfiles) and the scripts run.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { parse } from "yaml";
import { describe, expect, test } from "vitest";
import { render, type Rendered } from "../generator/generate.ts";
import { parseConfig } from "../generator/config/load.ts";
import { ROOTFS, UNIT_DIR } from "../generator/image/paths.ts";
import { CONTAINERFILE, ETCD_METRICS_PORT, METRICS_PORTS } from "../generator/image/containerfile.ts";
import { REBOOT_SCRIPT, REBOOT_SENTINEL, STAGE_SCRIPT } from "../generator/image/paths.ts";
import {
  BASE_UPDATE_TIMERS,
  KUBELET_DROP_IN,
  KUBELET_DROP_IN_SOURCE,
  LOGIND_DROP_IN,
  LONGHORN_SELINUX_MODULE,
  SHUTDOWN_GRACE_SECONDS,
  STAGE_SERVICE,
  STAGE_TIMER,
  UPDATES_TMPFILES,
} from "../generator/image/updates.ts";
import { K3S_AGENT_DROP_IN, K3S_DROP_IN } from "../generator/components/k3s.ts";
import { blockingAlertFilter } from "../generator/components/kured.ts";
import { minimalConfig, objectsOf, referenceConfigPath, tempDir, tempRepo } from "./support/render.ts";
import { requires } from "./support/requires.ts";

const BASES = [
  "ghcr.io/ublue-os/base-main:44",
  "quay.io/fedora/fedora-bootc:44",
  "quay.io/centos-bootc/centos-bootc:stream10",
  "quay.io/almalinuxorg/almalinux-bootc:10",
];

const nodes = (lines: string) => minimalConfig.replace("  domain: home.arpa\n", `  domain: home.arpa\n  nodes:\n${lines}`);
/** Three servers, an agent and a GPU agent (IPv6), LDAP on, Home Assistant on the host network. */
const threeServers = (base = BASES[0] ?? "") =>
  `${nodes(
    [
      "    - {name: s1, address: 192.168.1.10}",
      "    - {name: s2, address: 192.168.1.11}",
      "    - {name: s3, address: 192.168.1.12}",
      "    - {name: a1, role: agent, address: 192.168.1.20}",
      '    - {name: g1, role: agent, address: "fd00::21", gpu: true}',
      "",
    ].join("\n"),
  )}image:\n  base: ${base}\ngpu:\n  nvidia: true\nauth:\n  authentik:\n    ldap: true\napps:\n  homeAssistant:\n    hostNetwork: true\n`;
const oneServer = nodes("    - {name: box, address: 192.168.1.10}\n");

async function renderConfig(text: string, demoState = false): Promise<Rendered> {
  return render({ configPath: tempRepo(text, { demoState }).configPath });
}
const fileOf = (rendered: Rendered, path: string) => {
  const found = rendered.files.find((f) => f.path === path);
  if (!found) throw new Error(`${path} was not generated`);
  return found;
};
const rootfs = (path: string) => `${ROOTFS}${path}`;
const objects = (rendered: Rendered) => objectsOf(rendered.files).map(({ object }) => object);
const release = (rendered: Rendered, name: string) => objects(rendered).find((o) => o.kind === "HelmRelease" && o.metadata.name === name);

/** The RUN instructions of the main stage, as the shell text they run. */
function mainRuns(rendered: Rendered): string[] {
  const dockerfile = DockerfileParser.parse(fileOf(rendered, CONTAINERFILE).content);
  const result: string[] = [];
  let inMain = false;
  for (const instruction of dockerfile.getInstructions() as Instruction[]) {
    if (instruction.getKeyword() === "FROM") inMain = / AS homelab$/.test(instruction.getTextContent());
    else if (inMain && instruction.getKeyword() === "RUN") result.push(instruction.getRawArgumentsContent() ?? "");
  }
  return result;
}

/** Writes the render's image/rootfs under a fresh folder (what the image copies to /). */
function stageRootfs(rendered: Rendered): string {
  const root = tempDir("homelab-updates-root-");
  for (const file of rendered.files.filter((f) => f.path.startsWith(`${ROOTFS}/`))) {
    const target = join(root, file.path.slice(ROOTFS.length));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.content, { mode: file.mode ?? 0o644 });
  }
  return root;
}

/** A folder of stand-in commands, each logging its arguments to log and exiting with its status. */
function stubs(commands: Record<string, string>): { bin: string; log: string } {
  const bin = tempDir("homelab-stubs-");
  const log = join(bin, "calls.log");
  writeFileSync(log, "");
  for (const [name, body] of Object.entries(commands)) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> '${log}'\n${body}\n`, { mode: 0o755 });
  }
  return { bin, log };
}
const run = (script: string, bin: string) => spawnSync("sh", ["-c", script], { encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin` } });

describe("one staging mechanism on every base", () => {
  test.each(BASES)("base %s: the bases' update timers masked, the staging timer enabled, after the units are copied in", async (base) => {
    const rendered = await renderConfig(`${minimalConfig}image:\n  base: ${base}\n`);
    const containerfile = fileOf(rendered, CONTAINERFILE).content;
    const runsText = mainRuns(rendered);
    const last = runsText.find((text) => text.includes("systemctl enable")) ?? "";
    expect(/systemctl mask ([^;\n\\]+)/.exec(last)?.[1]?.trim().split(/\s+/)).toEqual([...BASE_UPDATE_TIMERS]);
    expect(BASE_UPDATE_TIMERS).toEqual(["bootc-fetch-apply-updates.timer", "rpm-ostreed-automatic.timer"]);
    // disable would leave the base's enablement link in /usr: never used for them.
    expect(containerfile).not.toMatch(/systemctl disable[^;\n]*(bootc-fetch-apply-updates|rpm-ostreed-automatic)/);
    expect(/systemctl enable ([^;\n\\]+)/.exec(last)?.[1]?.trim().split(/\s+/)).toContain(STAGE_TIMER);
    expect(containerfile.indexOf("COPY image/rootfs/ /")).toBeLessThan(containerfile.indexOf("systemctl mask"));
    for (const path of [STAGE_SERVICE, STAGE_TIMER].map((unit) => rootfs(`${UNIT_DIR}/${unit}`))) expect(fileOf(rendered, path).content).toContain("ConditionPathExists=/run/ostree-booted");
  });

  // systemctl comes with systemd-analyze (Debian's systemd package).
  test("run against a base's units, the image's mask and enable leave only the staging timer on", requires("systemd-analyze"), async () => {
    const rendered = await renderConfig(minimalConfig);
    const root = stageRootfs(rendered);
    // What a Fedora/CentOS bootc base ships: the timer, its service, enabled by a link in /usr.
    const base = join(root, UNIT_DIR);
    writeFileSync(join(base, "bootc-fetch-apply-updates.timer"), "[Timer]\nOnBootSec=1h\n[Install]\nWantedBy=timers.target\n");
    writeFileSync(join(base, "bootc-fetch-apply-updates.service"), "[Service]\nType=oneshot\nExecStart=/usr/bin/bootc upgrade --apply --quiet\n");
    mkdirSync(join(base, "timers.target.wants"), { recursive: true });
    symlinkSync("../bootc-fetch-apply-updates.timer", join(base, "timers.target.wants", "bootc-fetch-apply-updates.timer"));
    mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
    const last = mainRuns(rendered).find((text) => text.includes("systemctl mask")) ?? "";
    for (const command of last.split(/;\s*\\?\s*/).filter((c) => /^systemctl (mask|enable) /.test(c.trim()))) {
      const [, verb = "", ...units] = command.trim().split(/\s+/);
      // Only the units this test staged (firewalld and iscsid come with the base's packages).
      const ours = units.filter((unit) => existsSync(join(base, unit)) || verb === "mask");
      execFileSync("systemctl", [`--root=${root}`, verb, ...ours], { stdio: "pipe" });
    }
    const state = (unit: string) => spawnSync("systemctl", [`--root=${root}`, "is-enabled", unit], { encoding: "utf8" }).stdout.trim();
    expect(state("bootc-fetch-apply-updates.timer")).toBe("masked");
    expect(state("rpm-ostreed-automatic.timer")).toBe("masked");
    expect(state(STAGE_TIMER)).toBe("enabled");
  });

  test("the staging unit only stages (no --apply, no reboot) and runs on a timer", async () => {
    const rendered = await renderConfig(minimalConfig);
    const service = fileOf(rendered, rootfs(`${UNIT_DIR}/${STAGE_SERVICE}`)).content;
    const timer = fileOf(rendered, rootfs(`${UNIT_DIR}/${STAGE_TIMER}`)).content;
    const script = fileOf(rendered, rootfs(STAGE_SCRIPT));
    expect(service).toContain(`ExecStart=${STAGE_SCRIPT}\n`);
    expect(service).toContain("Type=oneshot\n");
    expect(timer).toMatch(/^OnBootSec=1h$/m);
    expect(timer).toMatch(/^OnUnitInactiveSec=\d+h$/m);
    expect(timer).toContain("WantedBy=timers.target\n");
    expect(script.mode).toBe(0o755);
    expect(script.content).toContain("bootc upgrade --quiet\n");
    const commands = script.content.split("\n").filter((line) => !line.trimStart().startsWith("#"));
    expect(commands.filter((line) => /--apply|reboot\b(?!-required)/.test(line))).toEqual([]);
  });

  test("the stage script writes kured's sentinel only once an image is staged", async () => {
    const rendered = await renderConfig(minimalConfig);
    const dir = tempDir();
    // The sentinel moved into a test folder; everything else as generated.
    const script = fileOf(rendered, rootfs(STAGE_SCRIPT)).content.replaceAll(dirname(REBOOT_SENTINEL), join(dir, "run"));
    const sentinel = join(dir, "run", REBOOT_SENTINEL.slice(dirname(REBOOT_SENTINEL).length + 1));
    // bootc status --json prints canonical (compact) JSON.
    const nothingStaged = stubs({ bootc: `[ "$1" = status ] && echo '{"apiVersion":"org.containers.bootc/v1","status":{"booted":{"image":{}},"staged":null}}'; exit 0` });
    expect(run(script, nothingStaged.bin).status).toBe(0);
    expect(existsSync(sentinel)).toBe(false);
    expect(readFileSync(nothingStaged.log, "utf8")).toBe("bootc upgrade --quiet\nbootc status --json\n");
    const staged = stubs({ bootc: `[ "$1" = status ] && echo '{"status":{"booted":{"image":{}},"staged":{"image":{"image":"x"}}}}'; exit 0` });
    expect(run(script, staged.bin).status).toBe(0);
    expect(existsSync(sentinel)).toBe(true);
    // A failed download writes nothing and fails the unit.
    const failing = tempDir();
    const broken = stubs({ bootc: "exit 1" });
    expect(run(script.replaceAll(join(dir, "run"), join(failing, "run")), broken.bin).status).not.toBe(0);
    expect(existsSync(join(failing, "run"))).toBe(false);
  });

  test("shellcheck passes the stage and reboot scripts", requires("shellcheck"), async () => {
    const rendered = await renderConfig(minimalConfig);
    for (const path of [STAGE_SCRIPT, REBOOT_SCRIPT]) {
      const result = spawnSync("shellcheck", ["-"], { input: fileOf(rendered, rootfs(path)).content, encoding: "utf8" });
      expect(result.stdout, path).toBe("");
      expect(result.status).toBe(0);
    }
  });

  test("the staging unit and timer pass systemd-analyze verify against a staged root", requires("systemd-analyze"), async () => {
    const root = stageRootfs(await renderConfig(minimalConfig));
    cpSync("/usr/lib/systemd/system", join(root, UNIT_DIR), { recursive: true, dereference: false, force: false });
    const verify = (unit: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile("systemd-analyze", ["verify", `--root=${root}`, `${UNIT_DIR}/${unit}`], (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }));
      });
    for (const unit of [STAGE_SERVICE, STAGE_TIMER]) expect(await verify(unit), unit).toEqual({ code: 0, stderr: "" });
    // Without its script the service fails verification (the staged root is what makes it pass).
    chmodSync(join(root, STAGE_SCRIPT), 0o644);
    expect((await verify(STAGE_SERVICE)).code).not.toBe(0);
  });
});

describe("kured", () => {
  test("reference: one node at a time in the window, the image's sentinel and reboot command, bounded drain, only Longhorn's alerts block", async () => {
    const rendered = await renderConfig(readFileSync(referenceConfigPath, "utf8"), true);
    const kured = release(rendered, "kured");
    const configuration = kured?.spec.values.configuration;
    expect(kured?.spec.chart.spec).toMatchObject({ chart: "kured", version: "6.1.0" });
    expect(configuration).toMatchObject({
      rebootSentinel: REBOOT_SENTINEL,
      rebootCommand: REBOOT_SCRIPT,
      startTime: "02:00",
      endTime: "05:00",
      rebootDays: ["su", "mo", "tu", "we", "th", "fr", "sa"],
      drainTimeout: "30m",
      alertFilterMatchOnly: true,
    });
    // The chart's defaults hold the lock to one node (concurrency 1, no lock TTL).
    expect(configuration.concurrency).toBeUndefined();
    expect(configuration.lockTtl).toBeUndefined();
    // The sentinel the stage script writes and the reboot command the image ships.
    expect(fileOf(rendered, rootfs(STAGE_SCRIPT)).content).toContain(`: > '${REBOOT_SENTINEL}'`);
    expect(fileOf(rendered, rootfs(REBOOT_SCRIPT)).mode).toBe(0o755);
    // tmpfiles makes the sentinel's folder: the chart mounts it as a hostPath of type Directory.
    expect(fileOf(rendered, rootfs(UPDATES_TMPFILES)).content).toContain(`d ${dirname(REBOOT_SENTINEL)} 0755 root root -\n`);
    // Prometheus's Service as kube-prometheus-stack names it.
    expect(configuration.prometheusUrl).toBe("http://kube-prometheus-stack-prometheus.monitoring.svc:9090");
    const filter = new RegExp(configuration.alertFilterRegexp);
    expect(configuration.alertFilterRegexp).toBe(blockingAlertFilter());
    const alertNames = objects(rendered)
      .filter((o) => o.kind === "PrometheusRule")
      .flatMap((o) => o.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert)));
    const blocking = alertNames.filter((name) => filter.test(name));
    expect(blocking.sort()).toEqual(["LonghornVolumeDegraded", "LonghornVolumeFaulted"]);
    for (const never of ["Watchdog", "InfoInhibitor", "NodeRebootPending", "LonghornVolumeDegradedX", "KubeNodeNotReady"]) expect(filter.test(never), never).toBe(false);
    // The alert on nodes waiting, scraped through the chart's ServiceMonitor.
    expect(kured?.spec.values.metrics).toEqual({ create: true });
    const pending = objects(rendered).find((o) => o.kind === "PrometheusRule" && o.metadata.name === "kured");
    expect(pending?.spec.groups[0].rules[0]).toMatchObject({ alert: "NodeRebootPending", expr: "max by (node) (kured_reboot_required) == 1", for: "26h" });
    expect(pending?.metadata.namespace).toBe(kured?.metadata.namespace);
    // Its Flux Kustomization waits for Prometheus's CRDs.
    expect(fileOf(rendered, "clusters/home/kured.yaml").content).toMatch(/dependsOn:\n\s+- name: monitoring\n/);
  });

  test("cluster.updates sets the window, days, time zone and drain timeout; without monitoring nothing asks Prometheus", async () => {
    const text = `${minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  timezone: Europe/Amsterdam\n  updates:\n    window: {days: [sa, su], start: \"23:30\", end: \"04:00\"}\n    drainTimeout: 1h\n")}monitoring:\n  enabled: false\n`;
    const rendered = await renderConfig(text);
    const kured = release(rendered, "kured");
    expect(kured?.spec.values.configuration).toEqual({
      rebootSentinel: REBOOT_SENTINEL,
      rebootCommand: REBOOT_SCRIPT,
      startTime: "23:30",
      endTime: "04:00",
      rebootDays: ["sa", "su"],
      timeZone: "Europe/Amsterdam",
      drainTimeout: "1h",
    });
    expect(kured?.spec.values.metrics).toBeUndefined();
    expect(objects(rendered).filter((o) => o.kind === "PrometheusRule")).toEqual([]);
    expect(fileOf(rendered, "clusters/home/kured.yaml").content).not.toContain("dependsOn");
  });

  test("cluster.updates is checked: times of day, known days, a bounded drain", () => {
    const bad = (updates: string) => () => parseConfig(minimalConfig.replace("  domain: home.arpa\n", `  domain: home.arpa\n  updates:\n${updates}`));
    expect(bad("    window: {start: \"25:00\"}\n")).toThrow(/cluster\.updates\.window\.start/);
    expect(bad("    window: {days: [monday]}\n")).toThrow(/cluster\.updates\.window\.days\[0\]/);
    expect(bad("    drainTimeout: 0m\n")).toThrow(/cluster\.updates\.drainTimeout/);
    expect(bad("    drainTimeout: forever\n")).toThrow(/cluster\.updates\.drainTimeout/);
    expect(bad("    window: {start: \"03:00\", end: \"03:00\"}\n")).toThrow(/cluster\.updates\.window\.end: the maintenance window starts and ends at the same time/);
    expect(parseConfig(minimalConfig).config.cluster.updates).toEqual({ window: { days: ["su", "mo", "tu", "we", "th", "fr", "sa"], start: "02:00", end: "05:00" }, drainTimeout: "30m" });
  });
});

describe("the reboot command kured runs on the host", () => {
  /** nsenter's stand-in runs the command after "--" (here, in the test's own namespaces). */
  const ENTER = 'while [ "$1" != "--" ]; do shift; done; shift; exec "$@"';

  async function rebootScript(dir: string): Promise<string> {
    const rendered = await renderConfig(minimalConfig);
    return fileOf(rendered, rootfs(REBOOT_SCRIPT)).content.replaceAll("/var/lib/rancher/k3s/server/db/etcd", join(dir, "etcd"));
  }

  test("a server with embedded etcd takes a snapshot, then reboots", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "etcd"));
    const { bin, log } = stubs({ systemctl: "exit 0", k3s: "exit 0", nsenter: ENTER });
    expect(run(await rebootScript(dir), bin).status).toBe(0);
    // The snapshot runs in the host's network namespace (k3s listens on the host's loopback).
    expect(readFileSync(log, "utf8")).toBe("systemctl is-active --quiet k3s.service\nnsenter --target 1 --net -- k3s etcd-snapshot save --name pre-reboot\nk3s etcd-snapshot save --name pre-reboot\nsystemctl reboot\n");
  });

  test("an agent and a single server (SQLite, no etcd folder) reboot without a snapshot", async () => {
    const dir = tempDir();
    const agent = stubs({ systemctl: '[ "$1" = is-active ] && exit 3; exit 0', k3s: "exit 0" });
    expect(run(await rebootScript(dir), agent.bin).status).toBe(0);
    expect(readFileSync(agent.log, "utf8")).toBe("systemctl is-active --quiet k3s.service\nsystemctl reboot\n");
    const single = stubs({ systemctl: "exit 0", k3s: "exit 0" });
    expect(run(await rebootScript(dir), single.bin).status).toBe(0);
    expect(readFileSync(single.log, "utf8")).not.toContain("etcd-snapshot");
  });

  test("a failed snapshot stops the reboot", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "etcd"));
    const { bin, log } = stubs({ systemctl: "exit 0", k3s: "exit 1", nsenter: ENTER });
    expect(run(await rebootScript(dir), bin).status).not.toBe(0);
    expect(readFileSync(log, "utf8")).not.toContain("systemctl reboot");
  });
});

describe("graceful node shutdown", () => {
  test("a KubeletConfiguration drop-in in k3s's kubelet.conf.d, within logind's inhibitor delay", async () => {
    const rendered = await renderConfig(minimalConfig);
    const kubelet = parse(fileOf(rendered, rootfs(KUBELET_DROP_IN_SOURCE)).content);
    expect(kubelet).toEqual({ apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", shutdownGracePeriod: `${SHUTDOWN_GRACE_SECONDS}s`, shutdownGracePeriodCriticalPods: "30s" });
    // The kubelet reads only *.conf files of the folder k3s passes as --config-dir.
    expect(KUBELET_DROP_IN).toMatch(/^\/var\/lib\/rancher\/k3s\/agent\/etc\/kubelet\.conf\.d\/[^/]+\.conf$/);
    const delay = Number(/^InhibitDelayMaxSec=(\d+)$/m.exec(fileOf(rendered, rootfs(LOGIND_DROP_IN)).content)?.[1]);
    expect(delay).toBeGreaterThan(SHUTDOWN_GRACE_SECONDS);
    // Nothing of it is written under /var by the image: tmpfiles places it at boot.
    expect(rendered.files.filter((f) => f.path.startsWith(`${ROOTFS}/var/`))).toEqual([]);
  });

  test("systemd-tmpfiles links the drop-in from the image into k3s's folder at boot", requires("systemd-tmpfiles"), async () => {
    const rendered = await renderConfig(minimalConfig);
    const conf = join(tempDir(), "homelab-updates.conf");
    writeFileSync(conf, fileOf(rendered, rootfs(UPDATES_TMPFILES)).content);
    const root = tempDir("homelab-tmpfiles-");
    execFileSync("systemd-tmpfiles", ["--create", `--root=${root}`, conf], { stdio: "pipe" });
    expect(lstatSync(join(root, KUBELET_DROP_IN)).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(root, KUBELET_DROP_IN))).toBe(KUBELET_DROP_IN_SOURCE);
    expect((statSync(join(root, dirname(KUBELET_DROP_IN))).mode & 0o777).toString(8)).toBe("700");
    expect(statSync(join(root, dirname(REBOOT_SENTINEL))).isDirectory()).toBe(true);
  });
});

describe("SELinux", () => {
  test.each(BASES)("base %s: k3s runs with selinux on servers and agents; Longhorn's iscsid module is installed in the image", async (base) => {
    const rendered = await renderConfig(threeServers(base));
    expect(parse(fileOf(rendered, K3S_DROP_IN).content)).toMatchObject({ selinux: true });
    expect(parse(fileOf(rendered, K3S_AGENT_DROP_IN).content)).toMatchObject({ selinux: true });
    // Longhorn's workaround rule (longhorn/longhorn deploy/prerequisite/longhorn-iscsi-selinux-workaround.yaml).
    expect(fileOf(rendered, rootfs(LONGHORN_SELINUX_MODULE)).content).toContain("(allow iscsid_t self (capability (dac_override)))\n");
    const last = mainRuns(rendered).find((text) => text.includes("semodule")) ?? "";
    expect(last).toContain(`semodule -i ${LONGHORN_SELINUX_MODULE};`);
    const containerfile = fileOf(rendered, CONTAINERFILE).content;
    expect(containerfile.indexOf("COPY image/rootfs/ /")).toBeLessThan(containerfile.indexOf("semodule -i"));
  });
});

describe("the package step on every base", () => {
  // Each base's /etc/os-release (the fields the step reads) and whether it ships nfs-utils-coreos.
  const OS_RELEASE: Record<string, { release: string; coreosNfs: boolean; repo: string }> = {
    "ghcr.io/ublue-os/base-main:44": { release: 'ID=fedora\nVERSION_ID=44\nVARIANT_ID=base-main\n', coreosNfs: false, repo: "coreos" },
    "quay.io/fedora/fedora-bootc:44": { release: 'ID=fedora\nVERSION_ID=44\n', coreosNfs: false, repo: "coreos" },
    "quay.io/centos-bootc/centos-bootc:stream10": { release: 'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="10"\n', coreosNfs: true, repo: "centos/9" },
    "quay.io/almalinuxorg/almalinux-bootc:10": { release: 'ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="10.0"\n', coreosNfs: true, repo: "centos/9" },
  };

  test.each(BASES)("base %s: Rancher's repository path that exists, and no package that conflicts with the base's", async (base) => {
    const { release: osRelease, coreosNfs, repo } = OS_RELEASE[base] ?? { release: "", coreosNfs: false, repo: "" };
    const rendered = await renderConfig(`${minimalConfig}image:\n  base: ${base}\n`);
    const packages = mainRuns(rendered)[0] ?? "";
    const dir = tempDir();
    mkdirSync(join(dir, "yum.repos.d"));
    writeFileSync(join(dir, "os-release"), osRelease);
    // The step run as written, with /etc and /var moved into a test folder and stand-ins for
    // dnf (recording what it installs) and rpm (answering whether nfs-utils-coreos is there).
    const script = packages.replaceAll("/etc/os-release", join(dir, "os-release")).replaceAll("/etc/yum.repos.d/", `${join(dir, "yum.repos.d")}/`).replaceAll(" /var/", ` ${dir}/var/`);
    const dnfName = base.includes("fedora") || base.includes("ublue") ? "dnf5" : "dnf";
    const { bin, log } = stubs({ [dnfName]: "exit 0", rpm: coreosNfs ? "exit 0" : "exit 1" });
    const result = run(script, bin);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(readFileSync(join(dir, "yum.repos.d", "rancher-k3s-common.repo"), "utf8")).toContain(`baseurl=https://rpm.rancher.io/k3s/stable/common/${repo}/noarch\n`);
    const install = readFileSync(log, "utf8").split("\n").find((line) => line.startsWith(`${dnfName} -y install`)) ?? "";
    expect(install.split(" ")).toEqual(expect.arrayContaining(["container-selinux", "k3s-selinux", "iscsi-initiator-utils", "cryptsetup", "firewalld", "git-core"]));
    expect(install.split(" ").includes("nfs-utils")).toBe(!coreosNfs);
  });

  test("an EL 8 base keeps Rancher's centos/8 path (k3s's installer does too)", async () => {
    const rendered = await renderConfig(`${minimalConfig}image:\n  base: quay.io/centos-bootc/centos-bootc:stream10\n`);
    const dir = tempDir();
    mkdirSync(join(dir, "yum.repos.d"));
    writeFileSync(join(dir, "os-release"), 'ID="rhel"\nVERSION_ID="8.10"\n');
    const script = (mainRuns(rendered)[0] ?? "").replaceAll("/etc/os-release", join(dir, "os-release")).replaceAll("/etc/yum.repos.d/", `${join(dir, "yum.repos.d")}/`).replaceAll(" /var/", ` ${dir}/var/`);
    expect(run(script, stubs({ dnf: "exit 0", rpm: "exit 1" }).bin).status).toBe(0);
    expect(readFileSync(join(dir, "yum.repos.d", "rancher-k3s-common.repo"), "utf8")).toContain("/common/centos/8/noarch\n");
  });
});

describe("several nodes", () => {
  test("three servers: embedded etcd exposed and scraped, kube-proxy scraped on every node, control plane on the servers", async () => {
    const rendered = await renderConfig(threeServers());
    expect(parse(fileOf(rendered, K3S_DROP_IN).content)).toMatchObject({ "etcd-expose-metrics": true, "kube-proxy-arg": ["metrics-bind-address=0.0.0.0"] });
    expect(parse(fileOf(rendered, K3S_AGENT_DROP_IN).content)).toEqual({ selinux: true, "kube-proxy-arg": ["metrics-bind-address=0.0.0.0"] });
    const values = release(rendered, "kube-prometheus-stack")?.spec.values;
    const servers = ["192.168.1.10", "192.168.1.11", "192.168.1.12"];
    expect(values.kubeEtcd).toEqual({ endpoints: servers });
    expect(values.kubeControllerManager).toEqual({ endpoints: servers });
    expect(values.kubeScheduler).toEqual({ endpoints: servers });
    expect(values.kubeProxy).toEqual({ endpoints: [...servers, "192.168.1.20", "fd00::21"] });
  });

  test("one server keeps its state in SQLite: no etcd to expose or scrape", async () => {
    for (const rendered of [await renderConfig(oneServer), await renderConfig(readFileSync(referenceConfigPath, "utf8"), true)]) {
      expect(parse(fileOf(rendered, K3S_DROP_IN).content)["etcd-expose-metrics"]).toBeUndefined();
      expect(release(rendered, "kube-prometheus-stack")?.spec.values.kubeEtcd).toEqual({ enabled: false });
    }
  });

  test("the firewall opens the metrics ports to the node addresses only, etcd's with several servers", async () => {
    const rules = async (text: string) => {
      const firewall = mainRuns(await renderConfig(text)).find((t) => t.includes("firewall-offline-cmd")) ?? "";
      return [...firewall.matchAll(/--add-rich-rule='([^']+)'/g)].map((m) => m[1]);
    };
    const parsed = (rule: string | undefined) => /^rule family="(ipv4|ipv6)" source address="([^"]+)" port port="(\d+)" protocol="tcp" accept$/.exec(rule ?? "")?.slice(1);
    const three = (await rules(threeServers())).map(parsed);
    expect(three.every(Boolean)).toBe(true);
    const addresses = ["192.168.1.10", "192.168.1.11", "192.168.1.12", "192.168.1.20", "fd00::21"];
    const ports = [...METRICS_PORTS, ETCD_METRICS_PORT].map(String);
    expect(ports).toEqual(["9100", "10249", "10257", "10259", "2381"]);
    expect(three).toEqual(addresses.flatMap((address) => ports.map((port) => [address.includes(":") ? "ipv6" : "ipv4", address, port])));
    const single = (await rules(oneServer)).map(parsed);
    expect(single).toEqual(["9100", "10249", "10257", "10259"].map((port) => ["ipv4", "192.168.1.10", port]));
    expect(await rules(`${oneServer}monitoring:\n  enabled: false\n`)).toEqual([]);
    // The ports stay closed to everyone else: nothing opens them zone-wide.
    const firewall = mainRuns(await renderConfig(threeServers())).find((t) => t.includes("firewall-offline-cmd")) ?? "";
    for (const port of ports) expect(firewall).not.toContain(`--add-port=${port}/`);
  });

  test("every RUN of a multi-node image passes shellcheck", requires("shellcheck"), async () => {
    for (const text of BASES.map((base) => threeServers(base))) {
      for (const script of mainRuns(await renderConfig(text))) {
        const result = spawnSync("shellcheck", ["--shell=sh", "--exclude=SC1091", "-"], { input: script, encoding: "utf8" });
        expect(result.stdout, script).toBe("");
        expect(result.status).toBe(0);
      }
    }
  });

  test("Home Assistant on the host network trusts the node addresses as proxies; on the pod network only the pods", async () => {
    const trusted = async (text: string) => release(await renderConfig(text), "home-assistant")?.spec.values.configuration.trusted_proxies;
    expect(await trusted(threeServers())).toEqual(["10.42.0.0/16", "192.168.1.10", "192.168.1.11", "192.168.1.12", "192.168.1.20", "fd00::21"]);
    expect(await trusted(threeServers().replace("    hostNetwork: true\n", "    hostNetwork: false\n"))).toEqual(["10.42.0.0/16"]);
  });

  test("config warnings: exactly two servers, and Home Assistant's configuration.yaml written only on first start", () => {
    const warnings = (text: string) => parseConfig(text).warnings.map((w) => w.message);
    const two = nodes("    - {name: s1, address: 192.168.1.10}\n    - {name: s2, address: 192.168.1.11}\n");
    expect(warnings(two).some((m) => m.includes("two servers survive no failure"))).toBe(true);
    for (const text of [oneServer, threeServers(), minimalConfig]) expect(warnings(text).some((m) => m.includes("two servers"))).toBe(false);
    const ha = warnings(threeServers()).find((m) => m.includes("trusted_proxies"));
    expect(ha).toContain("only on its first start");
    const withoutAddress = warnings(threeServers().replace("    - {name: a1, role: agent, address: 192.168.1.20}\n", "    - {name: a1, role: agent}\n"));
    expect(withoutAddress.find((m) => m.includes("trusted_proxies"))).toContain("a1 has none");
    expect(warnings(oneServer).some((m) => m.includes("trusted_proxies"))).toBe(false);
  });
});
