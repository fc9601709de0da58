// Clear errors for what a user can hand the command line: config files that are not files,
// output paths that lead where homelab must not write, store files that are not what homelab
// wrote, unreachable or odd Gitea APIs. Each case is exit 1 with a message naming the path and
// no stack trace, and nothing is written (found by a hunt through every command's inputs).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { once } from "node:events";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { sha256 } from "../generator/hash.ts";
import { describe, expect, test } from "vitest";
import { minimalConfig, tempDir, tempRepo } from "./support/render.ts";
import { requires } from "./support/requires.ts";
import { writeToFifo } from "./support/fifo.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");

/** Runs the CLI (asynchronously, so a server in this process can answer it). */
async function homelab(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const child = spawn(process.execPath, [cli, ...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.input ?? "");
  const [status] = (await once(child, "close")) as [number];
  return { status, stdout, stderr };
}

/** Exit 1, the message, and no sign of a crash. */
async function expectUserError(args: string[], message: string, options: Parameters<typeof homelab>[1] = {}) {
  const run = await homelab(args, options);
  expect(run.stderr, args.join(" ")).toContain(message);
  expect(run.stderr, args.join(" ")).not.toMatch(/internal error|\n\s+at /);
  expect(run.status, `${args.join(" ")}\n${run.stderr}`).toBe(1);
}

/** A repository whose tree was generated once. */
function generatedRepo(): { dir: string; configPath: string } {
  const repo = tempRepo(minimalConfig);
  execFileSync(process.execPath, [cli, "generate", "--config", repo.configPath], { stdio: "ignore" });
  return repo;
}

describe("the config file", () => {
  test("missing, in a missing folder, a folder, an endless device: said before anything else, at the path", async () => {
    const dir = tempDir();
    await expectUserError(["generate", "--config", join(dir, "nope", "homelab.yaml")], "nope/homelab.yaml: cannot read the config: no such file");
    // Its folder is "/": the output-folder check must not speak first.
    await expectUserError(["generate", "--config", "/no-such-homelab.yaml"], "/no-such-homelab.yaml: cannot read the config: no such file");
    await expectUserError(["generate", "--check", "--config", dir], "cannot read the config: it is a folder");
    await expectUserError(["generate", "--config", "/dev/zero", "--out", dir], "/dev/zero: cannot read the config: it is larger than a config can be (16 MiB)");
  });

  test("a config that is a named pipe is read once, and the run completes", requires("mkfifo"), async () => {
    const dir = tempDir();
    const fifo = join(dir, "homelab.yaml");
    execFileSync("mkfifo", [fifo]);
    const [{ status, stderr }] = await Promise.all([homelab(["generate", "--config", fifo, "--out", join(dir, "tree")]), writeToFifo(fifo, minimalConfig)]);
    expect(stderr).not.toMatch(/internal error|\n\s+at /);
    expect(status, stderr).toBe(0);
    expect(existsSync(join(dir, "tree", "clusters"))).toBe(true);
  });

  test("a second document and nesting too deep to read are said in the user's words", async () => {
    const { dir, configPath } = tempRepo(`${minimalConfig}---\nextra: 1\n`);
    await expectUserError(["generate", "--config", configPath], "a second YAML document starts here, and homelab.yaml is one document");
    writeFileSync(configPath, `a: ${"[".repeat(1500)}${"]".repeat(1500)}\n`);
    await expectUserError(["generate", "--config", configPath], "nests too deeply to read\n  hint: a config nests a few levels");
    expect(readdirSync(dir)).toEqual(["homelab.yaml"]);
  });

  test("git's merge-conflict markers are named as such, at their line", async () => {
    const { configPath } = tempRepo(minimalConfig.replace("  domain: home.arpa\n", "<<<<<<< HEAD\n  domain: home.arpa\n=======\n  domain: lab.example\n>>>>>>> theirs\n"));
    await expectUserError(["generate", "--config", configPath], "homelab.yaml:3:1: holds git's merge-conflict markers\n  hint: finish the merge");
  });

  test("an empty value for a flag is refused, not read as the current folder", async () => {
    const { configPath } = tempRepo(minimalConfig);
    await expectUserError(["generate", "--config", configPath, "--out", ""], "--out needs a value, and it was given an empty one");
    await expectUserError(["node-config", "hearth", "--config", configPath, "--out", ""], "--out needs a value");
  });
});

describe("output paths", () => {
  test("generate --out refuses any .git folder, the repository's state, and kernel file systems", async () => {
    const { dir, configPath } = generatedRepo();
    const other = tempDir();
    execFileSync("git", ["init", "-q", other]);
    await expectUserError(["generate", "--config", configPath, "--out", join(other, ".git", "tree")], "is inside a .git folder");
    for (const folder of ["secrets", "certs", ".homelab"]) {
      await expectUserError(["generate", "--config", configPath, "--out", join(dir, folder, "tree")], `is inside the repository's ${folder}/`);
    }
    await expectUserError(["generate", "--config", configPath, "--out", "/proc/self"], "is inside a kernel file system");
    // /dev/shm is memory, and an ordinary folder.
    if (existsSync("/dev/shm")) {
      const shm = join("/dev/shm", `homelab-test-${process.pid}`);
      try {
        expect((await homelab(["generate", "--config", configPath, "--out", shm])).status).toBe(0);
      } finally {
        rmSync(shm, { recursive: true, force: true });
      }
    }
    expect(existsSync(join(other, ".git", "tree"))).toBe(false);
    expect(existsSync(join(dir, "secrets", "tree"))).toBe(false);
  });

  test("a file where the repository's .homelab folder goes is named, not a crash", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    writeFileSync(join(dir, ".homelab"), "");
    await expectUserError(["generate", "--config", configPath], ".homelab: already exists as something homelab cannot use here");
  });

  test("schema --out: a folder, a full device, a file in the path", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "file"), "");
    await expectUserError(["schema", "--out", dir], `--out ${dir} is a folder: give the path of the schema file`);
    await expectUserError(["schema", "--out", "/dev/full"], "/dev/full: no space left on the device");
    await expectUserError(["schema", "--out", join(dir, "file", "schema.json")], "already exists as something homelab cannot use here");
  });

  test("node-config --out: the root or a file", async () => {
    const { configPath } = generatedRepo();
    const file = join(tempDir(), "file");
    writeFileSync(file, "");
    await expectUserError(["node-config", "home", "--config", configPath, "--out", "/"], "/ is the file system's root");
    await expectUserError(["node-config", "home", "--config", configPath, "--out", file], `${file} is a file, not a folder`);
  });

  test("diff --output is never the config or inside .git", async () => {
    const { dir, configPath } = generatedRepo();
    for (const args of [["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "tree"]]) execFileSync("git", args, { cwd: dir });
    await expectUserError(["diff", "--config", configPath, "--base", "HEAD", "--output", configPath], "that is the config itself");
    await expectUserError(["diff", "--config", configPath, "--base", "HEAD", "--output", join(dir, ".git", "HEAD")], "that is inside a .git folder");
    expect(execFileSync("git", ["status", "--porcelain"], { cwd: dir, encoding: "utf8" })).toBe("");
  });
});

describe("the secret store", () => {
  test("a dangling link, a file where the folder goes: named, with how to restore", async () => {
    const { dir, configPath } = generatedRepo();
    symlinkSync(join(dir, "nothing"), join(dir, "secrets", "extra.sops.yaml"));
    await expectUserError(["secrets", "verify", "--config", configPath], "secrets/extra.sops.yaml: is a symbolic link to nothing\n  hint: restore it from git");
    rmSync(join(dir, "secrets"), { recursive: true });
    writeFileSync(join(dir, "secrets"), "");
    await expectUserError(["secrets", "verify", "--config", configPath], "secrets: a file stands where homelab needs a folder");
  });

  test("a named pipe in the store is refused, not read forever", requires("mkfifo"), async () => {
    const { dir, configPath } = generatedRepo();
    execFileSync("mkfifo", [join(dir, "secrets", "extra.sops.yaml")]);
    await expectUserError(["secrets", "verify", "--config", configPath], "secrets/extra.sops.yaml: is not a regular file");
  });

  test("a value of up to 1 MiB (a Secret's limit) is stored and read back; a larger one is refused", async () => {
    const { dir, configPath } = tempRepo(`${minimalConfig}`);
    const env = { ...process.env };
    const big = "a".repeat(1024 * 1024);
    // Any supplied name the config uses would do; the k3s join token is one homelab generates, so --force.
    const set = spawnSync(process.execPath, [cli, "secrets", "set", "k3s.token", "--force", "--yes", "--config", configPath], { input: big, encoding: "utf8", env });
    expect(set.stderr).toBe("");
    expect(set.status).toBe(0);
    const verify = await homelab(["secrets", "verify", "--config", configPath]);
    expect([verify.status, verify.stdout]).toEqual([0, "homelab: your age key reads all 1 values in secrets/\n"]);
    await expectUserError(["secrets", "set", "k3s.token", "--force", "--yes", "--config", configPath], "larger than a Kubernetes Secret can hold (1 MiB): nothing was saved", { input: `${big}b` });
    expect(readdirSync(join(dir, "secrets"))).toEqual(["k3s.token.sops.yaml"]);
  });
});

test("a CA record that is not one, or a folder in its place, is named with how to restore it", async () => {
  const { dir, configPath } = generatedRepo();
  for (const text of ["[]\n", '{"certificates":5}\n', '{"certificates":{},"keys":{"a":1}}\n']) {
    writeFileSync(join(dir, ".homelab", "internal-ca.json"), text);
    await expectUserError(["generate", "--config", configPath], ".homelab/internal-ca.json: is not the record homelab writes (certificates and keys, each a map of fingerprints)\n  hint: restore it from git");
  }
  rmSync(join(dir, ".homelab", "internal-ca.json"));
  mkdirSync(join(dir, ".homelab", "internal-ca.json"));
  await expectUserError(["generate", "--config", configPath], ".homelab/internal-ca.json: is a folder where homelab writes a file");
});

test("secrets: a folder as standard input, and set's flags given to list or verify, are said as such", async () => {
  const { dir, configPath } = generatedRepo();
  const folder = openSync(dir, "r");
  const fromFolder = spawnSync(process.execPath, [cli, "secrets", "set", "k3s.token", "--force", "--yes", "--config", configPath], { stdio: [folder, "pipe", "pipe"], encoding: "utf8" });
  closeSync(folder);
  expect([fromFolder.status, fromFolder.stderr]).toEqual([1, "homelab: standard input is a folder: pipe the value in (printf %s VALUE | …), or run on a terminal to type it\n"]);
  await expectUserError(["secrets", "verify", "--force", "--config", configPath], "--force belongs to `secrets set`, not `secrets verify`");
  await expectUserError(["secrets", "list", "--force", "--yes", "--config", configPath], "--force and --yes belong to `secrets set`, not `secrets list`");
});

test("the same problem found in many files is said once", async () => {
  const { dir, configPath } = generatedRepo();
  rmSync(join(dir, "apps", "gitea"), { recursive: true });
  symlinkSync(tempDir(), join(dir, "apps", "gitea"));
  const run = await homelab(["generate", "--config", configPath]);
  expect(run.status).toBe(1);
  expect(run.stderr.split("\n").filter((line) => line.includes("apps/gitea: is a symbolic link"))).toHaveLength(1);
});

test("diff in a shallow clone says to fetch the base", async () => {
  const { dir, configPath } = generatedRepo();
  const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", ...args], { cwd, stdio: "ignore" });
  git(dir, "init", "-q");
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "one");
  writeFileSync(join(dir, "note.txt"), "two\n");
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "two");
  const clone = join(tempDir(), "clone");
  git(dir, "clone", "-q", "--depth", "1", `file://${dir}`, clone);
  await expectUserError(["diff", "--config", join(clone, relative(dir, configPath)), "--base", "HEAD~1"], 'the base "HEAD~1" does not exist in this repository — it is a shallow clone: fetch the base first');
});

