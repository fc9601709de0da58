// Test-only PKI: a homelab CA made by the generator's own createCertificateAuthority, and server
// certificates issued by its intermediate (as step-ca would), so a TLS client that trusts the
// root alone must find the chain through the intermediate the server sends.
import "reflect-metadata"; // the Reflect polyfill @peculiar/x509 requires, before it loads
import * as x509 from "@peculiar/x509";
import { createPrivateKey, KeyObject } from "node:crypto";
import { createCertificateAuthority, type CaMaterial } from "../../generator/secrets/ca.ts";

x509.cryptoProvider.set(globalThis.crypto);

export interface ServerCertificate {
  /** Leaf and intermediate, PEM: what a TLS server presents. */
  readonly chainPem: string;
  readonly keyPem: string;
}

export interface TestAuthority {
  readonly material: CaMaterial;
  readonly rootPem: string;
  issue(names: { dns?: string[]; ips?: string[] }): Promise<ServerCertificate>;
}

const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;

export async function testAuthority(name: string, domain: string): Promise<TestAuthority> {
  const material = await createCertificateAuthority({ name, domain });
  const intermediate = new x509.X509Certificate(material.intermediateCertificate);
  const signingKey = createPrivateKey({ key: material.intermediateKey, format: "pem", passphrase: material.password }).toCryptoKey(ECDSA, false, ["sign"]);
  return {
    material,
    rootPem: material.rootCertificate,
    async issue(names) {
      const keys = await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]);
      const notBefore = new Date(Date.now() - 60_000);
      const { KeyUsageFlags: usage } = x509;
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: "01" + Buffer.from(crypto.getRandomValues(new Uint8Array(15))).toString("hex"),
        issuer: intermediate.subjectName,
        subject: "",
        notBefore,
        notAfter: new Date(notBefore.getTime() + 24 * 3600_000),
        publicKey: keys.publicKey,
        signingKey,
        signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
        extensions: [
          new x509.KeyUsagesExtension(usage.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.BasicConstraintsExtension(false, undefined, true),
          // No CN, like cert-manager's certificates: the names are in the SAN only (critical then).
          new x509.SubjectAlternativeNameExtension(
            [...(names.dns ?? []).map((value) => ({ type: "dns" as const, value })), ...(names.ips ?? []).map((value) => ({ type: "ip" as const, value }))],
            true,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(intermediate),
        ],
      });
      return {
        chainPem: `${cert.toString("pem")}\n${material.intermediateCertificate}`,
        keyPem: KeyObject.from(keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
      };
    },
  };
}
