import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { MissingToolsReporter } from "./test/support/missing-tools-reporter.ts";
import { helm, kubectl } from "./test/support/tools.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/cleanup.ts"],
    // The default output, then one line naming what a missing system tool skipped.
    reporters: ["default", new MissingToolsReporter()],
    // The demo's TEST-ONLY key, so tests can read what they generate (never a real key).
    env: {
      SOPS_AGE_KEY_FILE: join(import.meta.dirname, "test", "fixtures", "demo-age.key"),
      // The pinned kubectl and helm (see test/support/tools.ts) for `homelab diff` and `diff --helm`.
      HOMELAB_KUBECTL: kubectl,
      HOMELAB_HELM: helm,
    },
    // A guard against a hung test, not a speed goal (those live in `npm run bench`): generous
    // enough that a busy 2-core machine never trips it. The property tests have no clock at all.
    // Most of a test's time is a child process (the CLI, git, kubectl): two files at a time use
    // both cores of a 2-core machine (vitest's default there is one).
    maxWorkers: 2,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
