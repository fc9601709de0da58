// An app that registers its login source at start-up (Gitea's add-oauth) fails while the
// issuer's discovery document cannot be fetched: Authentik's release being Ready is not enough
// — its ingress certificate is issued by cert-manager afterwards, and the worker applies the
// blueprint that creates the app's provider in its own time. This unit holds a Job that fetches
// the discovery document the way the app will (in its namespace, trusting the internal CA),
// until it names the expected issuer; the app's SSO unit depends on it.
//
// Flux: with `wait: true` kustomize-controller health-checks every object it applied, a Job
// among the built-in kinds (Current once Complete), and ignores spec.healthChecks
// (fluxcd/kustomize-controller v1.9.4 docs/spec/v1/kustomizations.md, "Health checks" and
// "Wait"; internal/controller/kustomization_controller.go, checkHealth). A Kustomization's
// dependsOn waits for the other to be Ready, so the SSO unit starts after the Job completed.
// A Job's template is immutable: kustomize.toolkit.fluxcd.io/force recreates it when it changes
// (same document, "kustomize.toolkit.fluxcd.io/force").
import type { IJob } from "kubernetes-models/batch/v1/Job";
import { catalog } from "../catalog.ts";
import type { Unit } from "../components/types.ts";
import type { HomelabConfig } from "../config/schema.ts";
import { TRUSTED_CA } from "../render/kube.ts";
import { oidcIssuer } from "./oidc.ts";

/** The capability the unit provides for a client slug: its issuer answers. */
export const issuerReady = (slug: string) => `oidc-issuer:${slug}`;

/** Polls the discovery URL every 10 s until it answers 200 with the expected issuer; logs why not. */
const POLL_SCRIPT = [
  "const { ISSUER: issuer } = process.env;",
  "const url = `${issuer}.well-known/openid-configuration`;",
  "for (;;) {",
  "  try {",
  "    const response = await fetch(url);",
  "    const body = response.ok ? await response.json() : undefined;",
  "    if (body?.issuer === issuer) { console.log(`${url}: issuer ${issuer}`); process.exit(0); }",
  "    console.log(`${url}: ${response.status}${body ? `, issuer ${body.issuer}` : ''}`);",
  "  } catch (error) {",
  "    console.log(`${url}: ${error.cause?.message ?? error.message}`);",
  "  }",
  "  await new Promise((resolve) => setTimeout(resolve, 10_000));",
  "}",
].join("\n");

export function issuerCheckUnit(config: HomelabConfig, options: { slug: string; namespace: string; path: string; needs: readonly string[] }): Unit {
  const job: IJob = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: `${options.slug}-oidc-issuer`, namespace: options.namespace, annotations: { "kustomize.toolkit.fluxcd.io/force": "Enabled" } },
    spec: {
      backoffLimit: 6,
      template: {
        spec: {
          restartPolicy: "OnFailure",
          containers: [
            {
              name: "discovery",
              image: catalog.images.node,
              command: ["node", "--input-type=module", "--eval", POLL_SCRIPT],
              env: [
                { name: "ISSUER", value: oidcIssuer(config, options.slug) },
                // Node adds these to its roots at start-up: Authentik's certificate comes from the internal CA.
                { name: "NODE_EXTRA_CA_CERTS", value: `${TRUSTED_CA.mountPath}/${TRUSTED_CA.key}` },
              ],
              volumeMounts: [{ name: "homelab-ca", mountPath: TRUSTED_CA.mountPath, readOnly: true }],
              securityContext: { runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } },
            },
          ],
          volumes: [{ name: "homelab-ca", configMap: { name: TRUSTED_CA.configMap } }],
        },
      },
    },
  };
  return { name: `${options.slug}-oidc-issuer`, path: options.path, timeout: "30m", files: { job: [job] }, needs: options.needs, provides: [issuerReady(options.slug)] };
}
