// The dependency graph: dependsOn derived from needs → provides, and the rules that fail
// generation (an unresolved need, a later-phase dependency, a cycle, a capability twice).
import { describe, expect, test } from "vitest";
import { parseConfig } from "../generator/config/load.ts";
import { plan, GraphError } from "../generator/plan.ts";
import type { Component, KubeObject, Phase, Unit } from "../generator/components/types.ts";
import { UserError } from "../generator/errors.ts";
import { verifyPlan } from "../generator/verify.ts";
import { namespace } from "../generator/render/kube.ts";
import { minimalConfig } from "./support/render.ts";
import type { CaPublic } from "../generator/secrets/internal-ca.ts";

const { config } = parseConfig(minimalConfig);
/** The graph never looks at the CA: a stand-in keeps these tests about the graph. */
const ca = { rootCertificate: "", intermediateCertificate: "", rootPath: "certs/root.crt", provisioner: { name: "homelab", kid: "kid", publicKey: {}, encryptedKey: "" } } as unknown as CaPublic;

function component(name: string, phase: Phase, unit: Partial<Unit> = {}): Component {
  return {
    name,
    phase,
    enabled: () => true,
    render: () => ({ units: [{ name, path: `apps/${name}`, files: { namespace: [namespace(name)] }, ...unit }] }),
  };
}

function graphError(components: Component[]): string {
  try {
    plan(config, components, ca);
  } catch (error) {
    expect(error).toBeInstanceOf(GraphError);
    return (error as GraphError).message;
  }
  throw new Error("expected the graph to be rejected");
}

describe("dependsOn", () => {
  test("is derived from needs → provides, sorted, without duplicates", () => {
    const planned = plan(config, [
      component("storage", 2, { provides: ["storage"] }),
      component("certs", 3, { provides: ["certificates"] }),
      component("app", 6, { needs: ["storage", "certificates", "storage"] }),
    ], ca);
    expect(planned.units.find((u) => u.name === "app")?.dependsOn).toEqual(["certs", "storage"]);
  });

  test("a need met inside the same phase is allowed", () => {
    const planned = plan(config, [component("a", 6, { provides: ["x"] }), component("b", 6, { needs: ["x"] })], ca);
    expect(planned.units.find((u) => u.name === "b")?.dependsOn).toEqual(["a"]);
  });

  test("Flux's own unit is a Kustomization like the others: needing it is a dependsOn edge", () => {
    const planned = plan(config, [component("flux", 1, { provides: ["flux"] }), component("app", 6, { needs: ["flux"] })], ca);
    expect(planned.units.find((u) => u.name === "app")?.dependsOn).toEqual(["flux"]);
  });

  test("units are ordered by phase, then name", () => {
    const planned = plan(config, [component("z", 2), component("b", 7), component("a", 2)], ca);
    expect(planned.units.map((u) => u.name)).toEqual(["a", "z", "b"]);
  });
});

describe("generation fails on", () => {
  test("a need nobody provides", () => {
    expect(graphError([component("app", 6, { needs: ["database"] })])).toContain('app needs "database", which no deployed component provides');
  });

  test("a dependency on a later phase", () => {
    expect(graphError([component("early", 2, { needs: ["sso"] }), component("late", 5, { provides: ["sso"] })])).toContain(
      'early (phase 2) needs "sso" from late, a later phase (5)',
    );
  });

  test("a cycle", () => {
    expect(graphError([component("a", 6, { needs: ["b"], provides: ["a"] }), component("b", 6, { needs: ["a"], provides: ["b"] })])).toMatch(
      /dependency cycle: (a → b → a|b → a → b)/,
    );
  });

  test("a capability provided twice, or two units with one name or folder", () => {
    expect(graphError([component("a", 2, { provides: ["storage"] }), component("b", 2, { provides: ["storage"] })])).toContain(
      '"storage" is provided by both a and b',
    );
    expect(graphError([component("a", 2), component("a", 3)])).toContain('two Flux Kustomizations are named "a"');
    expect(graphError([component("a", 2, { path: "apps/x" }), component("b", 3, { path: "apps/x" })])).toContain("b and a both write apps/x");
  });
});

describe("verify catches what the object schemas miss", () => {
  test("a bad interval, a bad name and a Service name starting with a digit", () => {
    const broken: Component = {
      name: "broken",
      phase: 7,
      enabled: () => true,
      render: () => ({
        units: [
          {
            name: "broken",
            path: "apps/broken",
            files: {
              objects: [
                { apiVersion: "source.toolkit.fluxcd.io/v1", kind: "HelmRepository", metadata: { name: "Bad_Name", namespace: "x" }, spec: { interval: "5 minutes" } },
                { apiVersion: "v1", kind: "Service", metadata: { name: "0-lb", namespace: "x" } },
              ] as KubeObject[],
            },
          },
        ],
      }),
    };
    let message = "";
    try {
      verifyPlan(plan(config, [broken], ca));
    } catch (error) {
      expect(error).toBeInstanceOf(UserError);
      message = (error as UserError).message;
    }
    expect(message).toContain("HelmRepository/Bad_Name: invalid name");
    expect(message).toContain('interval: "5 minutes" is not a duration such as 10m');
    expect(message).toContain("Service/0-lb: a Service name must start with a letter");
  });
});
