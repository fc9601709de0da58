// The cluster's certificate authority, created once by `homelab init`: a root and an
// intermediate CA (ECDSA P-256) and the JWK provisioner key step-ca hands to step-issuer.
// Everything is returned in memory; the caller encrypts it into the repository.
//
// What it mirrors, read from smallstep's sources (certificates v0.30.0 pki/pki.go,
// go.step.sm/crypto x509util/templates.go, pemutil/pkcs8.go, jose/generate.go, jose/encrypt.go):
// - `step ca init` makes the root "<name> Root CA" (keyUsage certSign+crlSign, CA, maxPathLen 1)
//   and the intermediate "<name> Intermediate CA" (certSign+crlSign, CA, maxPathLen 0), each for
//   10 × 365 days from now, random serials below 2^128, subject key identifiers as in RFC 5280
//   4.2.1.2 (1) and Go's x509 (keyUsage and basicConstraints critical, AKID = issuer's SKID).
// - step-ca reads its intermediate key with pemutil, which decrypts "ENCRYPTED PRIVATE KEY"
//   blocks only as PBES2 + PBKDF2 (HMAC-SHA256, else SHA-1) + AES-CBC/DES: exactly what
//   node's pkcs8 export with cipher aes-256-cbc writes (OpenSSL 3: PBES2, PBKDF2-HMAC-SHA256,
//   2048 iterations). The iteration count is below step's own 600000, which is irrelevant
//   for 256-bit random passwords.
// - The provisioner key is what jose.GenerateDefaultKeyPair makes: an EC P-256 JWK with
//   use "sig", alg "ES256", kid = its RFC 7638 thumbprint, the private JWK encrypted as a
//   compact JWE {alg PBES2-HS256+A128KW, enc A256GCM, cty "jwk+json", p2c 600000, p2s 16 bytes}.
//   The JWE is built here with node:crypto (PBKDF2, AES key wrap, AES-GCM; RFC 7516/7518).
import {
  X509Certificate,
  createCipheriv,
  createHash,
  generateKeyPair,
  pbkdf2,
  randomBytes,
  sign,
  type KeyObject,
} from "node:crypto";
import { promisify } from "node:util";

/** The public half of the provisioner key, as it appears in ca.json (`provisioners[].key`). */
export interface ProvisionerPublicJwk {
  readonly use: "sig";
  readonly kty: "EC";
  readonly kid: string;
  readonly crv: "P-256";
  readonly alg: "ES256";
  readonly x: string;
  readonly y: string;
}

export interface CaMaterial {
  /** Root CA certificate (PEM). Distributed to clients; in the cluster as root_ca.crt. */
  readonly rootCertificate: string;
  /**
   * Root CA key, encrypted PKCS#8 PEM under `rootPassword`. It never goes into the cluster:
   * step-ca only signs with the intermediate, and the chart (1.30.0 values.yaml) asks for a
   * root key, if one is given at all, to be encrypted with a password of its own.
   */
  readonly rootKey: string;
  readonly rootPassword: string;
  readonly intermediateCertificate: string;
  /** Intermediate CA key, encrypted PKCS#8 PEM under `password` (step-ca's --password-file). */
  readonly intermediateKey: string;
  /** The CA password (the chart's `ca_password`): decrypts the intermediate key only. */
  readonly password: string;
  readonly provisioner: {
    readonly name: string;
    /** Key ID: RFC 7638 SHA-256 thumbprint of `publicKey`, base64url. */
    readonly kid: string;
    readonly publicKey: ProvisionerPublicJwk;
    /** The private JWK as a compact JWE, encrypted with `password` (as `step crypto jwk create`). */
    readonly encryptedKey: string;
    readonly password: string;
  };
}

/** The provisioner as ca.json and step-issuer see it: no password. */
export type ProvisionerPublic = Omit<CaMaterial["provisioner"], "password">;

export interface CreateCaOptions {
  /** Cluster name: the CAs are "<name> Root CA" and "<name> Intermediate CA". */
  readonly name: string;
  /** The homelab's domain; the certificates' organization (O), to tell homelabs apart in a trust store. */
  readonly domain: string;
  /** Name of the JWK provisioner step-issuer signs with; default "step-issuer". */
  readonly provisionerName?: string;
  /** Start of validity; default: now. */
  readonly now?: Date;
}

