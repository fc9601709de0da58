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
    const proxyIds = new Set(providers.map((p) => p.id));
    const applications = blueprint.entries.filter((e) => e.model === "authentik_core.application" && proxyIds.has(e.attrs.provider.keyOf));
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

describe("OIDC for Gitea and Vaultwarden", () => {
  async function oidcTree(extra = "") {
    const { dir, configPath } = tempRepo(`${minimalConfig}${extra}`);
    const { files } = await generate({ configPath });
    const objects = objectsOf(files).map(({ object }) => object);
    const identity = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
    const decrypt = async (path: string) => ((await decryptDocument(readFileSync(join(dir, path), "utf8"), [identity])).data as any).stringData;
    const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "authentik-blueprints")!;
    const blueprint = parse(configMap.data["homelab.yaml"], { customTags: authentikTags }) as { entries: any[] };
    const provider = (slug: string) => blueprint.entries.find((e) => e.model === "authentik_providers_oauth2.oauth2provider" && e.attrs.client_id === slug);
    const release = (name: string) => objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === name)!;
    return { dir, files, objects, blueprint, provider, release, decrypt };
  }

  test("Gitea's login source: same client id and secret as its provider, discovery at the provider's issuer, admins mapped", async () => {
    const { objects, provider, release, decrypt } = await oidcTree();
    const giteaProvider = provider("gitea");
    expect(giteaProvider.attrs.redirect_uris).toEqual([{ matching_mode: "strict", url: "https://git.home.arpa/user/oauth2/authentik/callback" }]);
    const giteaSide = await decrypt("apps/gitea/sso/gitea-oidc.sops.yaml");
    expect(giteaSide.key).toBe(giteaProvider.attrs.client_id);
    expect(giteaSide.secret).toBe((await decrypt("infrastructure/authentik/authentik-oidc-clients.sops.yaml")).gitea);

    const values = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "gitea-sso-values")!;
    const [source] = parse(values.data["values.yaml"]).gitea.oauth;
    expect(source).toEqual({
      name: "authentik",
      provider: "openidConnect",
      existingSecret: "gitea-oidc",
      autoDiscoverUrl: "https://auth.home.arpa/application/o/gitea/.well-known/openid-configuration",
      scopes: "email profile",
      groupClaimName: "groups",
      adminGroup: "homelab-admins",
    });
    // Gitea runs without the login source (first boot, or Authentik down): the values are optional.
    const gitea = release("gitea");
    expect(gitea.spec.valuesFrom).toContainEqual({ kind: "ConfigMap", name: "gitea-sso-values", valuesKey: "values.yaml", optional: true });
    expect(gitea.spec.values.gitea.oauth).toBeUndefined();
    expect(gitea.spec.values.gitea.config.oauth2_client).toEqual({ ENABLE_AUTO_REGISTRATION: true, ACCOUNT_LINKING: "auto", USERNAME: "nickname" });
  });

  test("Vaultwarden: authority is the provider's issuer, one shared secret, email marked verified", async () => {
    const { provider, release, decrypt, blueprint } = await oidcTree();
    const vaultProvider = provider("vaultwarden");
    expect(vaultProvider.attrs.redirect_uris).toEqual([{ matching_mode: "strict", url: "https://vault.home.arpa/identity/connect/oidc-signin" }]);
    const sso = release("vaultwarden").spec.values.sso;
    expect(sso).toMatchObject({ enabled: true, authority: "https://auth.home.arpa/application/o/vaultwarden/", existingSecret: "vaultwarden-oidc" });
    const vaultSide = await decrypt("apps/vaultwarden/vaultwarden-oidc.sops.yaml");
    expect(vaultSide[sso.clientId.existingSecretKey]).toBe(vaultProvider.attrs.client_id);
    expect(vaultSide[sso.clientSecret.existingSecretKey]).toBe((await decrypt("infrastructure/authentik/authentik-oidc-clients.sops.yaml")).vaultwarden);

    // Vaultwarden refuses email_verified: false, which Authentik's default email mapping sends.
    const mapping = blueprint.entries.find((e) => e.model === "authentik_providers_oauth2.scopemapping");
    expect(mapping.attrs.scope_name).toBe("email");
    expect(mapping.attrs.expression).toContain('"email_verified": True');
    expect(vaultProvider.attrs.property_mappings).toContainEqual({ keyOf: mapping.id });
    expect(vaultProvider.attrs.property_mappings).not.toContainEqual({ find: ["authentik_providers_oauth2.scopemapping", ["managed", "goauthentik.io/providers/oauth2/scope-email"]] });
    expect(provider("gitea").attrs.property_mappings).toContainEqual({ find: ["authentik_providers_oauth2.scopemapping", ["managed", "goauthentik.io/providers/oauth2/scope-email"]] });
  });

  test("apps that call Authentik reach it through Traefik and trust the internal CA", async () => {
    const { objects, dir, release } = await oidcTree();
    const root = readFileSync(join(dir, "certs/home-root-ca.crt"), "utf8");
    const coredns = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "coredns-custom")!;
    expect(coredns.metadata.namespace).toBe("kube-system");
    expect(coredns.data["homelab.override"]).toContain("rewrite name exact auth.home.arpa traefik.kube-system.svc.cluster.local");
    for (const namespace of ["gitea", "vaultwarden"]) {
      const ca = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "homelab-ca" && o.metadata.namespace === namespace)!;
      expect(ca.data["ca.crt"]).toBe(root);
    }
    const gitea = release("gitea").spec.values;
    expect(gitea.deployment.env).toContainEqual({ name: "SSL_CERT_DIR", value: "/etc/homelab-ca:/etc/ssl/certs" });
    expect(gitea.extraInitVolumeMounts).toEqual(gitea.extraContainerVolumeMounts);
    const vault = release("vaultwarden").spec.values;
    expect(vault.initContainers[0].command.join(" ")).toContain("/etc/homelab-ca/ca.crt");
    expect(vault.extraVolumeMounts).toEqual([{ name: "trust", mountPath: "/etc/ssl/certs/ca-certificates.crt", subPath: "ca-certificates.crt", readOnly: true }]);
  });

  test("sso: false on Gitea and Vaultwarden removes their providers, secrets and trust wiring", async () => {
    const { objects, provider, release, files } = await oidcTree("apps:\n  gitea:\n    sso: false\n  vaultwarden:\n    sso: false\n");
    expect(provider("gitea")).toBeUndefined();
    expect(provider("vaultwarden")).toBeUndefined();
    expect(files.some((f) => f.path.startsWith("apps/gitea/sso/"))).toBe(false);
    // Without the login source's optional values Gitea has no valuesFrom at all (no Valkey password either).
    expect(release("gitea").spec.valuesFrom).toBeUndefined();
    expect(release("vaultwarden").spec.values.sso).toBeUndefined();
    expect(objects.some((o) => o.kind === "ConfigMap" && o.metadata.namespace === "vaultwarden")).toBe(false);
  });
});

