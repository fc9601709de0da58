// Config: defaults, every validation rule with its file:line:col, warnings, and the schema file.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseConfig } from "../generator/config/load.ts";
import { HomelabSchema, isOptionalProperty } from "../generator/config/schema.ts";
import { schemaJson } from "../generator/config/schema-json.ts";
import { validatorSource, VALIDATOR_PATH } from "../generator/config/validator-source.ts";
import { reservedNames } from "../generator/config/rules.ts";
import { configErrorOf, minimalConfig } from "./support/render.ts";
import type { TSchema } from "@sinclair/typebox";

const recipient = "age1gkzd20j67qr0cpelrm223u90x0dj05xjk9kn3pad55tja777svqqpg5h5l";

const errorOf = configErrorOf;

const withApps = (apps: string) => `${minimalConfig}apps:\n${apps}`;

describe("defaults", () => {
  test("the minimal config gets every default", () => {
    const { config } = parseConfig(minimalConfig);
    expect(config.cluster.timezone).toBe("UTC");
    expect(config.git).toEqual({ owner: "homelab", repository: "gitops", branch: "main" });
    expect(config.storage.longhorn).toMatchObject({ dataPath: "/var/lib/longhorn", encryption: true, version: "1.12.1" });
    expect(config.storage.longhorn.backup).toBeUndefined();
    expect(config.monitoring).toMatchObject({ enabled: true, retention: "15d" });
    expect(config.apps.gitea).toMatchObject({ enabled: true, host: "git", runner: false, sshPort: 2222 });
    expect(config.apps.vaultwarden.enabled).toBe(true);
    expect(config.apps.homeAssistant.enabled).toBe(true);
    expect(config.gpu.nvidia).toBe(false);
  });

  test("a key the user writes wins over its default", () => {
    const { config } = parseConfig(`${minimalConfig}monitoring:\n  retention: 30d\n`);
    expect(config.monitoring.retention).toBe("30d");
    expect(config.monitoring.enabled).toBe(true);
  });

  test("every key that is neither required nor optional() has a default", () => {
    const missing: string[] = [];
    const walk = (schema: TSchema, path: string) => {
      const required = (schema.required as string[] | undefined) ?? [];
      for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
        if (!required.includes(key) && !isOptionalProperty(child) && child.default === undefined) missing.push(`${path}${key}`);
        if (child.type === "object") walk(child, `${path}${key}.`);
      }
      if (schema.additionalProperties && typeof schema.additionalProperties === "object") walk(schema.additionalProperties as TSchema, `${path}<name>.`);
    };
    walk(HomelabSchema, "");
    expect(missing).toEqual([]);
  });
});

