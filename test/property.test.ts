// Property tests: configs drawn from the JSON Schema (test/support/config-arbitrary.ts) either
// render a tree that keeps the phase/dependsOn/StorageClass rules or are rejected with a
// homelab.yaml position; broken configs are always rejected as UserError, and nothing is
// written; a value repeated through a YAML alias loads as a copy. Fixed seed: a failure
// reproduces on every machine.
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { beforeAll, describe, expect, test } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { presetKeys } from "../generator/config/presets.ts";
import { UserError } from "../generator/errors.ts";
import { SecretStore } from "../generator/secrets/store.ts";
import { generate, render } from "../generator/generate.ts";
import type { GeneratedFile } from "../generator/writer.ts";
import { parseConfig } from "../generator/config/load.ts";
import {
  aliasedHomelabConfig,
  brokenHomelabConfig,
  homelabJsonSchema,
  keyUsage,
  mutations,
  schemaKeyPaths,
  validHomelabConfig,
  type Config,
} from "./support/config-arbitrary.ts";
import { minimalConfig, objectsOf, tempRepo } from "./support/render.ts";
import { kubectl } from "./support/tools.ts";

const SEED = 20261126;
const VALID_RUNS = 120;
const KUSTOMIZE_RUNS = 5;
const BROKEN_RUNS = 300;
const ALIAS_RUNS = 100;
/** Bounded by their number of runs, never by a clock: a busy machine only makes them slower. */
const NO_CLOCK = 0;

const PHASES = ["1-cluster", "2-storage", "3-network", "4-monitoring", "5-auth", "6-apps", "7-extras"];
const FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io/v1";

let ageRecipients: string[];
/** Their private keys, so a render can read back the values it needs (as SOPS_AGE_KEY). */
let keyEnv: NodeJS.ProcessEnv;
beforeAll(async () => {
  // The pattern alone cannot make an age key (bech32 checksum): real ones.
  const identities = await Promise.all([1, 2, 3].map(() => generateIdentity()));
  ageRecipients = await Promise.all(identities.map((identity) => identityToRecipient(identity)));
  keyEnv = { ...process.env, SOPS_AGE_KEY_FILE: undefined, SOPS_AGE_KEY: identities.join("\n") };
});

/** A temporary repository holding homelab.yaml; removed after `use`. */
async function withRepo<T>(text: string, use: (repo: { dir: string; configPath: string }) => Promise<T>): Promise<T> {
  const repo = tempRepo(text);
  try {
    return await use(repo);
  } finally {
    rmSync(repo.dir, { recursive: true, force: true });
  }
}

/** The values a user must set for this config (`homelab secrets set`), as test values. */
async function supplySecrets(dir: string, config: Config): Promise<void> {
  const longhorn = (config.storage as Config | undefined)?.longhorn as Config | undefined;
  const recipients = (config.secrets as { ageRecipients?: string[] } | undefined)?.ageRecipients;
  if (!longhorn?.backup || !recipients) return;
  const store = new SecretStore(dir, recipients);
  await store.set("longhorn.backup.accessKeyId", "test-access-key-id");
  await store.set("longhorn.backup.secretAccessKey", "test-secret-access-key");
  store.writeStaged();
}

/** Every diagnostic of a rejection points into homelab.yaml at a line and column. */
function expectLocated(error: UserError): void {
  expect(error.message).toMatch(/homelab\.yaml:\d+:\d+/);
  for (const d of error.diagnostics) {
    expect(`${d.file}:${d.line}:${d.col}`, error.message).toMatch(/^homelab\.yaml:[1-9]\d*:[1-9]\d*$/);
  }
}

/** What the schema itself would say: a generated valid config must never get these. */
const schemaMessage = /^(missing required key |unknown key |expected .*, got |duplicate key |invalid YAML)/;

