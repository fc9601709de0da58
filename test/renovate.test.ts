// Renovate (renovate.json): its custom managers run here the way Renovate runs them (its
// regex manager: matchStrings with the `g` flag, the recursive strategy, Handlebars templates,
// the validity filter, and autoReplace for an update) against the files their patterns select.
// What they extract must be exactly the versions read independently from the catalog and from
// homelab.yaml: every one, with the right datasource, package and registry, and nothing else.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import Handlebars from "handlebars";
import { describe, expect, test } from "vitest";
import YAML, { isMap, isScalar, type Scalar } from "yaml";
import type { TSchema } from "@sinclair/typebox";
import { catalog, type ChartName } from "../generator/catalog.ts";
import { parseConfig } from "../generator/config/load.ts";
import { HomelabSchema } from "../generator/config/schema.ts";

const root = join(import.meta.dirname, "..");
const read = (path: string) => readFileSync(join(root, path), "utf8");

// ---------------------------------------------------------------------------------------------
// Renovate's regex manager (lib/modules/manager/custom/regex), reproduced.

/** The fields a matchString group or a `<field>Template` sets (custom/utils.ts validMatchFields). */
const FIELDS = ["depName", "packageName", "currentValue", "currentDigest", "datasource", "versioning", "extractVersion", "registryUrl", "depType", "indentation"] as const;
type Field = (typeof FIELDS)[number];

/** The keys Renovate's config validation allows in a custom manager. */
const ALLOWED_KEYS = ["customType", "description", "fileFormat", "managerFilePatterns", "matchStrings", "matchStringsStrategy", ...FIELDS.filter((f) => f !== "indentation").map((f) => `${f}Template`), "autoReplaceStringTemplate"];

type CustomManager = {
  customType: string;
  description?: string;
  managerFilePatterns: string[];
  matchStrings: string[];
  matchStringsStrategy?: string;
} & Partial<Record<`${Field}Template`, string>>;

interface PackageRule {
  matchDepNames?: string[];
  matchDatasources?: string[];
  extractVersion?: string;
  [option: string]: unknown;
}

interface RenovateConfig {
  $schema?: string;
  enabledManagers?: string[];
  labels?: string[];
  postUpgradeTasks?: { commands: string[] };
  packageRules?: PackageRule[];
  customManagers: CustomManager[];
  fileMatch?: unknown;
}

interface Dep {
  depName?: string;
  packageName?: string;
  currentValue?: string;
  currentDigest?: string;
  datasource?: string;
  versioning?: string;
  extractVersion?: string;
  registryUrls?: string[];
  depType?: string;
  indentation?: string;
  replaceString: string;
}

const renovate = JSON.parse(read("renovate.json")) as RenovateConfig;
const managers = renovate.customManagers;

/** regexMatchAll: exec with the `g` flag until no match, at most 10 000 times. */
function regexMatchAll(regex: RegExp, content: string): RegExpExecArray[] {
  const matches: RegExpExecArray[] = [];
  for (let i = 0; i < 10_000; i += 1) {
    const match = regex.exec(content);
    if (!match) return matches;
    // An empty match leaves lastIndex where it was: Renovate would loop to its cap.
    if (match[0] === "") throw new Error(`/${regex.source}/ matched the empty string at ${match.index}`);
    matches.push(match);
  }
  throw new Error(`/${regex.source}/: max iterations reached`);
}

function setField(dep: Dep, field: Field, value: string): void {
  if (field === "registryUrl") {
    // parseUrl(value)?.toString(); an invalid URL is only logged by Renovate: fail here.
    dep.registryUrls = [new URL(value).toString()];
  } else if (field === "indentation") {
    dep.indentation = value.trim() === "" ? value : "";
  } else {
    dep[field] = value;
  }
}

/** createDependency: a template wins over a group of the same field. */
function createDependency(groups: Record<string, string | undefined>, replaceString: string, manager: CustomManager, packageFile: string): Dep {
  const dep: Dep = { replaceString };
  for (const field of FIELDS) {
    const template = manager[`${field}Template`];
    if (template) {
      const context = { ...groups, packageFile: basename(packageFile), packageFileDir: dirname(packageFile) };
      setField(dep, field, Handlebars.compile(template, { noEscape: true })(context));
    } else {
      const value = groups[field];
      if (value) setField(dep, field, value);
    }
  }
  return dep;
}

