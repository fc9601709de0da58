// The safety contract of `homelab init`: over the demo it removes only the demo's own files and
// refuses a demo someone changed; the private key never goes into a git work tree or a keys file
// others can read; and a refusal, an error or a kill part-way leaves the repository as it was.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { identityToRecipient } from "age-encryption";
import { parse } from "yaml";
import { describe, expect, test } from "vitest";
import { check } from "../generator/generate.ts";
import { init, DEMO_RECIPIENT } from "../generator/init.ts";
import { decryptDocument } from "../generator/secrets/sops.ts";
import { MANIFEST_PATH } from "../generator/writer.ts";
import { tempDir } from "./support/render.ts";

const root = join(import.meta.dirname, "..");
const cli = join(root, "bin", "homelab.js");
const lab = { name: "lab", domain: "lab.example", owner: "me", interactive: false } as const;

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", "-C", dir, ...args], { encoding: "utf8" });
}

/**
 * A clone of the demo as shipped: every file git tracks here (the generator with its demo config,
 * store, CA and tree), committed. Copied from the work tree, so the files under test are the ones
 * a clone of this commit would hold.
 */
function demoClone(): string {
  const dir = tempDir("homelab-demo-");
  for (const path of git(root, "ls-files", "-z").split("\0").filter((p) => p !== "")) {
    if (existsSync(join(root, path))) cpSync(join(root, path), join(dir, path));
  }
  git(dir, "init", "-q");
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "demo");
  return dir;
}

/** A home folder with no age key and no SOPS_AGE_KEY_FILE: init's key goes to its sops keys file. */
function homeEnv(): NodeJS.ProcessEnv & { XDG_CONFIG_HOME: string } {
  const home = tempDir("homelab-home-");
  return { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, ".config") };
}

const keysFileOf = (env: { XDG_CONFIG_HOME: string }) => join(env.XDG_CONFIG_HOME, "sops", "age", "keys.txt");

/** Every file under `dir` (outside .git) with its bytes. */
function snapshot(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
      .filter((path) => !path.startsWith(".git/"))
      .map((path) => [path, readFileSync(join(dir, path), "latin1")]),
  );
}

function identitiesIn(keysFile: string): string[] {
  return readFileSync(keysFile, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("AGE-SECRET-KEY-"));
}

describe("init over the demo", () => {
  test("replaces the demo's own files; a user's untracked and changed files stay", async () => {
    const dir = demoClone();
    const demoManifest = JSON.parse(readFileSync(join(dir, MANIFEST_PATH), "utf8")) as { files: Record<string, string> };
    const minecraftFile = Object.keys(demoManifest.files).find((path) => path.startsWith("apps/minecraft/"))!;
    const mine = {
      "apps/minecraft/world-notes.txt": "my notes\n",
      "clusters/home/my-extra.yaml": "kind: Mine\n",
      "secrets/my-own.txt": "not the demo's\n",
      "infrastructure/my-component/values.yaml": "a: 1\n",
      [minecraftFile]: "changed by me\n",
    };
    for (const [path, content] of Object.entries(mine)) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    // The run cache an earlier `npm run generate` left (git ignores it) is no reason to refuse.
    writeFileSync(join(dir, ".homelab/cache.json"), "{}\n");
    const env = homeEnv();
    await init({ dir, ...lab, env });

    for (const [path, content] of Object.entries(mine)) expect(readFileSync(join(dir, path), "utf8"), path).toBe(content);
    // The demo's own files are gone: its tree, its store and its CA.
    expect(existsSync(join(dir, "clusters/home/kustomization.yaml"))).toBe(false);
    expect(existsSync(join(dir, "secrets/longhorn.backup.accessKeyId.sops.yaml"))).toBe(false);
    expect(existsSync(join(dir, "certs/home-root-ca.crt"))).toBe(false);
    const config = parse(readFileSync(join(dir, "homelab.yaml"), "utf8"));
    expect(config.secrets.ageRecipients).toEqual([await identityToRecipient(identitiesIn(keysFileOf(env))[0]!)]);
    // The new setup is whole: generate --check finds nothing to do.
    const { result } = await check({ configPath: join(dir, "homelab.yaml"), env });
    expect([...result.stale, ...result.missing, ...result.extra]).toEqual([]);
  });

  test("refuses a demo whose homelab.yaml has uncommitted edits, and changes nothing", async () => {
    const dir = demoClone();
    writeFileSync(join(dir, "homelab.yaml"), `${readFileSync(join(dir, "homelab.yaml"), "utf8")}# my note\n`);
    const before = snapshot(dir);
    const env = homeEnv();
    await expect(init({ dir, ...lab, env })).rejects.toThrow(/differs from the committed demo/);
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(keysFileOf(env))).toBe(false);
  });

  test("refuses a demo copied without git: nothing tells the demo from someone's edits", async () => {
    const dir = demoClone();
    const copy = tempDir("homelab-copy-");
    cpSync(dir, copy, { recursive: true, filter: (path) => !path.includes(`${dir}/.git`) });
    const before = snapshot(copy);
    await expect(init({ dir: copy, ...lab, env: homeEnv() })).rejects.toThrow(/not a git clone/);
    expect(snapshot(copy)).toEqual(before);
  });
});