/** The rules of the generated tree. */
function checkTree(files: readonly GeneratedFile[], config: Config): void {
  const clusterName = (config.cluster as Config).name as string;
  const clusterDir = `clusters/${clusterName}`;
  const objects = objectsOf(files);
  const fluxKustomizations = objects.filter(({ object }) => object.kind === "Kustomization" && object.apiVersion === FLUX_KUSTOMIZATION);
  expect(fluxKustomizations.length).toBeGreaterThan(0);
  // They all live in clusters/<name>/*.yaml.
  for (const { file } of fluxKustomizations) expect(dirname(file)).toBe(clusterDir);

  const byName = new Map<string, Record<string, any>>();
  for (const { object } of fluxKustomizations) {
    expect(byName.has(object.metadata.name), `two Flux Kustomizations named ${object.metadata.name}`).toBe(false);
    byName.set(object.metadata.name, object);
  }
  const folders = new Set(files.filter((f) => f.path.endsWith("/kustomization.yaml")).map((f) => dirname(f.path)));
  for (const [name, k] of byName) {
    const phase = PHASES.indexOf(k.metadata.labels?.["homelab/phase"]);
    expect(phase, `${name}: homelab/phase ${k.metadata.labels?.["homelab/phase"]}`).toBeGreaterThanOrEqual(0);
    for (const { name: dependency } of k.spec.dependsOn ?? []) {
      const target = byName.get(dependency);
      expect(target, `${name} dependsOn ${dependency}, which does not exist`).toBeDefined();
      const targetPhase = PHASES.indexOf(target?.metadata.labels?.["homelab/phase"]);
      expect(targetPhase, `${name} (${PHASES[phase]}) dependsOn ${dependency} (${PHASES[targetPhase]})`).toBeLessThanOrEqual(phase);
    }
    expect(folders.has(String(k.spec.path).replace(/^\.\//, "")), `${name}: ${k.spec.path} has no kustomization.yaml`).toBe(true);
  }

  // Every Helm app is a Flux Kustomization of its own, in the phase it asked for.
  const apps = (config.apps ?? {}) as Record<string, Config>;
  for (const [name, app] of Object.entries(apps)) {
    if ((presetKeys as readonly string[]).includes(name)) continue;
    expect(byName.get(name)?.metadata.labels["homelab/phase"], `apps.${name}`).toBe(app.phase === 6 ? "6-apps" : "7-extras");
  }

  // Exactly one default StorageClass: the encrypted class, or (without encryption) the chart's own.
  const defaultClasses = objects.filter(
    ({ object }) => object.kind === "StorageClass" && object.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true",
  );
  const longhorn = objects.find(({ object }) => object.kind === "HelmRelease" && object.metadata.name === "longhorn")?.object;
  const chartDefault = longhorn?.spec.values?.persistence?.defaultClass === true;
  expect(defaultClasses.length + (chartDefault ? 1 : 0), "default StorageClass sources").toBe(1);
  const encryption = ((config.storage as Config | undefined)?.longhorn as Config | undefined)?.encryption ?? true;
  if (encryption) expect(defaultClasses[0]?.object.metadata.name).toBe("longhorn-encrypted");
  else expect(chartDefault).toBe(true);
}

describe("valid configs (drawn from the JSON Schema)", () => {
  test("render a tree that keeps the rules, or are rejected by a cross-field rule with a homelab.yaml position", async () => {
    const valid = validHomelabConfig({ ageRecipients });
    let rendered = 0;
    const rejections = new Map<string, number>();
    const present = new Set<string>();
    const absent = new Set<string>();
    await fc.assert(
      fc.asyncProperty(valid, async (config) => {
        const usage = keyUsage(config, homelabJsonSchema);
        for (const path of usage.present) present.add(path);
        for (const path of usage.absent) absent.add(path);
        await withRepo(stringify(config), async ({ dir, configPath }) => {
          await supplySecrets(dir, config);
          let files: GeneratedFile[];
          try {
            files = (await render({ configPath, env: keyEnv })).files;
          } catch (error) {
            if (!(error instanceof UserError)) throw error;
            expectLocated(error);
            for (const d of error.diagnostics) expect(d.message, "a schema error: the arbitrary drew an invalid config").not.toMatch(schemaMessage);
            const reason = `${error.diagnostics[0]?.path.replace(/^apps\.[^.]+/, "apps.<app>")}: ${error.diagnostics[0]?.message.replace(/"[^"]*"/g, '"…"')}`;
            rejections.set(reason, (rejections.get(reason) ?? 0) + 1);
            return;
          }
          rendered++;
          checkTree(files, config);
        });
      }),
      { seed: SEED, numRuns: VALID_RUNS },
    );
    const rejected = [...rejections.values()].reduce((a, b) => a + b, 0);
    expect(rendered / (rendered + rejected), `rejections: ${JSON.stringify(Object.fromEntries(rejections), null, 2)}`).toBeGreaterThanOrEqual(0.6);

    // Every key of the schema was written at least once, and every optional one left out.
    const keys = schemaKeyPaths(homelabJsonSchema);
    expect(keys.filter((k) => !present.has(k.path)).map((k) => k.path)).toEqual([]);
    expect(keys.filter((k) => k.optional && !k.path.endsWith(".*") && !absent.has(k.path)).map((k) => k.path)).toEqual([]);
  }, NO_CLOCK);

  test("kubectl kustomize builds every folder with a kustomization.yaml (a sample of written trees)", async () => {
    const valid = validHomelabConfig({ ageRecipients });
    await fc.assert(
      fc.asyncProperty(valid, async (config) => {
        await withRepo(stringify(config), async ({ dir, configPath }) => {
          await supplySecrets(dir, config);
          try {
            await generate({ configPath, env: keyEnv });
          } catch (error) {
            if (!(error instanceof UserError)) throw error;
            fc.pre(false); // a rule rejection: draw another config
            return;
          }
          const folders = readdirSync(dir, { recursive: true, encoding: "utf8" })
            .filter((path) => path === "kustomization.yaml" || path.endsWith("/kustomization.yaml"))
            .map((path) => join(dir, dirname(path)));
          expect(folders.length).toBeGreaterThan(5);
          for (const folder of folders) execFileSync(kubectl, ["kustomize", folder], { stdio: "pipe" });
        });
      }),
      { seed: SEED, numRuns: KUSTOMIZE_RUNS },
    );
  }, NO_CLOCK);
});

describe("broken configs (a valid config and one mutation)", () => {
  test("are rejected as UserError with a homelab.yaml position and no stack, and nothing is written", async () => {
    const broken = brokenHomelabConfig(validHomelabConfig({ ageRecipients }));
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(broken, async ({ kind, mutation, text }) => {
        seen.add(kind);
        await withRepo(text, async ({ dir, configPath }) => {
          let thrown: unknown;
          try {
            await generate({ configPath });
          } catch (error) {
            thrown = error;
          }
          expect(thrown, `${mutation}: not rejected as UserError (${String(thrown)})`).toBeInstanceOf(UserError);
          const message = (thrown as UserError).message;
          expect(message, mutation).toMatch(/^homelab\.yaml:\d+:\d+: /);
          expect(message).not.toContain("    at ");
          expect(readdirSync(dir)).toEqual(["homelab.yaml"]);
        });
      }),
      { seed: SEED, numRuns: BROKEN_RUNS },
    );
    expect([...seen].sort()).toEqual(Object.keys(mutations).sort());
  }, NO_CLOCK);
});

/** What loading gives: the config after defaults, or the rejection without its line and column. */
function loaded(text: string): unknown {
  try {
    return parseConfig(text).config;
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return error.diagnostics.map((d) => `${d.path}: ${d.message}`);
  }
}

describe("YAML aliases", () => {
  // The tree is made from the loaded config alone, so equal configs render equal trees
  // (test/safety-config.test.ts renders one such pair).
  test("a value repeated through an alias reads as a copy: the config loads exactly as the one written out", () => {
    fc.assert(
      fc.property(aliasedHomelabConfig(validHomelabConfig({ ageRecipients })), ({ alias, text, expanded }) => {
        expect(loaded(text), alias).toEqual(loaded(expanded));
      }),
      { seed: SEED, numRuns: ALIAS_RUNS },
    );
  }, NO_CLOCK);
});

// Found by the properties: strings Go's YAML reads as numbers or merge keys must be quoted,
// or kustomize (and Flux) cannot build the tree or change the values.
describe("Helm value keys and values that Go YAML would not read as strings", () => {
  test.each(["0o17", "-_1", "1_000", "0x1F", ".inf", "<"])("%j survives kustomize as a string key and value", async (text) => {
    const config = `${minimalConfig}apps:\n  demo:\n    chart:\n      repository: https://charts.example.com\n      name: demo\n      version: 1.0.0\n    values: ${JSON.stringify({ [text]: text })}\n`;
    await withRepo(config, async ({ dir, configPath }) => {
      await generate({ configPath });
      const built = execFileSync(kubectl, ["kustomize", join(dir, "apps/demo")], { encoding: "utf8" });
      const release = parseAllDocuments(built).map((d) => d.toJS()).find((o) => o.kind === "HelmRelease");
      expect(release.spec.values).toEqual({ [text]: text });
    });
  });
});
