// Phase 6 or 7: any Helm chart a user adds. Every option works for any chart: the generator
// creates the objects itself (the volume, the LoadBalancer Service, the Ingress) and only
// sets the one value path the user names (storage.claimValue). An app's objects share one file,
// apps/<app>/app.yaml: a handful each, and a homelab may hold hundreds of apps, where every file
// written costs (issue #13).
import type { GenericAppConfig } from "../config/schema.ts";
import { helmRelease } from "../render/flux.ts";
import { dataVolume, httpsIngress, loadBalancer, namespace } from "../render/kube.ts";
import { FORWARD_AUTH_ANNOTATION, forwardAuthApps, outpostRoute } from "../auth/forward-auth.ts";
import type { Component, KubeObject } from "./types.ts";

/** A copy of values with `path` (dotted) set to value; the user's values are not changed. */
export function withValue(values: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split(".") as [string, ...string[]];
  const current = values[head];
  const child = current !== null && typeof current === "object" && !Array.isArray(current) ? (current as Record<string, unknown>) : {};
  return { ...values, [head]: rest.length === 0 ? value : withValue(child, rest.join("."), value) };
}

export function helmApp(name: string, app: GenericAppConfig): Component {
  return {
    name,
    phase: app.phase,
    enabled: () => true,
    render({ config }) {
      const ns = app.namespace ?? name;
      const claim = `${name}-data`;
      const values = app.storage ? withValue(app.values, app.storage.claimValue, claim) : app.values;
      const objects: KubeObject[] = [
        namespace(ns, { holdsData: app.storage !== undefined }),
        // The source is named after the app: chart names may hold characters object names may not.
        ...helmRelease({ name, namespace: ns, chart: { repository: app.chart.repository, chart: app.chart.name, version: app.chart.version }, sourceName: name, values }),
      ];
      const needs: string[] = [];
      if (app.storage) {
        objects.push(dataVolume(config, { name: claim, namespace: ns, size: app.storage.size }));
        needs.push("storage");
      }
      if (app.expose) {
        const expose = app.expose;
        const ports = (["tcp", "udp"] as const).flatMap((protocol) => {
          const port = expose[protocol];
          return port === undefined ? [] : [{ protocol: protocol === "tcp" ? ("TCP" as const) : ("UDP" as const), port, targetPort: expose.targetPort ?? port }];
        });
        objects.push(loadBalancer({ name: `${name}-lb`, namespace: ns, selector: expose.selector ?? { "app.kubernetes.io/instance": name }, ports }));
      }
      if (app.host) {
        const ingress = httpsIngress(config, { name, namespace: ns, host: app.host.name, service: app.host.service, port: app.host.port });
        const forwardAuth = forwardAuthApps(config).find((a) => a.slug === name);
        objects.push(ingress);
        if (forwardAuth) {
          ingress.metadata = { ...ingress.metadata, annotations: { ...ingress.metadata?.annotations, ...FORWARD_AUTH_ANNOTATION } };
          objects.push(...outpostRoute(forwardAuth, `${name}-tls`));
          needs.push("forward-auth");
        }
        needs.push("ingress", "certificates");
      }
      return { units: [{ name, path: `apps/${name}`, files: { app: objects }, needs: [...new Set(needs)] }] };
    },
  };
}