const nonBlank = (value: string | undefined) => value !== undefined && value.trim() !== "";
const isValidDependency = (dep: Dep) =>
  (nonBlank(dep.depName) || nonBlank(dep.packageName)) && (nonBlank(dep.currentDigest) || nonBlank(dep.currentValue)) && nonBlank(dep.datasource);

/** extractPackageFile for one custom regex manager and one file. */
function extract(manager: CustomManager, content: string, packageFile: string): Dep[] {
  const regexes = manager.matchStrings.map((matchString) => new RegExp(matchString, "g"));
  let deps: Dep[];
  switch (manager.matchStringsStrategy ?? "any") {
    case "any":
      deps = regexes.flatMap((regex) => regexMatchAll(regex, content)).map((match) => createDependency(match.groups ?? {}, match[0], manager, packageFile));
      break;
    case "recursive": {
      // Each match narrows the content for the next matchString; groups accumulate.
      const recurse = (text: string, index: number, groups: Record<string, string | undefined>): Dep[] => {
        const regex = regexes[index];
        if (!regex) return [createDependency(groups, text, manager, packageFile)];
        return regexMatchAll(regex, text).flatMap((match) => recurse(match[0], index + 1, { ...groups, ...match.groups }));
      };
      deps = recurse(content, 0, {});
      break;
    }
    default:
      throw new Error(`this test does not reproduce matchStringsStrategy ${manager.matchStringsStrategy}`);
  }
  return deps.filter(isValidDependency);
}

/** managerFilePatterns: "/regex/" or "/regex/i" (optionally negated with "!"), as Renovate reads them. */
function matchesPattern(file: string, pattern: string): boolean {
  if (pattern === "*") return true;
  const regex = /^(!?)\/(.*)\/(i?)$/s.exec(pattern);
  if (!regex) throw new Error(`${pattern}: write managerFilePatterns as /regex/ (this test does not evaluate globs)`);
  const [, negated, source = "", flags = ""] = regex;
  return new RegExp(source, flags).test(file) !== (negated === "!");
}

/** The repository's files, as Renovate lists them (tracked; here also new files not yet added). */
const repositoryFiles = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8" })
  .split("\0")
  .filter((file) => file !== "");

const filesOf = (manager: CustomManager) =>
  [...new Set(manager.managerFilePatterns.flatMap((pattern) => repositoryFiles.filter((file) => matchesPattern(file, pattern))))].sort();

const homelabManagers = managers.filter((manager) => filesOf(manager).includes("homelab.yaml"));
const catalogManagers = managers.filter((manager) => filesOf(manager).includes("generator/catalog.ts"));

// ---------------------------------------------------------------------------------------------
// What a dependency is, compared: where Renovate looks it up and the version it holds.

interface Found {
  file: string;
  datasource: string;
  depName: string;
  packageName: string;
  registryUrl?: string;
  currentValue?: string;
  currentDigest?: string;
}

const found = (file: string, dep: Dep): Found => ({
  file,
  datasource: dep.datasource ?? "",
  depName: dep.depName ?? "",
  packageName: dep.packageName ?? dep.depName ?? "",
  registryUrl: dep.registryUrls?.[0],
  currentValue: dep.currentValue,
  currentDigest: dep.currentDigest,
});

/** One line per dependency, sorted: a failure shows exactly what is missing or spurious. */
const sorted = (deps: Found[]) =>
  deps
    .map(({ file, datasource, depName, packageName, registryUrl, currentValue, currentDigest }) =>
      [file, datasource, depName, packageName, registryUrl ?? "-", currentValue ?? "-", currentDigest ?? "-"].join(" "),
    )
    .sort();

function extractFile(file: string, content: string, from: CustomManager[]): Found[] {
  return from.flatMap((manager) => extract(manager, content, file).map((dep) => found(file, dep)));
}

// The expected side, read without any regex: the catalog object and the parsed YAML.