describe("records in .homelab/ that homelab did not write", () => {
  const journalPath = (dir: string) => join(dir, ".homelab", "transaction.json");

  test("a journal of an interrupted run that is malformed, or names paths outside the folder, is refused and nothing outside changes", async () => {
    const { dir, configPath } = generatedRepo();
    const outside = join(tempDir(), "victim");
    writeFileSync(outside, "mine\n");
    chmodSync(outside, 0o600);
    writeFileSync(`${outside}.homelab-tmp`, "theirs\n");
    const escape = relative(dir, outside);
    const journals = [
      { state: "committed", writes: [] },
      { state: "committed", writes: [1, null], chmods: [], removals: [] },
      { state: "committed", writes: [], chmods: [{ path: escape, mode: 0o777 }], removals: [] },
      { state: "committed", writes: [], chmods: [], removals: [{ path: escape, sha256: sha256("mine\n") }] },
      { state: "committed", writes: [{ path: escape, mode: 0o644 }], chmods: [], removals: [] },
      { state: "committed", writes: [{ path: outside, mode: 0o644 }], chmods: [], removals: [] },
    ];
    for (const journal of journals) {
      writeFileSync(journalPath(dir), JSON.stringify(journal));
      await expectUserError(["generate", "--config", configPath], "the record of an interrupted run is unreadable");
    }
    expect(readFileSync(outside, "utf8")).toBe("mine\n");
    expect(statSync(outside).mode & 0o777).toBe(0o600);
    expect(existsSync(`${outside}.homelab-tmp`)).toBe(true);
  });

  test("a committed journal whose file was deleted since is finished without it", async () => {
    const { dir, configPath } = generatedRepo();
    writeFileSync(journalPath(dir), JSON.stringify({ state: "committed", writes: [], chmods: [{ path: "apps/deleted-since.yaml", mode: 0o644 }], removals: [] }));
    const run = await homelab(["generate", "--config", configPath]);
    expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(journalPath(dir))).toBe(false);
  });

  test("manifest entries that name no file homelab writes (empty, '.', a folder, an endless name) are ignored", async () => {
    const { dir, configPath } = generatedRepo();
    const manifestFile = join(dir, ".homelab", "generated.json");
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { files: Record<string, string> };
    for (const path of ["", ".", "apps", `${"n".repeat(300)}.yaml`, "../outside.yaml", ".git/config"]) manifest.files[path] = sha256("x");
    writeFileSync(manifestFile, JSON.stringify(manifest));
    // --check finds only the edited manifest stale; generate writes it anew; then all is current.
    const before = await homelab(["generate", "--check", "--config", configPath]);
    expect([before.status, before.stderr.split("\n").filter((line) => !/warning|hint/.test(line))[0]]).toEqual([1, "stale:   .homelab/generated.json"]);
    for (const args of [["generate", "--config", configPath], ["generate", "--check", "--config", configPath]]) {
      const run = await homelab(args);
      expect(run.stderr, args.join(" ")).not.toMatch(/internal error|\n\s+at |move the folder away|too long/);
      expect(run.status, run.stderr).toBe(0);
    }
    expect(existsSync(join(dir, "apps", "gitea"))).toBe(true);
  });
});