/** 10 × 365 days, as `step ca init`. */
export const CA_LIFETIME_MS = 10 * 365 * 24 * 60 * 60 * 1000;
/** PBES2 iteration count of step's JWE-encrypted provisioner keys (go.step.sm/crypto jose). */
export const PROVISIONER_PBES2_COUNT = 600_000;
export const DEFAULT_PROVISIONER_NAME = "step-issuer";

const generateKeyPairAsync = promisify(generateKeyPair);
const pbkdf2Async = promisify(pbkdf2);

/** A random password: 32 bytes, base64url (43 characters, no padding). */
export function randomPassword(): string {
  return randomBytes(32).toString("base64url");
}

export async function createCertificateAuthority(options: CreateCaOptions): Promise<CaMaterial> {
  const name = options.name.trim();
  const domain = options.domain.trim();
  if (!name) throw new Error("CA name must not be empty");
  if (!domain) throw new Error("CA domain must not be empty");
  const notBefore = new Date(Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + CA_LIFETIME_MS);

  const [root, intermediate, provisionerKey] = await Promise.all([newEcKey(), newEcKey(), newEcKey()]);
  const rootPassword = randomPassword();
  const password = randomPassword();
  const provisionerPassword = randomPassword();

  const rootName: DistinguishedName = { organization: domain, commonName: `${name} Root CA` };
  const rootDer = signCertificate({
    serialNumber: randomSerial(),
    issuer: rootName,
    subject: rootName,
    notBefore,
    notAfter,
    publicKey: root.publicKey,
    signingKey: root.privateKey,
    extensions: {
      keyUsage: ["keyCertSign", "cRLSign"],
      basicConstraints: { ca: true, pathLength: 1 },
      subjectKeyIdentifier: true,
    },
  });
  const intermediateDer = signCertificate({
    serialNumber: randomSerial(),
    issuer: rootName,
    subject: { organization: domain, commonName: `${name} Intermediate CA` },
    notBefore,
    notAfter,
    publicKey: intermediate.publicKey,
    signingKey: root.privateKey,
    extensions: {
      keyUsage: ["keyCertSign", "cRLSign"],
      basicConstraints: { ca: true, pathLength: 0 },
      subjectKeyIdentifier: true,
      authorityKeyIdentifier: subjectKeyId(root.publicKey),
    },
  });
  // Guard against an encoding slip: node must read both back and see the chain signed.
  const rootCert = new X509Certificate(rootDer);
  const intermediateCert = new X509Certificate(intermediateDer);
  if (!rootCert.verify(root.publicKey) || !intermediateCert.verify(root.publicKey) || !intermediateCert.checkIssued(rootCert)) {
    throw new Error("internal error: the generated CA certificates do not verify");
  }

  const provisionerName = options.provisionerName ?? DEFAULT_PROVISIONER_NAME;
  const { publicJwk, privateJwk } = provisionerJwks(provisionerKey.privateKey);
  const encryptedKey = await encryptJwe(JSON.stringify(privateJwk), provisionerPassword, "jwk+json");

  return {
    rootCertificate: toPem("CERTIFICATE", rootDer),
    rootKey: encryptKey(root.privateKey, rootPassword),
    rootPassword,
    intermediateCertificate: toPem("CERTIFICATE", intermediateDer),
    intermediateKey: encryptKey(intermediate.privateKey, password),
    password,
    provisioner: { name: provisionerName, kid: publicJwk.kid, publicKey: publicJwk, encryptedKey, password: provisionerPassword },
  };
}

/** SHA-256 of the certificate's DER, lowercase hex: step's root fingerprint (defaults.json, `step ca bootstrap`). */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase();
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC key. */
export function ecJwkThumbprint(jwk: { readonly crv: string; readonly x: string; readonly y: string }): string {
  const canonical = `{"crv":${JSON.stringify(jwk.crv)},"kty":"EC","x":${JSON.stringify(jwk.x)},"y":${JSON.stringify(jwk.y)}}`;
  return createHash("sha256").update(canonical).digest("base64url");
}

// ---------------------------------------------------------------------------------------------
// Keys

async function newEcKey(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return generateKeyPairAsync("ec", { namedCurve: "P-256" });
}

/** Encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY", PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC). */
function encryptKey(key: KeyObject, passphrase: string): string {
  return key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }) as string;
}