function chartDep(file: string, source: { repository: string; chart: string }, version: string): Found {
  if (source.repository.startsWith("oci://")) {
    const path = source.repository.slice("oci://".length).replace(/\/$/, "");
    return { file, datasource: "docker", depName: source.chart, packageName: `${path}/${source.chart}`, currentValue: version };
  }
  return { file, datasource: "helm", depName: source.chart, packageName: source.chart, registryUrl: new URL(source.repository).toString(), currentValue: version };
}

const k3sDep = (file: string, version: string): Found => ({ file, datasource: "github-releases", depName: "k3s", packageName: "k3s-io/k3s", currentValue: version });
const fluxDep = (file: string, version: string): Found => ({ file, datasource: "github-releases", depName: "flux", packageName: "fluxcd/flux2", currentValue: version });
/** The tools the OS image bundles for first boot (catalog only: homelab.yaml does not pin them). */
const osToolDeps = (file: string): Found[] => [
  { file, datasource: "github-releases", depName: "sops", packageName: "getsops/sops", currentValue: catalog.sops.version },
  { file, datasource: "github-releases", depName: "helm", packageName: "helm/helm", currentValue: catalog.helm.version },
];

/** An image reference: name[:tag][@digest]; without either there is nothing to update. */
function imageDep(file: string, reference: string): Found | undefined {
  const [nameAndTag = "", digest] = reference.split("@");
  const colon = nameAndTag.lastIndexOf(":");
  const hasTag = colon > nameAndTag.lastIndexOf("/");
  const name = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
  const tag = hasTag ? nameAndTag.slice(colon + 1) : undefined;
  if (tag === undefined && digest === undefined) return undefined;
  return { file, datasource: "docker", depName: name, packageName: name, currentValue: tag, currentDigest: digest };
}

/** homelab.yaml's version keys without a repository beside them, and the catalog chart each pins. */
const PRESET_VERSIONS: Record<string, ChartName> = {
  "storage.longhorn.version": "longhorn",
  "tls.stepCa.version": "stepCertificates",
  "tls.stepIssuer.version": "stepIssuer",
  "tls.certManager.version": "certManager",
  "monitoring.version": "kubePrometheusStack",
  "auth.authentik.version": "authentik",
  "apps.gitea.version": "gitea",
  "apps.vaultwarden.version": "vaultwarden",
  "apps.homeAssistant.version": "homeAssistant",
  "apps.ollama.version": "ollama",
  "gpu.devicePlugin.version": "nvidiaDevicePlugin",
};

function getPath(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node !== null && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), value);
}

/** The bootc base image's default, once the catalog holds it (image.base has no other default Renovate can update). */
const catalogBaseImage = (catalog as { baseImage?: string }).baseImage;

function catalogDeps(baseImage = catalogBaseImage): Found[] {
  const file = "generator/catalog.ts";
  const image = baseImage === undefined ? undefined : imageDep(file, baseImage);
  return [
    k3sDep(file, catalog.k3s.version),
    fluxDep(file, catalog.flux.version),
    ...osToolDeps(file),
    ...(image ? [image] : []),
    // The container images the tree runs outside charts (the runner, Renovate, …).
    ...Object.values(catalog.images).flatMap((reference) => imageDep(file, reference) ?? []),
    ...Object.values(catalog.charts).map((source) => chartDep(file, source, source.version)),
  ];
}

/** The catalog's text with `baseImage` set to a value (added after the Flux entry). */
function catalogWithBaseImage(reference: string): string {
  const text = read("generator/catalog.ts").replace(/\n *baseImage: "[^"]*",/, "");
  const withImage = text.replace(/(\n( *)flux: \{[^}]*\},)/, `$1\n$2baseImage: "${reference}",`);
  if (withImage === text) throw new Error("generator/catalog.ts: no `flux: { ... },` line to add baseImage after");
  return withImage;
}

