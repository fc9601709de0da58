// The cluster CA from `homelab init`, checked with tools that did not make it: the openssl CLI
// (chain, key decryption, extensions, fingerprint) and jose (the provisioner JWE).
import "reflect-metadata"; // the Reflect polyfill @peculiar/x509 requires, before it loads
import * as x509 from "@peculiar/x509";
import { spawnSync } from "node:child_process";
import { createPrivateKey, X509Certificate, type webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint, compactDecrypt, compactVerify, CompactSign, importJWK, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CA_LIFETIME_MS, createCertificateAuthority, type CaMaterial } from "../generator/secrets/ca.ts";
import {
  STEP_CA_SECRET_VALUE_PATHS,
  STEP_CA_URL,
  stepCaSecretValues,
  stepCaValues,
  stepIssuerSpec,
} from "../generator/secrets/step-ca.ts";
import { requires } from "./support/requires.ts";

const now = new Date("2026-03-01T12:00:00Z");
let material: CaMaterial;
let dir: string;
const file = (name: string) => join(dir, name);

function openssl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("openssl", args, { encoding: "utf8" });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
/** openssl that must succeed; its stdout. */
function ok(args: string[]): string {
  const result = openssl(args);
  expect(result.status, `openssl ${args.join(" ")}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  material = await createCertificateAuthority({ name: "homelab", domain: "home.example", now });
  dir = mkdtempSync(join(tmpdir(), "homelab-ca-"));
  writeFileSync(file("root.pem"), material.rootCertificate);
  writeFileSync(file("root.key"), material.rootKey);
  writeFileSync(file("intermediate.pem"), material.intermediateCertificate);
  writeFileSync(file("intermediate.key"), material.intermediateKey);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A certificate issued by `issuer` (default: the intermediate, with its decrypted key), made with @peculiar/x509. */
async function issue(options: {
  hours: number;
  ca?: boolean;
  dnsNames?: string[];
  issuer?: { pem: string; key: webcrypto.CryptoKey };
}): Promise<{ pem: string; key: webcrypto.CryptoKey }> {
  const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;
  const issuerKey =
    options.issuer?.key ?? createPrivateKey({ key: material.intermediateKey, format: "pem", passphrase: material.password }).toCryptoKey(ecdsa, false, ["sign"]);
  const issuer = new x509.X509Certificate(options.issuer?.pem ?? material.intermediateCertificate);
  const subject = await crypto.subtle.generateKey(ecdsa, true, ["sign", "verify"]);
  const notBefore = new Date();
  const { KeyUsageFlags: usage } = x509;
  const cert = await x509.X509CertificateGenerator.create({
    issuer: issuer.subjectName,
    subject: `CN=${options.ca ? "sub-CA" : (options.dnsNames?.[0] ?? "leaf")}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + options.hours * 3600_000),
    publicKey: subject.publicKey,
    signingKey: issuerKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      ...(options.ca
        ? [new x509.KeyUsagesExtension(usage.keyCertSign | usage.cRLSign, true), new x509.BasicConstraintsExtension(true, undefined, true)]
        : [
            new x509.KeyUsagesExtension(usage.digitalSignature, true),
            new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.SubjectAlternativeNameExtension((options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value }))),
          ]),
      await x509.SubjectKeyIdentifierExtension.create(subject.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer),
    ],
  });
  return { pem: cert.toString("pem"), key: subject.privateKey };
}

