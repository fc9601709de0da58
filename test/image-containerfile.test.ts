// image/Containerfile, parsed with dockerfile-ast and held to the image's rules: build args
// declared where they are used, the download-and-verify stage, `bootc container lint` last,
// nothing written under /var or /usr/local, nothing secret, the embedded repository where the
// bootstrap reads it, and every RUN and the fetch script shellcheck-clean. For several bases.
import { spawnSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import { DockerfileParser, type Dockerfile, type Instruction } from "dockerfile-ast";
import { catalog } from "../generator/catalog.ts";
import { CONTAINERFILE, CONTAINERIGNORE, FETCH_SCRIPT, FETCH_STAGE, MODULES_LOAD, nvidiaAkmodsImage, SYSCTL } from "../generator/image/containerfile.ts";
import { AGE_KEY, BUILD_BUNDLE, HELM_BIN, K3S_BIN, REPO_BUNDLE, SOPS_BIN } from "../generator/image/paths.ts";
import type { GeneratedFile } from "../generator/writer.ts";
import { configErrorOf, minimalConfig, referenceConfigPath, tempRepo } from "./support/render.ts";
import { requires } from "./support/requires.ts";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { render } from "../generator/generate.ts";

const BASES = [
  "ghcr.io/ublue-os/base-main:44",
  "quay.io/fedora/fedora-bootc:44",
  "quay.io/centos-bootc/centos-bootc:stream10",
  "quay.io/almalinuxorg/almalinux-bootc:10",
];

const withImage = (base: string, extra = "") => `${minimalConfig}image:\n  base: ${base}\n${extra}`;
const nvidia = "gpu:\n  nvidia: true\n";

/** The image files for a config; a CA file it names under certs/corp/ is made for it (the build copies it). */
async function imageOf(configText: string) {
  const { dir, configPath } = tempRepo(configText, { demoState: true });
  for (const path of configText.match(/certs\/corp\/[^\s]+/g) ?? []) {
    mkdirSync(join(dir, dirname(path)), { recursive: true });
    writeFileSync(join(dir, path), "-----BEGIN CERTIFICATE-----\nnot a real certificate\n-----END CERTIFICATE-----\n");
  }
  const { files } = await render({ configPath });
  const file = (path: string) => {
    const found = files.find((candidate: GeneratedFile) => candidate.path === path);
    if (!found) throw new Error(`${path} was not generated`);
    return found.content;
  };
  const text = file(CONTAINERFILE);
  return { text, dockerfile: DockerfileParser.parse(text), file };
}

interface Stage {
  readonly from: Instruction & { getImage(): string | null; getBuildStage(): string | null };
  readonly name: string;
  /** The instructions after FROM, up to the next FROM. */
  readonly body: Instruction[];
}

function stages(dockerfile: Dockerfile): Stage[] {
  const result: { from: Stage["from"]; name: string; body: Instruction[] }[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === "FROM") {
      const from = instruction as Stage["from"];
      result.push({ from, name: from.getBuildStage() ?? "", body: [] });
    } else {
      result.at(-1)?.body.push(instruction);
    }
  }
  return result;
}

const stage = (dockerfile: Dockerfile, name: string) => {
  const found = stages(dockerfile).find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
};
const keyword = (instruction: Instruction) => instruction.getKeyword();
const args = (instruction: Instruction) => instruction.getArguments().map((argument) => argument.getValue());
/** ARG NAME[=value] → [NAME, value | undefined]. */
const argOf = (instruction: Instruction): [string, string | undefined] => {
  const [name = "", ...value] = (instruction.getArgumentsContent() ?? "").split("=");
  return [name, value.length > 0 ? value.join("=") : undefined];
};
/** COPY [--from=stage] source… destination. */
const copyOf = (instruction: Instruction) => {
  const values = args(instruction).filter((value) => !value.startsWith("--"));
  const from = (instruction as Instruction & { getFromFlag(): { getValue(): string | null } | null }).getFromFlag()?.getValue() ?? undefined;
  return { from, sources: values.slice(0, -1), destination: values.at(-1) ?? "" };
};
const runs = (instructions: readonly Instruction[]) => instructions.filter((instruction) => keyword(instruction) === "RUN");
const runText = (instruction: Instruction) => instruction.getRawArgumentsContent() ?? "";
const varsIn = (text: string) => [...text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] ?? "");

/** Variants' stages: the ones `npm run image:build` targets. */
const finalStages = (nvidiaVariant: boolean) => (nvidiaVariant ? ["homelab", "nvidia"] : ["homelab"]);