function provisionerJwks(privateKey: KeyObject): { publicJwk: ProvisionerPublicJwk; privateJwk: ProvisionerPublicJwk & { d: string } } {
  const jwk = privateKey.export({ format: "jwk" });
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y || !jwk.d) throw new Error("internal error: unexpected provisioner key");
  const publicJwk: ProvisionerPublicJwk = {
    use: "sig",
    kty: "EC",
    kid: ecJwkThumbprint({ crv: jwk.crv, x: jwk.x, y: jwk.y }),
    crv: "P-256",
    alg: "ES256",
    x: jwk.x,
    y: jwk.y,
  };
  return { publicJwk, privateJwk: { ...publicJwk, d: jwk.d } };
}

/** Compact JWE, PBES2-HS256+A128KW key wrapping and A256GCM content encryption (RFC 7518 4.8, 5.3). */
async function encryptJwe(plaintext: string, password: string, contentType: string): Promise<string> {
  const alg = "PBES2-HS256+A128KW";
  const salt = randomBytes(16);
  const header = { alg, cty: contentType, enc: "A256GCM", p2c: PROVISIONER_PBES2_COUNT, p2s: salt.toString("base64url") };
  const encodedHeader = Buffer.from(JSON.stringify(header)).toString("base64url");
  // The PBKDF2 salt is the algorithm name, a zero byte and p2s (RFC 7518 4.8.1.1).
  const kdfSalt = Buffer.concat([Buffer.from(alg, "utf8"), Buffer.from([0]), salt]);
  const wrappingKey = await pbkdf2Async(Buffer.from(password, "utf8"), kdfSalt, PROVISIONER_PBES2_COUNT, 16, "sha256");
  const contentKey = randomBytes(32);
  // AES key wrap (RFC 3394) with its default IV A6A6A6A6A6A6A6A6.
  const wrap = createCipheriv("id-aes128-wrap", wrappingKey, Buffer.from("a6a6a6a6a6a6a6a6", "hex"));
  const encryptedKey = Buffer.concat([wrap.update(contentKey), wrap.final()]);
  const iv = randomBytes(12);
  const gcm = createCipheriv("aes-256-gcm", contentKey, iv);
  gcm.setAAD(Buffer.from(encodedHeader, "ascii"));
  const ciphertext = Buffer.concat([gcm.update(plaintext, "utf8"), gcm.final()]);
  const tag = gcm.getAuthTag();
  return [encodedHeader, encryptedKey, iv, ciphertext, tag].map((part) => (typeof part === "string" ? part : part.toString("base64url"))).join(".");
}

// ---------------------------------------------------------------------------------------------
// X.509 (RFC 5280), DER-encoded here: node:crypto signs and parses certificates but has no
// builder. Only what the CA needs: EC P-256 keys, ecdsa-with-SHA256, UTF8String names.

export interface DistinguishedName {
  readonly organization?: string;
  readonly commonName: string;
}

export type KeyUsage = "digitalSignature" | "keyEncipherment" | "keyCertSign" | "cRLSign";
const keyUsageBits: Record<KeyUsage, number> = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 };
const extendedKeyUsageOids = { serverAuth: "1.3.6.1.5.5.7.3.1", clientAuth: "1.3.6.1.5.5.7.3.2" } as const;

export interface CertificateOptions {
  /** Positive serial number, big-endian bytes. */
  readonly serialNumber: Buffer;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** EC P-256 public key of the subject. */
  readonly publicKey: KeyObject;
  /** EC P-256 private key of the issuer. */
  readonly signingKey: KeyObject;
  readonly extensions: {
    /** Critical, as Go's x509 writes it. */
    readonly keyUsage?: readonly KeyUsage[];
    readonly extendedKeyUsage?: readonly (keyof typeof extendedKeyUsageOids)[];
    /** Critical; `{ ca: false }` writes an empty BasicConstraints (end entity). */
    readonly basicConstraints?: { readonly ca: boolean; readonly pathLength?: number };
    readonly subjectKeyIdentifier?: boolean;
    /** The issuer's subject key identifier. */
    readonly authorityKeyIdentifier?: Buffer;
    readonly dnsNames?: readonly string[];
  };
}