describe("LDAP outpost", () => {
  test("auth.authentik.ldap: provider, application, a bind account that may search, and an outpost Authentik deploys", async () => {
    const { objects, blueprint } = await tree(`${minimalConfig}auth:\n  authentik:\n    ldap: true\n`);
    const ldap = blueprint.entries.find((e) => e.model === "authentik_providers_ldap.ldapprovider");
    expect(ldap.attrs.base_dn).toBe("DC=home,DC=arpa");
    expect(ldap.attrs.authorization_flow).toEqual({ find: ["authentik_flows.flow", ["slug", "default-authentication-flow"]] });
    const user = blueprint.entries.find((e) => e.model === "authentik_core.user");
    expect(ldap.permissions).toEqual([{ permission: "authentik_providers_ldap.search_full_directory", user: { keyOf: user.id } }]);
    expect(user.attrs.type).toBe("internal");
    expect(blueprint.entries.find((e) => e.model === "authentik_core.application" && e.attrs.slug === "ldap").attrs.provider).toEqual({ keyOf: ldap.id });
    const outpost = blueprint.entries.find((e) => e.model === "authentik_outposts.outpost" && e.attrs.type === "ldap");
    expect(outpost.attrs.providers).toEqual([{ keyOf: ldap.id }]);
    const connection = blueprint.entries.find((e) => e.model === "authentik_outposts.kubernetesserviceconnection");
    expect(outpost.attrs.service_connection).toEqual({ keyOf: connection.id });
    // The bind password reaches the blueprint through the worker's environment, never inline.
    const authentik = objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "authentik")!;
    expect(authentik.spec.values.global.env).toContainEqual({ name: user.attrs.password.env, valueFrom: { secretKeyRef: { name: "authentik-ldap", key: "bind-password" } } });
    const embedded = blueprint.entries.find((e) => e.model === "authentik_outposts.outpost" && e.identifiers.managed);
    expect(embedded.attrs.providers).not.toContainEqual({ keyOf: ldap.id });
  });

  test("without ldap: no LDAP objects", async () => {
    const { blueprint } = await tree(minimalConfig);
    expect(blueprint.entries.filter((e) => /ldap/.test(e.model) || e.model === "authentik_core.user")).toEqual([]);
  });
});

describe("Gitea Actions runner", () => {
  test("runner: true: Gitea and the runner read one generated registration token; the runner trusts the internal CA", async () => {
    const { objects } = await tree(`${minimalConfig}apps:\n  gitea:\n    runner: true\n`);
    const gitea = objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "gitea")!;
    const serverSide = gitea.spec.values.deployment.env.find((e: { name: string }) => e.name === "GITEA_RUNNER_REGISTRATION_TOKEN");
    const runner = objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === "gitea-runner")!;
    const container = runner.spec.template.spec.containers.find((c: { name: string }) => c.name === "runner");
    const runnerSide = container.env.find((e: { name: string }) => e.name === "GITEA_RUNNER_REGISTRATION_TOKEN");
    expect(runnerSide.valueFrom).toEqual(serverSide.valueFrom);
    expect(objects.find((o) => o.kind === "Secret" && o.metadata.name === serverSide.valueFrom.secretKeyRef.name)).toBeDefined();
    const dind = runner.spec.template.spec.initContainers[0];
    expect(dind).toMatchObject({ restartPolicy: "Always", securityContext: { privileged: true } });
    expect(dind.volumeMounts).toContainEqual({ name: "homelab-ca", mountPath: "/etc/homelab-ca", readOnly: true });
    const config = parse(objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "gitea-runner-config")!.data["config.yaml"]);
    expect(config.runner.labels).toEqual(["ubuntu-latest:docker://docker.io/library/node:24-bookworm"]);
    expect(config.container.valid_volumes).toEqual(["/etc/homelab-ca"]);
    const claim = runner.spec.template.spec.volumes.find((v: { name: string }) => v.name === "data").persistentVolumeClaim.claimName;
    expect(objects.find((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === claim)?.spec.storageClassName).toMatch(/^longhorn/);
  });

  test("without runner: no runner objects and no token in Gitea", async () => {
    const { objects } = await tree(minimalConfig);
    expect(objects.filter((o) => o.kind === "StatefulSet")).toEqual([]);
    const gitea = objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "gitea")!;
    expect(gitea.spec.values.deployment.env.map((e: { name: string }) => e.name)).toEqual(["SSL_CERT_DIR"]);
  });
});
