// Helm values for step-certificates in inject mode, and the StepClusterIssuer spec that lets
// cert-manager issue from it through step-issuer. Plain objects; the caller renders them.
//
// Verified against (smallstep/helm-charts, smallstep/certificates, smallstep/step-issuer):
// - step-certificates chart 1.30.0 (appVersion 0.30.0):
//   - values.yaml: every path set here exists there (inject.enabled, inject.config.files."ca.json"
//     .{root,crt,key,address,dnsNames,logger,db,authority.claims,authority.provisioners,tls},
//     inject.config.files."defaults.json".{ca-url,ca-config,fingerprint,root},
//     inject.certificates.{root_ca,intermediate_ca}, inject.secrets.{ca_password,provisioner_password,
//     x509.intermediate_ca_key,x509.root_ca_key}, bootstrap.{enabled,secrets}). The comments there:
//     ca_password "must be base64 encoded"; root_ca_key "can be omitted without impacting the
//     functionality" and, if supplied, must use a password other than the intermediate's.
//   - templates/secrets.yaml: ca_password and provisioner_password go verbatim into a Secret's
//     `data:` (so they must be base64 of the password; the chart does not encode them); the key
//     PEMs go into `stringData` of <fullname>-secrets (intermediate_ca_key, root_ca_key), which
//     is rendered only when `inject.enabled and bootstrap.secrets`.
//   - templates/configmaps.yaml: each inject.config.files entry becomes a file of
//     <fullname>-config via toPrettyJson; inject.certificates.{root_ca,intermediate_ca} become
//     root_ca.crt / intermediate_ca.crt of <fullname>-certs.
//   - templates/ca.yaml: <fullname>-certs at /home/step/certs, <fullname>-config at
//     /home/step/config, <fullname>-secrets at /home/step/secrets, the ca-password Secret at
//     /home/step/secrets/passwords (`--password-file /home/step/secrets/passwords/password`),
//     the database volume at /home/step/db (ca.db.enabled); args end in /home/step/config/ca.json;
//     container port = service.targetPort 9000.
//   - templates/_helpers.tpl, service.yaml: fullname is the release name when it contains the
//     chart name, so release "step-certificates" gives Service step-certificates (port 443).
//   - templates/bootstrap.yaml: the bootstrap Job renders only without inject; we also disable it.
//   Helm merges these values into the chart defaults map by map (lists are replaced), so
//   ca.json keeps default keys we do not set (e.g. the SSH claims, `federateRoots: []`).
// - step-ca v0.30.0 (smallstep/certificates): authority/config/config.go (ca.json field names;
//   GlobalProvisionerClaims 5m/24h/24h), authority/provisioner/claims.go (a provisioner's claims
//   override the global ones; min <= default <= max is enforced), authority/provisioner/duration.go
//   (durations are Go time.ParseDuration strings), authority/config/tls_options.go
//   (DefaultTLSOptions: the two cipher suites, TLS 1.2-1.3, no renegotiation), pki/pki.go
//   (`step ca init` writes db type badgerv2, the root fingerprint as lowercase hex SHA-256 of
//   the DER, and the JWK provisioner as {type, name, key, encryptedKey}), commands/app.go (the
//   password file is read with trailing whitespace trimmed).
// - step-issuer chart 1.11.0 (appVersion 0.11.0): crds/certmanager.step.sm_stepclusterissuers.yaml
//   (spec.url, spec.caBundle (format byte: base64 of the PEM), spec.provisioner.{name, kid,
//   passwordRef{name, namespace, key}}; url, caBundle, provisioner required; for the cluster
//   issuer passwordRef.namespace is REQUIRED, not just allowed), templates/rbac/clusterRole.yaml
//   (the controller may read Secrets cluster-wide); step-issuer v0.11.0 controllers/password.go
//   (Secret data is used verbatim: the password Secret must hold no trailing newline).
import { certificateFingerprint, type CaMaterial, type ProvisionerPublic } from "./ca.ts";

export const STEP_CA_RELEASE = "step-certificates";
export const STEP_CA_NAMESPACE = "step-ca";
/** The chart's Service (fullname = release name), port 443 → container port 9000. */
export const STEP_CA_SERVICE_HOST = `${STEP_CA_RELEASE}.${STEP_CA_NAMESPACE}.svc.cluster.local`;
export const STEP_CA_URL = `https://${STEP_CA_SERVICE_HOST}`;

