// SOPS (age only) in TypeScript, file-compatible with sops 3.9 as Flux's kustomize-controller
// reads it. The rules below follow the sops sources (aes/cipher.go, sops.go, stores/*) and
// gopkg.in/yaml.v3, which sops uses to read and write YAML:
//   - every leaf value is AES-256-GCM encrypted with the 32-byte data key, a 32-byte random IV and
//     the additional data "<key>:<key>:...:" (the map keys on the way to it; list items add nothing);
//     empty strings stay empty; null values are neither encrypted nor part of the MAC;
//   - the MAC is SHA-512 over every value in document order (encrypted or not, unless
//     mac_only_encrypted), each written as Go's strconv would (True/False, ints, floats in 'f'
//     format), upper-case hex, itself encrypted with the lastmodified timestamp as additional data;
//   - the data key is age-encrypted to every recipient separately and ASCII-armored.
// Nothing here prints key material or decrypted values in an error.
import { createCipheriv, createDecipheriv, createHash, randomBytes, type Hash } from "node:crypto";
import { Document, isAlias, isMap, isPair, isScalar, isSeq, Pair, parseAllDocuments, Scalar, YAMLMap, YAMLSeq } from "yaml";

/** The sops version written into new files' metadata. */
export const SOPS_VERSION = "3.9.4";

/** A malformed, tampered or undecryptable sops file, or data sops cannot encrypt. */
export class SopsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SopsError";
  }
}

export interface EncryptOptions {
  /** age recipients (X25519, `age1…`); the data key is wrapped for each one. */
  readonly recipients: readonly string[];
  /** Encrypt only values under a key matching this (Go RE2-style) regex, at any depth. */
  readonly encryptedRegex?: string;
  /** The lastmodified time (default: now). */
  readonly now?: Date;
}

export type SopsFormat = "yaml" | "json" | "dotenv";

export interface DecryptOptions {
  /** The store sops would use (by file extension); guessed from the text when absent. */
  readonly format?: SopsFormat;
}

// ---------------------------------------------------------------------------------------------
// The tree: ordered maps and typed leaves, as sops' TreeBranch holds them.

type Leaf =
  | { readonly kind: "str"; readonly value: string }
  | { readonly kind: "int"; readonly value: bigint }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "null" }
  /** An unquoted YAML timestamp: returned as written, MAC'd as Go's time.MarshalText. */
  | { readonly kind: "time"; readonly text: string; readonly canonical: string };

type MapNode = { readonly kind: "map"; readonly entries: (readonly [string, Tree])[] };
type SeqNode = { readonly kind: "seq"; readonly items: Tree[] };
type Tree = Leaf | MapNode | SeqNode;

const str = (value: string): Leaf => ({ kind: "str", value });
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function pathText(path: readonly string[]): string {
  return path.length === 0 ? "(top level)" : path.join(".");
}

/** JS data → tree (the input of encryptDocument). */
function fromJs(value: unknown, path: readonly string[]): Tree | undefined {
  if (value === undefined) return undefined;
  if (value === null) return { kind: "null" };
  if (typeof value === "string") {
    if (!value.isWellFormed()) throw new SopsError(`value at ${pathText(path)} is not valid Unicode text`);
    return str(value);
  }
  if (typeof value === "boolean") return { kind: "bool", value };
  if (typeof value === "bigint") {
    if (value < INT64_MIN || value > INT64_MAX) throw new SopsError(`integer at ${pathText(path)} does not fit in 64 bits`);
    return { kind: "int", value };
  }
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) return { kind: "int", value: BigInt(value) };
    return { kind: "float", value };
  }
  if (Array.isArray(value)) {
    const items: Tree[] = [];
    for (const item of value) items.push(fromJs(item, path) ?? { kind: "null" });
    return { kind: "seq", items };
  }
  const proto: unknown = typeof value === "object" ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    const entries: (readonly [string, Tree])[] = [];
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (!key.isWellFormed()) throw new SopsError(`a key under ${pathText(path)} is not valid Unicode text`);
      const node = fromJs(child, [...path, key]);
      if (node !== undefined) entries.push([key, node]);
    }
    return { kind: "map", entries };
  }
  throw new SopsError(`value at ${pathText(path)} has a type sops cannot store (${Object.prototype.toString.call(value)})`);
}

function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Tree → JS data (the output of decryptDocument). */
function toJs(node: Tree): unknown {
  switch (node.kind) {
    case "map": {
      const out: Record<string, unknown> = {};
      for (const [key, child] of node.entries) setKey(out, key, toJs(child));
      return out;
    }
    case "seq":
      return node.items.map(toJs);
    case "null":
      return null;
    case "int": {
      // A number when that is exact, else a bigint.
      const n = Number(node.value);
      return BigInt(n) === node.value ? n : node.value;
    }
    case "time":
      return node.text;
    default:
      return node.value;
  }
}

// ---------------------------------------------------------------------------------------------
// Go number formatting (strconv.FormatFloat with precision -1).

