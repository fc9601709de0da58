// Forward-auth SSO through Authentik: the blueprint, the middleware and each app's wiring agree.
import { describe, expect, test } from "vitest";
import { parse, YAMLSeq, type CollectionTag, type ScalarTag } from "yaml";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { demoKeyFile, renderText, minimalConfig, objectsOf, tempRepo } from "./support/render.ts";
import { generate } from "../generator/generate.ts";
import { decryptDocument } from "../generator/secrets/sops.ts";
import { parseConfig } from "../generator/config/load.ts";
import { UserError } from "../generator/errors.ts";

/** Authentik's own tags, read as data: !Find [model, [field, value]] and !KeyOf id. */
const authentikTags: (CollectionTag | ScalarTag)[] = [
  { tag: "!Find", collection: "seq", resolve: (seq) => ({ find: (seq as YAMLSeq).toJSON() }) } as CollectionTag,
  { tag: "!KeyOf", resolve: (value: string) => ({ keyOf: value }), identify: () => false } as ScalarTag,
  { tag: "!Env", resolve: (value: string) => ({ env: value }), identify: () => false } as ScalarTag,
];

const withWebApp = (sso: boolean, host = true) => `${minimalConfig}apps:
  wiki:
    chart: {repository: https://charts.example.org/, name: wiki, version: 1.0.0}
    ${host ? "host: {name: wiki, service: wiki, port: 80}\n    " : ""}sso: ${sso}
`;

async function tree(text: string) {
  const objects = objectsOf((await renderText(text)).files).map(({ object }) => object);
  const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "authentik-blueprints")!;
  const blueprint = parse(configMap.data["homelab.yaml"], { customTags: authentikTags }) as { version: number; entries: any[] };
  return { objects, blueprint };
}

describe("forward auth", () => {
  test("every forward-auth app has a provider, an application and a place in the embedded outpost", async () => {
    const { blueprint } = await tree(withWebApp(true));
    expect(blueprint.version).toBe(1);
    const providers = blueprint.entries.filter((e) => e.model === "authentik_providers_proxy.proxyprovider");
    expect(providers.map((p) => [p.id, p.attrs.mode, p.attrs.external_host])).toEqual([
      ["provider-home-assistant", "forward_single", "https://home.home.arpa"],
      ["provider-wiki", "forward_single", "https://wiki.home.arpa"],
    ]);
    for (const provider of providers) {
      expect(provider.attrs.authorization_flow).toEqual({ find: ["authentik_flows.flow", ["slug", "default-provider-authorization-implicit-consent"]] });
      expect(provider.attrs.invalidation_flow).toEqual({ find: ["authentik_flows.flow", ["slug", "default-provider-invalidation-flow"]] });
    }
    const applications = blueprint.entries.filter((e) => e.model === "authentik_core.application" && e.attrs.provider.keyOf !== "provider-grafana");
    expect(applications.map((a) => a.attrs.provider)).toEqual(providers.map((p) => ({ keyOf: p.id })));
    const outpost = blueprint.entries.find((e) => e.model === "authentik_outposts.outpost");
    expect(outpost.identifiers).toEqual({ managed: "goauthentik.io/outposts/embedded" });
    expect(outpost.attrs.providers).toEqual(providers.map((p) => ({ keyOf: p.id })));
    expect(blueprint.entries.find((e) => e.model === "authentik_core.group")?.attrs).toEqual({ name: "homelab-admins", is_superuser: true });
  });

  test("the app's ingress goes through the middleware, and its host routes the outpost paths to Authentik", async () => {
    const { objects } = await tree(withWebApp(true));
    const middleware = objects.find((o) => o.kind === "Middleware")!;
    expect(middleware.metadata).toEqual({ name: "forward-auth", namespace: "authentik" });
    expect(middleware.spec.forwardAuth.address).toBe("http://authentik-server.authentik.svc.cluster.local/outpost.goauthentik.io/auth/traefik");
    const annotation = "traefik.ingress.kubernetes.io/router.middlewares";

    const wiki = objects.find((o) => o.kind === "Ingress" && o.metadata.name === "wiki")!;
    expect(wiki.metadata.annotations[annotation]).toBe("authentik-forward-auth@kubernetescrd");
    const homeAssistant = objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "home-assistant")!;
    expect(homeAssistant.spec.values.ingress.annotations[annotation]).toBe("authentik-forward-auth@kubernetescrd");

    for (const [namespace, host, tlsSecret] of [["wiki", "wiki.home.arpa", "wiki-tls"], ["home-assistant", "home.home.arpa", "home-assistant-tls"]]) {
      const route = objects.find((o) => o.kind === "Ingress" && o.metadata.namespace === namespace && o.metadata.name.endsWith("-outpost"))!;
      expect(route.metadata.annotations[annotation], "no forward auth on the outpost's own paths").toBeUndefined();
      expect(route.spec.rules).toEqual([{ host, http: { paths: [{ path: "/outpost.goauthentik.io/", pathType: "Prefix", backend: { service: { name: "authentik-outpost", port: { number: 80 } } } }] } }]);
      expect(route.spec.tls).toEqual([{ hosts: [host], secretName: tlsSecret }]);
      const service = objects.find((o) => o.kind === "Service" && o.metadata.namespace === namespace && o.metadata.name === "authentik-outpost")!;
      expect(service.spec).toMatchObject({ type: "ExternalName", externalName: "authentik-server.authentik.svc.cluster.local" });
    }
    const traefik = objects.find((o) => o.kind === "HelmChartConfig")!;
    expect(parse(traefik.spec.valuesContent).providers.kubernetesIngress.allowExternalNameServices).toBe(true);
    const wikiUnit = objects.find((o) => o.kind === "Kustomization" && o.metadata.name === "wiki")!;
    expect(wikiUnit.spec.dependsOn.map((d: { name: string }) => d.name)).toContain("authentik");
  });

  test("Home Assistant's companion apps keep their own login: /auth and /api skip the outpost", async () => {
    const { blueprint } = await tree(minimalConfig);
    const provider = blueprint.entries.find((e) => e.id === "provider-home-assistant");
    expect(provider.attrs.skip_path_regex).toBe("^/(auth|api)/.*");
  });

  test("sso: false leaves an app alone", async () => {
    const { objects, blueprint } = await tree(`${withWebApp(false)}  homeAssistant:\n    sso: false\n`);
    expect(blueprint.entries.filter((e) => e.model === "authentik_providers_proxy.proxyprovider")).toEqual([]);
    expect(objects.filter((o) => o.kind === "Ingress" && o.metadata.name.endsWith("-outpost"))).toEqual([]);
    for (const ingress of objects.filter((o) => o.kind === "Ingress")) {
      expect(ingress.metadata.annotations?.["traefik.ingress.kubernetes.io/router.middlewares"]).toBeUndefined();
    }
  });

  test("sso without a host is an error that says why", () => {
    expect(() => parseConfig(withWebApp(true, false))).toThrow(UserError);
    expect(() => parseConfig(withWebApp(true, false))).toThrow("apps.wiki.sso: SSO puts a login in front of the app's web address, and the app has no host");
  });

  test("no app without TLS: every ingress has a TLS section for its hosts", async () => {
    const { objects } = await tree(withWebApp(true));
    for (const ingress of objects.filter((o) => o.kind === "Ingress")) {
      const hosts = ingress.spec.rules.map((r: { host: string }) => r.host);
      expect(ingress.spec.tls?.flatMap((t: { hosts: string[] }) => t.hosts), ingress.metadata.name).toEqual(hosts);
    }
  });
});

