// load → validate → defaults: YAML text in, a complete HomelabConfig (or diagnostics with
// file:line:col) out.
import { closeSync, openSync, readFileSync, readSync, statSync, type Stats } from "node:fs";
import { createRequire } from "node:module";
import { basename } from "node:path";
import type { ErrorObject } from "ajv";
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Alias, type Document, type Node, type YAMLError } from "yaml";
import { UserError, type Diagnostic } from "../errors.ts";
import { closest } from "./did-you-mean.ts";
import type { HomelabConfig } from "./schema.ts";
import { presetKeys } from "./presets.ts";
// The committed JSON form of schema.ts: loading it is much faster than building it with TypeBox.
import homelabSchema from "../../schemas/homelab.schema.json" with { type: "json" };
import { checkRules } from "./rules.ts";
import { CONFIG_CACHE_PATH, configCacheKey, rememberConfig, rememberedConfig } from "./load-cache.ts";
import type { validate as Validate } from "./schema-validator.generated.js";

export interface LoadedConfig {
  readonly config: HomelabConfig;
  readonly warnings: readonly Diagnostic[];
  /** Where a key path sits in the file, for diagnostics raised after loading. */
  readonly locate: Locate;
}

/** Where a key path sits in the file; with `atKey`, the key itself rather than its value. */
export type Locate = (path: readonly (string | number)[], atKey?: boolean) => { line: number; col: number };

/**
 * Against alias bombs (billion laughs): the yaml library's maxAliasCount (each use of an anchor,
 * times the aliases nested in it) and the number of aliases in the file. Far above what a real
 * config repeats.
 */
const MAX_ALIAS_COUNT = 100;

/**
 * ajv's code for that schema, written by `npm run schema` (compiling it at start-up was slow),
 * loaded on the first config that is not in the cache (load-cache.ts): with its formats (cron
 * expressions, time zones) it costs ~15 ms. require() loads an ES module synchronously.
 */
let validator: typeof Validate | undefined;
function validateSchema(config: unknown): config is HomelabConfig {
  validator ??= (createRequire(import.meta.url)("./schema-validator.generated.js") as { validate: typeof Validate }).validate;
  return validator(config);
}

/** Far above any real config (the 300-app bench's is 83 KB): a bigger file is not one. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

const tooLarge = `it is larger than a config can be (${MAX_CONFIG_BYTES / 1024 / 1024} MiB)`;

const unreadableConfig = (path: string, reason: string) =>
  new UserError([{ file: path, line: 0, col: 0, path: "", message: `cannot read the config: ${reason}`, hint: "pass --config FILE, or run `npx homelab init` to create one" }]);

/**
 * Throws unless `path` can be a config: it exists and is not a folder, and a regular file is of a
 * config's size. A named pipe is fine: it is read up to that size only.
 */
export function checkConfigFile(path: string): Stats {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw unreadableConfig(path, (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message);
  }
  if (stats.isDirectory()) throw unreadableConfig(path, "it is a folder");
  if (stats.size > MAX_CONFIG_BYTES) throw unreadableConfig(path, tooLarge);
  return stats;
}