/** Shortest round-trip digits of a finite, non-zero |x|: x = 0.<digits> × 10^dp. */
function shortestDigits(x: number): { digits: string; dp: number } {
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(Math.abs(x)));
  if (!m) throw new Error(`unexpected number text ${String(x)}`);
  const intPart = m[1] ?? "";
  const fracPart = m[2] ?? "";
  const exp = Number(m[3] ?? "0");
  let digits = intPart + fracPart;
  let dp = intPart.length + exp;
  const lead = /^0*/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(lead);
  dp -= lead;
  digits = digits.replace(/0+$/, "");
  return { digits, dp };
}

/** strconv.FormatFloat(x, 'f', -1, 64): what sops encrypts and MACs for a float. */
export function goFormatFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const sign = x < 0 ? "-" : "";
  const { digits, dp } = shortestDigits(x);
  if (dp <= 0) return `${sign}0.${"0".repeat(-dp)}${digits}`;
  if (dp >= digits.length) return sign + digits + "0".repeat(dp - digits.length);
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

/** strconv.ParseFloat(s, 64) for decimal text (no hex floats); null when Go would fail. */
function goParseFloat(text: string): number | null {
  if (/^[+-]?(inf|infinity)$/i.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  const x = Number(text);
  return Number.isFinite(x) ? x : null;
}

/** strconv.ParseInt(s, 0, 64) (underscores already removed); null when Go would fail. */
function goParseInt(text: string): bigint | null {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return null;
  let body = m[2] ?? "";
  if (/^0[0-7]+$/.test(body)) body = `0o${body.slice(1)}`;
  const magnitude = BigInt(body);
  const value = m[1] === "-" ? -magnitude : magnitude;
  return value >= INT64_MIN && value <= INT64_MAX ? value : null;
}

// ---------------------------------------------------------------------------------------------
// Go time parsing, as yaml.v3 resolves plain timestamps and time.MarshalText writes them.

function daysIn(month: number, year: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** yaml.v3 parseTimestamp → time.MarshalText (RFC 3339 with nanoseconds), or null. */
function goTimestamp(text: string): string | null {
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:([Tt])|( ))(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  if (!m) return null;
  const [, y, mo, d, tee, space, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year)) return null;
  if (h === undefined) return `${y}-${mo?.padStart(2, "0")}-${d?.padStart(2, "0")}T00:00:00Z`;
  // "2006-1-2T15:4:5.999999999Z07:00" needs a zone; "2006-1-2 15:4:5.999999999" takes none.
  if (tee !== undefined && zone === undefined) return null;
  if (space !== undefined && zone !== undefined) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  let offset = zone ?? "Z";
  if (offset !== "Z") {
    const [oh, om] = offset.slice(1).split(":").map(Number);
    if ((oh ?? 0) > 24 || (om ?? 0) > 59) return null;
    if (oh === 0 && om === 0) offset = "Z";
  }
  const nanos = (frac ?? "").slice(0, 9).replace(/0+$/, "");
  const two = (v: string | undefined): string => (v ?? "").padStart(2, "0");
  return `${y}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}${nanos ? `.${nanos}` : ""}${offset}`;
}

/** time.Parse(time.RFC3339, s).Format(time.RFC3339): the MAC's additional data. */
function normalizeLastModified(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) throw new SopsError("sops metadata: lastmodified is not an RFC 3339 timestamp");
  const zone = m[2] === "+00:00" || m[2] === "-00:00" ? "Z" : (m[2] ?? "Z");
  return `${m[1]}${zone}`;
}

function rfc3339Seconds(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new SopsError("options.now is not a valid date");
  return `${date.toISOString().slice(0, 19)}Z`;
}

// ---------------------------------------------------------------------------------------------
// yaml.v3 scalar resolution (resolve.go) for plain scalars.

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

type Resolved = Leaf | { readonly kind: "uint" };

/** What yaml.v3 decodes an untagged plain scalar into (interface{} target). */
function goResolve(text: string): Resolved {
  switch (text) {
    case "true": case "True": case "TRUE":
      return { kind: "bool", value: true };
    case "false": case "False": case "FALSE":
      return { kind: "bool", value: false };
    case "": case "~": case "null": case "Null": case "NULL":
      return { kind: "null" };
    case ".nan": case ".NaN": case ".NAN":
      return { kind: "float", value: NaN };
    case ".inf": case ".Inf": case ".INF": case "+.inf": case "+.Inf": case "+.INF":
      return { kind: "float", value: Infinity };
    case "-.inf": case "-.Inf": case "-.INF":
      return { kind: "float", value: -Infinity };
  }
  const first = text[0] ?? "";
  if (first === ".") {
    const x = /^\.\d+([eE][+-]?\d+)?$/.test(text) ? goParseFloat(text) : null;
    return x === null ? str(text) : { kind: "float", value: x };
  }
  if (!/[-+0-9]/.test(first)) return str(text);
  const time = goTimestamp(text);
  if (time !== null) return { kind: "time", text, canonical: time };
  const plain = text.replaceAll("_", "");
  const int = goParseInt(plain);
  if (int !== null) return { kind: "int", value: int };
  if (/^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/.test(plain)) return { kind: "uint" };
  if (YAML_STYLE_FLOAT.test(plain)) {
    const x = goParseFloat(plain);
    if (x !== null) return { kind: "float", value: x };
  }
  return str(text);
}