/** Where the chart mounts what it is given (templates/ca.yaml). */
export const STEP_CA_PATHS = {
  rootCertificate: "/home/step/certs/root_ca.crt",
  intermediateCertificate: "/home/step/certs/intermediate_ca.crt",
  intermediateKey: "/home/step/secrets/intermediate_ca_key",
  config: "/home/step/config/ca.json",
  database: "/home/step/db",
} as const;

export const DEFAULT_MAX_CERTIFICATE_DURATION = "24h";
const DEFAULT_CERTIFICATE_DURATION = "24h";
const MIN_CERTIFICATE_DURATION = "5m";

/** The Secret step-issuer reads the provisioner password from (raw password, no newline). */
export const STEP_ISSUER_PASSWORD_SECRET = { name: "step-issuer-provisioner-password", namespace: STEP_CA_NAMESPACE, key: "password" } as const;

export interface StepCaValuesOptions {
  readonly material: Pick<CaMaterial, "rootCertificate" | "intermediateCertificate"> & { readonly provisioner: ProvisionerPublic };
  /** Extra names the CA's own TLS certificate covers (e.g. ca.<domain>); the in-cluster names are always added. */
  readonly dnsNames: readonly string[];
  /** Longest TLS certificate the provisioner signs, a Go duration ("24h", "90m"); at least 5m. Default 24h. */
  readonly maxCertificateDuration?: string;
}

export interface StepCaValues {
  /** The non-secret values: safe to put inline in the HelmRelease. */
  readonly values: Record<string, unknown>;
  /** Every value path set, "." in a key escaped as "\." (as VerifiedValues lists them). */
  readonly paths: readonly string[];
}

/** In-cluster names of the CA Service; with 127.0.0.1 as the chart's own default (for port-forwards). */
export function stepCaClusterDnsNames(): string[] {
  return [
    STEP_CA_SERVICE_HOST,
    `${STEP_CA_RELEASE}.${STEP_CA_NAMESPACE}.svc`,
    `${STEP_CA_RELEASE}.${STEP_CA_NAMESPACE}`,
    STEP_CA_RELEASE,
    "127.0.0.1",
  ];
}

const caJsonPath = "inject.config.files.ca\\.json";
const defaultsJsonPath = "inject.config.files.defaults\\.json";

/** Every value path `stepCaValues` sets, "." in a key escaped as "\\." (as VerifiedValues lists them). */
export const STEP_CA_VALUE_PATHS: readonly string[] = [
  "inject.enabled",
  ...["root", "crt", "key", "address", "dnsNames", "logger", "db", "authority.claims", "authority.provisioners", "tls"].map((k) => `${caJsonPath}.${k}`),
  ...["ca-url", "ca-config", "fingerprint", "root"].map((k) => `${defaultsJsonPath}.${k}`),
  "inject.certificates.root_ca",
  "inject.certificates.intermediate_ca",
  "bootstrap.enabled",
  "bootstrap.secrets",
];

export function stepCaValues(options: StepCaValuesOptions): StepCaValues {
  const { material } = options;
  const maxDuration = options.maxCertificateDuration ?? DEFAULT_MAX_CERTIFICATE_DURATION;
  const maxMs = parseDuration(maxDuration, "maxCertificateDuration");
  if (maxMs < parseDuration(MIN_CERTIFICATE_DURATION, "minimum")) {
    throw new Error(`maxCertificateDuration ${maxDuration} is shorter than step-ca's minimum TLS certificate duration ${MIN_CERTIFICATE_DURATION}`);
  }
  // step-ca requires default <= max: a shorter cap is also the default.
  const defaultDuration = maxMs < parseDuration(DEFAULT_CERTIFICATE_DURATION, "default") ? maxDuration : DEFAULT_CERTIFICATE_DURATION;
  const claims = { minTLSCertDuration: MIN_CERTIFICATE_DURATION, maxTLSCertDuration: maxDuration, defaultTLSCertDuration: defaultDuration };

  for (const dnsName of options.dnsNames) {
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(dnsName) && !/^[0-9.]+$|^[0-9a-f:]+$/.test(dnsName)) {
      throw new Error(`not a DNS name or IP address: ${JSON.stringify(dnsName)}`);
    }
  }
  const dnsNames = [...new Set([...stepCaClusterDnsNames(), ...options.dnsNames])];

  const caJson = {
    root: STEP_CA_PATHS.rootCertificate,
    crt: STEP_CA_PATHS.intermediateCertificate,
    key: STEP_CA_PATHS.intermediateKey,
    address: ":9000",
    dnsNames,
    logger: { format: "json" },
    db: { type: "badgerv2", dataSource: STEP_CA_PATHS.database },
    authority: {
      // Global claims too, so the chart's default global claims cannot loosen anything.
      claims: { ...claims, disableRenewal: false },
      provisioners: [
        {
          type: "JWK",
          name: material.provisioner.name,
          key: material.provisioner.publicKey,
          encryptedKey: material.provisioner.encryptedKey,
          claims,
        },
      ],
    },
    tls: {
      cipherSuites: ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
      minVersion: 1.2,
      maxVersion: 1.3,
      renegotiation: false,
    },
  };
  const defaultsJson = {
    "ca-url": STEP_CA_URL,
    "ca-config": STEP_CA_PATHS.config,
    fingerprint: certificateFingerprint(material.rootCertificate),
    root: STEP_CA_PATHS.rootCertificate,
  };
  const values = {
    inject: {
      enabled: true,
      config: { files: { "ca.json": caJson, "defaults.json": defaultsJson } },
      certificates: { root_ca: material.rootCertificate, intermediate_ca: material.intermediateCertificate },
    },
    // No bootstrap Job; `secrets` must stay true: in inject mode it gates the Secret that
    // carries the intermediate key (templates/secrets.yaml).
    bootstrap: { enabled: false, secrets: true },
  };
  return { values, paths: STEP_CA_VALUE_PATHS };
}

