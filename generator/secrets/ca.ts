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
// The certificates are built and signed with @peculiar/x509 on node's WebCrypto. It is loaded
// only when a CA is made (see loadX509): every `generate` imports this module through
// step-ca.ts, for certificateFingerprint, and @peculiar/x509 takes ~100 ms to load.
import { createCipheriv, createHash, KeyObject, pbkdf2, randomBytes, X509Certificate, type webcrypto } from "node:crypto";
import { promisify } from "node:util";
import type * as X509 from "@peculiar/x509";

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

  const x509 = await loadX509();
  const [root, intermediate, provisionerKey] = await Promise.all([newEcKey(), newEcKey(), newEcKey()]);
  const rootPassword = randomPassword();
  const password = randomPassword();
  const provisionerPassword = randomPassword();

  // keyUsage and basicConstraints critical, as Go's x509 writes them.
  const caExtensions = async (publicKey: webcrypto.CryptoKey, pathLength: number) => [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    new x509.BasicConstraintsExtension(true, pathLength, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
  const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: distinguishedName(x509, domain, `${name} Root CA`),
    notBefore,
    notAfter,
    keys: root,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: await caExtensions(root.publicKey, 1),
  });
  const intermediateCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    issuer: rootCert.subjectName,
    subject: distinguishedName(x509, domain, `${name} Intermediate CA`),
    notBefore,
    notAfter,
    publicKey: intermediate.publicKey,
    signingKey: root.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [...(await caExtensions(intermediate.publicKey, 0)), await x509.AuthorityKeyIdentifierExtension.create(root.publicKey)],
  });
  // Guard: node's own X.509 parser reads both back and sees the chain signed; it writes the PEM.
  const rootNode = new X509Certificate(new Uint8Array(rootCert.rawData));
  const intermediateNode = new X509Certificate(new Uint8Array(intermediateCert.rawData));
  const rootPublic = KeyObject.from(root.publicKey);
  if (!rootNode.verify(rootPublic) || !intermediateNode.verify(rootPublic) || !intermediateNode.checkIssued(rootNode)) {
    throw new Error("internal error: the generated CA certificates do not verify");
  }

  const provisionerName = options.provisionerName ?? DEFAULT_PROVISIONER_NAME;
  const { publicJwk, privateJwk } = provisionerJwks(KeyObject.from(provisionerKey.privateKey));
  const encryptedKey = await encryptJwe(JSON.stringify(privateJwk), provisionerPassword, "jwk+json");

  return {
    rootCertificate: rootNode.toString(),
    rootKey: encryptKey(root.privateKey, rootPassword),
    rootPassword,
    intermediateCertificate: intermediateNode.toString(),
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

async function newEcKey(): Promise<webcrypto.CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
}

/** Encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY", PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC). */
function encryptKey(key: webcrypto.CryptoKey, passphrase: string): string {
  return KeyObject.from(key).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }) as string;
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
// X.509 (RFC 5280), with @peculiar/x509

/** ecdsa-with-SHA256, as step signs with P-256 keys. */
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;

let x509Module: Promise<typeof X509> | undefined;

/**
 * @peculiar/x509, loaded on first use and set to node's WebCrypto. reflect-metadata is the
 * Reflect polyfill its README requires (tsyringe, underneath it, checks for it when loaded), so
 * it is imported first, once.
 */
function loadX509(): Promise<typeof X509> {
  x509Module ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(globalThis.crypto);
    return x509;
  })();
  return x509Module;
}

/** O=<organization>, CN=<commonName> (Go's order), one attribute per RDN, values as UTF8String. */
function distinguishedName(x509: typeof X509, organization: string, commonName: string): X509.Name {
  return new x509.Name([{ O: [{ utf8String: organization }] }, { CN: [{ utf8String: commonName }] }]);
}

/** 16 random bytes, hex: top bit clear (positive) and second-highest bit set (no leading zero). */
function randomSerial(): string {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return serial.toString("hex");
}
