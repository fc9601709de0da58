// fast-check arbitraries for homelab.yaml, drawn from the JSON Schema itself (HomelabSchema is
// a TypeBox object, i.e. plain JSON Schema): every key of the schema is exercised, optional keys
// are sometimes present and sometimes absent. A few paths get overrides where pure schema
// drawing cannot produce a meaningful config (age keys carry a bech32 checksum, app names must
// avoid the platform's own names, ...). brokenHomelabConfig turns a valid config into an
// invalid one with exactly one mutation; aliasedHomelabConfig repeats one of its values
// through a YAML alias.
import { generateKeyPairSync } from "node:crypto";
import fc, { type Arbitrary } from "fast-check";
import { Alias, Document, stringify, YAMLMap, YAMLSeq, type Node } from "yaml";
import { presetKeys } from "../../generator/config/presets.ts";
import { reservedNames } from "../../generator/config/rules.ts";
import { HomelabSchema } from "../../generator/config/schema.ts";

/** The subset of JSON Schema the homelab schema uses. */
export interface JsonSchema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly patternProperties?: Readonly<Record<string, JsonSchema>>;
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly anyOf?: readonly JsonSchema[];
  readonly pattern?: string;
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems?: boolean;
  readonly default?: unknown;
}

export type Config = Record<string, unknown>;

export const homelabJsonSchema = HomelabSchema as unknown as JsonSchema;

// ---------------------------------------------------------------------------------------------
// Schema paths. A schema path names a place in the schema, not in one document:
// "cluster.nodes[].role" (array items), "apps.*.sso" (values of an open object).

const childPath = (path: string, key: string) => (path === "" ? key : `${path}.${key}`);
const itemsPath = (path: string) => `${path}[]`;

/** The schema of an open object's extra keys (additionalProperties, or patternProperties). */
function openValueSchema(schema: JsonSchema): { schema: JsonSchema; keyPattern?: string } | undefined {
  if (typeof schema.additionalProperties === "object") return { schema: schema.additionalProperties };
  const pattern = Object.entries(schema.patternProperties ?? {})[0];
  return pattern ? { schema: pattern[1], keyPattern: pattern[0] } : undefined;
}

/** The schema of a declared property (own keys only: "constructor" is a fine app name). */
function declaredSchema(schema: JsonSchema, key: string): JsonSchema | undefined {
  return schema.properties && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
}

/** The schema of one key of an object value. */
function childSchema(schema: JsonSchema, key: string): JsonSchema | undefined {
  return declaredSchema(schema, key) ?? openValueSchema(schema)?.schema;
}

// ---------------------------------------------------------------------------------------------
// The generic part: JSON Schema → arbitrary.

export type Override = (base: Arbitrary<unknown>, schema: JsonSchema) => Arbitrary<unknown>;

export interface SchemaArbitraryOptions {
  /** Replace or wrap the arbitrary at a schema path; `base` is what the schema alone would draw. */
  readonly overrides?: Readonly<Record<string, Override>>;
  /** The keys of an open object (additionalProperties / patternProperties) at a schema path. */
  readonly keys?: Readonly<Record<string, Arbitrary<string>>>;
  /** At most this many extra keys in the open object at a schema path (default 3). */
  readonly maxKeys?: Readonly<Record<string, number>>;
  /** Arbitraries for the `format` keyword. */
  readonly formats?: Readonly<Record<string, Arbitrary<string>>>;
}

const ABSENT: unique symbol = Symbol("absent");

/** Five-field cron expressions, built from fields cron-parser and Longhorn both accept. */
export const cronArbitrary: Arbitrary<string> = fc
  .tuple(
    fc.constantFrom("0", "5", "30", "59", "*/5", "*/15", "0,30", "*"),
    fc.constantFrom("*", "0", "3", "23", "*/6", "1-5", "2,14"),
    fc.constantFrom("*", "1", "15", "28", "*/2"),
    fc.constantFrom("*", "1", "6", "12", "*/3", "1-6"),
    fc.constantFrom("*", "0", "6", "1-5", "0,6"),
  )
  .map((fields) => fields.join(" "));

export const timeZones = [
  "UTC",
  "Europe/Amsterdam",
  "America/New_York",
  "America/Argentina/Buenos_Aires",
  "Asia/Tokyo",
  "Asia/Kolkata",
  "Australia/Sydney",
  "Pacific/Chatham",
  "Africa/Nairobi",
  "Etc/GMT+5",
] as const;

