// The image build for real, as far as it can run here: the download-and-verify stage built by
// buildah (chroot isolation, vfs storage in a temporary root) from a local busybox-static base,
// against a release server on 127.0.0.1; the build context the generated .containerignore
// lets in; and `homelab image-build` with real git (the bundle) and a recording builder, since
// the full image needs the real bootc bases and the network.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { catalog } from "../generator/catalog.ts";
import { generate, render } from "../generator/generate.ts";
import { CONTAINERFILE, CONTAINERIGNORE, FETCH_SCRIPT, FETCH_STAGE } from "../generator/image/containerfile.ts";
import { BUILD_BUNDLE } from "../generator/image/paths.ts";
import { minimalConfig, referenceConfigPath, tempDir, tempRepo } from "./support/render.ts";
import { requires } from "./support/requires.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
// The real builds; `homelab image-build` below runs with recording stand-ins instead.
const withBuildah = requires("buildah", "/bin/busybox");
const BASE = "localhost/homelab-test-busybox:latest";

// ---------------------------------------------------------------------------------------------
// buildah in a storage root of its own, removed afterwards.

const storage = tempDir("homelab-buildah-");
const buildahEnv = { ...process.env, BUILDAH_ISOLATION: "chroot" };

function buildah(args: string[]): SpawnSyncReturns<string> {
  const result = spawnSync("buildah", ["--root", join(storage, "root"), "--runroot", join(storage, "run"), "--storage-driver", "vfs", ...args], {
    encoding: "utf8",
    env: buildahEnv,
  });
  if (result.error) throw result.error;
  return result;
}