describe("where init puts the private key", () => {
  test("never into a git work tree: SOPS_AGE_KEY_FILE naming a tracked file there is refused", async () => {
    const elsewhere = tempDir("homelab-other-repo-");
    writeFileSync(join(elsewhere, "test-age.key"), "# a test key\n");
    git(elsewhere, "init", "-q");
    git(elsewhere, "add", "-A");
    git(elsewhere, "commit", "-q", "-m", "key");
    const dir = demoClone();
    const before = snapshot(dir);
    const env = { ...homeEnv(), SOPS_AGE_KEY_FILE: join(elsewhere, "test-age.key") };
    const refusal = init({ dir, ...lab, env });
    await expect(refusal).rejects.toThrow(`is inside the git work tree ${elsewhere}`);
    await expect(refusal).rejects.toThrow(`unset SOPS_AGE_KEY_FILE so the key goes to ${keysFileOf(env)}`);
    expect(readFileSync(join(elsewhere, "test-age.key"), "utf8")).toBe("# a test key\n");
    expect(snapshot(dir)).toEqual(before);
  });

  test("never through a symbolic link into a work tree, nor into the repository itself", async () => {
    const env = homeEnv();
    const dotfiles = tempDir("homelab-dotfiles-");
    git(dotfiles, "init", "-q");
    mkdirSync(join(env.XDG_CONFIG_HOME, "sops"), { recursive: true });
    symlinkSync(dotfiles, join(env.XDG_CONFIG_HOME, "sops", "age"));
    const dir = tempDir("homelab-init-");
    await expect(init({ dir, ...lab, env })).rejects.toThrow(`is inside the git work tree ${dotfiles}`);
    expect(readdirSync(dotfiles)).toEqual([".git"]);

    // A fresh folder is no git repository yet, but will be.
    await expect(init({ dir, ...lab, env: { ...homeEnv(), SOPS_AGE_KEY_FILE: join(dir, "keys.txt") } })).rejects.toThrow("is inside the repository");
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a keys file others can read gets no key until it is chmod 600; a new one is 0600 in a 0700 folder", async () => {
    const env = homeEnv();
    const keysFile = keysFileOf(env);
    mkdirSync(join(keysFile, ".."), { recursive: true });
    writeFileSync(join(keysFile), "# my older key\nAGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", { mode: 0o644 });
    chmodSync(keysFile, 0o644);
    const before = readFileSync(keysFile, "utf8");
    const dir = tempDir("homelab-init-");
    await expect(init({ dir, ...lab, env })).rejects.toThrow(`run \`chmod 600 ${keysFile}\``);
    expect(readFileSync(keysFile, "utf8")).toBe(before);
    expect(readdirSync(dir)).toEqual([]);

    chmodSync(keysFile, 0o600);
    await init({ dir, ...lab, env });
    const after = readFileSync(keysFile, "utf8");
    // Appended on a line of its own, the older key kept as it was.
    expect(after.startsWith(`${before}\n# homelab lab.lab.example`)).toBe(true);
    expect(identitiesIn(keysFile)).toHaveLength(2);

    const fresh = homeEnv();
    await init({ dir: tempDir("homelab-init-"), ...lab, env: fresh });
    expect(statSync(keysFileOf(fresh)).mode & 0o777).toBe(0o600);
    expect(statSync(join(keysFileOf(fresh), "..")).mode & 0o777).toBe(0o700);
  });
});

describe("all or nothing", () => {
  test("a file in the way of the new setup is found before anything is written: no key, no change", async () => {
    const dir = demoClone();
    writeFileSync(join(dir, "certs/lab-root-ca.crt"), "my own certificate\n");
    const before = snapshot(dir);
    const env = homeEnv();
    await expect(init({ dir, ...lab, env })).rejects.toThrow(/certs\/lab-root-ca\.crt: is in the way of the new setup and is not the demo's/);
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(keysFileOf(env))).toBe(false);
  });

  test("killed part-way, the repository keeps its files; the key was saved first; the next run finishes the job", async () => {
    const dir = demoClone();
    const before = snapshot(dir);
    const env = homeEnv();
    // The third file-system change of the transaction: files are being written beside their targets.
    const killed = spawnSync(process.execPath, [cli, "init", "--name", "lab", "--domain", "lab.example", "--owner", "me"], {
      cwd: dir,
      env: { ...env, HOMELAB_TEST_CRASH_AT_STEP: "3" },
      encoding: "utf8",
    });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    for (const [path, content] of before) expect(readFileSync(join(dir, path), "latin1"), path).toBe(content);
    expect(identitiesIn(keysFileOf(env))).toHaveLength(1);

    const again = spawnSync(process.execPath, [cli, "init", "--name", "lab", "--domain", "lab.example", "--owner", "me"], { cwd: dir, env, encoding: "utf8" });
    expect(again.status, again.stderr).toBe(0);
    expect(readdirSync(dir, { recursive: true }).filter((path) => String(path).endsWith(".homelab-tmp"))).toEqual([]);
    const recipient = parse(readFileSync(join(dir, "homelab.yaml"), "utf8")).secrets.ageRecipients[0];
    expect(recipient).not.toBe(DEMO_RECIPIENT);
    // The repository's secrets open with the key the keys file holds for it.
    const identities = identitiesIn(keysFileOf(env));
    const grafana = readFileSync(join(dir, "secrets/grafana.adminPassword.sops.yaml"), "utf8");
    await expect(decryptDocument(grafana, identities)).resolves.toBeDefined();
  });
});
