// Core Kubernetes objects the components share: namespaces, tree-owned volumes, ingresses,
// LoadBalancer Services.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServicePort } from "kubernetes-models/v1/ServicePort";
import type { IIngress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import type { HomelabConfig } from "../config/schema.ts";

export const BACKUP_GROUP = "homelab-backup";
export const SNAPSHOT_GROUP = "homelab-snapshot";
export const CLUSTER_ISSUER = "homelab-ca";

/** The annotation by which Flux never prunes an object (kustomize-controller docs/spec/v1/kustomizations.md, "Prune"). */
export const NEVER_PRUNE = { "kustomize.toolkit.fluxcd.io/prune": "disabled" } as const;

/** The StorageClass every tree-owned volume uses (see the longhorn component). */
export function defaultStorageClass(config: HomelabConfig): string {
  return config.storage.longhorn.encryption ? "longhorn-encrypted" : "longhorn";
}

/**
 * A namespace; one that holds tree-owned volumes is never pruned, because deleting a
 * namespace deletes the claims in it and the data could not be found again.
 */
export function namespace(name: string, options: { labels?: Record<string, string>; holdsData?: boolean } = {}): INamespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.holdsData ? { annotations: { ...NEVER_PRUNE } } : {}),
    },
  } satisfies INamespace;
}

/**
 * A volume the tree owns: Flux never prunes it and a Helm uninstall cannot delete it; Longhorn
 * takes its recurring-job groups from the PVC (the source label), so it is snapshotted and,
 * with backups configured, backed up off-site.
 */
export function dataVolume(config: HomelabConfig, options: { name: string; namespace: string; size: string }): IPersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: options.name,
      namespace: options.namespace,
      labels: {
        "recurring-job.longhorn.io/source": "enabled",
        [`recurring-job-group.longhorn.io/${SNAPSHOT_GROUP}`]: "enabled",
        ...(config.storage.longhorn.backup ? { [`recurring-job-group.longhorn.io/${BACKUP_GROUP}`]: "enabled" } : {}),
      },
      annotations: { ...NEVER_PRUNE },
    },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: defaultStorageClass(config),
      resources: { requests: { storage: options.size } },
    },
  } satisfies IPersistentVolumeClaim;
}

/** step-ca caps certificates at 24 h; cert-manager renews them with a third left. */
export const CERTIFICATE_DURATION = "24h";
export const CERTIFICATE_RENEW_BEFORE = "8h";

/** Annotations that give an ingress HTTPS with a certificate from the internal CA. */
export function tlsIngressAnnotations(): Record<string, string> {
  return {
    // homelab-ca is step-issuer's StepClusterIssuer, an external issuer: cert-manager takes it
    // through `issuer` with kind and group (it refuses `cluster-issuer` next to a kind).
    "cert-manager.io/issuer": CLUSTER_ISSUER,
    "cert-manager.io/issuer-kind": "StepClusterIssuer",
    "cert-manager.io/issuer-group": "certmanager.step.sm",
    "cert-manager.io/duration": CERTIFICATE_DURATION,
    "cert-manager.io/renew-before": CERTIFICATE_RENEW_BEFORE,
    "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
    "traefik.ingress.kubernetes.io/router.tls": "true",
  };
}

/**
 * The ingress values of charts that follow Helm's scaffold (enabled, className, annotations,
 * hosts[{host, paths}], tls): HTTPS at `host` with a certificate from the internal CA.
 */
export function scaffoldIngressValues(host: string, tlsSecret: string, extraAnnotations: Record<string, string> = {}) {
  return {
    enabled: true,
    className: "traefik",
    annotations: { ...tlsIngressAnnotations(), ...extraAnnotations },
    hosts: [{ host, paths: [{ path: "/", pathType: "Prefix" }] }],
    tls: [{ secretName: tlsSecret, hosts: [host] }],
  };
}

/** The value paths scaffoldIngressValues sets (each chart's verified list includes them). */
export const SCAFFOLD_INGRESS_PATHS = ["ingress.enabled", "ingress.className", "ingress.annotations", "ingress.hosts", "ingress.tls"];

/** The ConfigMap holding the internal root CA in namespaces whose pods call other apps over HTTPS. */
export const TRUSTED_CA = { configMap: "homelab-ca", key: "ca.crt", mountPath: "/etc/homelab-ca" } as const;

export function trustedCaConfigMap(namespace: string, rootCertificate: string): IConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: TRUSTED_CA.configMap, namespace }, data: { [TRUSTED_CA.key]: rootCertificate } };
}

export function fqdn(config: HomelabConfig, host: string): string {
  return `${host}.${config.cluster.domain}`;
}

export function httpsIngress(
  config: HomelabConfig,
  options: { name: string; namespace: string; host: string; service: string; port: number },
): IIngress {
  const hostname = fqdn(config, options.host);
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: options.name, namespace: options.namespace, annotations: tlsIngressAnnotations() },
    spec: {
      ingressClassName: "traefik",
      tls: [{ hosts: [hostname], secretName: `${options.name}-tls` }],
      rules: [
        {
          host: hostname,
          http: {
            paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: options.service, port: { number: options.port } } } }],
          },
        },
      ],
    },
  } satisfies IIngress;
}

/** Raw TCP/UDP through the k3s service load balancer (ServiceLB binds the port on the nodes). */
export function loadBalancer(options: {
  name: string;
  namespace: string;
  selector: Record<string, string>;
  ports: { protocol: "TCP" | "UDP"; port: number; targetPort: number }[];
}): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: options.name, namespace: options.namespace },
    spec: {
      type: "LoadBalancer",
      selector: options.selector,
      ports: options.ports.map(
        (p): IServicePort => ({ name: `${p.protocol.toLowerCase()}-${p.port}`, protocol: p.protocol, port: p.port, targetPort: p.targetPort }),
      ),
    },
  } satisfies IService;
}