describe("certificate chain", () => {
  test("the intermediate verifies against the root", requires("openssl"), () => {
    expect(ok(["verify", "-CAfile", file("root.pem"), file("intermediate.pem")])).toContain(": OK");
    expect(ok(["verify", "-CAfile", file("root.pem"), file("root.pem")])).toContain(": OK");
  });

  test("a 24 h leaf signed with the intermediate key verifies through the intermediate", requires("openssl"), async () => {
    const leaf = (await issue({ hours: 24, dnsNames: ["app.home.example"] })).pem;
    writeFileSync(file("leaf.pem"), leaf);
    const verified = ok(["verify", "-CAfile", file("root.pem"), "-untrusted", file("intermediate.pem"), "-purpose", "sslserver", file("leaf.pem")]);
    expect(verified).toContain(": OK");
    // Without the intermediate there is no path to the root.
    expect(openssl(["verify", "-CAfile", file("root.pem"), file("leaf.pem")]).status).not.toBe(0);
    const text = ok(["x509", "-in", file("leaf.pem"), "-noout", "-text"]);
    expect(text).toContain("DNS:app.home.example");
    const cert = new X509Certificate(leaf);
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(24 * 3600_000);
  });

  test("pathlen 0 on the intermediate: nothing a CA below it signs verifies", requires("openssl"), async () => {
    const subCa = await issue({ hours: 24, ca: true });
    const leaf = await issue({ hours: 24, dnsNames: ["app.home.example"], issuer: subCa });
    writeFileSync(file("sub-ca-chain.pem"), material.intermediateCertificate + subCa.pem);
    writeFileSync(file("sub-ca-leaf.pem"), leaf.pem);
    const result = openssl(["verify", "-CAfile", file("root.pem"), "-untrusted", file("sub-ca-chain.pem"), file("sub-ca-leaf.pem")]);
    expect(result.status).not.toBe(0);
    // The intermediate's own constraint trips (the root's pathlen 1 would trip one level up too).
    expect(result.stdout + result.stderr).toMatch(/CN = homelab Intermediate CA\nerror 25 at 2 depth lookup: path length constraint exceeded/);
  });

  test("extensions and subjects as `step ca init` writes them", requires("openssl"), () => {
    const root = ok(["x509", "-in", file("root.pem"), "-noout", "-text"]);
    const intermediate = ok(["x509", "-in", file("intermediate.pem"), "-noout", "-text"]);
    for (const [text, pathlen] of [[root, 1], [intermediate, 0]] as const) {
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:(\d)/);
      expect(text.match(/CA:TRUE, pathlen:(\d)/)?.[1]).toBe(String(pathlen));
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
      expect(text).toContain("Signature Algorithm: ecdsa-with-SHA256");
      expect(text).toContain("NIST CURVE: P-256");
      expect(text).toContain("X509v3 Subject Key Identifier");
      expect(text).not.toContain("Extended Key Usage");
    }
    expect(root).toContain("Subject: O = home.example, CN = homelab Root CA");
    expect(root).toContain("Issuer: O = home.example, CN = homelab Root CA");
    expect(intermediate).toContain("Subject: O = home.example, CN = homelab Intermediate CA");
    expect(intermediate).toContain("Issuer: O = home.example, CN = homelab Root CA");
    // The intermediate's AKID is the root's SKID.
    const skid = root.match(/Subject Key Identifier:\s+([0-9A-F:]+)/)?.[1];
    expect(skid).toBeDefined();
    expect(intermediate).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${skid}`));
  });

  test("10 years of validity from `now`; random positive serials", () => {
    for (const pem of [material.rootCertificate, material.intermediateCertificate]) {
      const cert = new X509Certificate(pem);
      expect(Date.parse(cert.validFrom)).toBe(now.getTime());
      expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(CA_LIFETIME_MS);
      expect(cert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
    }
    expect(new X509Certificate(material.rootCertificate).serialNumber).not.toBe(new X509Certificate(material.intermediateCertificate).serialNumber);
  });
});

describe("private keys", () => {
  test("encrypted PKCS#8 with PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC (what step's pemutil reads)", requires("openssl"), () => {
    for (const key of ["root.key", "intermediate.key"]) {
      expect(readFileSync(file(key), "utf8")).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      const asn1 = ok(["asn1parse", "-in", file(key)]);
      for (const oid of [":PBES2", ":PBKDF2", ":hmacWithSHA256", ":aes-256-cbc"]) expect(asn1).toContain(oid);
    }
  });

  test("each key decrypts with its password and matches its certificate", requires("openssl"), () => {
    for (const [key, cert, password] of [
      ["root.key", "root.pem", material.rootPassword],
      ["intermediate.key", "intermediate.pem", material.password],
    ] as const) {
      const fromKey = ok(["pkey", "-in", file(key), "-passin", `pass:${password}`, "-pubout"]);
      const fromCert = ok(["x509", "-in", file(cert), "-noout", "-pubkey"]);
      expect(fromKey).toContain("BEGIN PUBLIC KEY");
      expect(fromKey).toBe(fromCert);
    }
  });

  test("a wrong password fails; root and intermediate passwords differ", requires("openssl"), () => {
    expect(openssl(["pkey", "-in", file("intermediate.key"), "-passin", "pass:wrong", "-noout"]).status).not.toBe(0);
    expect(openssl(["pkey", "-in", file("root.key"), "-passin", "pass:wrong", "-noout"]).status).not.toBe(0);
    expect(openssl(["pkey", "-in", file("intermediate.key"), "-passin", `pass:${material.rootPassword}`, "-noout"]).status).not.toBe(0);
    expect(material.rootPassword).not.toBe(material.password);
  });

  test("passwords are 32 random bytes, base64url, all distinct", () => {
    const passwords = [material.password, material.rootPassword, material.provisioner.password];
    for (const p of passwords) {
      expect(p).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(p, "base64url")).toHaveLength(32);
    }
    expect(new Set(passwords).size).toBe(3);
  });
});

describe("provisioner key", () => {
  const decrypt = (password: string) =>
    compactDecrypt(material.provisioner.encryptedKey, new TextEncoder().encode(password), {
      keyManagementAlgorithms: ["PBES2-HS256+A128KW"],
      contentEncryptionAlgorithms: ["A256GCM"],
      maxPBES2Count: 600_000,
    });

  test("the JWE decrypts with the provisioner password to the private JWK of publicKey", async () => {
    const { plaintext, protectedHeader } = await decrypt(material.provisioner.password);
    expect(protectedHeader).toMatchObject({ alg: "PBES2-HS256+A128KW", enc: "A256GCM", cty: "jwk+json", p2c: 600_000 });
    expect(Buffer.from(String(protectedHeader.p2s), "base64url")).toHaveLength(16);
    const privateJwk = JSON.parse(new TextDecoder().decode(plaintext)) as JWK & { d: string };
    const { d, ...publicPart } = privateJwk;
    expect(d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(publicPart).toEqual(material.provisioner.publicKey);
    expect(material.provisioner.publicKey).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(await calculateJwkThumbprint(material.provisioner.publicKey, "sha256")).toBe(material.provisioner.kid);
    expect(material.provisioner.publicKey.kid).toBe(material.provisioner.kid);

    // A token signed with the decrypted key verifies with the published key (step-issuer → step-ca).
    const token = await new CompactSign(new TextEncoder().encode("ott")).setProtectedHeader({ alg: "ES256", kid: material.provisioner.kid }).sign(await importJWK(privateJwk, "ES256"));
    const verified = await compactVerify(token, await importJWK(material.provisioner.publicKey, "ES256"));
    expect(new TextDecoder().decode(verified.payload)).toBe("ott");
  });

  test("a wrong password does not decrypt the JWE", async () => {
    await expect(decrypt("wrong")).rejects.toThrow();
    await expect(decrypt(material.password)).rejects.toThrow();
  });
});

describe("step-certificates values", () => {
  /** Leaf paths of a values object, "." in keys escaped (as the verified lists). */
  function valuePaths(values: unknown, prefix = ""): string[] {
    if (values === null || typeof values !== "object" || Array.isArray(values)) return [prefix];
    return Object.entries(values).flatMap(([key, child]) => valuePaths(child, `${prefix ? `${prefix}.` : ""}${key.replace(/\./g, "\\.")}`));
  }
  type CaJson = {
    root: string;
    crt: string;
    key: string;
    address: string;
    dnsNames: string[];
    db: { type: string; dataSource: string };
    authority: { claims: Record<string, unknown>; provisioners: Record<string, unknown>[] };
  };
  const files = (values: Record<string, unknown>) =>
    (values as { inject: { config: { files: { "ca.json": CaJson; "defaults.json": Record<string, string> } } } }).inject.config.files;

  test("ca.json: one JWK provisioner capped at 24 h by default, files where the chart mounts them", () => {
    const { values } = stepCaValues({ material, dnsNames: ["ca.home.example"] });
    const caJson = files(values)["ca.json"];
    expect(caJson).toMatchObject({
      root: "/home/step/certs/root_ca.crt",
      crt: "/home/step/certs/intermediate_ca.crt",
      key: "/home/step/secrets/intermediate_ca_key",
      address: ":9000",
      db: { type: "badgerv2", dataSource: "/home/step/db" },
    });
    expect(caJson.dnsNames).toEqual(expect.arrayContaining(["step-certificates.step-ca.svc.cluster.local", "step-certificates.step-ca.svc", "step-certificates", "ca.home.example"]));
    expect(caJson.authority.provisioners).toEqual([
      {
        type: "JWK",
        name: material.provisioner.name,
        key: material.provisioner.publicKey,
        encryptedKey: material.provisioner.encryptedKey,
        claims: { minTLSCertDuration: "5m", maxTLSCertDuration: "24h", defaultTLSCertDuration: "24h" },
      },
    ]);
    expect(caJson.authority.claims).toMatchObject({ maxTLSCertDuration: "24h", defaultTLSCertDuration: "24h" });
    expect(values).toMatchObject({
      inject: { enabled: true, certificates: { root_ca: material.rootCertificate, intermediate_ca: material.intermediateCertificate } },
      bootstrap: { enabled: false, secrets: true },
    });
  });

  test("a shorter cap is also the default; a longer one keeps the 24 h default; bad durations throw", () => {
    const claims = (max: string) => files(stepCaValues({ material, dnsNames: [], maxCertificateDuration: max }).values)["ca.json"].authority.provisioners[0]?.claims;
    expect(claims("1h")).toEqual({ minTLSCertDuration: "5m", maxTLSCertDuration: "1h", defaultTLSCertDuration: "1h" });
    expect(claims("2160h")).toEqual({ minTLSCertDuration: "5m", maxTLSCertDuration: "2160h", defaultTLSCertDuration: "24h" });
    for (const bad of ["1d", "", "24", "1m", "-1h"]) expect(() => claims(bad)).toThrow();
    expect(() => stepCaValues({ material, dnsNames: ["not a name"] })).toThrow(/DNS name/);
  });

  test("defaults.json: the root fingerprint is openssl's SHA-256 of the root", requires("openssl"), () => {
    const defaults = files(stepCaValues({ material, dnsNames: [] }).values)["defaults.json"];
    const fingerprint = ok(["x509", "-in", file("root.pem"), "-noout", "-fingerprint", "-sha256"]).trim().split("=")[1] ?? "";
    expect(defaults).toEqual({
      "ca-url": "https://step-certificates.step-ca.svc.cluster.local",
      "ca-config": "/home/step/config/ca.json",
      fingerprint: fingerprint.replaceAll(":", "").toLowerCase(),
      root: "/home/step/certs/root_ca.crt",
    });
    expect(defaults.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  test("every value set is on the returned path list", () => {
    const { values, paths } = stepCaValues({ material, dnsNames: ["ca.home.example"] });
    for (const path of valuePaths(values)) {
      expect(paths.some((p) => path === p || path.startsWith(`${p}.`)), `${path} is not on the path list`).toBe(true);
    }
    for (const path of valuePaths(stepCaSecretValues(material))) {
      expect((STEP_CA_SECRET_VALUE_PATHS as readonly string[]).includes(path), `${path} is not on the secret path list`).toBe(true);
    }
  });

  test("secret values: base64 passwords (the chart writes them into Secret data as is), the encrypted intermediate key, no root key", () => {
    const secret = stepCaSecretValues(material);
    expect(Object.keys(secret.inject.secrets).sort()).toEqual(["ca_password", "provisioner_password", "x509"]);
    expect(Buffer.from(secret.inject.secrets.ca_password, "base64").toString("utf8")).toBe(material.password);
    expect(Buffer.from(secret.inject.secrets.provisioner_password, "base64").toString("utf8")).toBe(material.provisioner.password);
    expect(secret.inject.secrets.x509).toEqual({ intermediate_ca_key: material.intermediateKey, root_ca_key: "" });
    // No secret leaks into the inline values.
    const inline = JSON.stringify(stepCaValues({ material, dnsNames: [] }).values);
    for (const s of [material.password, material.rootPassword, material.provisioner.password, material.intermediateKey, material.rootKey]) expect(inline).not.toContain(s);
  });
});

describe("StepClusterIssuer", () => {
  test("spec: service URL, the root as base64 caBundle, provisioner name/kid and a namespaced passwordRef", () => {
    const spec = stepIssuerSpec(material);
    expect(spec).toEqual({
      url: STEP_CA_URL,
      caBundle: expect.any(String),
      provisioner: {
        name: material.provisioner.name,
        kid: material.provisioner.kid,
        passwordRef: { name: "step-issuer-provisioner-password", namespace: "step-ca", key: "password" },
      },
    });
    expect(Buffer.from(spec.caBundle, "base64").toString("utf8")).toBe(material.rootCertificate);
    expect(spec.url).toBe("https://step-certificates.step-ca.svc.cluster.local");
  });
});
