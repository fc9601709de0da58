// SOPS with age: files the real sops wrote (shared fixtures), files encryptDocument writes read
// back by an independent implementation (sops-age) and by the real age CLI, tamper detection,
// several recipients, and where sops finds its age keys.
import { execFileSync } from "node:child_process";
import { createDecipheriv, createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import fc from "fast-check";
import { decryptSops } from "sops-age";
import { isScalar, parse, parseDocument, visit } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { decryptDocument, encryptDocument, goFormatFloat, SopsError, sopsMetadata } from "../generator/secrets/sops.ts";
import { defaultAgeKeyFile, findAgeIdentities, parseAgeIdentities } from "../generator/secrets/age-keys.ts";
import { requires } from "./support/requires.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const fixtures = join(repoRoot, "..", "shared", "fixtures", "sops");
// Locally the fixtures may be absent (skip); in CI a missing folder is a failure, not a skip.
const describeFixtures = existsSync(fixtures) || process.env["CI"] ? describe : describe.skip;

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-sops-"));
  temps.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

async function newKey(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** Expects a SopsError whose message matches and leaks none of `secrets`. */
async function rejects(promise: Promise<unknown>, message: RegExp, secrets: readonly string[] = []): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SopsError);
  const text = (error as Error).message;
  expect(text).toMatch(message);
  for (const secret of secrets) expect(text).not.toContain(secret);
}

/** An ENC[…] value of this type, as sops writes it (32-byte IV, 16-byte tag). */
const encrypted = (type: string): unknown =>
  expect.stringMatching(new RegExp(`^ENC\\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]{44},tag:[A-Za-z0-9+/=]{24},type:${type}\\]$`));

