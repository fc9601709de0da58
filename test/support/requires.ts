// The system tools some tests run (openssl, shellcheck, buildah, ...): a group declares them with
// `describe(name, requires("openssl"), ...)` or the same on `test`. Where one is missing the
// group is skipped and the run ends with one line naming it and the install command
// (missing-tools-reporter.ts), so `npm test` passes on a machine with Node alone. CI sets
// HOMELAB_TEST_REQUIRE_TOOLS=1: a missing tool fails the test file instead of skipping it.
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import type { TestOptions } from "vitest";

/** Every tool a test may require, and the Debian package that brings it. */
export const toolPackages = {
  age: "age",
  "age-keygen": "age",
  buildah: "buildah",
  "/bin/busybox": "busybox-static",
  curl: "curl",
  openssl: "openssl",
  script: "bsdutils",
  setpriv: "util-linux",
  shellcheck: "shellcheck",
  "systemd-analyze": "systemd",
  "systemd-tmpfiles": "systemd",
  mkfifo: "coreutils",
  stty: "coreutils",
} as const;

export type Tool = keyof typeof toolPackages;

declare module "vitest" {
  interface TaskMeta {
    /** On a group skipped because these tools are not installed (read by the reporter). */
    missingTools?: Tool[];
  }
}

export const REQUIRE_TOOLS_ENV = "HOMELAB_TEST_REQUIRE_TOOLS";

function isExecutableFile(path: string): boolean {
  if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `tool` runs here: an absolute path as is, a name as a shell finds it on PATH. */
export function isInstalled(tool: string): boolean {
  if (isAbsolute(tool)) return isExecutableFile(tool);
  return (process.env["PATH"] ?? "").split(delimiter).some((dir) => dir !== "" && isExecutableFile(join(dir, tool)));
}

/**
 * Options for `describe` or `test`: none when every tool is installed, a skip that names the
 * missing ones otherwise. Under HOMELAB_TEST_REQUIRE_TOOLS=1 a missing tool throws instead,
 * which fails the test file with the tool's name.
 */
export function requires(...tools: Tool[]): TestOptions {
  const missingTools = tools.filter((tool) => !isInstalled(tool));
  if (missingTools.length === 0) return {};
  if (process.env[REQUIRE_TOOLS_ENV] === "1") {
    const packages = [...new Set(missingTools.map((tool) => toolPackages[tool]))];
    throw new Error(`${missingTools.join(", ")} not found (PATH=${process.env["PATH"]}), and ${REQUIRE_TOOLS_ENV}=1 forbids skipping: install the Debian package ${packages.join(" ")}`);
  }
  return { skip: true, meta: { missingTools } };
}
