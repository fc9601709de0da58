// The objects `homelab smoke` creates, all in one namespace so deleting it removes them all.
import type { V1Deployment, V1Ingress, V1Namespace, V1PersistentVolumeClaim, V1Pod, V1SecurityContext, V1Service } from "@kubernetes/client-node";
import { tlsIngressAnnotations } from "../render/kube.ts";

export const SMOKE_NAMESPACE = "homelab-smoke";
export const POD_NAME = "smoke";
export const CLAIM_NAME = "smoke-data";
export const WEB_NAME = "smoke-web";
export const INGRESS_NAME = "smoke";
/** cert-manager's ingress-shim names the Certificate after the Ingress's TLS secret. */
export const CERTIFICATE_NAME = "smoke-tls";
/** A few MB, multi-arch, answers any HTTP request: enough to prove scheduling, pulling and routing. */
export const SMOKE_IMAGE = "docker.io/traefik/whoami:v1.11.0";
const PORT = 8080;

const labels = { "app.kubernetes.io/name": "homelab-smoke", "app.kubernetes.io/managed-by": "homelab" };

export function smokeNamespace(): V1Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: SMOKE_NAMESPACE, labels } };
}

// Runs as nobody with nothing writable: the test pod must pass a restricted Pod Security level.
const securityContext: V1SecurityContext = {
  runAsNonRoot: true,
  runAsUser: 65534,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

function podSpec(component: string) {
  return {
    metadata: { labels: { ...labels, "app.kubernetes.io/component": component } },
    spec: {
      // Nothing to wait for on deletion: the namespace goes as soon as it is asked to.
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      containers: [
        {
          name: "whoami",
          image: SMOKE_IMAGE,
          args: ["--port", String(PORT)],
          ports: [{ name: "http", containerPort: PORT }],
          resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { memory: "32Mi" } },
          securityContext,
        },
      ],
    },
  };
}

export function smokePod(): V1Pod {
  const { metadata, spec } = podSpec("pod");
  return { apiVersion: "v1", kind: "Pod", metadata: { name: POD_NAME, namespace: SMOKE_NAMESPACE, ...metadata }, spec };
}

/** No storageClassName: the cluster's default class, which the homelab makes Longhorn's. */
export function smokeClaim(): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: CLAIM_NAME, namespace: SMOKE_NAMESPACE, labels },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  };
}

export function smokeDeployment(): V1Deployment {
  const template = podSpec("web");
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: WEB_NAME, namespace: SMOKE_NAMESPACE, labels },
    spec: { replicas: 1, selector: { matchLabels: template.metadata.labels }, template },
  };
}

export function smokeService(): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: WEB_NAME, namespace: SMOKE_NAMESPACE, labels },
    spec: { selector: { ...labels, "app.kubernetes.io/component": "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
  };
}

/** The homelab's own HTTPS ingress: same class and annotations as every app's (render/kube.ts). */
export function smokeIngress(host: string): V1Ingress {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: INGRESS_NAME, namespace: SMOKE_NAMESPACE, labels, annotations: tlsIngressAnnotations() },
    spec: {
      ingressClassName: "traefik",
      tls: [{ hosts: [host], secretName: CERTIFICATE_NAME }],
      rules: [{ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: WEB_NAME, port: { number: 80 } } } }] } }],
    },
  };
}