function swapLines(text: string, a: string, b: string): string {
  const lines = text.split("\n");
  const i = lines.findIndex((line) => line.startsWith(a));
  const j = lines.findIndex((line) => line.startsWith(b));
  expect(i).toBeGreaterThanOrEqual(0);
  expect(j).toBeGreaterThanOrEqual(0);
  [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
  return lines.join("\n");
}

describeFixtures("shared fixtures: ../shared/fixtures/sops/ (written by the real sops 3.8/3.9)", () => {
  const read = (name: string): string => readFileSync(join(fixtures, name), "utf8");
  const identities = (): string[] => parseAgeIdentities(read("key.txt"), "key.txt");
  const expected = (): Record<string, unknown> => JSON.parse(read("secret.json")) as Record<string, unknown>;

  it("shared fixtures: the folder ../shared/fixtures/sops/ is there", () => {
    expect(existsSync(fixtures), `${fixtures} is missing`).toBe(true);
  });

  it("shared fixtures: key.txt holds one identity (comments skipped)", () => {
    expect(identities()).toHaveLength(1);
    expect(identities()[0]).toMatch(/^AGE-SECRET-KEY-1/);
  });

  it("shared fixtures: decrypts secret.enc.yaml to secret.json (without 0word), MAC recomputed", async () => {
    const want = expected();
    delete want["0word"];
    const { data } = await decryptDocument(read("secret.enc.yaml"), identities());
    expect(data).toEqual(want);
    expect(Object.keys(data)).toEqual(Object.keys(want));
  });

  it("shared fixtures: decrypts secret.enc.json to secret.json (JSON numbers are floats), MAC recomputed", async () => {
    const { data } = await decryptDocument(read("secret.enc.json"), identities());
    expect(data).toEqual(expected());
    expect(Object.keys(data)).toEqual(Object.keys(expected()));
  });

  it("shared fixtures: decrypts secret.enc.env (dotenv, flattened metadata), MAC recomputed", async () => {
    const { data } = await decryptDocument(read("secret.enc.env"), identities());
    expect(data).toEqual({ secret: expected()["secret"], another_secret: String(expected()["int"]) });
  });

  it("shared fixtures: the MAC is really checked: reordering values in each fixture is rejected", async () => {
    await rejects(decryptDocument(swapLines(read("secret.enc.yaml"), "secret:", "string:"), identities()), /MAC mismatch/);
    await rejects(decryptDocument(swapLines(read("secret.enc.env"), "secret=", "another_secret="), identities()), /MAC mismatch/);
    // Both lines end with a comma, so the swapped JSON stays valid.
    await rejects(decryptDocument(swapLines(read("secret.enc.json"), '  "secret"', '  "string"'), identities()), /MAC mismatch/);
  });

  it("shared fixtures: sopsMetadata lists the recipients and the ENC values without a key", () => {
    for (const name of ["secret.enc.yaml", "secret.enc.json", "secret.enc.env"]) {
      const meta = sopsMetadata(read(name));
      expect(meta.recipients).toHaveLength(3);
      expect(meta.recipients[0]).toBe("age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr");
      for (const value of meta.encryptedValues) expect(value).toMatch(/^ENC\[AES256_GCM,data:/);
    }
    expect(sopsMetadata(read("secret.enc.yaml")).encryptedValues).toHaveLength(9);
    expect(sopsMetadata(read("secret.enc.json")).encryptedValues).toHaveLength(10);
    expect(sopsMetadata(read("secret.enc.env")).encryptedValues).toHaveLength(2);
  });

  it("shared fixtures: a key that is not a recipient gets a clear error without key material", async () => {
    const other = await newKey();
    await rejects(decryptDocument(read("secret.enc.yaml"), [other.identity]), /none of the 1 age identities can decrypt the data key .*age1je6kjh/, [other.identity]);
  });
});

describe("encryptDocument", () => {
  it("writes the data in order, then the sops metadata block in sops' order, with the age enc as a block literal", async () => {
    const { identity, recipient } = await newKey();
    const data = {
      name: "demo",
      port: 8080,
      ratio: 0.5,
      on: true,
      list: ["a", { x: "y" }],
      nested: { key: "v", empty: "" },
      items: [{ name: "a", meta: { k: "v" }, tags: ["t"] }, [1, 2]],
      note_unencrypted: "kept",
    };
    const text = await encryptDocument(data, { recipients: [recipient], now: new Date("2025-01-02T03:04:05.999Z") });
    for (const version of ["1.1", "1.2"] as const) {
      const doc = parseDocument(text, { version });
      expect(doc.errors).toEqual([]);
      const file = doc.toJS() as Record<string, unknown>;
      expect(Object.keys(file)).toEqual([...Object.keys(data), "sops"]);
      const { sops, ...values } = file;
      expect(Object.keys(sops as object)).toEqual(["kms", "gcp_kms", "azure_kv", "hc_vault", "age", "lastmodified", "mac", "pgp", "unencrypted_suffix", "version"]);
      // Every value is an ENC[…] string of its type, the empty string stays empty, the suffix keeps its value readable.
      expect(values).toEqual({
        name: encrypted("str"),
        port: encrypted("int"),
        ratio: encrypted("float"),
        on: encrypted("bool"),
        list: [encrypted("str"), { x: encrypted("str") }],
        nested: { key: encrypted("str"), empty: "" },
        items: [{ name: encrypted("str"), meta: { k: encrypted("str") }, tags: [encrypted("str")] }, [encrypted("int"), encrypted("int")]],
        note_unencrypted: "kept",
      });
      expect(sops).toEqual({
        kms: [],
        gcp_kms: [],
        azure_kv: [],
        hc_vault: [],
        age: [{ recipient, enc: expect.stringMatching(/^-----BEGIN AGE ENCRYPTED FILE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END AGE ENCRYPTED FILE-----\n$/) }],
        lastmodified: "2025-01-02T03:04:05Z",
        mac: encrypted("str"),
        pgp: [],
        unencrypted_suffix: "_unencrypted",
        version: "3.9.4",
      });
      const enc = doc.getIn(["sops", "age", 0, "enc"], true);
      expect(isScalar(enc) && enc.type).toBe("BLOCK_LITERAL");
      // ENC values are one-line plain or quoted scalars, never blocks.
      visit(doc, {
        Scalar(_key, node) {
          if (typeof node.value === "string" && node.value.startsWith("ENC[")) expect(["PLAIN", "QUOTE_SINGLE", "QUOTE_DOUBLE"]).toContain(node.type);
        },
      });
    }
    expect((await decryptDocument(text, [identity])).data).toEqual(data);
    expect(await decryptSops(text, { secretKey: identity, fileType: "yaml" })).toEqual(data);
  });

  it("files it writes decrypt with the independent sops-age package and with decryptDocument (MAC checked)", async () => {
    const { identity, recipient } = await newKey();
    const data = {
      password: "correct horse battery staple",
      count: 42,
      negative: -7,
      pi: 3.14159,
      tiny: 0.000001,
      enabled: true,
      disabled: false,
      nothing: null,
      empty: "",
      multiline: "line one\nline two\n",
      unicode: "grüße 😀",
      nested: { deeper: { list: ["one", "two", 3, false] } },
      objects: [{ name: "a", value: "1" }, { name: "b" }],
      comment_unencrypted: "stays readable",
    };
    const text = await encryptDocument(data, { recipients: [recipient] });
    expect(await decryptSops(text, { secretKey: identity, fileType: "yaml" })).toEqual(data);
    expect((await decryptDocument(text, [identity])).data).toEqual(data);
    // Plain YAML readers see the same structure (values are ENC strings or as given).
    const plain = parse(text) as Record<string, unknown>;
    expect(Object.keys(plain)).toEqual([...Object.keys(data), "sops"]);
    expect(plain["nothing"]).toBeNull();
    expect(plain["empty"]).toBe("");
    expect(plain["comment_unencrypted"]).toBe("stays readable");
  });

  it("a Kubernetes Secret with encryptedRegex ^(data|stringData)$: only data/stringData are encrypted", async () => {
    const { identity, recipient } = await newKey();
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "app", namespace: "apps", labels: { "app.kubernetes.io/name": "app", enabled: "true" }, annotations: { note: "a: b" } },
      type: "Opaque",
      data: { "tls.key": Buffer.from("key bytes").toString("base64") },
      stringData: { password: "s3cret-value", "config.yaml": "user: admin\nport: 5432\n" },
    };
    const text = await encryptDocument(secret, { recipients: [recipient], encryptedRegex: "^(data|stringData)$" });
    const plain = parse(text) as Record<string, Record<string, unknown>>;
    expect(plain["apiVersion"]).toBe("v1");
    expect(plain["kind"]).toBe("Secret");
    expect(plain["type"]).toBe("Opaque");
    expect(plain["metadata"]).toEqual(secret.metadata);
    for (const group of ["data", "stringData"]) {
      for (const value of Object.values(plain[group] ?? {})) expect(value).toMatch(/^ENC\[AES256_GCM,data:.*type:str\]$/);
    }
    expect(plain["sops"]?.["encrypted_regex"]).toBe("^(data|stringData)$");
    expect(plain["sops"]).not.toHaveProperty("unencrypted_suffix");
    expect(text).not.toContain("s3cret-value");
    expect(sopsMetadata(text).encryptedValues).toHaveLength(3);
    expect(await decryptSops(text, { secretKey: identity, fileType: "yaml" })).toEqual(secret);
    expect((await decryptDocument(text, [identity])).data).toEqual(secret);
  });

  it("values keep their type for YAML 1.2 core, YAML 1.1 and Go readers: tricky strings stay strings, numbers stay numbers", async () => {
    const { identity, recipient } = await newKey();
    const tricky = [
      "on", "On", "y", "n", "yes", "no", "off", "true", "True", "FALSE", "null", "Null", "~", "",
      "0755", "0o17", "0O17", "0x1F", "0X1F", "-0x1F", "0b101", "0B101", "09", "+1", "-1", "1_000", "12", "1e3", "1E3", ".5", "5.", ".inf", "-.inf", ".nan", "1:20", "190:20:30",
      "2024-01-02", "2024-1-2", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05",
      "<<", "=", "-", "?", ":", "- item", "? x", "a: b", "a #b", "#comment", "&a", "*a", "!a", "|", ">", "%x", "@", "`", "'", '"', "it's", "[a]", "{a}", "a,b",
      "---", "--- x", "...", " padded ", "a\tb", "é", "😀", "\u00a0",
      "a\nb", "trailing\n\n", "\nleading", " indented\nblock\n", "a\n---\nb\n", "a\n%x\n", "a\r\nb",
      "line\u2028separator", "next\u0085line", "\ufeffbom", "del\x7f", "\uffff",
    ];
    const data: Record<string, unknown> = {
      enc: "x",
      strings: tricky,
      keys: Object.fromEntries(tricky.map((s, i) => [s, i])),
      "multi\nline key": "v",
      ["k".repeat(1100)]: { long: "key" },
      numbers: [0, 42, -7, 2 ** 53, 0.5, -2.5e-5, 1e-7, 1e21, 2 ** 63, -(2 ** 64), 1.5e300, Infinity, -Infinity, NaN],
      others: [true, false, null, [], {}],
    };
    const text = await encryptDocument(data, { recipients: [recipient], encryptedRegex: "^enc$" });
    const { enc: _, ...plain } = data;
    for (const version of ["1.1", "1.2"] as const) {
      const doc = parseDocument(text, { version, uniqueKeys: true });
      expect(doc.errors).toEqual([]);
      const { sops, enc, ...rest } = doc.toJS() as Record<string, unknown>;
      expect(rest).toEqual(plain);
      expect(Object.keys(rest)).toEqual(Object.keys(plain));
      expect(Object.keys(rest["keys"] as object)).toEqual(Object.keys(data["keys"] as object));
      expect(enc).toMatch(/^ENC\[AES256_GCM,.*,type:str\]$/);
      expect(sops).toMatchObject({ lastmodified: expect.any(String), version: "3.9.4" });
    }
    // Go reads the same (decryptDocument resolves plain scalars as yaml.v3 does), and so does sops-age.
    expect((await decryptDocument(text, [identity])).data).toEqual(data);
    expect(await decryptSops(text, { secretKey: identity, fileType: "yaml" })).toEqual(data);
    // Integers beyond 2^53 are written exactly, as Go's int64 reads them (decryptDocument gives a number when that is exact).
    const big = await encryptDocument({ max: 2n ** 63n - 1n, min: -(2n ** 63n) }, { recipients: [recipient], encryptedRegex: "a^" });
    for (const version of ["1.1", "1.2"] as const) expect(parse(big, { version, intAsBigInt: true })).toMatchObject({ max: 2n ** 63n - 1n, min: -(2n ** 63n) });
    expect((await decryptDocument(big, [identity])).data).toEqual({ max: 2n ** 63n - 1n, min: -(2 ** 63) });
    // Go's reader (libyaml) takes U+0085, U+2028 and U+2029 for line breaks and refuses DEL, C1 controls and
    // U+FFFE/U+FFFF: none of them stands raw in the file, only as an escape inside double quotes.
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/u);
    expect(text).toContain('"line\\u2028separator"');
  });

  it("formats floats as Go's strconv does for the MAC and the plaintext", () => {
    expect(goFormatFloat(3.14)).toBe("3.14");
    expect(goFormatFloat(1e21)).toBe("1000000000000000000000");
    expect(goFormatFloat(1e-7)).toBe("0.0000001");
    expect(goFormatFloat(-2.5e-5)).toBe("-0.000025");
    expect(goFormatFloat(0.1 + 0.2)).toBe("0.30000000000000004");
    expect(goFormatFloat(Infinity)).toBe("+Inf");
    expect(goFormatFloat(NaN)).toBe("NaN");
  });

  it("a value of megabytes round-trips: reading its base64 takes no regexp stack", async () => {
    const { identity, recipient } = await newKey();
    const value = "v".repeat(4 * 1024 * 1024);
    const text = await encryptDocument({ value }, { recipients: [recipient] });
    expect((await decryptDocument(text, [identity])).data).toEqual({ value });
  });

  it("refuses what sops refuses: no recipients, non-X25519 recipients, an existing sops key", async () => {
    const { recipient } = await newKey();
    await rejects(encryptDocument({ a: "b" }, { recipients: [] }), /at least one age recipient/);
    await rejects(encryptDocument({ a: "b" }, { recipients: ["age1notakey"] }), /not an X25519 age recipient/);
    await rejects(encryptDocument({ sops: {} }, { recipients: [recipient] }), /top-level sops key/);
  });
});