/** The value paths `stepCaSecretValues` sets (handed over through valuesFrom). */
export const STEP_CA_SECRET_VALUE_PATHS = [
  "inject.secrets.ca_password",
  "inject.secrets.provisioner_password",
  "inject.secrets.x509.intermediate_ca_key",
  "inject.secrets.x509.root_ca_key",
] as const;

export interface StepCaSecretValues {
  readonly inject: {
    readonly secrets: {
      /** base64 of the CA password (the chart puts it into Secret `data` as is). */
      readonly ca_password: string;
      /** base64 of the provisioner password. */
      readonly provisioner_password: string;
      readonly x509: {
        /** Encrypted PKCS#8 PEM. */
        readonly intermediate_ca_key: string;
        /** Empty: the root key stays out of the cluster (step-ca never uses it). */
        readonly root_ca_key: "";
      };
    };
  };
}

/** The secret part of the values, for a SOPS-encrypted Secret consumed through HelmRelease valuesFrom. */
export function stepCaSecretValues(material: Pick<CaMaterial, "password" | "intermediateKey" | "provisioner">): StepCaSecretValues {
  return {
    inject: {
      secrets: {
        ca_password: Buffer.from(material.password, "utf8").toString("base64"),
        provisioner_password: Buffer.from(material.provisioner.password, "utf8").toString("base64"),
        x509: { intermediate_ca_key: material.intermediateKey, root_ca_key: "" },
      },
    },
  };
}

export interface StepIssuerSpecOptions {
  /** Default: the step-certificates Service, https://step-certificates.step-ca.svc.cluster.local. */
  readonly url?: string;
  /** The Secret holding the raw provisioner password; default STEP_ISSUER_PASSWORD_SECRET. */
  readonly passwordRef?: { readonly name: string; readonly namespace: string; readonly key: string };
}

export interface StepClusterIssuerSpec {
  readonly url: string;
  /** base64 of the root certificate PEM. */
  readonly caBundle: string;
  readonly provisioner: {
    readonly name: string;
    readonly kid: string;
    readonly passwordRef: { readonly name: string; readonly namespace: string; readonly key: string };
  };
}

/** `spec` of a StepClusterIssuer (certmanager.step.sm/v1beta1). */
export function stepIssuerSpec(material: Pick<CaMaterial, "rootCertificate"> & { readonly provisioner: ProvisionerPublic }, options: StepIssuerSpecOptions = {}): StepClusterIssuerSpec {
  const passwordRef = options.passwordRef ?? STEP_ISSUER_PASSWORD_SECRET;
  return {
    url: options.url ?? STEP_CA_URL,
    caBundle: Buffer.from(material.rootCertificate, "utf8").toString("base64"),
    provisioner: {
      name: material.provisioner.name,
      kid: material.provisioner.kid,
      passwordRef: { name: passwordRef.name, namespace: passwordRef.namespace, key: passwordRef.key },
    },
  };
}

/** Milliseconds of a Go duration made of h, m and s parts ("24h", "1h30m", "90m"). */
export function parseDuration(text: string, what: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match || text === "") throw new Error(`${what}: ${JSON.stringify(text)} is not a duration like "24h" or "90m"`);
  const [, h = "0", m = "0", s = "0"] = match;
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000;
}