export const defaultFormats: Readonly<Record<string, Arbitrary<string>>> = {
  ipv4: fc.ipV4(),
  ipv6: fc.ipV6(),
  cron: cronArbitrary,
  timezone: fc.constantFrom(...timeZones),
};

/** An arbitrary of values valid against `schema`. */
export function schemaArbitrary(schema: JsonSchema, options: SchemaArbitraryOptions = {}, path = ""): Arbitrary<unknown> {
  const base = withDefault(baseArbitrary(schema, options, path), schema);
  const override = options.overrides?.[path];
  return override ? override(base, schema) : base;
}

/** A key with a default is sometimes written out with exactly its default value. */
function withDefault(arbitrary: Arbitrary<unknown>, schema: JsonSchema): Arbitrary<unknown> {
  if (schema.default === undefined) return arbitrary;
  const value = schema.default;
  return fc.oneof({ weight: 3, arbitrary }, { weight: 1, arbitrary: fc.constant(value).map((v) => structuredClone(v)) });
}

function baseArbitrary(schema: JsonSchema, options: SchemaArbitraryOptions, path: string): Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf) {
    const { anyOf, ...shared } = schema;
    return fc.oneof(...anyOf.map((alternative) => baseArbitrary({ ...shared, ...alternative }, options, path)));
  }
  switch (schema.type) {
    case "object":
      return objectArbitrary(schema, options, path);
    case "array":
      return arrayArbitrary(schema, options, path);
    case "string":
      return stringArbitrary(schema, options, path);
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 });
    case "number":
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case undefined:
      // {}: any value; kept small.
      return fc.jsonValue({ maxDepth: 2 });
    default:
      throw new Error(`config-arbitrary: unsupported type ${schema.type} at ${path || "(root)"}`);
  }
}

function objectArbitrary(schema: JsonSchema, options: SchemaArbitraryOptions, path: string): Arbitrary<Config> {
  const properties = schema.properties ?? {};
  const required = requiredKeys(schema);
  const model: Record<string, Arbitrary<unknown>> = {};
  for (const [key, property] of Object.entries(properties)) {
    const arbitrary = schemaArbitrary(property, options, childPath(path, key));
    // Absent first, so that shrinking drops optional keys; present more often, so that keys
    // three optional levels deep are written often enough to be covered.
    model[key] = required.has(key) ? arbitrary : fc.oneof({ weight: 1, arbitrary: fc.constant(ABSENT) }, { weight: 2, arbitrary });
  }
  const declared = fc.record(model).map((record) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== ABSENT)));
  const open = openValueSchema(schema);
  if (!open) return declared;
  const keyPattern = open.keyPattern === undefined ? undefined : new RegExp(open.keyPattern, "u");
  const keys = (options.keys?.[path] ?? fc.string({ maxLength: 12 })).filter((key) => !Object.hasOwn(properties, key) && (keyPattern?.test(key) ?? true));
  const extra = fc.dictionary(keys, schemaArbitrary(open.schema, options, childPath(path, "*")), {
    maxKeys: options.maxKeys?.[path] ?? 3,
    noNullPrototype: true,
  });
  return fc.tuple(declared, extra).map(([known, more]) => ({ ...known, ...more }));
}

/**
 * Keys the user must write: `required` minus keys with a `default`. The loader validates with
 * ajv's useDefaults, which fills in defaults before `required` is checked (and TypeBox lists
 * every non-Optional property of the root object as required, defaulted sections included).
 */
export function requiredKeys(schema: JsonSchema): Set<string> {
  return new Set((schema.required ?? []).filter((key) => declaredSchema(schema, key)?.default === undefined));
}

function arrayArbitrary(schema: JsonSchema, options: SchemaArbitraryOptions, path: string): Arbitrary<unknown[]> {
  const item = schemaArbitrary(schema.items ?? {}, options, itemsPath(path));
  const minLength = schema.minItems ?? 0;
  const maxLength = schema.maxItems ?? minLength + 3;
  return schema.uniqueItems
    ? fc.uniqueArray(item, { minLength, maxLength, selector: (value) => JSON.stringify(value) })
    : fc.array(item, { minLength, maxLength });
}

