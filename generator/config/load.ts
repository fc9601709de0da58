// load → validate → defaults: YAML text in, a complete HomelabConfig (or diagnostics with
// file:line:col) out.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { isIPv4, isIPv6 } from "node:net";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { UserError, type Diagnostic } from "../errors.ts";
import { closest } from "./did-you-mean.ts";
import type { HomelabConfig } from "./schema.ts";
import { presetKeys } from "./presets.ts";
// The committed JSON form of schema.ts: loading it is much faster than building it with TypeBox.
import homelabSchema from "../../schemas/homelab.schema.json" with { type: "json" };
import { checkRules } from "./rules.ts";
import { isCron } from "./cron.ts";

export interface LoadedConfig {
  readonly config: HomelabConfig;
  readonly warnings: readonly Diagnostic[];
  /** Where a key path sits in the file, for diagnostics raised after loading. */
  readonly locate: Locate;
}

/** Where a key path sits in the file; with `atKey`, the key itself rather than its value. */
type Locate = (path: readonly (string | number)[], atKey?: boolean) => { line: number; col: number };

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
ajv.addFormat("ipv4", isIPv4);
ajv.addFormat("ipv6", isIPv6);
ajv.addFormat("cron", isCron);
ajv.addFormat("timezone", isTimeZone);
ajv.addKeyword({ keyword: "errorMessage", schemaType: "string" });
const validateSchema = ajv.compile<HomelabConfig>(homelabSchema);

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone !== "" && !/^[+-]/.test(zone);
  } catch {
    return false;
  }
}

export function loadConfigFile(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new UserError([
      { file: path, line: 0, col: 0, path: "", message: `cannot read the config: ${reason}`, hint: "pass --config FILE, or run `npx homelab init` to create one" },
    ]);
  }
  return parseConfig(text, basename(path));
}

export function parseConfig(text: string, file = "homelab.yaml"): LoadedConfig {
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
      doc.errors.map((e) => ({
        file,
        ...at(e.pos[0]),
        path: "",
        message: e.code === "DUPLICATE_KEY" ? `duplicate key "${keyAt(text, e.pos[0])}"` : `invalid YAML: ${firstLine(e.message)}`,
        hint: e.code === "DUPLICATE_KEY" ? "remove or merge one of the two entries" : undefined,
      })),
    );
  }

  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new UserError([{ file, line: 1, col: 1, path: "", message: "expected a mapping with the sections cluster, git, secrets, …" }]);
  }
  const config = structuredClone(raw) as HomelabConfig;
  if (!validateSchema(config)) {
    throw new UserError(schemaDiagnostics(validateSchema.errors ?? [], file, locate));
  }
  const { errors, warnings } = checkRules(config, (path, message, hint) => ({ file, ...locate(path), path: formatPath(path), message, hint }));
  if (errors.length > 0) throw new UserError(errors);
  return { config, warnings, locate };
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

function schemaDiagnostics(errors: ErrorObject[], file: string, locate: Locate): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const reportedValues = new Set<string>();
  for (const error of errors) {
    const path = pointerToPath(error.instancePath);
    if (error.keyword === "required") {
      const key = (error.params as { missingProperty: string }).missingProperty;
      diagnostics.push({ file, ...locate(path), path: formatPath([...path, key]), message: `missing required key "${key}"`, hint: requiredHint(path, key) });
      continue;
    }
    if (error.keyword === "additionalProperties") {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
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
    diagnostics.push({ file, ...locate(path), path: formatPath(path), message: `expected ${expectation(error)}, got ${describe(error.data)}` });
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
  const custom = ownErrorMessage(error);
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

function ownErrorMessage(error: ErrorObject): string | undefined {
  const parent = error.parentSchema as { errorMessage?: string } | undefined;
  if (parent?.errorMessage) return parent.errorMessage;
  // A failed alternative inside anyOf: the message belongs to the schema holding the anyOf.
  const holder = error.schemaPath.replace(/\/anyOf\/\d+\/[^/]+$/, "");
  if (holder !== error.schemaPath) {
    const schema = schemaAtPointer(holder) as { errorMessage?: string } | undefined;
    return schema?.errorMessage;
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