describe("OIDC", () => {
  test("Grafana and its Authentik provider share one client secret, and the redirect URI is Grafana's", async () => {
    const { dir, configPath } = tempRepo(minimalConfig);
    const { files } = await generate({ configPath });
    const objects = objectsOf(files).map(({ object }) => object);
    const identity = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
    const decrypt = async (path: string) => ((await decryptDocument(readFileSync(join(dir, path), "utf8"), [identity])).data as any).stringData;

    const grafanaSide = (await decrypt("infrastructure/monitoring/grafana-oidc.sops.yaml"))["client-secret"];
    const authentikSide = (await decrypt("infrastructure/authentik/authentik-oidc-clients.sops.yaml")).grafana;
    expect(grafanaSide).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authentikSide).toBe(grafanaSide);

    const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "authentik-blueprints")!;
    const blueprint = parse(configMap.data["homelab.yaml"], { customTags: authentikTags }) as { entries: any[] };
    const provider = blueprint.entries.find((e) => e.model === "authentik_providers_oauth2.oauth2provider" && e.attrs.client_id === "grafana");
    const authentik = objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "authentik")!;
    const envVar = authentik.spec.values.global.env.find((e: { name: string }) => e.name === provider.attrs.client_secret.env);
    expect(envVar.valueFrom.secretKeyRef).toEqual({ name: "authentik-oidc-clients", key: "grafana" });

    const grafana = objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "kube-prometheus-stack")!.spec.values.grafana;
    const oauth = grafana["grafana.ini"]["auth.generic_oauth"];
    expect(provider.attrs.redirect_uris).toEqual([{ matching_mode: "strict", url: `${grafana["grafana.ini"].server.root_url}login/generic_oauth` }]);
    expect(oauth.client_id).toBe(provider.attrs.client_id);
    expect(oauth.auth_url).toBe("https://auth.home.arpa/application/o/authorize/");
    expect(oauth.role_attribute_path).toContain("homelab-admins");
    expect(grafana.envValueFrom.GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET.secretKeyRef).toEqual({ name: "grafana-oidc", key: "client-secret" });
    expect(JSON.stringify(grafana)).not.toContain(grafanaSide);
  });
});
