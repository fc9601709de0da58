// Phase 3: step-ca, the internal CA, and step-issuer, through which cert-manager issues every
// ingress certificate from it: the StepClusterIssuer homelab-ca.
import { catalog } from "../catalog.ts";
import { helmRelease } from "../render/flux.ts";
import { CLUSTER_ISSUER, dataVolume, namespace } from "../render/kube.ts";
import { yamlText } from "../render/yaml.ts";
import { CA_SECRETS } from "../secrets/internal-ca.ts";
import {
  STEP_CA_NAMESPACE,
  STEP_CA_RELEASE,
  STEP_CA_SECRET_VALUE_PATHS,
  STEP_CA_VALUE_PATHS,
  STEP_ISSUER_PASSWORD_SECRET,
  stepCaSecretValues,
  stepCaValues,
  stepIssuerSpec,
} from "../secrets/step-ca.ts";
import type { Component, ComponentOutput, KubeObject } from "./types.ts";

/** Secret with the step-certificates values that carry key material (HelmRelease valuesFrom). */
const VALUES_SECRET = "step-certificates-secret-values";
/**
 * step-ca's database (issued certificates, ACME state) on a tree-owned Longhorn volume, in the
 * snapshot and backup groups like every app volume. The chart mounts ca.db.existingClaim at
 * /home/step/db instead of its volumeClaimTemplate (smallstep/helm-charts step-certificates
 * 1.30.0 templates/ca.yaml, "database" volume; values.yaml documents ca.db.existingClaim next to
 * ca.db.persistent and size 10Gi).
 */
const DATABASE_CLAIM = "step-ca-database";

export const stepCa: Component = {
  name: "step-ca",
  phase: 3,
  enabled: () => true,
  verifiedValues: [
    // The paths come from the step-ca module, which records what it checked against the chart.
    { release: STEP_CA_RELEASE, chartVersion: "1.30.0", paths: [...STEP_CA_VALUE_PATHS, ...STEP_CA_SECRET_VALUE_PATHS, "ca.db.existingClaim"] },
  ],
  render({ config, ca }): ComponentOutput {
    const { values } = stepCaValues({ material: ca, dnsNames: [`ca.${config.cluster.domain}`] });
    const issuer: KubeObject & Record<string, unknown> = {
      apiVersion: "certmanager.step.sm/v1beta1",
      kind: "StepClusterIssuer",
      metadata: { name: CLUSTER_ISSUER },
      spec: stepIssuerSpec(ca),
    };
    return {
      units: [
        {
          name: "step-ca",
          path: "infrastructure/step-ca",
          files: {
            namespace: [namespace(STEP_CA_NAMESPACE, { holdsData: true })],
            volume: [dataVolume(config, { name: DATABASE_CLAIM, namespace: STEP_CA_NAMESPACE, size: "10Gi" })],
            release: helmRelease({
              name: STEP_CA_RELEASE,
              namespace: STEP_CA_NAMESPACE,
              chart: { ...catalog.charts.stepCertificates, version: config.tls.stepCa.version },
              values: { ...values, ca: { db: { existingClaim: DATABASE_CLAIM } } },
              valuesFrom: [{ kind: "Secret", name: VALUES_SECRET, valuesKey: "values.yaml" }],
            }),
            "step-issuer": helmRelease({
              name: "step-issuer",
              namespace: STEP_CA_NAMESPACE,
              chart: { ...catalog.charts.stepIssuer, version: config.tls.stepIssuer.version },
            }),
          },
          secrets: [
            {
              name: VALUES_SECRET,
              namespace: STEP_CA_NAMESPACE,
              data: {
                "values.yaml": {
                  template: (inputs) =>
                    yamlText(
                      stepCaSecretValues({
                        password: inputs.password ?? "",
                        intermediateKey: inputs.intermediateKey ?? "",
                        provisioner: { ...ca.provisioner, password: inputs.provisionerPassword ?? "" },
                      }),
                    ),
                  inputs: {
                    password: { stored: CA_SECRETS.password },
                    intermediateKey: { stored: CA_SECRETS.intermediateKey },
                    provisionerPassword: { stored: CA_SECRETS.provisionerPassword },
                  },
                },
              },
            },
          ],
          // Its database is a Longhorn volume: Longhorn (and its StorageClass) first.
          needs: ["cert-manager", "storage"],
          provides: ["step-issuer-crds"],
        },
        {
          name: "step-ca-config",
          path: "infrastructure/step-ca/config",
          files: { "cluster-issuer": [issuer] },
          secrets: [
            {
              name: STEP_ISSUER_PASSWORD_SECRET.name,
              namespace: STEP_ISSUER_PASSWORD_SECRET.namespace,
              data: { [STEP_ISSUER_PASSWORD_SECRET.key]: { stored: CA_SECRETS.provisionerPassword } },
            },
          ],
          needs: ["step-issuer-crds"],
          provides: ["certificates"],
        },
      ],
    };
  },
};