// ---------------------------------------------------------------------------------------------
// Values: sops' ToBytes (MAC input) and aes.Cipher Encrypt / Decrypt.

/** The bytes sops hashes for a value, or null for values it skips (nil). */
function macBytes(leaf: Leaf): Buffer | null {
  switch (leaf.kind) {
    case "str":
      return Buffer.from(leaf.value, "utf8");
    case "int":
      return Buffer.from(leaf.value.toString());
    case "float":
      return Buffer.from(goFormatFloat(leaf.value));
    case "bool":
      return Buffer.from(leaf.value ? "True" : "False");
    case "time":
      return Buffer.from(leaf.canonical);
    case "null":
      return null;
  }
}

const ENC_RE = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;
/** Standard base64 with padding. Checked without a repeated group, which runs out of regexp stack on megabytes. */
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (text: string) => text.length % 4 === 0 && BASE64_RE.test(text);
const NONCE_SIZE = 32;
const TAG_SIZE = 16;

function encryptLeaf(leaf: Leaf, key: Buffer, additionalData: string): string {
  let plain: Buffer;
  let type: string;
  switch (leaf.kind) {
    case "str":
      if (leaf.value === "") return "";
      plain = Buffer.from(leaf.value, "utf8");
      type = "str";
      break;
    case "int":
      plain = Buffer.from(leaf.value.toString());
      type = "int";
      break;
    case "float":
      plain = Buffer.from(goFormatFloat(leaf.value));
      type = "float";
      break;
    case "bool":
      plain = Buffer.from(leaf.value ? "True" : "False");
      type = "bool";
      break;
    case "time":
      plain = Buffer.from(leaf.canonical);
      type = "time";
      break;
    case "null":
      throw new Error("null values are never encrypted");
  }
  const iv = randomBytes(NONCE_SIZE);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_SIZE });
  cipher.setAAD(Buffer.from(additionalData, "utf8"));
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${tag.toString("base64")},type:${type}]`;
}

function base64Field(text: string, field: string, where: string): Buffer {
  if (!isBase64(text)) throw new SopsError(`${where}: the ${field} of the encrypted value is not valid base64`);
  return Buffer.from(text, "base64");
}

const GO_BOOLS: Readonly<Record<string, boolean>> = { 1: true, t: true, T: true, TRUE: true, true: true, True: true, 0: false, f: false, F: false, FALSE: false, false: false, False: false };

/** Decrypts one ENC[…] value; `where` names it in errors (never the value itself). */
function decryptValue(text: string, key: Buffer, additionalData: string, where: string): { leaf: Leaf; mac: Buffer } {
  if (text === "") return { leaf: str(""), mac: Buffer.alloc(0) };
  const m = ENC_RE.exec(text);
  if (!m) throw new SopsError(`${where}: value should be encrypted but is not in sops' ENC[AES256_GCM,…] format`);
  const data = base64Field(m[1] ?? "", "data", where);
  const iv = base64Field(m[2] ?? "", "iv", where);
  const tag = base64Field(m[3] ?? "", "tag", where);
  const type = m[4] ?? "";
  // Go's GCM opens data‖tag: the last 16 bytes of the two together are the tag.
  const sealed = Buffer.concat([data, tag]);
  if (iv.length === 0 || sealed.length < TAG_SIZE) throw new SopsError(`${where}: encrypted value is truncated`);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_SIZE });
    decipher.setAAD(Buffer.from(additionalData, "utf8"));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE)), decipher.final()]);
  } catch {
    throw new SopsError(`${where}: could not decrypt value (authentication failed: the ciphertext, its key path or the data key do not match)`);
  }
  const textValue = plain.toString("utf8");
  const bad = (what: string): SopsError => new SopsError(`${where}: decrypted value is not a valid ${what}`);
  switch (type) {
    case "str":
      return { leaf: str(textValue), mac: plain };
    case "bytes":
      return { leaf: str(textValue), mac: plain };
    case "int": {
      if (!/^[+-]?\d+$/.test(textValue)) throw bad("int");
      const magnitude = BigInt(textValue.replace(/^[+-]/, ""));
      const value = textValue.startsWith("-") ? -magnitude : magnitude;
      if (value < INT64_MIN || value > INT64_MAX) throw bad("int");
      const leaf: Leaf = { kind: "int", value };
      return { leaf, mac: macBytes(leaf) ?? Buffer.alloc(0) };
    }
    case "float": {
      const value = goParseFloat(textValue);
      if (value === null) throw bad("float");
      const leaf: Leaf = { kind: "float", value };
      return { leaf, mac: macBytes(leaf) ?? Buffer.alloc(0) };
    }
    case "bool": {
      const value = GO_BOOLS[textValue];
      if (value === undefined) throw bad("bool");
      const leaf: Leaf = { kind: "bool", value };
      return { leaf, mac: macBytes(leaf) ?? Buffer.alloc(0) };
    }
    case "time": {
      const canonical = /[Tt]/.test(textValue) ? goTimestamp(textValue) : null;
      if (canonical === null) throw bad("time");
      return { leaf: { kind: "time", text: textValue, canonical }, mac: Buffer.from(canonical) };
    }
    default:
      throw new SopsError(`${where}: unknown encrypted value type`);
  }
}

