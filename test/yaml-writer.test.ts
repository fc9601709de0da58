// The one YAML writer (generator/render/yaml.ts) lays out maps and lists itself and asks the yaml
// library only how to write each scalar. Its bytes must be the library's: for arbitrary values
// (a property, fixed seed, bounded by runs) and for every document the reference config renders.
import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { render, type Rendered } from "../generator/generate.ts";
import { HEADER, yamlText, yamlTextByLibrary } from "../generator/render/yaml.ts";
import { referenceConfigPath } from "./support/render.ts";

const SEED = 20261206;
const RUNS = 2000;

/** Strings a YAML writer must quote, indent or block-write with care (YAML 1.1 and Go's readers). */
const awkward = [
  "", " ", "yes", "No", "on", "OFF", "y", "n", "~", "null", "Null", "true", "0777", "0o17", "0x1F", "1_000", "1e3", ".inf", ".NaN",
  "-_1", "1:20", "190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "<<", "=", "- a", "-", "? x", ": x", "a: b", "a #b", "#x",
  "'", '"', "'\"", "@x", "`x", "%x", "!x", "&a", "*a", "|", ">", "[x]", "{x}", ",x", "---", "---x", "...", "lead ", " trail", "é",
  "tab\there", "\t", "\u0085", "\u2028", "\ufeffx", "\u0000", "a\nb", "\n", "\n\n", "a\n", "a\n\n", " a\nb", "  lead\nx", "x\n  y\n",
  "trailing \nspace", "a\r\nb", "--- a\nb", "a\n---\nb", "... x\ny", "\ta\nb", "k".repeat(1100),
];

/** What the writer answers without the library: names and paths, and YAML 1.1's words in any case. */
const nameLike = fc.oneof(
  fc.stringMatching(/^(?:[A-Za-z]|\.?\/)[A-Za-z0-9._\/-]{0,8}$/),
  fc.constantFrom("y", "yes", "n", "no", "true", "false", "on", "off", "null").chain((word) =>
    fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join("")),
  ),
);

const scalar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...awkward) },
  { weight: 3, arbitrary: nameLike },
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom("a", "1", " ", "\n", ":", "-", "#", "'", '"', "\t", ".", "0", "x", "é") }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);
const key = fc.oneof(fc.constantFrom(...awkward), nameLike, fc.string({ maxLength: 6 }));
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(key, tie("value"), { maxKeys: 5 }),
  ),
}));

/**
 * The data as JSON holds it, copied without JSON's round trip: Node 24.21's JSON.parse, after
 * some earlier runs of this property, read the key "\\"" back as "\\" (found here; a fresh process
 * reads the same text right). The writer does not round-trip through JSON.
 */
function asJsonData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => asJsonData(item));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, child]) => child !== undefined).map(([key, child]) => [key, asJsonData(child)]));
  }
  return typeof value === "number" ? (Number.isFinite(value) ? value + 0 : null) : value;
}

function readsBackAs(text: string, data: unknown): boolean {
  try {
    expect(parse(text, { version: "1.1" })).toEqual(asJsonData(data));
    return true;
  } catch {
    return false;
  }
}

describe("the YAML writer writes what the yaml library writes", () => {
  test("for arbitrary maps and lists of awkward keys and values", () => {
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(key, value, { maxKeys: 6 }), fc.array(value, { maxLength: 5 }), value), (data) => {
        const written = yamlText(data);
        // A map or list (what the generator writes) reads back as the data, as a YAML 1.1 reader
        // (Kubernetes) reads it.
        const byLibrary = yamlTextByLibrary(data);
        // (A key too long to be implicit sends the document to the library whole, faults included.)
        if (data !== null && typeof data === "object" && written !== byLibrary) expect(parse(written, { version: "1.1" })).toEqual(asJsonData(data));
        // Where the library's own text does not read back, it is no reference: yaml 2.9.1 loses the
        // space of a " \n" value in a block scalar and writes block scalars it cannot read (" \n\t\n"),
        // and yamlTextByLibrary's JSON round trip met the JSON.parse fault noted at asJsonData. A key
        // holding a byte-order mark: the library writes it bare, which reads back unless it starts
        // the document; the writer always quotes it.
        if (readsBackAs(byLibrary, data) && !JSON.stringify(data).includes("\ufeff")) expect(written).toBe(byLibrary);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 0);

  test.each([
    ["a block scalar at every depth", { a: ["x\ny"], b: [["x\ny"]], c: { d: [{ e: "  x\ny" }] }, w: "\n", x: "a\n\n" }],
    ["empty maps and lists", { a: {}, b: [], c: [[], {}, [[]]], d: [{}] }],
    ["a key too long to be implicit", { ["k".repeat(1100)]: 1, b: 2 }],
    ["numbers", { a: 1.5, b: -0, c: 1e21, d: 2 ** 53, e: -3 }],
    ["typed models (toJSON), undefined and non-numbers", { a: { toJSON: () => ({ b: 1 }) }, c: undefined, d: [undefined, () => 1, NaN], e: { toJSON: () => undefined }, f: { g: Infinity } }],
  ])("%s", (_name, data) => {
    expect(yamlText(data)).toBe(yamlTextByLibrary(data));
  });

  describe("for every document of the reference tree", () => {
    let reference: Rendered;
    beforeAll(async () => {
      reference = await render({ configPath: referenceConfigPath });
    });

    test("each YAML file, read back and written again, is the same bytes both ways", () => {
      const yamlFiles = reference.files.filter((f) => f.path.endsWith(".yaml") && f.content.startsWith(`${HEADER}\n`) && !f.path.endsWith(".sops.yaml"));
      expect(yamlFiles.length).toBeGreaterThan(50);
      for (const file of yamlFiles) {
        const body = file.content.slice(HEADER.length + 1);
        const documents = parseAllDocuments(body, { version: "1.1" });
        const texts = documents.map((doc) => doc.toJS() as unknown);
        expect(texts.map(yamlText).join("---\n"), file.path).toBe(body);
        expect(texts.map(yamlTextByLibrary).join("---\n"), file.path).toBe(body);
      }
    });
  });
});
