// The root the community's tools read: the FluxInstance's sync path holds Flux Kustomizations
// only (flux-local and flate start there and follow each spec.path), and .sourceignore keeps
// Flux's artifact to the folders those Kustomizations apply.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { parseAllDocuments } from "yaml";
import { generate } from "../generator/generate.ts";
import { objectsOf, referenceConfigPath, tempRepo } from "./support/render.ts";
import { kubectl } from "./support/tools.ts";

type Obj = Record<string, any>;
const build = (dir: string): Obj[] =>
  parseAllDocuments(execFileSync(kubectl, ["kustomize", dir], { encoding: "utf8" }))
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);

let dir: string;
let files: { path: string; content: string }[];
let syncPath: string;

beforeAll(async () => {
  ({ dir } = tempRepo(readFileSync(referenceConfigPath, "utf8"), { demoState: true }));
  ({ files } = await generate({ configPath: join(dir, "homelab.yaml") }));
  const instance = objectsOf(files).find(({ object }) => object.kind === "FluxInstance")!.object;
  syncPath = instance.spec.sync.path as string;
});

describe("the FluxInstance's sync path", () => {
  test("builds to Flux Kustomizations only, none named flux-system (the name the FluxInstance's own sync takes)", () => {
    expect(syncPath).toBe("clusters/home");
    const objects = build(join(dir, syncPath));
    expect(objects.length).toBeGreaterThan(10);
    for (const object of objects) expect(`${object.apiVersion} ${object.kind}`).toBe("kustomize.toolkit.fluxcd.io/v1 Kustomization");
    expect(objects.map((o) => o.metadata.name)).not.toContain("flux-system");
  });

  test("Flux's own objects (FluxInstance, flux-operator's source and release) sit in the child Kustomization flux", () => {
    const flux = build(join(dir, syncPath)).find((o) => o.metadata.name === "flux")!;
    expect(flux.spec).toMatchObject({ sourceRef: { kind: "GitRepository", name: "flux-system" }, prune: true });
    const objects = build(join(dir, flux.spec.path));
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(["FluxInstance/flux", "HelmRelease/flux-operator", "OCIRepository/flux-operator"]);
    // Never garbage-collected: a Kustomization that stopped listing them would uninstall Flux.
    for (const object of objects) expect(object.metadata.annotations?.["kustomize.toolkit.fluxcd.io/prune"], object.kind).toBe("disabled");
  });
});

test("<sync path>/.krmignore leaves only the first-boot seed out of what flux-local and flate scan there", () => {
  // The sync path's files alone, in a repository of their own: .krmignore's patterns are relative to it.
  const scan = mkdtempSync(join(tmpdir(), "homelab-krmignore-"));
  const below = files.filter((f) => f.path.startsWith(`${syncPath}/`));
  for (const file of below) {
    mkdirSync(dirname(join(scan, file.path.slice(syncPath.length + 1))), { recursive: true });
    writeFileSync(join(scan, file.path.slice(syncPath.length + 1)), file.content);
  }
  execFileSync("git", ["init", "-q"], { cwd: scan });
  const kept = execFileSync("git", ["-c", "core.excludesFile=/dev/null", "ls-files", "--others", "--exclude-from=.krmignore"], { cwd: scan, encoding: "utf8" }).trim().split("\n");
  const expected = below.map((f) => f.path.slice(syncPath.length + 1)).filter((p) => !p.startsWith("bootstrap/"));
  expect(below.some((f) => f.path.startsWith(`${syncPath}/bootstrap/`))).toBe(true);
  expect(kept.sort()).toEqual(expected.sort());
});

describe(".sourceignore", () => {
  test("Flux's artifact keeps every folder a Flux Kustomization applies, and nothing else of the repository", () => {
    const ignore = files.find((f) => f.path === ".sourceignore")!.content;
    // A repository with the tree and stand-ins for everything else a homelab repository holds.
    const repo = mkdtempSync(join(tmpdir(), "homelab-sourceignore-"));
    const others = ["generator/cli.ts", "test/diff.test.ts", "README.md", "package.json", "schemas/homelab.schema.json", "homelab.yaml", "secrets/x.sops.yaml", "certs/root.pem"];
    for (const file of [...files.map((f) => f.path), ...others]) {
      mkdirSync(dirname(join(repo, file)), { recursive: true });
      writeFileSync(join(repo, file), files.find((f) => f.path === file)?.content ?? "x\n");
    }
    execFileSync("git", ["init", "-q"], { cwd: repo });
    // git's own gitignore matching: the syntax source-controller reads .sourceignore with.
    const kept = execFileSync("git", ["-c", "core.excludesFile=/dev/null", "ls-files", "--others", "--exclude-from=.sourceignore"], { cwd: repo, encoding: "utf8" }).trim().split("\n");
    for (const prefix of ["generator/", "test/", "docs/", "image/", "schemas/", "secrets/", "certs/", `${syncPath}/bootstrap/`, "README.md", "homelab.yaml", ".gitea/"]) {
      expect(kept.filter((p) => p.startsWith(prefix)), prefix).toEqual([]);
    }
    // The artifact alone builds: the sync path and every Kustomization's path.
    const artifact = mkdtempSync(join(tmpdir(), "homelab-artifact-"));
    for (const path of kept) cpSync(join(repo, path), join(artifact, path));
    const paths = build(join(artifact, syncPath)).map((k) => k.spec.path as string);
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths) expect(() => build(join(artifact, path)), path).not.toThrow();
    expect(ignore.split("\n")[0]).toMatch(/^# generated by homelab/);
  });
});