function configDeps(text: string, file = "homelab.yaml"): Found[] {
  const config = YAML.parse(text) as Record<string, unknown>;
  const deps: Found[] = [];
  const at = (path: string) => getPath(config, path.split("."));
  const k3s = at("cluster.k3s.version");
  if (k3s !== undefined) deps.push(k3sDep(file, String(k3s)));
  const flux = at("flux.version");
  if (flux !== undefined) deps.push(fluxDep(file, String(flux)));
  const base = at("image.base");
  const image = base === undefined ? undefined : imageDep(file, String(base));
  if (image) deps.push(image);
  for (const [path, chart] of Object.entries(PRESET_VERSIONS)) {
    const version = at(path);
    if (version !== undefined) deps.push(chartDep(file, catalog.charts[chart], String(version)));
  }
  for (const app of Object.values((config.apps ?? {}) as Record<string, { chart?: { repository: string; name: string; version: string } } | null>)) {
    if (app?.chart) deps.push(chartDep(file, { repository: app.chart.repository, chart: app.chart.name }, String(app.chart.version)));
  }
  return deps;
}

// ---------------------------------------------------------------------------------------------
// Updates: autoReplace (lib/workers/repository/update/branch/auto-replace.ts) for one dependency.

/** The first occurrence of the replaceString that, rewritten, re-extracts as the update. */
function autoReplace(content: string, file: string, manager: CustomManager, depIndex: number, update: { newValue?: string; newDigest?: string }): string {
  const dep = extract(manager, content, file)[depIndex];
  if (!dep) throw new Error(`no dependency ${depIndex}`);
  let newString = dep.replaceString;
  // Only the first occurrence inside the replaceString: the patterns must put the value first.
  if (update.newValue && dep.currentValue) newString = newString.replace(dep.currentValue, () => update.newValue ?? "");
  if (update.newDigest && dep.currentDigest) newString = newString.replace(dep.currentDigest, () => update.newDigest ?? "");
  for (let at = content.indexOf(dep.replaceString); at !== -1; at = content.indexOf(dep.replaceString, at + 1)) {
    const candidate = content.slice(0, at) + newString + content.slice(at + dep.replaceString.length);
    const after = extract(manager, candidate, file)[depIndex];
    const valueDone = !update.newValue || after?.currentValue === update.newValue;
    const digestDone = !update.newDigest || after?.currentDigest === update.newDigest;
    if (after?.depName === dep.depName && valueDone && digestDone) return candidate;
  }
  throw new Error(`${file}: ${dep.depName} could not be updated (replaceString ${JSON.stringify(dep.replaceString)})`);
}

/** A new version of the same shape, so the same pattern still reads it. */
function newVersionFor(current: string): string {
  if (/^v\d+\.\d+\.\d+\+k3s\d+$/.test(current)) return "v1.99.0+k3s2";
  if (/^\d+$/.test(current)) return String(Number(current) + 1);
  return current.startsWith("v") ? "v99.88.77" : "99.88.77";
}
const NEW_DIGEST = `sha256:${"e".repeat(64)}`;

/** The paths where two parsed documents differ. */
function leafDifferences(a: unknown, b: unknown, path: string[] = []): string[] {
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((key) => leafDifferences((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], [...path, key]));
  }
  return Object.is(a, b) ? [] : [path.join(".")];
}

/** Updates every dependency of a file in turn; each changes its own value and nothing else. */
function checkEveryUpdate(file: string, content: string, from: CustomManager[]): number {
  const before = extractFile(file, content, from);
  let updates = 0;
  for (const manager of from) {
    extract(manager, content, file).forEach((dep, depIndex) => {
      const changes = [
        ...(dep.currentValue ? [{ newValue: newVersionFor(dep.currentValue) }] : []),
        ...(dep.currentDigest ? [{ newDigest: NEW_DIGEST }] : []),
      ];
      for (const update of changes) {
        const updated = autoReplace(content, file, manager, depIndex, update);
        const target = found(file, dep);
        const expected = before.map((other) =>
          JSON.stringify(other) === JSON.stringify(target)
            ? { ...other, ...(update.newValue ? { currentValue: update.newValue } : {}), ...(update.newDigest ? { currentDigest: update.newDigest } : {}) }
            : other,
        );
        expect(sorted(extractFile(file, updated, from)), `${file}: ${dep.depName} → ${JSON.stringify(update)}`).toEqual(sorted(expected));
        if (file.endsWith(".yaml")) {
          const differences = leafDifferences(YAML.parse(content), YAML.parse(updated));
          expect(differences, `${file}: ${dep.depName}`).toHaveLength(1);
        } else {
          const changed = updated.split("\n").filter((line, index) => line !== content.split("\n")[index]);
          expect(changed, `${file}: ${dep.depName}`).toEqual([expect.stringContaining(update.newValue ?? update.newDigest ?? "")]);
        }
        updates += 1;
      }
    });
  }
  return updates;
}