describe("round trips over arbitrary data (fast-check)", () => {
  const tricky = fc.constantFrom("", "on", "y", "0755", "0X1F", "0B101", "1_000", "1e3", ".5", "1:20", "2024-01-02", "2024-1-2", "~", "-", "- x", "a: b", "null", "<<", "=", " x", "x\n", "\nx", "a\n\n", "a\u2028b", "\u0085", "\ufeffx", "\x7f");
  const text = fc.oneof(fc.string({ unit: "binary-ascii", maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 8 }), fc.string({ unit: "binary", maxLength: 6 }), tricky);
  const key = fc.oneof(fc.string({ unit: "grapheme", maxLength: 10 }), tricky).filter((k) => k !== "sops");
  const scalar = fc.oneof(text, fc.integer(), fc.double().map((x) => (Object.is(x, -0) ? 0 : x)), fc.boolean(), fc.constant(null));
  const value = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalar, fc.array(tie("tree"), { maxLength: 3 }), fc.dictionary(key, tie("tree"), { maxKeys: 3 })),
  })).tree;
  const document = fc.dictionary(key, value, { minKeys: 1, maxKeys: 5 });

  it("every value encrypted, or every value left plain, decrypts to the same data; YAML 1.1 and 1.2 readers agree", async () => {
    const { identity, recipient } = await newKey();
    await fc.assert(
      fc.asyncProperty(document, fc.boolean(), async (data, encryptAll) => {
        const out = await encryptDocument(data, encryptAll ? { recipients: [recipient] } : { recipients: [recipient], encryptedRegex: "a^" });
        expect((await decryptDocument(out, [identity])).data).toEqual(data);
        if (!encryptAll) {
          for (const version of ["1.1", "1.2"] as const) {
            const { sops: _, ...plain } = parse(out, { version }) as Record<string, unknown>;
            expect(plain).toEqual(data);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("the data key and the real age CLI (/usr/bin/age)", requires("age", "age-keygen"), () => {
  it("age -d unwraps the data key of a file we wrote; that key decrypts the values and the MAC (independent check)", async () => {
    const { identity, recipient } = await newKey();
    const dir = tempDir();
    const data = { user: "admin", pin: 1234, on: true };
    const text = await encryptDocument(data, { recipients: [recipient], now: new Date("2025-06-01T12:00:00Z") });
    const doc = parse(text) as { user: string; pin: string; on: string; sops: { age: { enc: string }[]; mac: string; lastmodified: string } };
    writeFileSync(join(dir, "key.txt"), `# test key\n${identity}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "enc.age"), doc.sops.age[0]?.enc ?? "");
    const dataKey = execFileSync("age", ["-d", "-i", join(dir, "key.txt"), join(dir, "enc.age")]);
    expect(dataKey).toHaveLength(32);

    const open = (value: string, additionalData: string): string => {
      const m = /^ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:(.*)\]$/.exec(value);
      if (!m) throw new Error("not an ENC value");
      const decipher = createDecipheriv("aes-256-gcm", dataKey, Buffer.from(m[2] ?? "", "base64"));
      decipher.setAAD(Buffer.from(additionalData));
      decipher.setAuthTag(Buffer.from(m[3] ?? "", "base64"));
      return Buffer.concat([decipher.update(Buffer.from(m[1] ?? "", "base64")), decipher.final()]).toString();
    };
    expect(open(doc.user, "user:")).toBe("admin");
    expect(open(doc.pin, "pin:")).toBe("1234");
    expect(open(doc.on, "on:")).toBe("True");
    // The MAC: SHA-512 over the values as Go prints them, upper-case hex, keyed to lastmodified.
    const mac = createHash("sha512").update("admin").update("1234").update("True").digest("hex").toUpperCase();
    expect(doc.sops.lastmodified).toBe("2025-06-01T12:00:00Z");
    expect(open(doc.sops.mac, "2025-06-01T12:00:00Z")).toBe(mac);
  });

  it("accepts a file whose age stanza the CLI produced (age -r … -a), re-wrapping the same data key", async () => {
    const first = await newKey();
    const dir = tempDir();
    const cliIdentity = execFileSync("age-keygen", [], { stdio: ["ignore", "pipe", "ignore"] }).toString();
    const cliKey = cliIdentity.split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1")) ?? "";
    const cliRecipient = /public key: (age1\w+)/.exec(cliIdentity)?.[1] ?? "";
    expect(cliRecipient).toMatch(/^age1/);

    const data = { token: "abc123", nested: { list: ["x", "y"] } };
    const text = await encryptDocument(data, { recipients: [first.recipient] });
    const doc = parseDocument(text);
    writeFileSync(join(dir, "key.txt"), `${first.identity}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "enc.age"), String(doc.getIn(["sops", "age", 0, "enc"])));
    const dataKey = execFileSync("age", ["-d", "-i", join(dir, "key.txt"), join(dir, "enc.age")]);
    const rewrapped = execFileSync("age", ["-r", cliRecipient, "-a"], { input: dataKey }).toString();
    expect(rewrapped).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    doc.setIn(["sops", "age", 0, "recipient"], cliRecipient);
    doc.setIn(["sops", "age", 0, "enc"], rewrapped);
    const cliFile = doc.toString();

    expect((await decryptDocument(cliFile, [cliKey])).data).toEqual(data);
    expect(sopsMetadata(cliFile).recipients).toEqual([cliRecipient]);
    await rejects(decryptDocument(cliFile, [first.identity]), /none of the 1 age identities/, [first.identity]);
  });
});

describe("tamper detection", () => {
  const secrets = ["hunter2-very-secret", "second-secret-value"];
  async function sample(): Promise<{ text: string; identity: string }> {
    const { identity, recipient } = await newKey();
    const text = await encryptDocument({ alpha: secrets[0], beta: secrets[1], gamma: "third", list: ["one", "two"] }, { recipients: [recipient] });
    return { text, identity };
  }

  it("the untouched file decrypts", async () => {
    const { text, identity } = await sample();
    expect((await decryptDocument(text, [identity])).data).toMatchObject({ alpha: secrets[0] });
  });

  it("a changed ciphertext byte is rejected", async () => {
    const { text, identity } = await sample();
    const tampered = text.replace(/^(alpha: ENC\[AES256_GCM,data:)(.)/m, (_, head: string, c: string) => head + (c === "A" ? "B" : "A"));
    expect(tampered).not.toBe(text);
    await rejects(decryptDocument(tampered, [identity]), /alpha: could not decrypt value/, [...secrets, identity]);
  });

  it("a swapped pair of keys (reordered) is rejected", async () => {
    const { text, identity } = await sample();
    await rejects(decryptDocument(swapLines(text, "alpha:", "beta:"), [identity]), /MAC mismatch/, [...secrets, identity]);
  });

  it("a value moved to another key is rejected (the key path is authenticated)", async () => {
    const { text, identity } = await sample();
    const alpha = /^alpha: (.*)$/m.exec(text)?.[1] ?? "";
    const beta = /^beta: (.*)$/m.exec(text)?.[1] ?? "";
    const moved = text.replace(`alpha: ${alpha}`, `alpha: ${beta}`).replace(`beta: ${beta}`, `beta: ${alpha}`);
    await rejects(decryptDocument(moved, [identity]), /could not decrypt value/, [...secrets, identity]);
  });

  it("a removed value (truncated file) is rejected", async () => {
    const { text, identity } = await sample();
    await rejects(decryptDocument(text.replace(/^ +- ENC\[.*\n/m, ""), [identity]), /MAC mismatch/, [...secrets, identity]);
    await rejects(decryptDocument(text.replace(/^gamma: .*\n/m, ""), [identity]), /MAC mismatch/, [...secrets, identity]);
    await rejects(decryptDocument(text.slice(0, text.indexOf("sops:")), [identity]), /sops metadata is missing/);
  });

  it("a changed lastmodified is rejected", async () => {
    const { text, identity } = await sample();
    const tampered = text.replace(/lastmodified: "(.*)T(\d\d):/, (_, day: string, hour: string) => `lastmodified: "${day}T${hour === "00" ? "01" : "00"}:`);
    expect(tampered).not.toBe(text);
    await rejects(decryptDocument(tampered, [identity]), /MAC cannot be decrypted/, [...secrets, identity]);
  });

  it("a value that should be encrypted but is plain is rejected", async () => {
    const { text, identity } = await sample();
    await rejects(decryptDocument(text.replace(/^gamma: .*$/m, "gamma: third"), [identity]), /gamma: value should be encrypted/);
  });
});

describe("several recipients", () => {
  it("each identity alone decrypts; others are refused", async () => {
    const keys = [await newKey(), await newKey(), await newKey()];
    const data = { shared: "for everyone", n: 1 };
    const text = await encryptDocument(data, { recipients: keys.map((k) => k.recipient) });
    expect(sopsMetadata(text).recipients).toEqual(keys.map((k) => k.recipient));
    for (const key of keys) {
      expect((await decryptDocument(text, [key.identity])).data).toEqual(data);
      expect(await decryptSops(text, { secretKey: key.identity, fileType: "yaml" })).toEqual(data);
    }
    const stranger = await newKey();
    expect((await decryptDocument(text, [stranger.identity, keys[2]?.identity ?? ""])).data).toEqual(data);
    await rejects(decryptDocument(text, [stranger.identity]), /none of the 1 age identities/, [stranger.identity]);
    await rejects(decryptDocument(text, ["AGE-SECRET-KEY-1NOTAKEY"]), /identity #1 is not a valid age secret key/, ["NOTAKEY"]);
  });
});

describe("findAgeIdentities: where sops looks for age keys", () => {
  it("reads SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and the default keys file, skipping comments", async () => {
    const [a, b, c, d] = [await newKey(), await newKey(), await newKey(), await newKey()];
    const dir = tempDir();
    writeFileSync(join(dir, "file.txt"), `# created: today\n# public key: ${c?.recipient}\n${c?.identity}\n\n`);
    mkdirSync(join(dir, "xdg", "sops", "age"), { recursive: true });
    writeFileSync(join(dir, "xdg", "sops", "age", "keys.txt"), `${d?.identity}\r\n`);
    const env = { SOPS_AGE_KEY: `# comment\n${a?.identity}\n${b?.identity}`, SOPS_AGE_KEY_FILE: join(dir, "file.txt"), XDG_CONFIG_HOME: join(dir, "xdg"), HOME: join(dir, "home") };
    expect(findAgeIdentities(env, "linux")).toEqual([a?.identity, b?.identity, c?.identity, d?.identity]);
  });

  it("falls back to ~/.config/sops/age/keys.txt, or ~/Library/Application Support on macOS", async () => {
    const key = await newKey();
    const home = tempDir();
    expect(findAgeIdentities({ HOME: home }, "linux")).toEqual([]);
    mkdirSync(join(home, ".config", "sops", "age"), { recursive: true });
    writeFileSync(join(home, ".config", "sops", "age", "keys.txt"), `${key.identity}\n`);
    expect(findAgeIdentities({ HOME: home }, "linux")).toEqual([key.identity]);
    expect(defaultAgeKeyFile({ HOME: home }, "darwin")).toBe(join(home, "Library", "Application Support", "sops", "age", "keys.txt"));
    expect(defaultAgeKeyFile({ HOME: home, XDG_CONFIG_HOME: "/x" }, "darwin")).toBe(join("/x", "sops", "age", "keys.txt"));
    expect(defaultAgeKeyFile({ HOME: home, XDG_CONFIG_HOME: "relative" }, "linux")).toBeUndefined();
    expect(findAgeIdentities({}, "linux")).toEqual([]);
  });

  it("fails like sops on a missing SOPS_AGE_KEY_FILE or a malformed line, without printing it", async () => {
    const key = await newKey();
    const dir = tempDir();
    expect(() => findAgeIdentities({ SOPS_AGE_KEY_FILE: join(dir, "missing.txt") }, "linux")).toThrow(/cannot read SOPS_AGE_KEY_FILE .*ENOENT/);
    const broken = `${key.identity.slice(0, -3)}-x`;
    let message = "";
    try {
      findAgeIdentities({ SOPS_AGE_KEY: `${key.identity}\n${broken}` }, "linux");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/SOPS_AGE_KEY: line 2 is not an age identity/);
    expect(message).not.toContain(broken);
    expect(findAgeIdentities({ SOPS_AGE_KEY: `${key.identity} ${key.identity}` }, "linux")).toEqual([key.identity]);
  });
});