function stringArbitrary(schema: JsonSchema, options: SchemaArbitraryOptions, path: string): Arbitrary<string> {
  let minLength = schema.minLength ?? 0;
  let maxLength = schema.maxLength ?? Number.POSITIVE_INFINITY;
  if (schema.format !== undefined) {
    const format = (options.formats ?? defaultFormats)[schema.format] ?? defaultFormats[schema.format];
    if (!format) throw new Error(`config-arbitrary: no arbitrary for format ${schema.format} at ${path}`);
    return format;
  }
  if (schema.pattern !== undefined) {
    let pattern = schema.pattern;
    // fast-check cannot draw lookaheads: a leading length lookahead becomes a length filter.
    const lookahead = /^\^\(\?=\.\{(\d+),(\d+)\}\$\)/.exec(pattern);
    if (lookahead) {
      pattern = `^${pattern.slice(lookahead[0].length)}`;
      minLength = Math.max(minLength, Number(lookahead[1]));
      maxLength = Math.min(maxLength, Number(lookahead[2]));
    }
    // "small" keeps unbounded repetitions (and so the strings) short.
    return fc.stringMatching(new RegExp(pattern), { size: "small" }).filter((s) => s.length >= minLength && s.length <= maxLength);
  }
  return fc.string({ minLength, maxLength: Math.min(maxLength, minLength + 24) });
}

// ---------------------------------------------------------------------------------------------
// Coverage: which schema keys a document uses and which optional keys it leaves out.

/** Every key path of the schema, e.g. cluster.nodes[].address, apps.*.expose.tcp. */
export function schemaKeyPaths(schema: JsonSchema, path = ""): { path: string; optional: boolean }[] {
  const found: { path: string; optional: boolean }[] = [];
  const visit = (node: JsonSchema, at: string) => {
    if (node.type === "array" && node.items) visit(node.items, itemsPath(at));
    if (node.type !== "object") return;
    const required = requiredKeys(node);
    for (const [key, property] of Object.entries(node.properties ?? {})) {
      found.push({ path: childPath(at, key), optional: !required.has(key) });
      visit(property, childPath(at, key));
    }
    const open = openValueSchema(node);
    if (open && open.schema.type !== undefined) {
      found.push({ path: childPath(at, "*"), optional: true });
      visit(open.schema, childPath(at, "*"));
    }
  };
  visit(schema, path);
  return found;
}

/** The schema key paths a document writes, and the optional declared ones it leaves out. */
export function keyUsage(value: unknown, schema: JsonSchema): { present: Set<string>; absent: Set<string> } {
  const present = new Set<string>();
  const absent = new Set<string>();
  const visit = (node: unknown, nodeSchema: JsonSchema, at: string) => {
    if (Array.isArray(node)) {
      if (nodeSchema.items) for (const item of node) visit(item, nodeSchema.items, itemsPath(at));
      return;
    }
    if (!isObject(node) || nodeSchema.type !== "object") return;
    for (const key of Object.keys(nodeSchema.properties ?? {})) if (!Object.hasOwn(node, key)) absent.add(childPath(at, key));
    for (const [key, child] of Object.entries(node)) {
      const declared = declaredSchema(nodeSchema, key);
      const open = openValueSchema(nodeSchema);
      const keyPath = childPath(at, declared ? key : "*");
      const sub = declared ?? open?.schema;
      if (!sub || (!declared && sub.type === undefined)) continue;
      present.add(keyPath);
      visit(child, sub, keyPath);
    }
  };
  visit(value, schema, "");
  return { present, absent };
}