describe("pr-comment", () => {
  const token = { ...process.env, GITEA_TOKEN: "test-token" };
  const base = (file: string, api: string) => ["pr-comment", "--file", file, "--api", api, "--repository", "me/homelab", "--pr", "7"];

  test("arguments that cannot work are refused before any request", async () => {
    const report = join(tempDir(), "report.md");
    writeFileSync(report, "# diff\n");
    await expectUserError(base(report, "not a url"), "--api is not an http(s) URL", { env: token });
    const withPassword = await homelab(base(report, "https://me:SECRET-CANARY@git.example/api/v1"), { env: token });
    expect(withPassword.stderr).toContain("--api carries a user or password: put the token in GITEA_TOKEN instead");
    expect(withPassword.stderr).not.toContain("SECRET-CANARY");
    await expectUserError(base(report, "ftp://git.example"), "is not an http(s) URL", { env: token });
    await expectUserError(["pr-comment", "--file", report, "--api", "http://127.0.0.1:1", "--repository", "noslash", "--pr", "7"], '--repository "noslash" is not OWNER/NAME', { env: token });
    await expectUserError(base(report, "http://127.0.0.1:1"), "GITEA_TOKEN holds a line break", { env: { ...process.env, GITEA_TOKEN: "a\nb" } });
    await expectUserError(base(join(tempDir(), "missing.md"), "http://127.0.0.1:1"), "missing.md: no such file", { env: token });
    await expectUserError(base(tempDir(), "http://127.0.0.1:1"), "is a folder, not a report", { env: token });
  });

  test("an API that does not answer, or answers what Gitea would not, is said as such", async () => {
    const report = join(tempDir(), "report.md");
    writeFileSync(report, "# diff\n");
    let answer = "";
    const server = createServer((_request, response) => response.end(answer)).listen(0, "127.0.0.1");
    await once(server, "listening");
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
    try {
      answer = "{not json";
      await expectUserError(base(report, api), "Gitea's API answered with something that is not JSON", { env: token });
      answer = '{"a":1}';
      await expectUserError(base(report, api), "comments: expected a list of comments", { env: token });
    } finally {
      server.close();
      await once(server, "close");
    }
    // Nothing listens there any more.
    await expectUserError(base(report, api), "cannot reach Gitea's API: connect ECONNREFUSED", { env: token });
  });
});