// ---------------------------------------------------------------------------------------------
// Which values are encrypted: sops' shouldBeEncrypted, without comment rules.

interface CryptRules {
  readonly unencryptedSuffix?: string | undefined;
  readonly encryptedSuffix?: string | undefined;
  readonly unencryptedRegex?: string | undefined;
  readonly encryptedRegex?: string | undefined;
}

/** A Go RE2 pattern as a JS RegExp: leading (?flags) become JS flags; matching is unanchored. */
function goRegExp(pattern: string, name: string): RegExp {
  let source = pattern;
  let flags = "";
  const m = /^\(\?([imsU]+)\)/.exec(source);
  if (m) {
    if (m[1]?.includes("U")) throw new SopsError(`${name}: the (?U) flag is not supported`);
    flags = [...new Set(m[1] ?? "")].join("");
    source = source.slice(m[0].length);
  }
  try {
    return new RegExp(source, `${flags}u`);
  } catch {
    try {
      return new RegExp(source, flags);
    } catch {
      throw new SopsError(`${name} is not a valid regular expression`);
    }
  }
}

function encryptionRule(rules: CryptRules): (path: readonly string[]) => boolean {
  const unencryptedRegex = rules.unencryptedRegex ? goRegExp(rules.unencryptedRegex, "unencrypted_regex") : undefined;
  const encryptedRegex = rules.encryptedRegex ? goRegExp(rules.encryptedRegex, "encrypted_regex") : undefined;
  return (path) => {
    let encrypted = true;
    if (rules.unencryptedSuffix) {
      if (path.some((key) => key.endsWith(rules.unencryptedSuffix ?? ""))) encrypted = false;
    }
    if (rules.encryptedSuffix) {
      encrypted = path.some((key) => key.endsWith(rules.encryptedSuffix ?? ""));
    }
    if (unencryptedRegex) {
      if (path.some((key) => unencryptedRegex.test(key))) encrypted = false;
    }
    if (encryptedRegex) {
      encrypted = path.some((key) => encryptedRegex.test(key));
    }
    return encrypted;
  };
}

/** sops.MACOnlyEncryptedInitialization: sha256("sops"). */
const MAC_ONLY_ENCRYPTED_INIT = createHash("sha256").update("sops").digest();