// ---------------------------------------------------------------------------------------------
// homelab.yaml written in other ways than the reference: built from it with the yaml library,
// then checked by the generator's own loader, so each is a config users can have.

const referenceText = read("homelab.yaml");
const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

interface VariantOptions {
  indent?: number;
  quote?: Scalar.Type;
  imageBase?: string;
}

/** The schema node at a dotted path of homelab.yaml. */
const schemaAt = (path: string[]) =>
  path.reduce<TSchema | undefined>((schema, key) => (schema?.properties as Record<string, TSchema> | undefined)?.[key], HomelabSchema);

/** The reference with every version key of PRESET_VERSIONS set, each after every other key of
 * its section (filled in from the schema's defaults), comments that hold the current version,
 * a `version:` key that is no chart version, and Helm apps with their chart keys in other
 * orders and from an OCI registry. */
function everyVersionKey(options: VariantOptions): string {
  const doc = YAML.parseDocument(referenceText);
  const scalar = (value: unknown, comment?: string) => {
    const node = doc.createNode(value) as Scalar;
    if (options.quote && typeof value === "string") node.type = options.quote;
    if (comment) node.comment = comment;
    return node;
  };
  // Every key a section can have that has a default, recursively, so the version comes last.
  const fill = (path: string[]) => {
    for (const [key, property] of Object.entries((schemaAt(path)?.properties ?? {}) as Record<string, TSchema>)) {
      if (key === "version" || doc.hasIn([...path, key])) continue;
      if (property.type === "object" && property.properties) fill([...path, key]);
      else if (property.default !== undefined && typeof property.default !== "object") doc.setIn([...path, key], scalar(property.default));
    }
  };
  const versionPaths: [string[], string][] = [
    [["cluster", "k3s", "version"], catalog.k3s.version],
    [["flux", "version"], catalog.flux.version],
    ...Object.entries(PRESET_VERSIONS).map(([path, chart]): [string[], string] => [path.split("."), catalog.charts[chart].version]),
  ];
  for (const [path, defaultVersion] of versionPaths) {
    const sectionPath = path.slice(0, -1);
    const current = doc.getIn(path);
    const version = isScalar(current) ? String(current.value) : current === undefined ? defaultVersion : String(current);
    fill(sectionPath);
    if (current !== undefined) doc.deleteIn(path);
    if (!doc.hasIn(sectionPath)) doc.setIn(sectionPath, doc.createNode({}));
    const section = doc.getIn(sectionPath);
    if (!isMap(section)) throw new Error(`${sectionPath.join(".")} is no mapping`);
    const pair = doc.createPair("version", scalar(version, current === undefined ? " pinned" : undefined));
    // Above one of them, a comment that holds the same version.
    if (path[0] === "storage" && isScalar(pair.key)) pair.key.commentBefore = ` version: ${version} is the one below`;
    section.items.push(pair);
  }
  // Helm apps: a `version` key in values, chart keys in other orders, an OCI chart.
  doc.setIn(["apps", "minecraft", "values", "image"], doc.createNode({ repository: "itzg/minecraft-server", version: "2025.1.0" }));
  const helmApp = (name: string, chart: [string, string][]) => {
    const node = doc.createNode({ chart: Object.fromEntries(chart.map(([key, value]) => [key, scalar(value)])), values: { replicas: 1 } });
    doc.setIn(["apps", name], node);
  };
  helmApp("registry", [
    ["name", "zot"],
    ["version", "0.1.70"],
    ["repository", "oci://ghcr.io/project-zot/helm-charts/"],
  ]);
  helmApp("dashboard", [
    ["version", "1.2.3"],
    ["repository", "https://charts.example.org/stable"],
    ["name", "dashboard"],
  ]);
  const dashboardChart = doc.getIn(["apps", "dashboard", "chart"]);
  if (isMap(dashboardChart)) {
    const name = dashboardChart.items.at(-1);
    if (name && isScalar(name.key)) name.key.commentBefore = " the chart's name; version: 1.2.3 is its version";
  }
  if (options.imageBase) doc.setIn(["image", "base"], scalar(options.imageBase, " the base image"));
  // Block style throughout, as `init` writes it.
  YAML.visit(doc, {
    Map(_, map) {
      if (map.items.length > 0) map.flow = false;
    },
  });
  return doc.toString({ indent: options.indent ?? 2, lineWidth: 0 });
}