/** What is not a regular file, read up to MAX_CONFIG_BYTES: /dev/zero never ends. */
function readBounded(path: string): string {
  const fd = openSync(path, "r");
  try {
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      length += read;
      if (length > MAX_CONFIG_BYTES) throw unreadableConfig(path, tooLarge);
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** `cachePath`: where loaded configs are remembered (load-cache.ts; tests use their own). */
export function loadConfigFile(path: string, cachePath = CONFIG_CACHE_PATH): LoadedConfig {
  const stats = checkConfigFile(path);
  let text: string;
  try {
    text = stats.isFile() ? readFileSync(path, "utf8") : readBounded(path);
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw unreadableConfig(path, (error as Error).message);
  }
  const file = basename(path);
  const key = configCacheKey(text, file);
  const remembered = rememberedConfig(key, cachePath);
  if (remembered) {
    // Positions are only needed for a later error: the document is parsed then.
    let located: Locate | undefined;
    const locate: Locate = (keyPath, atKey) => (located ??= parseConfig(text, file).locate)(keyPath, atKey);
    return { config: remembered.config, warnings: remembered.warnings, locate };
  }
  const loaded = parseConfig(text, file);
  rememberConfig(key, loaded.config, loaded.warnings, cachePath);
  return loaded;
}

/** git's conflict markers, each at the start of a line. */
const CONFLICT_MARKER = /^(?:<{7}|>{7})(?: |$)|^={7}$/m;

export function parseConfig(text: string, file = "homelab.yaml"): LoadedConfig {
  // Said as what it is, not as the YAML errors it makes.
  const marker = CONFLICT_MARKER.exec(text);
  if (marker) {
    const line = text.slice(0, marker.index).split("\n").length;
    throw new UserError([{ file, line, col: 1, path: "", message: "holds git's merge-conflict markers", hint: "finish the merge: keep the lines you want between <<<<<<< and >>>>>>>, remove the markers, then `git add` the file" }]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const locate: Locate = (path, atKey) =>
    atKey && path.length > 0 ? locatePath(doc, path.slice(0, -1), at, String(path[path.length - 1])) : locatePath(doc, path, at);

  if (doc.errors.length > 0) {
    throw new UserError(
      doc.errors.map((e) => ({ file, ...at(e.pos[0]), path: "", ...yamlProblem(e, text) })),
    );
  }

  // An alias is written *name: without a star there is none, and no node need be visited.
  const raw = plainData(doc, file, at, text.includes("*"));
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new UserError([{ file, line: 1, col: 1, path: "", message: "expected a mapping with the sections cluster, git, secrets, …" }]);
  }
  const config = raw as HomelabConfig;
  if (!validateSchema(config)) {
    throw new UserError(schemaDiagnostics(validator?.errors ?? [], file, locate, config));
  }
  const { errors, warnings } = checkRules(config, (path, message, hint) => ({ file, ...locate(path), path: formatPath(path), message, hint }));
  if (errors.length > 0) throw new UserError(errors);
  return { config, warnings, locate };
}

/** What a YAML error means for someone editing homelab.yaml (the library's words name its own API). */
function yamlProblem(error: YAMLError, text: string): { message: string; hint?: string } {
  if (error.code === "DUPLICATE_KEY") return { message: `duplicate key "${keyAt(text, error.pos[0])}"`, hint: "remove or merge one of the two entries" };
  if (error.code === "MULTIPLE_DOCS") return { message: "a second YAML document starts here, and homelab.yaml is one document", hint: "remove this `---` line (or what follows it)" };
  if (/Maximum call stack size exceeded|Stack overflow/.test(error.message)) return { message: "nests too deeply to read", hint: "a config nests a few levels; flatten the values" };
  return { message: `invalid YAML: ${firstLine(error.message)}` };
}

type Path = (string | number)[];

/**
 * The document as plain data, each alias a copy of its own. Aliases are checked first, so that
 * toJS cannot take long, and its one remaining failure (the alias count) is given a position.
 */
function plainData(doc: Document, file: string, at: (offset: number) => { line: number; col: number }, mayHoldAliases: boolean): unknown {
  const aliases = mayHoldAliases ? aliasesOf(doc) : [];
  const problem = (use: AliasUse, message: string, hint: string): Diagnostic => ({
    file,
    ...at(use.alias.range?.[0] ?? 0),
    path: formatPath(keyPath(use.ancestors, use.alias)),
    message,
    hint,
  });
  const unusable = aliases.flatMap((use) =>
    use.source === undefined
      ? [problem(use, `the alias *${use.alias.source} has no anchor &${use.alias.source} before it`, `write &${use.alias.source} on the value to repeat, above the alias`)]
      : use.ancestors.includes(use.source)
        ? [problem(use, `the alias *${use.alias.source} is inside its own anchor, so it repeats forever`, "alias a value only after its anchor ends")]
        : [],
  );
  if (unusable.length > 0) throw new UserError(unusable);
  // The library resolves each alias by scanning the document: many aliases take it quadratic time.
  const beyond = aliases[MAX_ALIAS_COUNT];
  if (beyond) throw new UserError([problem(beyond, `expected at most ${MAX_ALIAS_COUNT} aliases in the file, and this is one more`, "write the repeated values out")]);

  let shared: unknown;
  try {
    shared = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The library's error names no place: find the alias it stopped at.
    const over = error instanceof ReferenceError ? aliasOverLimit(aliases) : undefined;
    if (!over) throw error;
    throw new UserError([
      problem(over, `expected aliases to repeat values at most ${MAX_ALIAS_COUNT} times, and *${over.alias.source} repeats more (aliases inside aliases multiply)`, "write the repeated part out, or nest fewer aliases"),
    ]);
  }
  // Without aliases every value is its own already.
  return aliases.length === 0 ? (shared ?? {}) : detachAliases(shared ?? {});
}

/**
 * toJS gives every alias of an anchor the same object, and defaults are filled in place: copy
 * each use, so a default filled into one section never shows up in another.
 */
function detachAliases(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  return Array.isArray(value) ? value.map(detachAliases) : Object.fromEntries(Object.entries(value).map(([key, child]) => [key, detachAliases(child)]));
}

/** An alias, the node it repeats (undefined: no anchor before it) and the nodes above it. */
interface AliasUse {
  readonly alias: Alias;
  readonly source: Node | undefined;
  readonly ancestors: readonly unknown[];
}

/** Every alias in document order, resolved as the yaml library does: to the last anchor of its name before it. */
function aliasesOf(doc: Document): AliasUse[] {
  const anchors = new Map<string, Node>();
  const uses: AliasUse[] = [];
  visit(doc, {
    Node(_key, node, ancestors) {
      if (isAlias(node)) uses.push({ alias: node, source: anchors.get(node.source), ancestors });
      else if (node.anchor) anchors.set(node.anchor, node);
    },
  });
  return uses;
}

/**
 * The alias at which toJS's alias count runs over, counted as yaml 2.9 counts (nodes/Alias.js):
 * in document order, each use of an anchor raises its count, and the count times the largest
 * count of an alias nested in the anchor must stay within the limit.
 */
function aliasOverLimit(aliases: readonly AliasUse[]): AliasUse | undefined {
  const sources = new Map(aliases.map((use) => [use.alias, use.source]));
  const counts = new Map<Node | undefined, { uses: number; nested: number }>();
  const weight = (node: unknown): number => {
    if (isAlias(node)) {
      const count = counts.get(sources.get(node));
      return count ? count.uses * count.nested : 0;
    }
    if (isCollection(node)) return node.items.reduce<number>((max, item) => Math.max(max, weight(item)), 0);
    if (isPair(node)) return Math.max(weight(node.key), weight(node.value));
    return 1;
  };
  for (const use of aliases) {
    // The anchor itself counts once.
    const count = counts.get(use.source) ?? { uses: 1, nested: 0 };
    counts.set(use.source, count);
    count.uses += 1;
    if (count.nested === 0) count.nested = weight(use.source);
    if (count.uses * count.nested > MAX_ALIAS_COUNT) return use;
  }
  return undefined;
}

/** The key path of a node below its ancestors (as `visit` hands them over). */
function keyPath(ancestors: readonly unknown[], node: unknown): Path {
  const chain = [...ancestors, node];
  return chain.flatMap<string | number>((item, i) => (isPair(item) ? [String(isScalar(item.key) ? item.key.value : item.key)] : isSeq(item) ? [item.items.indexOf(chain[i + 1])] : []));
}

function keyAt(text: string, offset: number): string {
  return (/^\s*([^:\n]*)/.exec(text.slice(offset))?.[1] ?? "").trim();
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

/** A key path for humans: cluster.nodes[0].name */
export function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** A JSON pointer into the config as a key path: a number only where the data holds a list (an app may be named "0"). */
function instancePath(pointer: string, data: unknown): (string | number)[] {
  let node = data;
  return pointerToPath(pointer).map((segment) => {
    const key = Array.isArray(node) ? Number(segment) : String(segment);
    node = node !== null && typeof node === "object" ? (node as Record<string | number, unknown>)[key] : undefined;
    return key;
  });
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The position of the deepest node that exists along the path (a missing key points at its parent). */
function locatePath(doc: Document, path: readonly (string | number)[], at: (offset: number) => { line: number; col: number }, keyOf?: string) {
  let node: unknown = doc.contents;
  for (const segment of path) {
    const next = isMap(node) || isSeq(node) ? (node as { get(k: unknown, keep: true): unknown }).get(segment, true) : undefined;
    if (next === undefined || next === null) break;
    node = next;
  }
  if (keyOf !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === keyOf);
    if (pair && isScalar(pair.key) && pair.key.range) return at(pair.key.range[0]);
  }
  const range = (node as Node | null)?.range;
  return range ? at(range[0]) : { line: 1, col: 1 };
}

function schemaDiagnostics(errors: ErrorObject[], file: string, locate: Locate, data: unknown): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const reportedValues = new Set<string>();
  for (const error of errors) {
    const path = instancePath(error.instancePath, data);
    if (error.keyword === "required") {
      const key = (error.params as { missingProperty: string }).missingProperty;
      diagnostics.push({ file, ...locate(path), path: formatPath([...path, key]), message: `missing required key "${key}"`, hint: requiredHint(path, key) });
      continue;
    }
    if (error.keyword === "additionalProperties") {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const parent = error.parentSchema as { properties?: object; errorMessage?: string } | undefined;
      const known = Object.keys(parent?.properties ?? {});
      // A map without declared keys (labels) says what its keys must look like.
      if (known.length === 0 && parent?.errorMessage) {
        diagnostics.push({ file, ...locate([...path, key], true), path: formatPath([...path, key]), message: `expected ${parent.errorMessage}, got the key ${describe(key)}` });
        continue;
      }
      const suggestion = closest(key, known);
      diagnostics.push({
        file,
        ...locate([...path, key], true),
        path: formatPath([...path, key]),
        message: `unknown key "${key}"`,
        hint: suggestion ? `did you mean "${suggestion}"?` : known.length > 0 ? `expected one of: ${known.join(", ")}` : undefined,
      });
      continue;
    }
    // One message per value: alternatives (anyOf) and several failed keywords say the same thing.
    if (reportedValues.has(error.instancePath)) continue;
    reportedValues.add(error.instancePath);
    diagnostics.push({ file, ...locate(path), path: formatPath(path), message: `expected ${expectation(error)}, got ${describe(error.data)}`, hint: ownAnnotation(error, "hint") });
  }
  // Errors inside a value make an anyOf's own "must match a schema in anyOf" redundant.
  return diagnostics.sort((a, b) => a.line - b.line || a.col - b.col);
}

function requiredHint(path: (string | number)[], key: string): string | undefined {
  if (path.length !== 2 || path[0] !== "apps" || key !== "chart") return undefined;
  const preset = closest(String(path[1]), presetKeys);
  return preset
    ? `did you mean the preset "${preset}"?`
    : "a Helm app needs chart: {repository, name, version}; the presets are " + presetKeys.join(", ");
}

function expectation(error: ErrorObject): string {
  const custom = ownAnnotation(error, "errorMessage");
  if (custom) return custom;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "type":
      return `a value of type ${String(params.type)}`;
    case "enum":
      return `one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "minimum":
    case "maximum":
      return `a number ${String(params.comparison)} ${String(params.limit)}`;
    case "minItems":
      return `at least ${String(params.limit)} item(s)`;
    case "uniqueItems":
      return "no duplicate items";
    case "minLength":
      return "a non-empty string";
    case "pattern":
      return `a string matching ${String(params.pattern)}`;
    case "format":
      return `a valid ${String(params.format)}`;
    default:
      return error.message ?? "a different value";
  }
}

/** The schema's own errorMessage or hint for a failed value. */
function ownAnnotation(error: ErrorObject, key: "errorMessage" | "hint"): string | undefined {
  const parent = error.parentSchema as Record<string, string> | undefined;
  if (parent?.[key]) return parent[key];
  // A failed alternative inside anyOf: the annotation belongs to the schema holding the anyOf.
  const holder = error.schemaPath.replace(/\/anyOf\/\d+\/[^/]+$/, "");
  if (holder !== error.schemaPath) {
    const schema = schemaAtPointer(holder) as Record<string, string> | undefined;
    return schema?.[key];
  }
  return undefined;
}

function schemaAtPointer(schemaPath: string): unknown {
  let node: unknown = homelabSchema;
  for (const segment of pointerToPath(schemaPath.replace(/^#/, ""))) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}
