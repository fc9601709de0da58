// The render-diff's summary lines for changes the per-object diff alone leaves unclear: a Flux
// version bump, and values a HelmRelease takes from another unit's ConfigMap (gitea-sso → Gitea).
import { readFileSync, writeFileSync } from "node:fs";
import { simpleGit } from "simple-git";
import { expect, test } from "vitest";
import { diffCommand } from "../generator/diff/command.ts";
import { generate } from "../generator/generate.ts";
import { minimalConfig, tempRepo } from "./support/render.ts";

async function changed(config: string, edit: (text: string) => string): Promise<string> {
  const { dir, configPath } = tempRepo(config);
  await generate({ configPath });
  await simpleGit(dir).init().addConfig("user.email", "test@example.org").addConfig("user.name", "test").add(".").commit("tree");
  writeFileSync(configPath, edit(readFileSync(configPath, "utf8")));
  await generate({ configPath });
  return diffCommand({ configPath, base: "HEAD", format: "text", warn: (m) => { throw new Error(m); } });
}

test("a Flux version bump names the versions on the flux line", async () => {
  const text = await changed(`${minimalConfig}flux:\n  version: 2.9.4\n`, (t) => t.replace("version: 2.9.4", "version: 2.9.5"));
  expect(text).toMatch(/^ {2}flux: Flux 2\.9\.4 → 2\.9\.5$/m);
});

test("Gitea's line names the optional values gitea-sso provides when they change", async () => {
  const text = await changed(`${minimalConfig}auth:\n  authentik:\n    host: auth\n`, (t) => t.replace("host: auth", "host: login"));
  expect(text).toMatch(/^ {2}gitea: values from ConfigMap gitea-sso-values \(optional\) from gitea-sso, changed$/m);
});