describe("errors name file:line:col, the key path and what was expected", () => {
  test.each([
    ["unknown key with did-you-mean", "cluster:\n  name: home\n  domian: home.arpa\n  domain: home.arpa\nsecrets:\n  ageRecipients: [" + recipient + "]\n", 'homelab.yaml:3:3: cluster.domian: unknown key "domian"\n  hint: did you mean "domain"?'],
    ["missing required key", "cluster:\n  name: home\nsecrets:\n  ageRecipients: [" + recipient + "]\n", 'homelab.yaml:2:3: cluster.domain: missing required key "domain"'],
    ["duplicate key", "cluster:\n  name: home\n  domain: a.b\n  name: other\nsecrets:\n  ageRecipients: [" + recipient + "]\n", 'homelab.yaml:4:3: duplicate key "name"'],
    ["DNS label", minimalConfig.replace("name: home", "name: Home_Lab"), "homelab.yaml:2:9: cluster.name: expected a DNS label"],
    ["wrong type", `${minimalConfig}monitoring:\n  enabled: maybe\n`, 'homelab.yaml:8:12: monitoring.enabled: expected a value of type boolean, got "maybe"'],
    ["exact chart version", `${minimalConfig}storage:\n  longhorn:\n    version: ^1.12\n`, 'homelab.yaml:9:14: storage.longhorn.version: expected an exact version such as 1.2.3, got "^1.12"'],
    ["s3 target", `${minimalConfig}storage:\n  longhorn:\n    backup:\n      target: s3://bucket\n`, "homelab.yaml:10:15: storage.longhorn.backup.target: expected an S3 target s3://<bucket>@<region>/"],
    ["cron syntax", `${minimalConfig}storage:\n  longhorn:\n    backup:\n      target: s3://b-1@us-east-1/\n      schedule: "61 * * * *"\n`, "homelab.yaml:11:17: storage.longhorn.backup.schedule: expected a five-field cron expression"],
    ["port range", withApps("  mc:\n    chart: {repository: https://x.io, name: mc, version: 1.0.0}\n    expose: {tcp: 70000}\n"), "homelab.yaml:10:19: apps.mc.expose.tcp: expected a port number from 1 to 65535, got 70000"],
    ["age recipient pattern", minimalConfig.replace(recipient, "age1nope"), "homelab.yaml:6:7: secrets.ageRecipients[0]: expected an age public key"],
    ["age recipient checksum", minimalConfig.replace(recipient, recipient.slice(0, -1) + "q"), "homelab.yaml:6:7: secrets.ageRecipients[0]: expected a valid age public key (its checksum does not match)"],
    ["at least one server", `${minimalConfig}`.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes:\n    - {name: a, role: agent}\n"), "homelab.yaml:5:5: cluster.nodes: expected at least one node with role: server"],
    ["unique node names", minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes:\n    - {name: a}\n    - {name: a}\n"), 'homelab.yaml:6:14: cluster.nodes[1].name: node name "a" is already used by cluster.nodes[0]'],
    ["node address", minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes:\n    - {name: a, address: 300.1.1.1}\n"), 'homelab.yaml:5:26: cluster.nodes[0].address: expected an IPv4 or IPv6 address, got "300.1.1.1"'],
    ["gitea cannot be removed", withApps("  gitea:\n    enabled: false\n"), "homelab.yaml:9:14: apps.gitea.enabled: Gitea cannot be removed: it holds the repository Flux reads"],
    ["claimValue with storage", withApps("  mc:\n    chart: {repository: https://x.io, name: mc, version: 1.0.0}\n    storage: {size: 1Gi}\n"), 'homelab.yaml:10:14: apps.mc.storage.claimValue: missing required key "claimValue"'],
    ["preset typo", withApps("  vaultwardn: {}\n"), 'homelab.yaml:8:15: apps.vaultwardn.chart: missing required key "chart"\n  hint: did you mean the preset "vaultwarden"?'],
    ["reserved app name", withApps("  longhorn:\n    chart: {repository: https://x.io, name: mc, version: 1.0.0}\n"), 'homelab.yaml:9:5: apps.longhorn: "longhorn" is used by the platform itself'],
    ["port taken by the node", withApps("  web:\n    chart: {repository: https://x.io, name: mc, version: 1.0.0}\n    expose: {tcp: 443}\n"), "apps.web.expose.tcp: TCP port 443 is already taken by Traefik (HTTPS)"],
    ["host used twice", withApps("  web:\n    chart: {repository: https://x.io, name: mc, version: 1.0.0}\n    host: {name: git, service: web, port: 80}\n"), 'apps.web.host.name: host "git" is already served by apps.gitea.host'],
    ["timezone", minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  timezone: Mars/Olympus\n"), 'homelab.yaml:4:13: cluster.timezone: expected an IANA time zone such as Europe/Amsterdam, got "Mars/Olympus"'],
    ["merge key in values", withApps("  mc:\n    chart: {repository: https://x.io, name: mc, version: 1.0.0}\n    values: {a: {\"<<\": 1}}\n"), 'homelab.yaml:10:24: apps.mc.values.a.<<: a values key "<<" is read as a YAML merge key'],
    ["YAML syntax", "cluster: [\n", "homelab.yaml:2:1: invalid YAML"],
  ])("%s", (_name, text, expected) => {
    expect(errorOf(text)).toContain(expected);
  });

  test("all schema problems are reported at once, in file order", () => {
    const message = errorOf("cluster:\n  name: Home\n  domian: x\nsecrets:\n  ageRecipients: []\n");
    const lines = message.split("\n").filter((l) => l.startsWith("homelab.yaml:"));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const positions = lines.map((l) => Number(/^homelab\.yaml:(\d+):/.exec(l)?.[1]));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});

describe("warnings for risky but legal choices", () => {
  test("off-site backups without encryption", () => {
    const { warnings } = parseConfig(`${minimalConfig}storage:\n  longhorn:\n    encryption: false\n    backup:\n      target: s3://b-1@us-east-1/\n`);
    expect(warnings.map((w) => `${w.line}:${w.path}: ${w.message}`)).toContain("9:storage.longhorn.encryption: off-site backups are stored unencrypted: anyone who can read the bucket can read your data");
  });

  test("a server without an address is not scraped, and says so", () => {
    const { warnings } = parseConfig(minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes:\n    - {name: a}\n"));
    expect(warnings.some((w) => w.message.includes("control-plane metrics") && w.message.includes("no address for a"))).toBe(true);
  });
});

test("the editor schema requires only what the user must write", () => {
  const committed = JSON.parse(schemaJson()) as { required: string[] };
  expect(committed.required).toEqual(["cluster", "secrets"]);
});

test("schemas/homelab.schema.json is current (run `npm run schema` after changing the config definition)", () => {
  const committed = readFileSync(join(import.meta.dirname, "..", "schemas", "homelab.schema.json"), "utf8");
  expect(committed).toBe(schemaJson());
});

test("the config validator is current: ajv's code for the committed schema (run `npm run schema`)", () => {
  const committed = readFileSync(join(import.meta.dirname, "..", VALIDATOR_PATH), "utf8");
  expect(committed).toBe(validatorSource(JSON.parse(schemaJson()) as object));
});

test("a Helm app name longer than a Helm release name may be", () => {
  const name = "a".repeat(54);
  expect(errorOf(withApps(`  ${name}:\n    chart: {repository: https://x.io, name: mc, version: 1.0.0}\n`))).toContain(
    `apps.${name}: app name "${name}" is longer than 53 characters`,
  );
});

test("ldap and the runner are generated, so they no longer warn", () => {
  const { warnings } = parseConfig(`${minimalConfig}auth:\n  authentik:\n    ldap: true\napps:\n  gitea:\n    runner: true\n`);
  expect(warnings.map((w) => w.path)).not.toEqual(expect.arrayContaining(["auth.authentik.ldap"]));
  expect(warnings.map((w) => w.path)).not.toEqual(expect.arrayContaining(["apps.gitea.runner"]));
});

test("every name the platform uses for a Kustomization or namespace is reserved for it", async () => {
  const { renderText, objectsOf } = await import("./support/render.ts");
  const everything = `${minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes: [{name: box, gpu: true}]\n")}gpu:\n  nvidia: true\napps:\n  ollama:\n    enabled: true\n  renovate:\n    enabled: true\n  gitea:\n    runner: true\n`;
  const objects = objectsOf((await renderText(everything)).files).map(({ object }) => object);
  const names = new Set([
    ...objects.filter((o) => o.apiVersion === "kustomize.toolkit.fluxcd.io/v1").map((o) => o.metadata.name as string),
    ...objects.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name as string),
  ]);
  expect([...names].filter((name) => !reservedNames.has(name))).toEqual([]);
});