/**
 * A DER certificate signed with ecdsa-with-SHA256. Used for the CA pair; also a building
 * block for leaf certificates (the tests issue one from the intermediate).
 */
export function signCertificate(options: CertificateOptions): Buffer {
  const { extensions: ext } = options;
  const extensions: Buffer[] = [];
  if (ext.keyUsage) extensions.push(extension("2.5.29.15", true, keyUsageValue(ext.keyUsage)));
  if (ext.extendedKeyUsage) extensions.push(extension("2.5.29.37", false, sequence(...ext.extendedKeyUsage.map((u) => oid(extendedKeyUsageOids[u])))));
  if (ext.basicConstraints) {
    const { ca, pathLength } = ext.basicConstraints;
    extensions.push(extension("2.5.29.19", true, ca ? sequence(boolean(true), ...(pathLength === undefined ? [] : [integer(pathLength)])) : sequence()));
  }
  if (ext.subjectKeyIdentifier) extensions.push(extension("2.5.29.14", false, octetString(subjectKeyId(options.publicKey))));
  if (ext.authorityKeyIdentifier) extensions.push(extension("2.5.29.35", false, sequence(tlv(0x80, ext.authorityKeyIdentifier))));
  if (ext.dnsNames && ext.dnsNames.length > 0) {
    extensions.push(extension("2.5.29.17", false, sequence(...ext.dnsNames.map((n) => tlv(0x82, Buffer.from(n, "ascii"))))));
  }

  const signatureAlgorithm = sequence(oid("1.2.840.10045.4.3.2")); // ecdsa-with-SHA256, no parameters
  const tbs = sequence(
    explicit(0, integer(2)), // v3
    integer(options.serialNumber),
    signatureAlgorithm,
    name(options.issuer),
    sequence(time(options.notBefore), time(options.notAfter)),
    name(options.subject),
    options.publicKey.export({ type: "spki", format: "der" }),
    ...(extensions.length > 0 ? [explicit(3, sequence(...extensions))] : []),
  );
  const signature = sign("sha256", tbs, { key: options.signingKey, dsaEncoding: "der" });
  return sequence(tbs, signatureAlgorithm, bitString(signature));
}

/** 16 random bytes, top bit clear (positive) and second-highest bit set (no leading zero). */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return serial;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the uncompressed EC point). */
export function subjectKeyId(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: "jwk" });
  if (jwk.kty !== "EC" || !jwk.x || !jwk.y) throw new Error("subjectKeyId: expected an EC key");
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
  return createHash("sha1").update(point).digest();
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

// DER primitives (X.690).

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, content]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function explicit(tagNumber: number, content: Buffer): Buffer {
  return tlv(0xa0 | tagNumber, content);
}

function boolean(value: boolean): Buffer {
  return tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
}

/** INTEGER from a small non-negative number or from big-endian magnitude bytes (non-negative). */
function integer(value: number | Buffer): Buffer {
  let bytes: Buffer;
  if (typeof value === "number") {
    const out: number[] = [];
    for (let n = value; n > 0; n = Math.floor(n / 256)) out.unshift(n % 256);
    bytes = Buffer.from(out);
  } else bytes = value;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

function octetString(bytes: Buffer): Buffer {
  return tlv(0x04, bytes);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const [first = 0, second = 0, ...rest] = parts;
  const out: number[] = [first * 40 + second];
  for (const part of rest) {
    const chunk: number[] = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function name(dn: DistinguishedName): Buffer {
  // Go's order: O before CN. RDNs of one attribute each, values as UTF8String.
  const attribute = (type: string, value: string) => tlv(0x31, sequence(oid(type), tlv(0x0c, Buffer.from(value, "utf8"))));
  return sequence(...(dn.organization ? [attribute("2.5.4.10", dn.organization)] : []), attribute("2.5.4.3", dn.commonName));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`certificate time out of range: ${iso}`);
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), "ascii")) : tlv(0x18, Buffer.from(digits, "ascii"));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** KeyUsage as a DER named bit list: trailing zero bits dropped. */
function keyUsageValue(usages: readonly KeyUsage[]): Buffer {
  const bits = usages.map((u) => keyUsageBits[u]);
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)] = (bytes[Math.floor(bit / 8)] ?? 0) | (0x80 >> bit % 8);
  return bitString(bytes, 7 - (highest % 8));
}
