// The safety contract for repository state (docs/safety.md): the internal CA and generated
// secret values are never replaced without an explicit command, a mismatch between the CA's
// certificates and its stored keys is an error (for --check too), and generating into another
// folder never changes the repository. Real files, the real CLI.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { decryptDocument } from "../generator/secrets/sops.ts";
import { demoKeyFile, minimalConfig, tempDir, tempRepo } from "./support/render.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
const run = (args: string[], cwd: string) => spawnSync(process.execPath, [cli, ...args], { cwd, encoding: "utf8" });

function generated(config = minimalConfig): { dir: string; configPath: string } {
  const repo = tempRepo(config);
  const result = run(["generate"], repo.dir);
  expect(result.status, result.stderr).toBe(0);
  return repo;
}

/** Every file under `dir` with its bytes. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const path of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (statSync(join(dir, path)).isFile()) files[path] = readFileSync(join(dir, path), "utf8");
  }
  return files;
}

function expectRefused(result: ReturnType<typeof run>, message: RegExp): void {
  expect(result.status, `${result.stdout}${result.stderr}`).toBe(1);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at |internal error/);
}

async function storeValue(dir: string, name: string): Promise<string> {
  const identity = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-")) as string;
  const { data } = await decryptDocument(readFileSync(join(dir, "secrets", `${name}.sops.yaml`), "utf8"), [identity]);
  return String(data.value);
}

describe("the internal CA is only replaced by `homelab ca rotate`", () => {
  test("renaming the cluster keeps the CA: an error says how to move its files, and after the move the tree is built on the same CA", () => {
    const { dir, configPath } = generated();
    const before = snapshot(dir);
    writeFileSync(configPath, minimalConfig.replace("name: home", "name: cabin"));
    const refused = run(["generate"], dir);
    expectRefused(refused, /certs\/cabin-root-ca\.crt: is missing, but the internal CA of cluster "home" is in certs\/[^]*git mv certs\/home-root-ca\.crt certs\/cabin-root-ca\.crt/);
    for (const [path, content] of Object.entries(before)) if (path !== "homelab.yaml") expect(readFileSync(join(dir, path), "utf8"), path).toBe(content);
    renameSync(join(dir, "certs", "home-root-ca.crt"), join(dir, "certs", "cabin-root-ca.crt"));
    renameSync(join(dir, "certs", "home-intermediate-ca.crt"), join(dir, "certs", "cabin-intermediate-ca.crt"));
    const moved = run(["generate"], dir);
    expect(moved.status, moved.stderr).toBe(0);
    expect(readFileSync(join(dir, "certs", "cabin-root-ca.crt"), "utf8")).toBe(before["certs/home-root-ca.crt"]);
    for (const name of readdirSync(join(dir, "secrets")).filter((f) => f.startsWith("stepCa."))) {
      expect(readFileSync(join(dir, "secrets", name), "utf8"), name).toBe(before[`secrets/${name}`]);
    }
  });

  test("deleting only the public root certificate is an error, not a new CA", () => {
    const { dir } = generated();
    const before = snapshot(dir);
    rmSync(join(dir, "certs", "home-root-ca.crt"));
    expectRefused(run(["generate"], dir), /certs\/home-root-ca\.crt: is missing, but the rest of the internal CA exists[^]*git checkout HEAD -- certs\/home-root-ca\.crt[^]*homelab ca rotate/);
    expectRefused(run(["generate", "--check"], dir), /certs\/home-root-ca\.crt: is missing/);
    delete before["certs/home-root-ca.crt"];
    expect(snapshot(dir)).toEqual(before);
  });

  test("certificates and keys that were not made together are an error, for generate and --check", () => {
    const { dir } = generated();
    const other = generated();
    cpSync(join(other.dir, "secrets", "stepCa.intermediateKey.sops.yaml"), join(dir, "secrets", "stepCa.intermediateKey.sops.yaml"));
    const message = /secrets\/stepCa\.intermediateKey\.sops\.yaml: does not belong with the rest of the internal CA/;
    expectRefused(run(["generate"], dir), message);
    expectRefused(run(["generate", "--check"], dir), message);
  });

  test("a preview of another config into another folder leaves the repository exactly as it was", () => {
    const { dir } = generated();
    writeFileSync(join(dir, "preview.yaml"), minimalConfig.replace("home.arpa", "lan.example"));
    const before = snapshot(dir);
    const out = tempDir();
    const preview = run(["generate", "--config", "preview.yaml", "--out", out], dir);
    expect(preview.status, preview.stderr).toBe(0);
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(join(out, "clusters", "home", "kustomization.yaml"))).toBe(true);
    // A preview under another cluster name would need another CA: refused, not made.
    writeFileSync(join(dir, "preview.yaml"), minimalConfig.replace("name: home", "name: cabin"));
    const renamed = run(["generate", "--config", "preview.yaml", "--out", tempDir()], dir);
    expectRefused(renamed, /cabin-root-ca\.crt: is missing/);
    expect(snapshot(dir)).toEqual({ ...before, "preview.yaml": readFileSync(join(dir, "preview.yaml"), "utf8") });
  });

  test("ca rotate asks for --yes, then makes a new CA the whole tree uses; --check passes", () => {
    const { dir } = generated();
    const before = snapshot(dir);
    expectRefused(run(["ca", "rotate"], dir), /replaces the internal CA[^]*--yes/);
    expect(snapshot(dir)).toEqual(before);
    const rotated = run(["ca", "rotate", "--yes"], dir);
    expect(rotated.status, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain("a new internal CA is in certs/home-root-ca.crt");
    expect(readFileSync(join(dir, "certs", "home-root-ca.crt"), "utf8")).not.toBe(before["certs/home-root-ca.crt"]);
    expect(readFileSync(join(dir, "secrets", "stepCa.intermediateKey.sops.yaml"), "utf8")).not.toBe(before["secrets/stepCa.intermediateKey.sops.yaml"]);
    expect(run(["generate", "--check"], dir).status).toBe(0);
    // The image trusts the new root.
    const root = readFileSync(join(dir, "certs", "home-root-ca.crt"), "utf8");
    expect(Object.entries(snapshot(dir)).some(([path, content]) => path.startsWith("infrastructure/") && content.includes(Buffer.from(root).toString("base64").slice(0, 40)))).toBe(true);
  });
});

describe("generated secret values are only replaced by --regenerate", () => {
  test("a deleted store file that a committed Secret uses is refused, naming the Secret; --regenerate makes a new one", async () => {
    const { dir } = generated();
    const old = await storeValue(dir, "longhorn.cryptoKey");
    rmSync(join(dir, "secrets", "longhorn.cryptoKey.sops.yaml"));
    const before = snapshot(dir);
    const refused = run(["generate"], dir);
    expectRefused(
      refused,
      /secrets\/longhorn\.cryptoKey\.sops\.yaml: is missing, but infrastructure\/longhorn[^ ]*\.sops\.yaml uses its value[^]*--regenerate longhorn\.cryptoKey[^]*backups/,
    );
    expect(snapshot(dir)).toEqual(before);
    expectRefused(run(["generate", "--regenerate", "longhorn.cryptokey"], dir), /not a value this config generates[^]*did you mean longhorn\.cryptoKey/);
    const regenerated = run(["generate", "--regenerate", "longhorn.cryptoKey"], dir);
    expect(regenerated.status, regenerated.stderr).toBe(0);
    const fresh = await storeValue(dir, "longhorn.cryptoKey");
    expect(fresh).not.toBe(old);
    expect(run(["generate", "--check"], dir).status).toBe(0);
  });

  test("--regenerate replaces an existing value on purpose, and only that one", async () => {
    const { dir } = generated();
    const grafana = await storeValue(dir, "grafana.adminPassword");
    const gitea = await storeValue(dir, "gitea.adminPassword");
    const result = run(["generate", "--regenerate", "grafana.adminPassword"], dir);
    expect(result.status, result.stderr).toBe(0);
    expect(await storeValue(dir, "grafana.adminPassword")).not.toBe(grafana);
    expect(await storeValue(dir, "gitea.adminPassword")).toBe(gitea);
  });
});