const variants: [string, string][] = [
  ["every version key", everyVersionKey({})],
  ["every version key, indented by four", everyVersionKey({ indent: 4 })],
  ["every version key, double-quoted", everyVersionKey({ quote: "QUOTE_DOUBLE", imageBase: `ghcr.io/ublue-os/base-main:44@${DIGEST}` })],
  ["every version key, single-quoted", everyVersionKey({ quote: "QUOTE_SINGLE", imageBase: `quay.io/fedora/fedora-bootc@${DIGEST}` })],
  ["an image from a registry with a port", everyVersionKey({ imageBase: "registry.home.arpa:5000/os/base:10.1" })],
  ["an image without tag or digest", everyVersionKey({ imageBase: "registry.home.arpa:5000/os/base" })],
  ["no version key at all", "cluster:\n  name: home\n  domain: home.arpa\nsecrets:\n  ageRecipients:\n    - age1gkzd20j67qr0cpelrm223u90x0dj05xjk9kn3pad55tja777svqqpg5h5l\n"],
];

// ---------------------------------------------------------------------------------------------

describe("renovate.json", () => {
  test("is a configuration Renovate accepts: custom regex managers with RE2 patterns", () => {
    expect(renovate.$schema).toBe("https://docs.renovatebot.com/renovate-schema.json");
    expect(renovate.fileMatch).toBeUndefined();
    // Only the custom managers: the generated tree is the generator's output, never edited.
    expect(renovate.enabledManagers).toEqual(["custom.regex"]);
    expect(renovate.labels).toContain("homelab-update");
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    for (const command of renovate.postUpgradeTasks?.commands ?? []) {
      const script = /^npm run (\S+)$/.exec(command)?.[1];
      if (script) expect(scripts, command).toHaveProperty(script);
      else expect(command).toBe("npm ci");
    }
    const patterns: string[] = [];
    for (const manager of managers) {
      const name = manager.description ?? manager.matchStrings[0];
      expect(Object.keys(manager).filter((key) => !ALLOWED_KEYS.includes(key)), name).toEqual([]);
      expect(manager.customType, name).toBe("regex");
      expect(manager.managerFilePatterns.length, name).toBeGreaterThan(0);
      expect(manager.matchStrings.length, name).toBeGreaterThan(0);
      const groups = new Set(manager.matchStrings.flatMap((matchString) => [...matchString.matchAll(/\(\?<([A-Za-z][A-Za-z0-9]*)>/g)].map((match) => match[1] ?? "")));
      const has = (field: Field) => groups.has(field) || manager[`${field}Template`] !== undefined;
      expect(has("currentValue") && has("datasource") && (has("depName") || has("packageName")), name).toBe(true);
      // A group that is no field must feed a template (else it is a typo).
      const templates = FIELDS.map((field) => manager[`${field}Template`] ?? "").join(" ");
      for (const group of groups) {
        if (!(FIELDS as readonly string[]).includes(group)) expect(templates, `${name}: group ${group}`).toContain(group);
      }
      for (const field of FIELDS) {
        const template = manager[`${field}Template`];
        if (template) expect(() => Handlebars.precompile(template), `${name}: ${field}Template`).not.toThrow();
      }
      patterns.push(...manager.matchStrings);
      const versioning = manager.versioningTemplate ?? "";
      if (versioning.startsWith("regex:")) patterns.push(versioning.slice("regex:".length));
      if (manager.extractVersionTemplate) patterns.push(manager.extractVersionTemplate);
    }
    for (const rule of renovate.packageRules ?? []) if (rule.extractVersion) patterns.push(rule.extractVersion);
    for (const pattern of patterns) {
      expect(() => new RegExp(pattern, "g"), pattern).not.toThrow();
      // RE2 has no lookaround, backreferences or atomic groups.
      expect(pattern, pattern).not.toMatch(/\(\?<?[=!]|\\[1-9]|\\k<|\(\?>/);
    }
  });

  test("each manager reads exactly the file it is for", () => {
    for (const manager of managers) {
      expect([["generator/catalog.ts"], ["homelab.yaml"]], manager.description).toContainEqual(filesOf(manager));
    }
    expect(catalogManagers.length).toBeGreaterThan(0);
    expect(homelabManagers.length).toBeGreaterThan(0);
  });

  test("every version Renovate finds is one of the catalog or the reference config, and every one is found", () => {
    const extracted = managers.flatMap((manager) => filesOf(manager).flatMap((file) => extractFile(file, read(file), [manager])));
    const expected = [...catalogDeps(), ...configDeps(referenceText)];
    expect(sorted(extracted)).toEqual(sorted(expected));
    // The reference pins charts, k3s and Flux, and the base image.
    expect(new Set(configDeps(referenceText).map((dep) => dep.datasource))).toEqual(new Set(["helm", "github-releases", "docker"]));
  });

  test("every value the catalog holds is a chart source or a version some manager reads", () => {
    const leaves: string[] = [];
    const walk = (value: unknown, path: string[]) => {
      if (value !== null && typeof value === "object") for (const [key, child] of Object.entries(value)) walk(child, [...path, key]);
      else leaves.push(path.join("."));
    };
    walk(catalog, []);
    const known = (path: string) => /^charts\.[^.]+\.(repository|chart|version|versionPrefix)$/.test(path) || /^images\.[A-Za-z]+$/.test(path) || ["k3s.version", "flux.version", "sops.version", "helm.version", "baseImage"].includes(path);
    expect(leaves.filter((path) => !known(path)), "a new catalog entry needs a custom manager in renovate.json").toEqual([]);
  });

  test.each([
    ["a tag", "ghcr.io/ublue-os/base-main:44"],
    ["a tag and a digest", `ghcr.io/ublue-os/base-main:44@${DIGEST}`],
    ["a digest", `quay.io/fedora/fedora-bootc@${DIGEST}`],
  ])("a catalog baseImage with %s is read and updated", (_name, reference) => {
    const text = catalogWithBaseImage(reference);
    expect(sorted(extractFile("generator/catalog.ts", text, catalogManagers))).toEqual(sorted(catalogDeps(reference)));
    expect(checkEveryUpdate("generator/catalog.ts", text, catalogManagers)).toBeGreaterThan(Object.keys(catalog.charts).length);
  });

  test("every version key of the config schema has a manager, pinned to the catalog's chart", () => {
    const paths: string[] = [];
    const walk = (schema: TSchema, path: string) => {
      for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
        if (key === "version") paths.push(`${path}${key}`);
        if (child.type === "object") walk(child, `${path}${key}.`);
      }
      if (schema.additionalProperties && typeof schema.additionalProperties === "object") walk(schema.additionalProperties as TSchema, `${path}*.`);
    };
    walk(HomelabSchema, "");
    expect(paths.sort()).toEqual(["apps.*.chart.version", "cluster.k3s.version", "flux.version", ...Object.keys(PRESET_VERSIONS)].sort());
    // The mapping above is the generator's: each key defaults to its chart's catalog version.
    for (const [path, chart] of Object.entries(PRESET_VERSIONS)) {
      expect(schemaAt(path.split("."))?.default, path).toBe(catalog.charts[chart].version);
    }
  });

  test.each(variants)("homelab.yaml with %s: every version and nothing else", (_name, text) => {
    expect(() => parseConfig(text)).not.toThrow();
    expect(sorted(extractFile("homelab.yaml", text, homelabManagers))).toEqual(sorted(configDeps(text)));
  });

  test("the variants hold what they are for", () => {
    const variant = (name: string) => variants.find(([candidate]) => candidate === name)?.[1] ?? "";
    const every = variant("every version key");
    const deps = configDeps(every);
    expect(deps.filter((dep) => dep.datasource === "helm" || dep.datasource === "docker").map((dep) => dep.depName)).toEqual(
      expect.arrayContaining(["step-issuer", "kube-prometheus-stack", "gitea", "vaultwarden", "home-assistant", "zot", "dashboard", "minecraft"]),
    );
    expect(deps).toContainEqual(expect.objectContaining({ datasource: "docker", packageName: "ghcr.io/project-zot/helm-charts/zot" }));
    // Each version after the other keys of its section, comments holding versions above some.
    // Gitea's database section (nested keys) sits between them: the manager reads past it.
    expect(every).toMatch(/\n {4}sshPort: 2222\n {4}database:\n {6}size: 8Gi\n {6}migrate: false\n {4}sso: true\n {4}version: 12\.7\.0 # pinned\n/);
    expect(every).toMatch(/\n {4}# version: 1\.12\.1 is the one below\n {4}version: 1\.12\.1\n/);
    expect(variant("every version key, indented by four")).toMatch(/\n {8}sshPort: 2222\n {8}database:\n {12}size: 8Gi\n {12}migrate: false\n {8}sso: true\n {8}version: 12\.7\.0 # pinned\n/);
    expect(variant("every version key, single-quoted")).toMatch(/\n {4}version: '12\.7\.0' # pinned\n/);
    expect(configDeps(variant("an image without tag or digest")).some((dep) => dep.datasource === "docker" && dep.depName.includes("registry.home.arpa"))).toBe(false);
  });

  test("an update rewrites its own version and nothing else: catalog, reference config, variants", () => {
    let updates = checkEveryUpdate("generator/catalog.ts", read("generator/catalog.ts"), catalogManagers);
    updates += checkEveryUpdate("homelab.yaml", referenceText, homelabManagers);
    for (const [, text] of variants) updates += checkEveryUpdate("homelab.yaml", text, homelabManagers);
    expect(updates).toBeGreaterThan(60);
  });

  test("lookups compare like with like: k3s releases, Flux tags, prefixed chart versions", () => {
    const k3s = managers.find((manager) => manager.depNameTemplate === "k3s");
    const k3sVersioning = new RegExp((k3s?.versioningTemplate ?? "").replace(/^regex:/, ""));
    // k3s-io/k3s tags: v1.36.3+k3s1 < v1.36.3+k3s2 (semver would ignore the +k3sN build).
    for (const tag of [catalog.k3s.version, "v1.36.3+k3s2", "v1.37.0-rc1+k3s1"]) expect(k3sVersioning.exec(tag)?.groups?.build, tag).toMatch(/^\d+$/);
    expect(k3sVersioning.exec("v1.37.0-rc1+k3s1")?.groups?.prerelease).toBe("rc1");
    // fluxcd/flux2 tags are v2.9.4; the config holds 2.9.4.
    const flux = managers.find((manager) => manager.depNameTemplate === "flux");
    expect(new RegExp(flux?.extractVersionTemplate ?? "").exec(`v${catalog.flux.version}`)?.groups?.version).toBe(catalog.flux.version);
    // getsops/sops and helm/helm tags are v3.13.3 and v4.2.3; the catalog holds them without the v.
    for (const tool of ["sops", "helm"] as const) {
      const manager = managers.find((candidate) => candidate.depNameTemplate === tool);
      expect(new RegExp(manager?.extractVersionTemplate ?? "").exec(`v${catalog[tool].version}`)?.groups?.version, tool).toBe(catalog[tool].version);
    }
    // A chart published with a prefix (versionPrefix) is looked up without it.
    for (const source of Object.values(catalog.charts) as { chart: string; version: string; versionPrefix?: string }[]) {
      const rule = (renovate.packageRules ?? []).find((candidate) => candidate.extractVersion && candidate.matchDepNames?.includes(source.chart));
      if (!source.versionPrefix) {
        expect(rule, source.chart).toBeUndefined();
        continue;
      }
      expect(rule?.matchDatasources, source.chart).toEqual(["helm"]);
      expect(new RegExp(rule?.extractVersion ?? "").exec(`${source.versionPrefix}${source.version}`)?.groups?.version, source.chart).toBe(source.version);
    }
  });
});