describe("image/Containerfile", () => {
  test.each(BASES)("base %s: ARG BASE_IMAGE before FROM and declared again in every stage built on it", async (base) => {
    const { dockerfile } = await imageOf(withImage(base, nvidia));
    expect(dockerfile.getInitialARGs().map(argOf)).toContainEqual(["BASE_IMAGE", base]);
    const global = new Set(dockerfile.getInitialARGs().map((arg) => argOf(arg)[0]));
    const all = stages(dockerfile);
    expect(all.filter((s) => s.from.getImage() === "${BASE_IMAGE}").map((s) => s.name)).toEqual([FETCH_STAGE, "homelab"]);
    for (const { from, name, body } of all) {
      // FROM may only use global build args; every other instruction sees only the stage's own.
      for (const variable of varsIn(from.getImage() ?? "")) expect(global, `FROM of ${name}`).toContain(variable);
      const declared = new Set(body.filter((i) => keyword(i) === "ARG").map((i) => argOf(i)[0]));
      if (from.getImage() === "${BASE_IMAGE}") expect(declared, name).toContain("BASE_IMAGE");
      for (const instruction of body.filter((i) => !["RUN", "ARG"].includes(keyword(i)))) {
        for (const variable of varsIn(instruction.getArgumentsContent() ?? "")) {
          expect(declared, `${name}: ${instruction.getTextContent()}`).toContain(variable);
        }
      }
    }
  });

  test("the fetch stage downloads k3s, sops and helm for TARGETARCH with pinned versions and verifies them", async () => {
    const k3s = "v1.35.9+k3s2";
    const { dockerfile, file } = await imageOf(minimalConfig.replace("  domain: home.arpa\n", `  domain: home.arpa\n  k3s:\n    version: ${k3s}\n`));
    const fetch = stage(dockerfile, FETCH_STAGE);
    const declared = Object.fromEntries(fetch.body.filter((i) => keyword(i) === "ARG").map(argOf));
    expect(declared).toMatchObject({
      TARGETARCH: undefined,
      K3S_VERSION: k3s,
      K3S_RELEASE_URL: "https://github.com/k3s-io/k3s/releases/download",
      SOPS_VERSION: catalog.sops.version,
      SOPS_RELEASE_URL: "https://github.com/getsops/sops/releases/download",
      HELM_VERSION: catalog.helm.version,
      HELM_RELEASE_URL: "https://get.helm.sh",
    });
    // The script comes in from the repository and runs; its checksum logic is built for real in
    // test/image-build.test.ts.
    expect(fetch.body.filter((i) => keyword(i) === "COPY").map(copyOf)).toEqual([{ from: undefined, sources: [FETCH_SCRIPT], destination: "/fetch-tools.sh" }]);
    expect(runs(fetch.body).map(runText)).toEqual(["sh /fetch-tools.sh /out"]);
    const script = file(FETCH_SCRIPT);
    expect(script).toMatch(/sha256sum-\$TARGETARCH\.txt/);
    expect(script).toMatch(/sops-v\$SOPS_VERSION\.checksums\.txt/);
    expect(script).toMatch(/\$helm_asset\.sha256sum/);
    expect(script).not.toMatch(/\|\s*(ba)?sh\b/);
    // The main image takes the verified binaries from that stage, nothing else from it.
    const fromFetch = stages(dockerfile)
      .flatMap((s) => s.body)
      .filter((i) => keyword(i) === "COPY")
      .map(copyOf)
      .filter((copy) => copy.from === FETCH_STAGE);
    expect(fromFetch).toEqual([
      { from: FETCH_STAGE, sources: ["/out/k3s"], destination: K3S_BIN },
      { from: FETCH_STAGE, sources: ["/out/sops"], destination: SOPS_BIN },
      { from: FETCH_STAGE, sources: ["/out/helm"], destination: HELM_BIN },
    ]);
  });

  test.each([false, true])("nvidia %s: every image a build targets ends with RUN bootc container lint", async (withNvidia) => {
    const { dockerfile } = await imageOf(withImage(BASES[0] ?? "", withNvidia ? nvidia : ""));
    const targets = stages(dockerfile).filter((s) => finalStages(withNvidia).includes(s.name));
    expect(targets.map((s) => s.name)).toEqual(finalStages(withNvidia));
    for (const { name, body } of targets) {
      const last = body.at(-1);
      expect(last && [keyword(last), runText(last)], name).toEqual(["RUN", "bootc container lint"]);
    }
    // The NVIDIA image builds on the main one, so it carries everything the main image has.
    if (withNvidia) expect(stage(dockerfile, "nvidia").from.getImage()).toBe("homelab");
  });

  test.each(BASES)("base %s: the NVIDIA variant takes the kmod built for that base's kernel", async (base) => {
    const { dockerfile } = await imageOf(withImage(base, nvidia));
    const akmods = dockerfile.getInitialARGs().map(argOf).find(([name]) => name === "NVIDIA_AKMODS_IMAGE");
    const expected = base.includes("centos") || base.includes("almalinux") ? "centos-10" : "main-44";
    expect(akmods).toEqual(["NVIDIA_AKMODS_IMAGE", `ghcr.io/ublue-os/akmods-nvidia-open:${expected}`]);
    const install = runText(runs(stage(dockerfile, "nvidia").body)[0] as Instruction);
    // The build refuses a kmod for another kernel instead of making an image without a driver.
    expect(install).toMatch(/kernel-core \| grep -qxF "\$\{KERNEL_VERSION\}"/);
    expect(install).toMatch(/nvidia-container-toolkit;/);
  });

  test("the akmods image follows the base's release, digests and registries with ports included", () => {
    expect(nvidiaAkmodsImage("registry.home.arpa:5000/os/fedora-bootc:43@sha256:abc")).toBe("ghcr.io/ublue-os/akmods-nvidia-open:main-43");
    expect(nvidiaAkmodsImage("quay.io/centos-bootc/centos-bootc:stream9")).toBe("ghcr.io/ublue-os/akmods-nvidia-open:centos-9");
    // No release in the reference: the catalog's base release.
    expect(nvidiaAkmodsImage("registry.home.arpa:5000/os/base")).toBe(`ghcr.io/ublue-os/akmods-nvidia-open:main-${/:(\d+)/.exec(catalog.baseImage)?.[1]}`);
  });

  test("nothing is written under /var or /usr/local", async () => {
    const { dockerfile } = await imageOf(withImage(BASES[0] ?? "", nvidia));
    const forbidden = /(^|[\s='"])\/(var|usr\/local)(\/|\b)/;
    for (const instruction of dockerfile.getInstructions()) {
      const text = instruction.getTextContent();
      if (["COPY", "ADD"].includes(keyword(instruction))) expect(copyOf(instruction).destination, text).not.toMatch(/^\/(var|usr\/local)(\/|$)/);
      if (["WORKDIR", "VOLUME"].includes(keyword(instruction))) expect(args(instruction).join(" "), text).not.toMatch(forbidden);
      if (keyword(instruction) !== "RUN") continue;
      for (const flag of args(instruction).filter((value) => value.startsWith("--mount="))) expect(flag).toMatch(/target=\/tmp\//);
      // A RUN may only remove what the package manager left under /var.
      for (const command of runText(instruction).split(/;|&&|\|\||\n/)) {
        if (forbidden.test(command)) expect(command.replace(/\\$/, "").trim(), text).toMatch(/^rm -rf( \/var\/[^\s;]+)+$/);
      }
    }
  });

  test("nothing secret: no ARG/ENV that looks like one, no secret file copied in, no age key", async () => {
    const reference = readFileSync(referenceConfigPath, "utf8");
    const extra = reference.replace(/\n {2}caCertificates:[^\n]*\n(\s+- [^\n]*\n)+/, "\n  caCertificates:\n    - certs/home-root-ca.crt\n    - certs/corp/proxy-ca.pem\n");
    expect(extra).toContain("certs/corp/proxy-ca.pem");
    for (const configText of [withImage(BASES[0] ?? "", nvidia), extra]) {
      const { dockerfile, text } = await imageOf(configText);
      for (const instruction of dockerfile.getInstructions()) {
        if (["ARG", "ENV"].includes(keyword(instruction))) {
          expect(instruction.getArgumentsContent(), instruction.getTextContent()).not.toMatch(/secret|token|passw|key|credential|auth/i);
        }
        if (["COPY", "ADD"].includes(keyword(instruction))) {
          for (const source of copyOf(instruction).sources) {
            expect(source, instruction.getTextContent()).not.toMatch(/(^|\/)secrets(\/|$)|\.sops\.ya?ml$|\.agekey$|(^|\/)age\.key$|(^|\/)keys\.txt$|^\.homelab|^\.?$/);
          }
        }
      }
      expect(text).not.toContain(AGE_KEY);
    }
  });

  test("the embedded repository lands where the bootstrap reads it", async () => {
    const { dockerfile } = await imageOf(withImage(BASES[0] ?? ""));
    const main = stage(dockerfile, "homelab");
    const bundle = main.body.filter((i) => keyword(i) === "COPY").map(copyOf).filter((copy) => copy.destination === REPO_BUNDLE);
    expect(bundle).toEqual([{ from: undefined, sources: [BUILD_BUNDLE], destination: REPO_BUNDLE }]);
  });

  test("the CA layer: the internal root and every image.caCertificates file in the trust store", async () => {
    const { dockerfile, file } = await imageOf(withImage(BASES[2] ?? "", "  caCertificates:\n    - certs/corp/proxy-ca.pem\n    - certs/home-root-ca.crt\n"));
    const main = stage(dockerfile, "homelab");
    const anchors = main.body.filter((i) => keyword(i) === "COPY").map(copyOf).filter((copy) => copy.destination.startsWith("/etc/pki/ca-trust/source/anchors/"));
    expect(anchors.map((copy) => [copy.sources, copy.destination])).toEqual([
      [["certs/home-root-ca.crt"], "/etc/pki/ca-trust/source/anchors/home-root-ca.crt"],
      [["certs/corp/proxy-ca.pem"], "/etc/pki/ca-trust/source/anchors/proxy-ca.pem"],
    ]);
    const lastAnchor = main.body.findLastIndex((i) => keyword(i) === "COPY" && copyOf(i).destination.startsWith("/etc/pki/ca-trust/"));
    expect(main.body.findIndex((i) => keyword(i) === "RUN" && runText(i) === "update-ca-trust")).toBeGreaterThan(lastAnchor);
    // The build context holds exactly what the Containerfile copies from it.
    const copied = stages(dockerfile).flatMap((s) => s.body).filter((i) => keyword(i) === "COPY").map(copyOf).filter((copy) => !copy.from).flatMap((copy) => copy.sources);
    const included = file(CONTAINERIGNORE).split("\n").filter((line) => line.startsWith("!")).map((line) => line.slice(1));
    expect(copied.map((source) => source.replace(/\/$/, "")).sort()).toEqual(included.sort());
    expect(file(CONTAINERIGNORE).split("\n").filter((line) => line && !line.startsWith("#") && !line.startsWith("!"))).toEqual(["*"]);
  });

  test("image.caCertificates: one file name each, inside the repository, and present", async () => {
    expect(configErrorOf(withImage(BASES[0] ?? "", "  caCertificates:\n    - certs/a/ca.pem\n    - certs/b/ca.pem\n"))).toMatch(
      /homelab\.yaml:\d+:\d+: image\.caCertificates\[1\]: has the same file name as image\.caCertificates\[0\] \(ca\.pem\)/,
    );
    expect(configErrorOf(withImage(BASES[0] ?? "", "  caCertificates:\n    - /etc/ssl/corp.pem\n"))).toContain("image.caCertificates[0]: expected a path inside the repository");
    await expect(render({ configPath: tempRepo(withImage(BASES[0] ?? "", "  caCertificates:\n    - certs/missing.pem\n")).configPath })).rejects.toThrow(
      /image\.caCertificates\[0\]: certs\/missing\.pem does not exist in the repository/,
    );
  });

  test("host prerequisites: packages, k3s's SELinux policy from Rancher, the units, kernel modules and sysctls", async () => {
    const { dockerfile, file } = await imageOf(withImage(BASES[3] ?? ""));
    const main = stage(dockerfile, "homelab");
    const [packages = "", ...others] = runs(main.body).map(runText);
    const enabling = others.find((text) => text.includes("systemctl enable")) ?? "";
    for (const name of ["iscsi-initiator-utils", "nfs-utils", "cryptsetup", "container-selinux", "k3s-selinux", "firewalld", "git-core"]) expect(packages).toContain(` ${name}`);
    // dnf5 (Fedora) or dnf (EL), chosen when the image is built.
    expect(packages).toMatch(/command -v dnf5 .* dnf=dnf5; else dnf=dnf; fi/);
    expect(packages).toContain("baseurl=https://rpm.rancher.io/k3s/stable/common/${selinux_repo}/noarch");
    expect(packages).toContain("gpgkey=https://rpm.rancher.io/public.key");
    // EL 9 and later take centos/9 (Rancher has no centos/10); test/updates.test.ts runs the step per base.
    expect(packages).toMatch(/selinux_repo="centos\/\$\{VERSION_ID%%\.\*\}"; else selinux_repo=centos\/9; fi/);
    expect(packages).toMatch(/selinux_repo=coreos/);
    expect(packages).not.toMatch(/curl[^;]*\|\s*(ba)?sh/);
    // The units come from image/rootfs; k3s's own stay off until node-config picks one.
    const enable = /systemctl enable ([^;\n\\]+)/.exec(enabling)?.[1]?.trim().split(/\s+/);
    expect(enable).toEqual(expect.arrayContaining(["iscsid.service", "homelab-bootstrap.service", "firewalld.service"]));
    expect(enable).not.toContain("k3s.service");
    expect(enable).not.toContain("k3s-agent.service");
    const rootfs = main.body.findIndex((i) => keyword(i) === "COPY" && copyOf(i).sources[0] === "image/rootfs/");
    expect(rootfs).toBeGreaterThan(-1);
    expect(main.body.findIndex((i) => keyword(i) === "RUN" && runText(i).includes("systemctl enable"))).toBeGreaterThan(rootfs);
    expect(file(MODULES_LOAD).split("\n").filter((line) => line && !line.startsWith("#"))).toEqual(["br_netfilter", "overlay", "iscsi_tcp", "dm_crypt"]);
    expect(file(SYSCTL)).toMatch(/^net\.ipv4\.ip_forward = 1$/m);
    expect(file(SYSCTL)).toMatch(/^net\.bridge\.bridge-nf-call-iptables = 1$/m);
  });

  test("firewalld: pods and services trusted, the ports k3s and its load balancer serve open", async () => {
    const portsOf = async (configText: string) => {
      const { dockerfile } = await imageOf(configText);
      const firewall = runs(stage(dockerfile, "homelab").body).map(runText).find((text) => text.includes("firewall-offline-cmd")) ?? "";
      return {
        trusted: [...firewall.matchAll(/--zone=trusted((?: --add-source=\S+)+)/g)].flatMap((m) => [...(m[1] ?? "").matchAll(/--add-source=(\S+?);?(?=\s|$)/g)].map((s) => s[1])),
        ports: [...firewall.matchAll(/--add-port=([^\s;]+)/g)].map((m) => m[1]),
      };
    };
    const reference = await portsOf(readFileSync(referenceConfigPath, "utf8"));
    expect(reference.trusted).toEqual(["10.42.0.0/16", "10.43.0.0/16"]);
    // API, kubelet, flannel VXLAN; Traefik, Gitea's SSH and Minecraft through ServiceLB.
    expect(reference.ports).toEqual(["6443/tcp", "10250/tcp", "8472/udp", "80/tcp", "443/tcp", "2222/tcp", "25565/tcp"]);
    const twoServers = `${minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes:\n    - {name: a, address: 192.168.1.10}\n    - {name: b, address: 192.168.1.11}\n")}apps:\n  game:\n    chart: {repository: https://charts.example.org/, name: game, version: 1.0.0}\n    expose: {udp: 19132}\n`;
    expect((await portsOf(twoServers)).ports).toEqual(["6443/tcp", "10250/tcp", "8472/udp", "2379-2380/tcp", "80/tcp", "443/tcp", "2222/tcp", "19132/udp"]);
    const hostNetwork = `${minimalConfig}apps:\n  homeAssistant:\n    hostNetwork: true\n`;
    expect((await portsOf(hostNetwork)).ports).toEqual(["6443/tcp", "10250/tcp", "8472/udp", "80/tcp", "443/tcp", "2222/tcp", "8123/tcp", "5353/udp", "1900/udp"]);
  });

  test("every RUN and the fetch script pass shellcheck", requires("shellcheck"), async () => {
    const { dockerfile, file } = await imageOf(withImage(BASES[0] ?? "", nvidia));
    const shellcheck = (script: string) => spawnSync("shellcheck", ["--shell=sh", "--exclude=SC1091", "-"], { input: script, encoding: "utf8" });
    // SC1091: the sourced files (/etc/os-release, the akmods variables) exist only in the build.
    for (const run of runs(dockerfile.getInstructions())) {
      const result = shellcheck(runText(run));
      expect(result.error).toBeUndefined();
      expect(result.stdout, runText(run)).toBe("");
      expect(result.status).toBe(0);
    }
    const script = spawnSync("shellcheck", ["-"], { input: file(FETCH_SCRIPT), encoding: "utf8" });
    expect(script.stdout).toBe("");
    expect(script.status).toBe(0);
    // shellcheck catches what it should here (the test can fail).
    expect(shellcheck("echo $1").status).not.toBe(0);
  });

  test("the same config renders the same bytes", async () => {
    const text = withImage(BASES[1] ?? "", nvidia);
    expect((await imageOf(text)).text).toBe((await imageOf(text)).text);
  });
});