function isObject(value: unknown): value is Config {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// homelab.yaml: the schema plus the overrides it needs.


/** Names a user plausibly gives a Helm app, beside random DNS labels (reserved ones are dropped). */
export const plausibleAppNames: readonly string[] = [
  "minecraft", "jellyfin", "immich", "paperless", "nextcloud", "pihole", "adguard", "uptime-kuma", "grafana", "prometheus",
  "home", "git", "auth", "vault", "apps", "backup", "images", "web", "a", "0", "x-1", "k3s", "flux", "traefik-tls", "constructor",
];

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Mostly `preferred`, sometimes anything the schema allows (`base`). */
function mostly(preferred: Arbitrary<unknown>, base: Arbitrary<unknown>): Arbitrary<unknown> {
  return fc.oneof({ weight: 9, arbitrary: preferred }, { weight: 1, arbitrary: base });
}

/** A real OpenSSH public key line: the pattern alone cannot make key data that decodes to its type. */
function sshPublicKey(): string {
  const raw = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const field = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]).toString("base64")}`;
}
const sshKeyLine = sshPublicKey();

export const appNameArbitrary: Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: mostly(fc.stringMatching(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, { size: "xsmall" }), fc.stringMatching(dnsLabel, { size: "xsmall" })) as Arbitrary<string> },
    { weight: 2, arbitrary: fc.constantFrom(...plausibleAppNames) },
  )
  .filter((name) => !reservedNames.has(name) && !(presetKeys as readonly string[]).includes(name));

/** Keys of Helm values: mostly plain identifiers, sometimes YAML-ish or odd strings. */
const valueKeyArbitrary: Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,11}$/) },
  { weight: 1, arbitrary: fc.constantFrom("true", "null", "~", "1", "0x10", "0o17", "-_1", "<<", "1e3", "a.b", "with space", "-", "#", "", "é", "key: value") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

export interface HomelabArbitraryOptions {
  /** Valid age recipients (real bech32 keys): the schema's pattern alone cannot make them. */
  readonly ageRecipients: readonly string[];
}

/** At least one port, and one targetPort only for one port number (rules.ts). */
function isMeaningfulExpose(expose: unknown): boolean {
  if (!isObject(expose) || (expose.tcp === undefined && expose.udp === undefined)) return false;
  return expose.targetPort === undefined || expose.tcp === undefined || expose.udp === undefined || expose.tcp === expose.udp;
}

/** Valid homelab.yaml documents (as plain objects, before defaults). */
export function validHomelabConfig(options: HomelabArbitraryOptions): Arbitrary<Config> {
  return schemaArbitrary(homelabJsonSchema, {
    overrides: {
      "secrets.ageRecipients[]": () => fc.constantFrom(...options.ageRecipients),
      "image.admin.sshKey": (base) => mostly(fc.constantFrom(sshKeyLine, `${sshKeyLine} me@laptop`), base),
      // The files would have to exist in the repository (test/safety-config.test.ts covers them).
      "image.caCertificates": (base) => mostly(fc.constant([]), base),
      // Rule rejections the broken-config arbitrary covers on purpose: rare here.
      "apps.gitea.enabled": (base) => mostly(fc.constant(true), base),
      "apps.*.sso": (base) => mostly(fc.constant(false), base),
      "apps.*.expose": (base) => mostly(base.filter(isMeaningfulExpose), base),
    },
    keys: {
      apps: appNameArbitrary,
      "apps.*.values": valueKeyArbitrary,
      "apps.*.expose.selector": fc.stringMatching(/^([a-z0-9]{1,6}(\.[a-z0-9]{1,6}){0,2}\/)?[a-z]([-a-z0-9_.]{0,10}[a-z0-9])?$/),
    },
    maxKeys: { apps: 4, "apps.*.values": 4 },
  }) as Arbitrary<Config>;
}

// ---------------------------------------------------------------------------------------------
// Aliases: a value anchored in one place and repeated in another must read as a copy.

export interface AliasedConfig {
  /** What was repeated where. */
  readonly alias: string;
  /** homelab.yaml with an anchor on the first value and its alias in the second place. */
  readonly text: string;
  /** The same document with the value written out in both places. */
  readonly expanded: string;
}

/** A schema without what may differ between places that take the same values (defaults, above all). */
function shape(schema: JsonSchema): string {
  return JSON.stringify(schema, (key, value: unknown) => (key === "default" || key === "description" ? undefined : value));
}

const isWithin = (path: readonly Key[], parent: readonly Key[]) => parent.every((key, i) => path[i] === key);

/** Valid configs in which a later mapping or list repeats an earlier one of the same shape through an alias. */
export function aliasedHomelabConfig(valid: Arbitrary<Config>, schema: JsonSchema = homelabJsonSchema): Arbitrary<AliasedConfig> {
  return valid
    .map((config) => {
      const collections = sitesOf(config, schema).filter((s) => s.path.length > 0 && s.value !== null && typeof s.value === "object");
      // Sites come in document order: the anchor comes first, and never holds its alias.
      const pairs = collections.flatMap((anchored, i) =>
        collections.slice(i + 1).flatMap((repeated) => (!isWithin(repeated.path, anchored.path) && shape(repeated.schema) === shape(anchored.schema) ? [[anchored, repeated] as const] : [])),
      );
      return { config, pairs };
    })
    .filter(({ pairs }) => pairs.length > 0)
    .chain(({ config, pairs }) =>
      fc.constantFrom(...pairs).map(([anchored, repeated]) => {
        const doc = new Document(config);
        doc.setIn(repeated.path, doc.createAlias(doc.getIn(anchored.path, true) as YAMLMap | YAMLSeq, "shared"));
        return { alias: `${show(repeated.path)}: *${show(anchored.path)}`, text: String(doc), expanded: stringify(setAt(config, repeated.path, anchored.value)) };
      }),
    );
}

// ---------------------------------------------------------------------------------------------
// Broken configs: a valid config and one mutation.

export interface BrokenConfig {
  /** The mutation: a key of `mutations`. */
  readonly kind: string;
  /** What it did, and where. */
  readonly mutation: string;
  /** The homelab.yaml text. */
  readonly text: string;
}

type Key = string | number;

export interface Site {
  readonly path: readonly Key[];
  readonly schema: JsonSchema;
  readonly value: unknown;
}

/** Every value in the document with the schema that governs it. */
export function sitesOf(value: unknown, schema: JsonSchema): Site[] {
  const sites: Site[] = [];
  const visit = (node: unknown, nodeSchema: JsonSchema, path: Key[]) => {
    sites.push({ path, schema: nodeSchema, value: node });
    if (Array.isArray(node)) {
      if (nodeSchema.items) node.forEach((item, i) => visit(item, nodeSchema.items as JsonSchema, [...path, i]));
    } else if (isObject(node)) {
      for (const [key, child] of Object.entries(node)) {
        const sub = childSchema(nodeSchema, key);
        if (sub) visit(child, sub, [...path, key]);
      }
    }
  };
  visit(value, schema, []);
  return sites;
}

const show = (path: readonly Key[]) => path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "") || "(root)";

/** A copy of config with the value at path replaced (undefined: removed). Missing parents are created. */
export function setAt(config: Config, path: readonly Key[], value: unknown): Config {
  const copy = structuredClone(config);
  let node = copy as Record<Key, unknown>;
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") node[key] = {};
    node = node[key] as Record<Key, unknown>;
  }
  const last = path[path.length - 1] as Key;
  if (value === undefined) delete node[last];
  else node[last] = structuredClone(value);
  return copy;
}

/** The same object with one key renamed in place (key order kept). */
function renameKey(object: Config, from: string, to: string): Config {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k === from ? to : k, v]));
}

function typo(key: string, operation: number, at: number): string {
  const i = at % Math.max(1, key.length - 1);
  switch (operation % 4) {
    case 0:
      return key.slice(0, i) + (key[i + 1] ?? "") + key[i] + key.slice(i + 2); // swap
    case 1:
      return key.slice(0, i) + key.slice(i + 1); // drop
    case 2:
      return key.slice(0, i + 1) + key.slice(i); // double
    default:
      return key[0] === key[0]?.toUpperCase() ? key.toLowerCase() + "s" : key.charAt(0).toUpperCase() + key.slice(1); // case
  }
}

type Mutated = Omit<BrokenConfig, "kind">;
type Mutation = (config: Config, schema: JsonSchema) => Arbitrary<Mutated> | undefined;

const broken = (mutation: string, config: Config): Mutated => ({ mutation, text: stringify(config) });

const wrongTypeValues: Record<string, readonly unknown[]> = {
  string: [42, true, null, ["x"], { x: "y" }],
  integer: ["7", 1.5, true, null, [1]],
  number: ["7", true, null],
  boolean: ["yes", "true", 1, null, [true]],
  object: ["text", 7, null, ["x"]],
  array: ["text", 3, null, { x: 1 }],
};

const invalidStrings = ["", "Not Valid", "UPPER", "-dash-", "a..b", "x".repeat(300), "ünïcode", "s3://b", "v1", "1.2", "a b/c", "http//x"];
const invalidFormats: Record<string, readonly string[]> = {
  ipv4: ["999.1.1.1", "1.2.3", "not-an-address"],
  ipv6: ["::g", "1:2:3", "not-an-address"],
  cron: ["61 * * * *", "* * *", "@daily", "0 3 * * * *", "0 25 * * *"],
  timezone: ["Mars/Olympus_Mons", "+01:00", "Europe/Amsterdan", "utc/x"],
};

const nodePorts = [22, 80, 443, 6443, 10250];

const genericChart = { repository: "https://charts.example.com", name: "dup", version: "1.0.0" };

/** A name for a new Helm app that is not taken. */
function freshAppName(config: Config, base: string): string {
  const apps = isObject(config.apps) ? config.apps : {};
  let name = base;
  for (let i = 2; Object.hasOwn(apps, name) || reservedNames.has(name); i++) name = `${base}${i}`;
  return name;
}

/** A copy of config with a new Helm app `name` whose values are drawn into the document by `fill`. */
function withValuesDocument(config: Config, name: string, fill: (doc: Document, values: YAMLMap) => void): string {
  const doc = new Document(setAt(config, ["apps", name], { chart: genericChart, values: {} }));
  fill(doc, doc.getIn(["apps", name, "values"], true) as YAMLMap);
  // An alias without its anchor is the point of one mutation: write it anyway.
  return doc.toString({ verifyAliasOrder: false });
}

/** Mutations through YAML aliases, in a new app's Helm values (where any value is allowed). */
const aliasMutations: Readonly<Record<string, Mutation>> = {
  "alias bomb": (config) => {
    const name = freshAppName(config, "aliased");
    // Each level repeats the one before `fan` times: (fan + 1)^levels goes past any limit.
    return fc.record({ levels: fc.integer({ min: 3, max: 6 }), fan: fc.integer({ min: 5, max: 10 }) }).map(({ levels, fan }) => ({
      mutation: `alias bomb in apps.${name}.values: ${levels} levels of ${fan}`,
      text: withValuesDocument(config, name, (doc, values) => {
        let previous: Node = doc.createNode(["lol", "lol"]);
        values.set("l0", previous);
        for (let level = 1; level <= levels; level++) {
          const repeated = new YAMLSeq();
          for (let i = 0; i < fan; i++) repeated.items.push(doc.createAlias(previous as YAMLSeq, `l${level - 1}`));
          values.set(`l${level}`, repeated);
          previous = repeated;
        }
      }),
    }));
  },

  "alias inside its own anchor": (config) => {
    const name = freshAppName(config, "aliased");
    return fc.constant({
      mutation: `apps.${name}.values.self: &self {loop: *self}`,
      text: withValuesDocument(config, name, (doc, values) => {
        const self = new YAMLMap();
        values.set("self", self);
        self.set("loop", doc.createAlias(self, "self"));
      }),
    });
  },

  "alias without anchor": (config) => {
    const name = freshAppName(config, "aliased");
    return fc.constant({
      mutation: `apps.${name}.values.x: *nowhere`,
      text: withValuesDocument(config, name, (_doc, values) => values.set("x", new Alias("nowhere"))),
    });
  },

  "too many aliases": (config) => {
    const name = freshAppName(config, "aliased");
    return fc.integer({ min: 101, max: 300 }).map((count) => ({
      mutation: `${count} aliases in apps.${name}.values`,
      text: withValuesDocument(config, name, (doc, values) => {
        const word = doc.createNode("word");
        const copies = new YAMLSeq();
        for (let i = 0; i < count; i++) copies.items.push(doc.createAlias(word, "word"));
        values.set("word", word);
        values.set("copies", copies);
      }),
    }));
  },
};

export const mutations: Readonly<Record<string, Mutation>> = {
  "unknown key (typo)": (config, schema) => {
    const objects = sitesOf(config, schema).filter(
      (s) => isObject(s.value) && s.schema.properties && (s.schema.additionalProperties === false || s.path.join(".") === "apps"),
    );
    return fc.record({ site: fc.constantFrom(...objects), which: fc.nat(), operation: fc.nat(), at: fc.nat(), rename: fc.boolean() }).map(({ site, which, operation, at, rename }) => {
      const object = site.value as Config;
      const known = Object.keys(site.schema.properties ?? {});
      const key = known[which % known.length] as string;
      const candidates = [0, 1, 2, 3].map((k) => typo(key, operation + k, at)).concat(Array.from({ length: 50 }, (_, i) => `${key}x${i}`));
      const wrong = candidates.find((c) => c !== "" && !known.includes(c) && !Object.hasOwn(object, c)) as string;
      // Under apps, a typo of a preset is a Helm app without a chart.
      const present = Object.hasOwn(object, key);
      const replaced = present && rename ? renameKey(object, key, wrong) : { ...object, [wrong]: present ? object[key] : site.path.join(".") === "apps" ? {} : "x" };
      return broken(`unknown key ${show([...site.path, wrong])} (for ${key})`, site.path.length === 0 ? replaced : setAt(config, site.path, replaced));
    });
  },

  "wrong type": (config, schema) => {
    const typed = sitesOf(config, schema).filter((s) => s.path.length > 0 && (s.schema.enum || (s.schema.type && wrongTypeValues[s.schema.type])));
    return fc.record({ site: fc.constantFrom(...typed), which: fc.nat() }).map(({ site, which }) => {
      const choices = site.schema.enum
        ? ["bogus", 99, true, null].filter((v) => !site.schema.enum?.includes(v))
        : (wrongTypeValues[site.schema.type as string] as readonly unknown[]);
      const value = choices[which % choices.length];
      return broken(`wrong type at ${show(site.path)}: ${JSON.stringify(value)}`, setAt(config, site.path, value));
    });
  },

  "required key removed": (config, schema) => {
    const candidates = sitesOf(config, schema).flatMap((s) =>
      isObject(s.value) ? [...requiredKeys(s.schema)].filter((key) => Object.hasOwn(s.value as Config, key)).map((key) => [...s.path, key]) : [],
    );
    return fc.constantFrom(...candidates).map((path) => broken(`required key removed: ${show(path)}`, setAt(config, path, undefined)));
  },

  "out-of-range number": (config, schema) => {
    const ranged = sitesOf(config, schema).filter((s) => s.schema.type === "integer" && (s.schema.minimum !== undefined || s.schema.maximum !== undefined));
    const ports = ranged.filter((s) => s.schema.maximum === 65535);
    const paths: (readonly Key[])[] = [...(ports.length > 0 ? ports : ranged).map((s) => s.path), ["apps", "gitea", "sshPort"]];
    return fc.record({ path: fc.constantFrom(...paths), which: fc.nat() }).map(({ path, which }) => {
      const isPort = path[path.length - 1] === "sshPort" || ports.some((s) => s.path.join(".") === path.join("."));
      const site = ranged.find((s) => s.path.join(".") === path.join("."));
      const min = isPort ? 1 : (site?.schema.minimum ?? 1);
      const max = isPort ? 65535 : (site?.schema.maximum ?? 65535);
      const choices = [min - 1, max + 1, -1, max + 1000];
      const value = choices[which % choices.length];
      return broken(`out of range at ${show(path)}: ${value}`, setAt(config, path, value));
    });
  },

  "invalid string": (config, schema) => {
    const constrained = sitesOf(config, schema).flatMap((s) => {
      if (s.schema.type !== "string" || s.schema.enum) return [];
      const formats = s.schema.format ? [s.schema.format] : (s.schema.anyOf ?? []).flatMap((a) => (a.format ? [a.format] : []));
      let invalid: string[];
      if (formats.length > 0) invalid = formats.flatMap((f) => invalidFormats[f] ?? []);
      else if (s.schema.pattern !== undefined) invalid = invalidStrings.filter((v) => !new RegExp(s.schema.pattern as string, "u").test(v));
      else if ((s.schema.minLength ?? 0) > 0) invalid = [""];
      else return [];
      return invalid.length > 0 ? [{ path: s.path, invalid }] : [];
    });
    return fc.record({ site: fc.constantFrom(...constrained), which: fc.nat() }).map(({ site, which }) => {
      const value = site.invalid[which % site.invalid.length] as string;
      return broken(`invalid value at ${show(site.path)}: ${JSON.stringify(value.length > 20 ? `${value.slice(0, 17)}...` : value)}`, setAt(config, site.path, value));
    });
  },

  "duplicate node names": (config) => {
    const cluster = config.cluster as Config;
    const nodes = (cluster.nodes as Config[] | undefined) ?? [{ name: cluster.name }];
    return fc.record({ from: fc.nat(nodes.length - 1), to: fc.nat(nodes.length) }).map(({ from, to }) => {
      const copy = structuredClone(nodes);
      copy.splice(to, 0, structuredClone(nodes[from] as Config));
      return broken(`duplicate node name ${String(nodes[from]?.name)}`, setAt(config, ["cluster", "nodes"], copy));
    });
  },

  "no server node": (config) => {
    const cluster = config.cluster as Config;
    const nodes = (cluster.nodes as Config[] | undefined) ?? [{ name: cluster.name }];
    return fc.constant(broken("no server node", setAt(config, ["cluster", "nodes"], nodes.map((n) => ({ ...n, role: "agent" })))));
  },

  "gitea disabled": (config) => fc.constant(broken("apps.gitea.enabled: false", setAt(config, ["apps", "gitea", "enabled"], false))),

  "duplicate exposed port": (config) => {
    const apps = isObject(config.apps) ? config.apps : {};
    const gitea = isObject(apps.gitea) ? apps.gitea : {};
    const taken: { protocol: "tcp" | "udp"; port: number; owner: string }[] = [
      { protocol: "tcp", port: typeof gitea.sshPort === "number" ? gitea.sshPort : 2222, owner: "apps.gitea.sshPort" },
      ...nodePorts.map((port) => ({ protocol: "tcp" as const, port, owner: "the node" })),
    ];
    for (const [name, app] of Object.entries(apps)) {
      const expose = isObject(app) && !(presetKeys as readonly string[]).includes(name) ? app.expose : undefined;
      if (!isObject(expose)) continue;
      for (const protocol of ["tcp", "udp"] as const) {
        const port = expose[protocol];
        if (typeof port === "number") taken.push({ protocol, port, owner: `apps.${name}` });
      }
    }
    const twice = fc.record({ protocol: fc.constantFrom("tcp" as const, "udp" as const), port: fc.integer({ min: 1024, max: 65535 }) }).map(({ protocol, port }) => {
      const first = freshAppName(config, "first");
      const withFirst = setAt(config, ["apps", first], { chart: genericChart, expose: { [protocol]: port } });
      const second = freshAppName(withFirst, "second");
      return broken(`${protocol} port ${port} exposed by two new apps`, setAt(withFirst, ["apps", second], { chart: genericChart, expose: { [protocol]: port } }));
    });
    const again = fc.constantFrom(...taken).map(({ protocol, port, owner }) => {
      const name = freshAppName(config, "dup");
      return broken(`${protocol} port ${port} of ${owner} exposed again`, setAt(config, ["apps", name], { chart: genericChart, expose: { [protocol]: port } }));
    });
    return fc.oneof(again, twice);
  },

  // The platform's names (and "kustomization": its file would replace the cluster's own list).
  "reserved app name": (config) => {
    const asApp = fc.constantFrom(...reservedNames, "kustomization").map((name) => broken(`apps.${name}: a name the platform uses`, setAt(config, ["apps", name], { chart: genericChart })));
    const asNamespace = fc.constantFrom(...reservedNames).map((namespace) => {
      const name = freshAppName(config, "app");
      return broken(`apps.${name}.namespace: ${namespace}, a namespace the platform uses`, setAt(config, ["apps", name], { chart: genericChart, namespace }));
    });
    return fc.oneof(asApp, asNamespace);
  },

  // A line break in any string would start a new line of a Containerfile, unit or script.
  "line break in a string": (config, schema) => {
    const strings = sitesOf(config, schema).filter((s) => s.schema.type === "string" && typeof s.value === "string");
    return fc.record({ site: fc.constantFrom(...strings), at: fc.nat(), injected: fc.constantFrom("\n", "\r\n", "\nRUN echo injected", "\n[Service]\nExecStart=/bin/sh") }).map(({ site, at, injected }) => {
      const value = site.value as string;
      const cut = at % (value.length + 1);
      return broken(`line break at ${show(site.path)}: ${JSON.stringify(injected)}`, setAt(config, site.path, value.slice(0, cut) + injected + value.slice(cut)));
    });
  },

  ...aliasMutations,

  "YAML syntax garbage": (config) => {
    const lines = stringify(config).split("\n");
    // Only between top-level entries: inside a block scalar garbage would just be text.
    const positions = lines.flatMap((line, i) => (/^\S/.test(line) ? [i] : [])).concat([lines.length - 1]);
    return fc.record({ at: fc.constantFrom(...positions), garbage: fc.constantFrom(...yamlGarbage) }).map(({ at, garbage }) => ({
      mutation: `YAML garbage at line ${at + 1}: ${JSON.stringify(garbage)}`,
      text: [...lines.slice(0, at), garbage, ...lines.slice(at)].join("\n"),
    }));
  },

  "duplicate YAML key": (config) => {
    const lines = stringify(config).split("\n");
    const topKeys = lines.flatMap((line) => /^([$A-Za-z][\w$]*):/.exec(line)?.[1] ?? []);
    const variants: Arbitrary<Mutated>[] = [
      fc.constantFrom(...topKeys).map((key) => ({ mutation: `duplicate top-level key ${key}`, text: `${lines.join("\n")}${key}: {}\n` })),
      fc.constantFrom("name: again", "domain: again.example").map((entry) => {
        const at = lines.indexOf("cluster:") + 1;
        return { mutation: `duplicate key cluster.${entry.split(":")[0]}`, text: [...lines.slice(0, at), `  ${entry}`, ...lines.slice(at)].join("\n") };
      }),
    ];
    return fc.oneof(...variants);
  },
};

/** Lines that make any YAML document invalid where a top-level key may start. */
export const yamlGarbage = [
  "cluster: [unclosed",
  "\tindented: with a tab",
  "- a list item inside a mapping",
  "]]",
  "{ broken: flow",
  "@reserved: indicator",
  "*undefined-alias",
  "key: value: another",
  "!!binary not-base64: [",
] as const;

/** A valid config with one random mutation that makes it invalid. */
export function brokenHomelabConfig(valid: Arbitrary<Config>, schema: JsonSchema = homelabJsonSchema): Arbitrary<BrokenConfig> {
  return valid.chain((config) => {
    const applicable = Object.entries(mutations).flatMap(([kind, mutation]) => mutation(config, schema)?.map((m): BrokenConfig => ({ kind, ...m })) ?? []);
    return fc.oneof(...applicable);
  });
}