/** For builds: the release server answers from this process, so it must not be blocked. */
function buildahAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("buildah", ["--root", join(storage, "root"), "--runroot", join(storage, "run"), "--storage-driver", "vfs", ...args], { env: buildahEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

function buildahOk(args: string[]): string {
  const result = buildah(args);
  if (result.status !== 0) throw new Error(`buildah ${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
}

/** The files an image holds at `paths`, read through a mount of a working container. */
function readFromImage(image: string, paths: string[]): Record<string, Buffer> {
  const container = buildahOk(["from", "--pull=never", image]);
  try {
    const mount = buildahOk(["mount", container]);
    return Object.fromEntries(paths.map((path) => [path, readFileSync(join(mount, path))]));
  } finally {
    buildah(["umount", container]);
    buildah(["rm", container]);
  }
}

/** A base image of busybox-static (Debian's /bin/busybox) and its applets: sh, wget, sha256sum, tar. */
function makeBusyboxBase(): void {
  const rootfs = tempDir("homelab-busybox-");
  for (const dir of ["bin", "tmp", "etc"]) mkdirSync(join(rootfs, dir));
  chmodSync(join(rootfs, "tmp"), 0o1777);
  cpSync("/bin/busybox", join(rootfs, "bin", "busybox"));
  const applets = spawnSync("/bin/busybox", ["--list"], { encoding: "utf8" }).stdout.split("\n").filter((name) => name && name !== "busybox");
  for (const applet of applets) symlinkSync("busybox", join(rootfs, "bin", applet));
  const container = buildahOk(["from", "scratch"]);
  buildahOk(["copy", container, `${rootfs}/`, "/"]);
  buildahOk(["config", "--env", "PATH=/bin", container]);
  buildahOk(["commit", "--rm", container, BASE]);
}

// ---------------------------------------------------------------------------------------------
// A release server: k3s, sops and helm artifacts with their checksum files, as upstream lays
// them out, each test free to tamper with what it serves.

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const K3S = catalog.k3s.version;
const SOPS = catalog.sops.version;
const HELM = catalog.helm.version;

function helmTarball(arch: string, binary: string): Buffer {
  const dir = tempDir("homelab-helm-");
  mkdirSync(join(dir, `linux-${arch}`));
  writeFileSync(join(dir, `linux-${arch}`, "helm"), binary);
  writeFileSync(join(dir, `linux-${arch}`, "LICENSE"), "Apache-2.0\n");
  return spawnSync("tar", ["-czf", "-", "-C", dir, `linux-${arch}`], { maxBuffer: 1024 * 1024 }).stdout;
}

/** Upstream's files for both architectures; the binaries are small stand-ins. */
function releaseFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const arch of ["amd64", "arm64"]) {
    const k3sAsset = arch === "amd64" ? "k3s" : "k3s-arm64";
    const k3s = Buffer.from(`k3s ${K3S} ${arch}\n`);
    const sops = Buffer.from(`sops ${SOPS} ${arch}\n`);
    const helm = helmTarball(arch, `helm ${HELM} ${arch}\n`);
    const sopsAsset = `sops-v${SOPS}.linux.${arch}`;
    const helmAsset = `helm-v${HELM}-linux-${arch}.tar.gz`;
    files.set(`/k3s/${K3S}/${k3sAsset}`, k3s);
    // The real list holds more files (airgap images); the k3s line is one of several.
    files.set(`/k3s/${K3S}/sha256sum-${arch}.txt`, Buffer.from(`${sha256("images")}  k3s-airgap-images-${arch}.tar\n${sha256(k3s)}  ${k3sAsset}\n`));
    files.set(`/sops/v${SOPS}/${sopsAsset}`, sops);
    files.set(`/helm/${helmAsset}`, helm);
    files.set(`/helm/${helmAsset}.sha256sum`, Buffer.from(`${sha256(helm)}  ${helmAsset}\n`));
  }
  const sopsSums = ["amd64", "arm64"].map((arch) => `${sha256(files.get(`/sops/v${SOPS}/sops-v${SOPS}.linux.${arch}`) ?? "")}  sops-v${SOPS}.linux.${arch}`);
  files.set(`/sops/v${SOPS}/sops-v${SOPS}.checksums.txt`, Buffer.from(`${sha256("darwin")}  sops-v${SOPS}.darwin\n${sopsSums.join("\n")}\n`));
  return files;
}

let served = releaseFiles();
const requested: string[] = [];
let server: Server;
let releaseUrl = "";

// ---------------------------------------------------------------------------------------------

/** The generated build inputs of the reference config, in a folder laid out like the repository. */
let context = "";

beforeAll(async () => {
  // Everything this sets up serves the buildah groups only.
  if (withBuildah.skip) return;
  makeBusyboxBase();
  server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    requested.push(path);
    const body = served.get(path);
    response.writeHead(body ? 200 : 404, { "content-type": "application/octet-stream" });
    response.end(body ?? "not found\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  releaseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { files } = await render({ configPath: referenceConfigPath });
  context = tempDir("homelab-context-");
  for (const file of files) {
    mkdirSync(dirname(join(context, file.path)), { recursive: true });
    writeFileSync(join(context, file.path), file.content);
  }
});

afterAll(async () => {
  if (withBuildah.skip) return;
  await new Promise((resolve) => server?.close(resolve));
  buildah(["rm", "--all"]);
  buildah(["rmi", "--all", "--force"]);
  rmSync(storage, { recursive: true, force: true });
});

function buildFetch(tag: string, extra: string[] = []) {
  requested.length = 0;
  return buildahAsync([
    "build",
    "--isolation",
    "chroot",
    "--pull=never",
    "--target",
    FETCH_STAGE,
    "-f",
    join(context, CONTAINERFILE),
    "--build-arg",
    `BASE_IMAGE=${BASE}`,
    "--build-arg",
    `K3S_RELEASE_URL=${releaseUrl}/k3s`,
    "--build-arg",
    `SOPS_RELEASE_URL=${releaseUrl}/sops`,
    "--build-arg",
    `HELM_RELEASE_URL=${releaseUrl}/helm`,
    ...extra,
    "-t",
    tag,
    context,
  ]);
}

const tools = ["/out/k3s", "/out/sops", "/out/helm"];

describe("the download-and-verify stage, built by buildah", withBuildah, () => {
  test("good artifacts: the build passes and the stage holds the verified binaries", async () => {
    served = releaseFiles();
    const result = await buildFetch("localhost/homelab-test-fetch:good");
    expect(result.status, result.stderr).toBe(0);
    expect(requested).toEqual([
      `/k3s/${K3S}/sha256sum-amd64.txt`,
      `/k3s/${K3S}/k3s`,
      `/sops/v${SOPS}/sops-v${SOPS}.checksums.txt`,
      `/sops/v${SOPS}/sops-v${SOPS}.linux.amd64`,
      `/helm/helm-v${HELM}-linux-amd64.tar.gz.sha256sum`,
      `/helm/helm-v${HELM}-linux-amd64.tar.gz`,
    ]);
    const out = readFromImage("localhost/homelab-test-fetch:good", tools);
    expect(Object.fromEntries(Object.entries(out).map(([path, data]) => [path, data.toString()]))).toEqual({
      "/out/k3s": `k3s ${K3S} amd64\n`,
      "/out/sops": `sops ${SOPS} amd64\n`,
      "/out/helm": `helm ${HELM} amd64\n`,
    });
  });

  test("arm64 takes k3s-arm64 and the arm64 checksum list", async () => {
    served = releaseFiles();
    const result = await buildFetch("localhost/homelab-test-fetch:arm64", ["--build-arg", "TARGETARCH=arm64"]);
    expect(result.status, result.stderr).toBe(0);
    expect(requested).toContain(`/k3s/${K3S}/k3s-arm64`);
    expect(requested).toContain(`/k3s/${K3S}/sha256sum-arm64.txt`);
    const out = readFromImage("localhost/homelab-test-fetch:arm64", tools);
    expect(out["/out/k3s"]?.toString()).toBe(`k3s ${K3S} arm64\n`);
    expect(out["/out/helm"]?.toString()).toBe(`helm ${HELM} arm64\n`);
  });

  test.each([
    ["a tampered k3s binary", (files: Map<string, Buffer>) => files.set(`/k3s/${K3S}/k3s`, Buffer.from("k3s with a backdoor\n")), /k3s: checksum mismatch/],
    [
      "a tampered sops checksum",
      (files: Map<string, Buffer>) => {
        const path = `/sops/v${SOPS}/sops-v${SOPS}.checksums.txt`;
        const text = files.get(path)?.toString() ?? "";
        const line = text.split("\n").find((candidate) => candidate.endsWith(".linux.amd64")) ?? "";
        files.set(path, Buffer.from(text.replace(line, `${"0".repeat(64)}${line.slice(64)}`)));
      },
      /sops-v[^:]+\.linux\.amd64: checksum mismatch/,
    ],
    ["a tampered helm tarball", (files: Map<string, Buffer>) => files.set(`/helm/helm-v${HELM}-linux-amd64.tar.gz`, helmTarball("amd64", "evil\n")), /helm-v.*: checksum mismatch/],
    [
      "a checksum list without the binary",
      (files: Map<string, Buffer>) => files.set(`/k3s/${K3S}/sha256sum-amd64.txt`, Buffer.from(`${sha256("x")}  k3s-arm64\n`)),
      /k3s is not listed/,
    ],
    ["a missing download", (files: Map<string, Buffer>) => files.delete(`/sops/v${SOPS}/sops-v${SOPS}.linux.amd64`), /download failed/],
  ])("%s fails the build", async (name, tamper, message) => {
    served = releaseFiles();
    tamper(served);
    const tag = `localhost/homelab-test-fetch:${name.replaceAll(" ", "-")}`;
    const result = await buildFetch(tag);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(message);
    expect(buildah(["images", "--quiet", tag]).status).not.toBe(0);
  });
});

describe("the build context", withBuildah, () => {
  test(".containerignore lets in what the Containerfile copies and nothing else", async () => {
    // The repository as a user has it: the tree, secrets, node_modules, git, build leftovers.
    const repo = tempDir("homelab-repo-");
    cpSync(context, repo, { recursive: true });
    for (const folder of ["secrets", "certs"]) cpSync(join(dirname(referenceConfigPath), folder), join(repo, folder), { recursive: true });
    const extra = ["node_modules/pkg/index.js", ".git/HEAD", "image/build/old.bundle", "homelab.yaml", "test/fixtures/demo-age.key", "keys.txt"];
    for (const path of [...extra, BUILD_BUNDLE]) {
      mkdirSync(dirname(join(repo, path)), { recursive: true });
      writeFileSync(join(repo, path), `${path}\n`);
    }
    const containerfile = join(tempDir("homelab-listing-"), "Containerfile");
    writeFileSync(containerfile, `FROM ${BASE}\nCOPY . /context/\nRUN cd /context && find . -type f | sort > /files.txt\n`);
    const built = await buildahAsync(["build", "--isolation", "chroot", "--pull=never", "-f", containerfile, "-t", "localhost/homelab-test-context", repo]);
    expect(built.status, built.stderr).toBe(0);
    const listed = readFromImage("localhost/homelab-test-context", ["/files.txt"])["/files.txt"]?.toString().trim().split("\n").map((line) => line.slice(2)) ?? [];
    const rootfs = (dir: string): string[] =>
      readdirSync(join(repo, dir), { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? rootfs(join(dir, entry.name)) : [join(dir, entry.name)]));
    const caFiles = readFileSync(join(repo, CONTAINERIGNORE), "utf8").match(/^!certs\/.*$/gm)?.map((line) => line.slice(1)) ?? [];
    expect(caFiles).toEqual(["certs/home-root-ca.crt"]);
    expect(listed.sort()).toEqual([FETCH_SCRIPT, BUILD_BUNDLE, ...caFiles, ...rootfs("image/rootfs")].sort());
  });
});

// ---------------------------------------------------------------------------------------------
// `homelab image-build`: real git, and a builder that records what it is asked to do (the real
// build of the full image needs the bootc bases and the network).

const RECORDING_BUILDER = `#!/bin/sh
# Records each call; a build must find the bundle already made.
echo "\${0##*/} $*" >> "$BUILDER_LOG"
if [ "$1" = build ] && [ ! -s ${BUILD_BUNDLE} ]; then echo "no bundle" >&2; exit 3; fi
if [ -n "\${BUILDER_FAILS:-}" ]; then exit 1; fi
exit 0
`;

function fakeBins(builders: string[]): string {
  const bin = tempDir("homelab-bin-");
  // Only git comes from the machine: its real buildah and podman stay out of reach.
  const git = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).stdout.trim();
  symlinkSync(realpathSync(git), join(bin, "git"));
  for (const builder of builders) {
    writeFileSync(join(bin, builder), RECORDING_BUILDER);
    chmodSync(join(bin, builder), 0o755);
  }
  return bin;
}

const gitIn = (dir: string, args: string[]) => {
  const result = spawnSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.org", ...args], { cwd: dir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
};

/** A repository with the generated tree of `config`, committed twice (so there is history). */
async function committedRepo(config: string): Promise<string> {
  const { dir, configPath } = tempRepo(config, { demoState: true });
  await generate({ configPath });
  gitIn(dir, ["init", "--quiet", "-b", "main"]);
  gitIn(dir, ["add", "."]);
  gitIn(dir, ["commit", "--quiet", "-m", "tree"]);
  writeFileSync(join(dir, "README.md"), "my homelab\n");
  gitIn(dir, ["add", "README.md"]);
  gitIn(dir, ["commit", "--quiet", "-m", "readme"]);
  return dir;
}

function imageBuild(dir: string, args: string[], bin: string, env: Record<string, string> = {}) {
  const log = join(tempDir("homelab-log-"), "builder.log");
  const result = spawnSync(process.execPath, [cli, "image-build", "--config", join(dir, "homelab.yaml"), ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, PATH: bin, BUILDER_LOG: log, ...env },
  });
  const calls = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];
  return { ...result, calls };
}

describe("homelab image-build", () => {
  const withNvidia = `${minimalConfig}gpu:\n  nvidia: true\n`;

  test("bundles the repository with its history, then builds every variant tagged with the commit and latest", async () => {
    const dir = await committedRepo(withNvidia);
    const commit = gitIn(dir, ["rev-parse", "--short", "HEAD"]);
    const run = imageBuild(dir, [], fakeBins(["buildah", "podman"]));
    expect(run.status, run.stderr).toBe(0);
    // image.registry's default: Gitea's registry; the NVIDIA image in a repository of its own.
    const repository = "git.home.arpa/homelab/os";
    expect(run.calls).toEqual([
      `buildah build --layers -f ${CONTAINERFILE} --target homelab -t ${repository}:${commit} -t ${repository}:latest .`,
      `buildah build --layers -f ${CONTAINERFILE} --target nvidia -t ${repository}-nvidia:${commit} -t ${repository}-nvidia:latest .`,
    ]);
    expect(run.stderr).not.toMatch(/warning/);
    // A real bundle of every commit, which clones into the same history.
    const bundle = join(dir, BUILD_BUNDLE);
    expect(spawnSync("git", ["bundle", "verify", bundle], { cwd: dir, encoding: "utf8" }).status).toBe(0);
    const clone = join(tempDir("homelab-clone-"), "repo");
    gitIn(dirname(clone), ["clone", "--quiet", bundle, clone]);
    expect(gitIn(clone, ["log", "--format=%s"]).split("\n")).toEqual(["readme", "tree"]);
    expect(gitIn(clone, ["rev-parse", "HEAD"])).toBe(gitIn(dir, ["rev-parse", "HEAD"]));
    // The bundle is a build product, never committed.
    expect(gitIn(dir, ["status", "--porcelain"])).toBe("");
  });

  test("--push pushes every tag; --variant and --tool choose", async () => {
    const dir = await committedRepo(`${withNvidia}image:\n  registry: registry.example.org:5000/lab/os\n`);
    const commit = gitIn(dir, ["rev-parse", "--short", "HEAD"]);
    const run = imageBuild(dir, ["--push", "--tool", "podman", "--variant", "nvidia"], fakeBins(["buildah", "podman"]));
    expect(run.status, run.stderr).toBe(0);
    const repository = "registry.example.org:5000/lab/os-nvidia";
    expect(run.calls).toEqual([
      `podman build --layers -f ${CONTAINERFILE} --target nvidia -t ${repository}:${commit} -t ${repository}:latest .`,
      `podman push ${repository}:${commit}`,
      `podman push ${repository}:latest`,
    ]);
    const unknown = imageBuild(dir, ["--variant", "arm"], fakeBins(["buildah"]));
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no image variant "arm": this config builds homelab, nvidia/);
    expect(unknown.calls).toEqual([]);
  });

  test("a dirty tree builds with a warning; a failed build exits 1", async () => {
    const dir = await committedRepo(minimalConfig);
    writeFileSync(join(dir, "README.md"), "changed\n");
    const run = imageBuild(dir, [], fakeBins(["podman"]));
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/warning: the working tree has uncommitted changes/);
    expect(run.calls.map((call) => call.split(" ").slice(0, 2).join(" "))).toEqual(["podman build"]);
    const failed = imageBuild(dir, ["--push"], fakeBins(["podman"]), { BUILDER_FAILS: "1" });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/building the homelab image failed/);
    expect(failed.calls).toHaveLength(1);
  });

  test("without buildah or podman, or outside a repository, a clear error and nothing built", async () => {
    const dir = await committedRepo(minimalConfig);
    const none = imageBuild(dir, [], fakeBins([]));
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/needs buildah or podman, and neither is on PATH/);
    expect(existsSync(join(dir, BUILD_BUNDLE))).toBe(false);
    const missingTool = imageBuild(dir, ["--tool", "podman"], fakeBins(["buildah"]));
    expect(missingTool.stderr).toMatch(/podman is not installed/);
    rmSync(join(dir, ".git"), { recursive: true, force: true });
    const notRepo = imageBuild(dir, [], fakeBins(["buildah"]));
    expect(notRepo.status).toBe(1);
    expect(notRepo.stderr).toMatch(/git rev-parse --show-toplevel failed/);
    expect(notRepo.calls).toEqual([]);
  });
});