/** Calls `leaf` for every non-null leaf in document order, with its key path. */
function walkLeaves(node: Tree, path: readonly string[], leaf: (value: Leaf, path: readonly string[]) => Leaf): Tree {
  switch (node.kind) {
    case "map":
      return { kind: "map", entries: node.entries.map(([key, child]) => [key, walkLeaves(child, [...path, key], leaf)] as const) };
    case "seq":
      return { kind: "seq", items: node.items.map((child) => walkLeaves(child, path, leaf)) };
    case "null":
      return node;
    default:
      return leaf(node, path);
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata.

interface AgeKey {
  readonly recipient: string;
  readonly enc: string;
}

interface Metadata extends CryptRules {
  readonly age: readonly AgeKey[];
  readonly lastModified: string;
  readonly mac: string;
  readonly macOnlyEncrypted: boolean;
  readonly version: string;
}

const UNSUPPORTED_METADATA = ["unencrypted_comment_regex", "encrypted_comment_regex"] as const;

function plainObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function optionalString(meta: Record<string, unknown>, key: string): string | undefined {
  const value = meta[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new SopsError(`sops metadata: ${key} is not a string`);
  return value;
}

function ageKeysOf(list: unknown, where: string): AgeKey[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new SopsError(`sops metadata: ${where} is not a list`);
  return list.map((item, i) => {
    const entry = plainObject(item);
    const recipient = entry?.["recipient"];
    const enc = entry?.["enc"];
    if (typeof recipient !== "string" || typeof enc !== "string") {
      throw new SopsError(`sops metadata: ${where}[${i}] needs a recipient and an enc string`);
    }
    return { recipient, enc };
  });
}

/** The sops metadata as sops' stores.Metadata reads it (strings as written). */
function readMetadata(raw: unknown): Metadata {
  const meta = plainObject(raw);
  if (!meta) throw new SopsError("not a sops file: the sops metadata is missing");
  const groups = meta["key_groups"];
  if (Array.isArray(groups) && groups.length > 0) {
    throw new SopsError("sops metadata: key_groups (Shamir secret sharing) are not supported");
  }
  for (const key of UNSUPPORTED_METADATA) {
    if (optionalString(meta, key) !== undefined) throw new SopsError(`sops metadata: ${key} is not supported`);
  }
  const lastModified = meta["lastmodified"];
  if (typeof lastModified !== "string") throw new SopsError("sops metadata: lastmodified is missing");
  const mac = meta["mac"];
  if (typeof mac !== "string") throw new SopsError("sops metadata: mac is missing");
  const macOnly = meta["mac_only_encrypted"];
  return {
    age: ageKeysOf(meta["age"], "age"),
    lastModified,
    mac,
    macOnlyEncrypted: macOnly === true || macOnly === "true",
    version: typeof meta["version"] === "string" ? meta["version"] : "",
    unencryptedSuffix: optionalString(meta, "unencrypted_suffix"),
    encryptedSuffix: optionalString(meta, "encrypted_suffix"),
    unencryptedRegex: optionalString(meta, "unencrypted_regex"),
    encryptedRegex: optionalString(meta, "encrypted_regex"),
  };
}

// ---------------------------------------------------------------------------------------------
// Reading files: YAML (yaml.v3 semantics), JSON (encoding/json: numbers are float64), dotenv.

interface Parsed {
  readonly data: MapNode;
  readonly metadata: unknown;
}

type YamlFlavor = "yaml" | "json";

function resolvePlain(text: string, flavor: YamlFlavor, where: string): Leaf {
  if (flavor === "json") {
    if (text === "true") return { kind: "bool", value: true };
    if (text === "false") return { kind: "bool", value: false };
    if (text === "null") return { kind: "null" };
    const x = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(x)) throw new SopsError(`${where}: not a JSON value`);
    return { kind: "float", value: x };
  }
  const resolved = goResolve(text);
  if (resolved.kind === "uint") {
    throw new SopsError(`${where}: integer does not fit in a signed 64-bit value, which sops cannot process`);
  }
  return resolved;
}

const STANDARD_TAG = "tag:yaml.org,2002:";

/** One YAML node as sops' YAML store turns it into a tree value. */
function yamlNode(node: unknown, doc: Document, flavor: YamlFlavor, path: readonly string[], raw: boolean): Tree {
  const where = pathText(path);
  if (node === null || node === undefined) return { kind: "null" };
  if (isAlias(node)) return yamlNode(node.resolve(doc), doc, flavor, path, raw);
  if (isMap(node)) {
    const entries: (readonly [string, Tree])[] = [];
    const seen = new Set<string>();
    for (const pair of node.items) {
      if (!isPair(pair)) throw new SopsError(`${where}: unexpected YAML mapping entry`);
      const keyNode = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      if (!isScalar(keyNode)) throw new SopsError(`${where}: a mapping key is not a string`);
      const key = yamlNode(keyNode, doc, flavor, path, true);
      if (key.kind !== "str") throw new SopsError(`${where}: a mapping key is not a string (sops supports only string keys)`);
      if (seen.has(key.value)) throw new SopsError(`${where}: duplicate key "${key.value}"`);
      seen.add(key.value);
      entries.push([key.value, yamlNode(pair.value, doc, flavor, [...path, key.value], raw)]);
    }
    return { kind: "map", entries };
  }
  if (isSeq(node)) {
    return { kind: "seq", items: node.items.map((item) => yamlNode(item, doc, flavor, path, raw)) };
  }
  if (isScalar(node)) {
    const text = typeof node.source === "string" ? node.source : String(node.value ?? "");
    const tag = node.tag;
    if (node.type !== "PLAIN" && node.type !== undefined) {
      // Quoted and block scalars are strings (unless tagged otherwise, which sops files never are).
      if (tag === undefined || tag === "!" || tag === `${STANDARD_TAG}str`) return str(String(node.value ?? ""));
    }
    if (tag === `${STANDARD_TAG}str`) return str(text);
    if (raw) {
      // Metadata fields and keys are Go strings: a null scalar leaves them empty.
      const isNull = flavor === "json" ? text === "null" : goResolve(text).kind === "null";
      return isNull && tag === undefined ? { kind: "null" } : str(text);
    }
    if (tag === `${STANDARD_TAG}binary`) return str(Buffer.from(text.replace(/\s+/g, ""), "base64").toString("utf8"));
    if (tag !== undefined && !tag.startsWith(STANDARD_TAG)) return str(text);
    const leaf = resolvePlain(text, flavor, where);
    if (tag !== undefined) {
      const want = tag.slice(STANDARD_TAG.length);
      const ok = want === leaf.kind || (want === "float" && (leaf.kind === "int" || leaf.kind === "float")) || (want === "timestamp" && leaf.kind === "time");
      if (!ok) throw new SopsError(`${where}: value does not match its !!${want} tag`);
      if (want === "float" && leaf.kind === "int") return { kind: "float", value: Number(leaf.value) };
    }
    return leaf;
  }
  throw new SopsError(`${where}: unsupported YAML node`);
}

function parseYamlLike(text: string, flavor: YamlFlavor): Parsed {
  const docs = parseAllDocuments(text, { schema: "failsafe", prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(docs)) throw new SopsError("not a sops file: the document is empty");
  if (docs.length === 0) throw new SopsError("not a sops file: the document is empty");
  if (docs.length > 1) throw new SopsError("multi-document sops files are not supported");
  const doc = docs[0] as Document;
  const problem = doc.errors[0];
  if (problem) {
    const line = problem.linePos?.[0]?.line;
    throw new SopsError(`not valid ${flavor === "json" ? "JSON" : "YAML"}${line === undefined ? "" : ` (line ${line})`}: ${problem.code}`);
  }
  if (!isMap(doc.contents)) throw new SopsError(`not a sops file: the top level is not a mapping`);
  // Metadata strings are read as written (sops unmarshals them into string fields).
  const entries: (readonly [string, Tree])[] = [];
  const seen = new Set<string>();
  let metadata: unknown;
  for (const pair of doc.contents.items) {
    const keyNode = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
    const key = isScalar(keyNode) ? yamlNode(keyNode, doc, flavor, [], true) : undefined;
    if (key?.kind !== "str") throw new SopsError("a top-level key is not a string (sops supports only string keys)");
    if (seen.has(key.value)) throw new SopsError(`duplicate top-level key "${key.value}"`);
    seen.add(key.value);
    if (key.value === "sops") metadata = toJs(yamlNode(pair.value, doc, flavor, ["sops"], true));
    else entries.push([key.value, yamlNode(pair.value, doc, flavor, [key.value], false)]);
  }
  if (!seen.has("sops")) throw new SopsError("not a sops file: the sops metadata is missing");
  return { data: { kind: "map", entries }, metadata };
}

/** Rebuilds sops' flattened dotenv metadata (sops_age__list_0__map_enc=…) into a structure. */
function unflatten(flat: ReadonlyMap<string, string>): Record<string, unknown> {
  // Prototype-less objects: a key such as __proto__ in the file stays an ordinary key.
  const newMap = (): Record<string | number, unknown> => Object.create(null) as Record<string | number, unknown>;
  const root = newMap();
  for (const [key, value] of flat) {
    const tokens: (string | number)[] = [];
    const re = /__(map|list)_/g;
    let last = 0;
    let kind: "map" | "list" | "root" = "root";
    let m: RegExpExecArray | null;
    const push = (text: string): void => {
      if (kind === "list") {
        if (!/^\d{1,4}$/.test(text)) throw new SopsError("sops metadata: malformed dotenv list index");
        tokens.push(Number(text));
      } else tokens.push(text);
    };
    while ((m = re.exec(key)) !== null) {
      push(key.slice(last, m.index));
      kind = m[1] === "list" ? "list" : "map";
      last = m.index + m[0].length;
    }
    push(key.slice(last));
    let node: Record<string | number, unknown> = root;
    tokens.forEach((token, i) => {
      if (i === tokens.length - 1) {
        node[token] = value.replaceAll("\\n", "\n");
        return;
      }
      const next = tokens[i + 1];
      const existing = node[token];
      const child = typeof existing === "object" && existing !== null ? existing : typeof next === "number" ? [] : newMap();
      node[token] = child;
      node = child as Record<string | number, unknown>;
    });
  }
  return root;
}

function parseDotenv(text: string): Parsed {
  const entries: (readonly [string, Tree])[] = [];
  const flat = new Map<string, string>();
  let line = 0;
  for (const raw of text.split("\n")) {
    line += 1;
    if (raw === "" || raw.startsWith("#")) continue;
    const eq = raw.indexOf("=");
    if (eq < 0) throw new SopsError(`not a dotenv file: line ${line} has no "="`);
    const key = raw.slice(0, eq);
    const value = raw.slice(eq + 1).replaceAll("\\n", "\n");
    if (key.startsWith("sops_")) flat.set(key.slice("sops_".length), raw.slice(eq + 1));
    else entries.push([key, str(value)]);
  }
  if (flat.size === 0) throw new SopsError("not a sops file: the sops metadata is missing");
  return { data: { kind: "map", entries }, metadata: unflatten(flat) };
}

function guessFormat(text: string): SopsFormat {
  const start = text.trimStart();
  if (start.startsWith("{")) return "json";
  if (/^sops_mac=/m.test(text) && !/^sops:/m.test(text)) return "dotenv";
  return "yaml";
}

function parseSops(text: string, format: SopsFormat = guessFormat(text)): Parsed {
  if (format === "dotenv") return parseDotenv(text);
  return parseYamlLike(text, format);
}

// ---------------------------------------------------------------------------------------------
// Writing YAML: the yaml library, with sops' key order. The layout is not yaml.v3's byte for byte
// (sops, Flux and the MAC only need the same content); each scalar is styled so that Go's yaml.v3,
// YAML 1.2 core and YAML 1.1 readers all read back the same value and type. The indent is 2, as
// in the generator's other files: with 4, yaml 2.9 misplaces a mapping under an explicit "? " key
// (keys over 1024 characters).

/** Characters Go's YAML reader takes as a line break or refuses when they stand raw in the text. */
const GO_RAW_UNSAFE = /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/u;

/** A string scalar every reader gets back as this string. */
function stringNode(value: string, isKey: boolean): Scalar {
  const node = new Scalar(value);
  // YAML 1.2 core and 1.1 ("on", "0755", "1e3", "~", "<<", "- x") are the library's own quoting
  // (core schema, yaml-1.1 compat). Go reads a little more as non-strings ("0X1F", "0B101",
  // "0O17"), and "=" is YAML 1.1's value key, which libyaml-based readers refuse.
  if (GO_RAW_UNSAFE.test(value)) node.type = Scalar.QUOTE_DOUBLE;
  else if (value.includes("\n")) node.type = isKey ? Scalar.QUOTE_DOUBLE : Scalar.BLOCK_LITERAL;
  else if (value === "=" || goResolve(value).kind !== "str") node.type = Scalar.QUOTE_DOUBLE;
  return node;
}

function yamlMap(node: MapNode): YAMLMap {
  const map = new YAMLMap();
  for (const [key, child] of node.entries) map.items.push(new Pair(stringNode(key, true), yamlOf(child)));
  return map;
}

function yamlOf(node: Tree): YAMLMap | YAMLSeq | Scalar {
  switch (node.kind) {
    case "map":
      return yamlMap(node);
    case "seq": {
      const seq = new YAMLSeq();
      for (const item of node.items) seq.items.push(yamlOf(item));
      return seq;
    }
    case "str":
      return stringNode(node.value, false);
    case "float": {
      // 2 ** 63 as "9223372036854776000.0", not an integer Go cannot hold; "1e+21" stays as it is.
      const scalar = new Scalar(node.value);
      scalar.minFractionDigits = 1;
      return scalar;
    }
    case "time":
      throw new Error("timestamps are only read, never written");
    case "null":
      return new Scalar(null);
    default:
      return new Scalar(node.value);
  }
}

function writeYaml(root: MapNode): string {
  const doc = new Document(yamlMap(root), { compat: "yaml-1.1" });
  const text = doc.toString({ lineWidth: 0, minContentWidth: 0 });
  // The library escapes only C0 controls in double quotes. Every string holding one of these is
  // double-quoted (stringNode) and nothing else in the file holds one, so escaping them in the
  // text escapes them inside double quotes, where "\uXXXX" reads back as the same character.
  return text.replace(new RegExp(GO_RAW_UNSAFE, "gu"), (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`);
}

function sameTree(a: Tree, b: Tree): boolean {
  switch (a.kind) {
    case "map":
      return b.kind === "map" && a.entries.length === b.entries.length && a.entries.every(([key, value], i) => {
        const other = b.entries[i];
        return other !== undefined && other[0] === key && sameTree(value, other[1]);
      });
    case "seq":
      return b.kind === "seq" && a.items.length === b.items.length && a.items.every((item, i) => {
        const other = b.items[i];
        return other !== undefined && sameTree(item, other);
      });
    case "null":
      return b.kind === "null";
    case "time":
      return b.kind === "time" && a.text === b.text;
    default:
      return a.kind === b.kind && Object.is(a.value, (b as typeof a).value);
  }
}

// ---------------------------------------------------------------------------------------------
// The data key.

const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** age-encryption costs ~60 ms to load: only commands that encrypt or decrypt pay for it. */
export const loadAge = () => import("age-encryption");

async function wrapDataKey(dataKey: Uint8Array, recipient: string): Promise<string> {
  const { Encrypter, armor } = await loadAge();
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  return armor.encode(await encrypter.encrypt(dataKey));
}

async function unwrapDataKey(keys: readonly AgeKey[], identities: readonly string[]): Promise<Buffer> {
  if (keys.length === 0) throw new SopsError("sops metadata has no age recipients: the data key cannot be recovered with age");
  if (identities.length === 0) throw new SopsError("no age identities were given to decrypt the data key");
  const { Decrypter, armor } = await loadAge();
  const decrypters = identities.map((identity, i) => {
    const decrypter = new Decrypter();
    try {
      decrypter.addIdentity(identity);
    } catch {
      throw new SopsError(`age identity #${i + 1} is not a valid age secret key`);
    }
    return decrypter;
  });
  const unreadable: string[] = [];
  const stanzas = keys.map((key) => {
    try {
      return armor.decode(key.enc);
    } catch {
      unreadable.push(key.recipient);
      return undefined;
    }
  });
  for (const decrypter of decrypters) {
    for (const stanza of stanzas) {
      if (stanza === undefined) continue;
      let dataKey: Uint8Array;
      try {
        dataKey = await decrypter.decrypt(stanza);
      } catch {
        continue;
      }
      if (dataKey.length !== 32) throw new SopsError("the age-encrypted data key is not 32 bytes long");
      return Buffer.from(dataKey);
    }
  }
  const tail = unreadable.length > 0 ? `; the enc of ${unreadable.join(", ")} is not valid armored age` : "";
  throw new SopsError(
    `none of the ${identities.length} age identities can decrypt the data key (file recipients: ${keys.map((k) => k.recipient).join(", ")})${tail}`,
  );
}

// ---------------------------------------------------------------------------------------------
// The API.

/**
 * Encrypts `data` as sops 3.9 would for a YAML file with age recipients, and returns the file's
 * text: the data (values encrypted where the rules say so), then the `sops` metadata block.
 */
export async function encryptDocument(data: Record<string, unknown>, options: EncryptOptions): Promise<string> {
  const recipients = [...options.recipients];
  if (recipients.length === 0) throw new SopsError("at least one age recipient is needed");
  for (const recipient of recipients) {
    if (!X25519_RECIPIENT.test(recipient)) throw new SopsError(`"${recipient}" is not an X25519 age recipient (age1…), the only kind sops 3.9 reads`);
  }
  if (Object.hasOwn(data, "sops")) throw new SopsError("the data already has a top-level sops key (is it encrypted already?)");
  const tree = fromJs(data, []);
  if (tree?.kind !== "map") throw new SopsError("the data must be a mapping");
  const rules: CryptRules = options.encryptedRegex === undefined ? { unencryptedSuffix: "_unencrypted" } : { encryptedRegex: options.encryptedRegex };
  const shouldEncrypt = encryptionRule(rules);

  const dataKey = randomBytes(32);
  const hash = createHash("sha512");
  const encrypted = walkLeaves(tree, [], (leaf, path) => {
    const bytes = macBytes(leaf);
    if (bytes) hash.update(bytes);
    return shouldEncrypt(path) ? str(encryptLeaf(leaf, dataKey, `${path.join(":")}:`)) : leaf;
  });
  const lastModified = rfc3339Seconds(options.now ?? new Date());
  const mac = encryptLeaf(str(hash.digest("hex").toUpperCase()), dataKey, lastModified);
  const age = await Promise.all(recipients.map(async (recipient) => ({ recipient, enc: await wrapDataKey(dataKey, recipient) })));

  const none: SeqNode = { kind: "seq", items: [] };
  const metadata: (readonly [string, Tree])[] = [
    ["kms", none],
    ["gcp_kms", none],
    ["azure_kv", none],
    ["hc_vault", none],
    ["age", { kind: "seq", items: age.map((key) => ({ kind: "map", entries: [["recipient", str(key.recipient)], ["enc", str(key.enc)]] })) }],
    ["lastmodified", str(lastModified)],
    ["mac", str(mac)],
    ["pgp", none],
  ];
  if (rules.unencryptedSuffix !== undefined) metadata.push(["unencrypted_suffix", str(rules.unencryptedSuffix)]);
  if (rules.encryptedRegex !== undefined) metadata.push(["encrypted_regex", str(rules.encryptedRegex)]);
  metadata.push(["version", str(SOPS_VERSION)]);
  if (encrypted.kind !== "map") throw new Error("unreachable");
  const text = writeYaml({ kind: "map", entries: [...encrypted.entries, ["sops", { kind: "map", entries: metadata }]] });
  // The yaml library, reading as Go's yaml.v3 would, must get back exactly what was written.
  const readBack = parseYamlLike(text, "yaml");
  if (!sameTree(readBack.data, encrypted) || readMetadata(readBack.metadata).mac !== mac) {
    throw new SopsError("internal error: the encrypted YAML does not read back as written");
  }
  return text;
}

/**
 * Decrypts a sops file (YAML, JSON or dotenv) with the first age identity that unwraps its data
 * key, and verifies its MAC: a changed, reordered or missing value, or a changed lastmodified, is
 * a SopsError.
 */
export async function decryptDocument(
  text: string,
  identities: readonly string[],
  options: DecryptOptions = {},
): Promise<{ data: Record<string, unknown> }> {
  const parsed = parseSops(text, options.format);
  const metadata = readMetadata(parsed.metadata);
  const dataKey = await unwrapDataKey(metadata.age, identities);
  const shouldEncrypt = encryptionRule(metadata);
  const hash: Hash = createHash("sha512");
  if (metadata.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const decrypted = walkLeaves(parsed.data, [], (leaf, path) => {
    const encrypted = shouldEncrypt(path);
    let value = leaf;
    let bytes = macBytes(leaf);
    if (encrypted) {
      if (leaf.kind !== "str") throw new SopsError(`${pathText(path)}: value should be encrypted but is a plain ${leaf.kind}`);
      const result = decryptValue(leaf.value, dataKey, `${path.join(":")}:`, pathText(path));
      value = result.leaf;
      bytes = result.mac;
    }
    if ((!metadata.macOnlyEncrypted || encrypted) && bytes) hash.update(bytes);
    return value;
  });
  const computed = hash.digest("hex").toUpperCase();
  let stored: Leaf;
  try {
    stored = decryptValue(metadata.mac, dataKey, normalizeLastModified(metadata.lastModified), "sops.mac").leaf;
  } catch (error) {
    if (error instanceof SopsError && error.message.startsWith("sops metadata")) throw error;
    throw new SopsError("MAC cannot be decrypted: the file's mac or lastmodified was changed");
  }
  if (stored.kind !== "str" || stored.value !== computed) {
    throw new SopsError(
      stored.kind === "str" && stored.value === ""
        ? "the file has no MAC"
        : "MAC mismatch: a value, its key or the order of the values differs from what was encrypted (tampered or truncated file)",
    );
  }
  return { data: toJs(decrypted) as Record<string, unknown> };
}

/** The age recipients and the raw ENC[…] values in document order (no key needed). */
export function sopsMetadata(text: string, options: DecryptOptions = {}): { recipients: string[]; encryptedValues: string[] } {
  const parsed = parseSops(text, options.format);
  const meta = plainObject(parsed.metadata);
  if (!meta) throw new SopsError("not a sops file: the sops metadata is missing");
  const recipients = ageKeysOf(meta["age"], "age").map((key) => key.recipient);
  const groups = meta["key_groups"];
  if (Array.isArray(groups)) groups.forEach((group, i) => recipients.push(...ageKeysOf(plainObject(group)?.["age"], `key_groups[${i}].age`).map((key) => key.recipient)));
  const encryptedValues: string[] = [];
  walkLeaves(parsed.data, [], (leaf) => {
    if (leaf.kind === "str" && ENC_RE.test(leaf.value)) encryptedValues.push(leaf.value);
    return leaf;
  });
  return { recipients, encryptedValues };
}
