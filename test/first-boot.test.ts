// What a real first boot would trip on, checked on the generated files: forward auth that works
// before anyone logs in, a blueprint whose every reference exists when it is applied, Gitea's
// login source registered only once its issuer answers, step-ca's database on Longhorn with the
// other volumes, and disks large enough for the volumes the tree asks for.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { describe, expect, test } from "vitest";
import { parse, YAMLSeq, type CollectionTag, type ScalarTag } from "yaml";
import { MIN_DISK_FLOOR_GIB, quantityBytes } from "../generator/image/disk.ts";
import { BOOTSTRAP_ENV, BOOTSTRAP_SCRIPT } from "../generator/image/paths.ts";
import { ROOTFS } from "../generator/image/paths.ts";
import { render, type Rendered } from "../generator/generate.ts";
import { minimalConfig, objectsOf, referenceConfigPath, renderText, tempRepo } from "./support/render.ts";

/** Authentik's tags, read as data: !Find [model, [field, value]], !KeyOf id, !Env NAME. */
const authentikTags: (CollectionTag | ScalarTag)[] = [
  { tag: "!Find", collection: "seq", resolve: (seq) => ({ find: (seq as YAMLSeq).toJSON() }) } as CollectionTag,
  { tag: "!KeyOf", resolve: (value: string) => ({ keyOf: value }), identify: () => false } as ScalarTag,
  { tag: "!Env", resolve: (value: string) => ({ env: value }), identify: () => false } as ScalarTag,
];

const objects = (rendered: Rendered) => objectsOf(rendered.files).map(({ object }) => object);
const find = (list: Record<string, any>[], kind: string, name: string) => list.find((o) => o.kind === kind && o.metadata.name === name);

function blueprintOf(rendered: Rendered): any[] {
  const configMap = find(objects(rendered), "ConfigMap", "authentik-blueprints");
  return (parse(configMap?.data["homelab.yaml"], { customTags: authentikTags }) as { entries: any[] }).entries;
}

const ldapConfig = `${minimalConfig}auth:\n  authentik:\n    ldap: true\n    host: sso\n`;

describe("the Authentik blueprint on a fresh Authentik", () => {
  test("the embedded outpost knows the external address at once, and keeps the config Authentik gives it", async () => {
    for (const [text, host] of [
      [minimalConfig, "https://auth.home.arpa"],
      [ldapConfig, "https://sso.home.arpa"],
    ] as const) {
      const embedded = blueprintOf(await renderText(text)).filter((e) => e.identifiers?.managed === "goauthentik.io/outposts/embedded");
      expect(embedded).toHaveLength(1);
      // The importer replaces the whole config dict: what Authentik sets itself is written too
      // (authentik/outposts/apps.py: no Deployment or Secret for the outpost inside the server).
      expect(embedded[0].attrs.config).toEqual({ authentik_host: host, kubernetes_disabled_components: ["deployment", "secret"] });
    }
  });

  test("every flow it finds is applied first by its default blueprint, and every !KeyOf names an earlier entry", async () => {
    // Which of Authentik's default blueprints (blueprints/default/*.yaml, metadata.name) makes each flow.
    const flowBlueprint: Record<string, string> = {
      "default-provider-authorization-implicit-consent": "Default - Provider authorization flow (implicit consent)",
      "default-provider-invalidation-flow": "Default - Provider invalidation flow",
      "default-authentication-flow": "Default - Authentication flow",
      "default-invalidation-flow": "Default - Invalidation flow",
    };
    const reference = readFileSync(referenceConfigPath, "utf8");
    expect(reference).toContain("    ldap: false ");
    const rendered = await render({ configPath: tempRepo(reference.replace("    ldap: false ", "    ldap: true "), { demoState: true }).configPath });
    for (const entries of [blueprintOf(rendered), blueprintOf(await renderText(ldapConfig))]) {
      expect(entries.some((e) => e.model === "authentik_providers_ldap.ldapprovider")).toBe(true);
      const applied = new Set<string>();
      const ids = new Set<string>();
      const check = (value: unknown, where: string): void => {
        if (Array.isArray(value)) return value.forEach((v) => check(v, where));
        if (value === null || typeof value !== "object") return;
        const record = value as Record<string, any>;
        if (record["find"]) {
          const [model, [field, wanted]] = record["find"];
          // The local Kubernetes connection appears late (a background task): never looked up.
          expect(model, where).not.toBe("authentik_outposts.kubernetesserviceconnection");
          if (model === "authentik_flows.flow") {
            expect(field).toBe("slug");
            expect(applied, `${where}: ${wanted} before its blueprint`).toContain(flowBlueprint[wanted]);
          }
        } else if (record["keyOf"]) expect(ids, `${where}: !KeyOf ${record["keyOf"]} before its entry`).toContain(record["keyOf"]);
        else Object.values(record).forEach((v) => check(v, where));
      };
      for (const entry of entries) {
        const where = `${entry.model} ${JSON.stringify(entry.identifiers ?? entry.attrs?.identifiers)}`;
        if (entry.model === "authentik_blueprints.metaapplyblueprint") applied.add(entry.attrs.identifiers.name);
        check(entry.attrs, where);
        check(entry.permissions, where);
        if (entry.id) ids.add(entry.id);
      }
      // The LDAP outpost goes through the connection the blueprint itself declares, as Authentik's discovery makes it.
      const connection = entries.find((e) => e.model === "authentik_outposts.kubernetesserviceconnection");
      expect(connection).toMatchObject({ identifiers: { local: true }, attrs: { name: "Local Kubernetes Cluster", local: true, kubeconfig: {} } });
      const outpost = entries.find((e) => e.model === "authentik_outposts.outpost" && e.attrs.type === "ldap");
      expect(outpost.attrs.service_connection).toEqual({ keyOf: connection.id });
    }
  });

  test("without LDAP, no connection and only the providers' default flows", async () => {
    const entries = blueprintOf(await renderText(minimalConfig));
    expect(entries.filter((e) => e.model === "authentik_outposts.kubernetesserviceconnection")).toEqual([]);
    expect(entries.filter((e) => e.model === "authentik_blueprints.metaapplyblueprint").map((e) => e.attrs.identifiers.name)).toEqual([
      "Default - Provider authorization flow (implicit consent)",
      "Default - Provider invalidation flow",
    ]);
  });
});

describe("Gitea's login source waits for its issuer", () => {
  test("gitea-sso depends on a unit whose Job fetches the discovery document add-oauth will fetch", async () => {
    const list = objects(await renderText(minimalConfig));
    const kustomization = (name: string) => list.find((o) => o.kind === "Kustomization" && o.apiVersion.startsWith("kustomize.toolkit.fluxcd.io/") && o.metadata.name === name);
    const sso = kustomization("gitea-sso");
    const issuer = kustomization("gitea-oidc-issuer");
    expect(sso?.spec.dependsOn).toContainEqual({ name: "gitea-oidc-issuer" });
    // wait: true health-checks the Job (Complete); it runs after Authentik and Gitea (its CA ConfigMap).
    expect(issuer?.spec).toMatchObject({ wait: true, path: "./apps/gitea/sso/issuer" });
    expect(issuer?.spec.dependsOn).toEqual(expect.arrayContaining([{ name: "authentik" }, { name: "gitea" }]));
    const job = list.find((o) => o.kind === "Job" && o.metadata.namespace === "gitea");
    const container = job?.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    const values = parse(find(list, "ConfigMap", "gitea-sso-values")?.data["values.yaml"]);
    expect(`${env["ISSUER"]}.well-known/openid-configuration`).toBe(values.gitea.oauth[0].autoDiscoverUrl);
    // It trusts what Gitea trusts: the internal CA from the ConfigMap in Gitea's namespace.
    const volume = job?.spec.template.spec.volumes.find((v: { name: string }) => v.name === container.volumeMounts[0].name);
    const caMap = list.find((o) => o.kind === "ConfigMap" && o.metadata.namespace === "gitea" && o.metadata.name === volume.configMap.name);
    expect(env["NODE_EXTRA_CA_CERTS"]).toBe(`${container.volumeMounts[0].mountPath}/${Object.keys(caMap?.data ?? {})[0]}`);
    expect(job?.metadata.annotations).toEqual({ "kustomize.toolkit.fluxcd.io/force": "Enabled" });
  });

  test("the Job's script, run with node, waits through a 404 and a wrong issuer and ends once the issuer answers", async () => {
    const list = objects(await renderText(minimalConfig));
    const container = list.find((o) => o.kind === "Job" && o.metadata.namespace === "gitea")?.spec.template.spec.containers[0];
    const answers = [404, "wrong", "right"];
    const server = createServer((req, res) => {
      const answer = answers.shift() ?? "right";
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/application/o/gitea/`;
      if (req.url !== "/application/o/gitea/.well-known/openid-configuration" || answer === 404) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ issuer: answer === "right" ? issuer : "https://elsewhere/" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/application/o/gitea/`;
    // The container's command, with a shorter pause between tries.
    const [, ...args] = container.command.map((arg: string) => arg.replace("10_000", "10"));
    const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, args, { env: { ISSUER: issuer }, timeout: 20_000 }, (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }));
    });
    server.close();
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split("\n")).toEqual([
      `${issuer}.well-known/openid-configuration: 404`,
      `${issuer}.well-known/openid-configuration: 200, issuer https://elsewhere/`,
      `${issuer}.well-known/openid-configuration: issuer ${issuer}`,
    ]);
  });

  test("without Gitea SSO, no issuer check", async () => {
    const list = objects(await renderText(`${minimalConfig}apps:\n  gitea:\n    sso: false\n`));
    expect(list.filter((o) => o.kind === "Job")).toEqual([]);
  });
});

describe("step-ca's database", () => {
  test("is a tree-owned Longhorn volume in the snapshot and backup groups, and step-ca waits for Longhorn", async () => {
    const rendered = await render({ configPath: tempRepo(readFileSync(referenceConfigPath, "utf8"), { demoState: true }).configPath });
    const list = objects(rendered);
    const release = find(list, "HelmRelease", "step-certificates");
    const claimName = release?.spec.values.ca.db.existingClaim;
    const claim = list.find((o) => o.kind === "PersistentVolumeClaim" && o.metadata.namespace === "step-ca" && o.metadata.name === claimName);
    // The same labels as every app volume (Gitea's repositories for one).
    const gitea = find(list, "PersistentVolumeClaim", "gitea-data");
    expect(claim?.metadata.labels).toEqual(gitea?.metadata.labels);
    // In every group a RecurringJob runs for (the reference config has snapshots and backups).
    const groups = list.filter((o) => o.kind === "RecurringJob").flatMap((o) => o.spec.groups);
    expect(groups.length).toBe(2);
    for (const group of groups) expect(claim?.metadata.labels[`recurring-job-group.longhorn.io/${group}`], group).toBe("enabled");
    expect(claim?.metadata.labels["recurring-job.longhorn.io/source"]).toBe("enabled");
    expect(claim?.spec.storageClassName).toBe(gitea?.spec.storageClassName);
    expect(claim?.metadata.annotations).toEqual({ "kustomize.toolkit.fluxcd.io/prune": "disabled" });
    const stepCa = list.find((o) => o.kind === "Kustomization" && o.metadata.name === "step-ca" && o.apiVersion.startsWith("kustomize.toolkit"));
    expect(stepCa?.spec.dependsOn).toContainEqual({ name: "longhorn" });
  });
});

describe("disaster recovery", () => {
  test("docs/backup-restore.md runs the bootstrap's gitea step after a database restore, and quotes what it logs", () => {
    const docs = readFileSync(new URL("../docs/backup-restore.md", import.meta.url), "utf8");
    const restore = docs.slice(docs.indexOf("## Restore a database to a point in time"), docs.indexOf("## Rebuild everything"));
    expect(restore).toContain(`sudo ${BOOTSTRAP_SCRIPT} step gitea`);
    const script = readFileSync(new URL("../generator/image/templates/bootstrap.sh.hbs", import.meta.url), "utf8");
    const quoted = /`(Gitea refuses Flux's token \(401)[^`]*`/.exec(restore)?.[1] ?? "";
    expect(quoted).not.toBe("");
    expect(script).toContain(quoted);
    expect(script).toMatch(/^STEPS=\(.*\bgitea\b.*\)$/m);
  });
});

describe("disk size", () => {
  const toml = (rendered: Rendered, node: string) => parseToml(rendered.files.find((f) => f.path === `image/install/${node}.toml`)?.content ?? "") as any;
  const settings = (rendered: Rendered) => rendered.files.find((f) => f.path === `${ROOTFS}${BOOTSTRAP_ENV}`)?.content ?? "";

  test("disk images get a root filesystem sized for the volumes, and first boot checks the same minimum", async () => {
    const rendered = await render({ configPath: tempRepo(readFileSync(referenceConfigPath, "utf8"), { demoState: true }).configPath });
    const [filesystem] = toml(rendered, "hearth").customizations.filesystem;
    expect(filesystem.mountpoint).toBe("/");
    const minimum = Number(/^(\d+) GiB$/.exec(filesystem.minsize)?.[1]);
    expect(settings(rendered)).toContain(`MIN_DISK_GIB='${minimum}'\n`);
    expect(settings(rendered)).toContain("LONGHORN_DATA_PATH='/var/lib/longhorn'\n");
    // The volumes over Longhorn's schedulable 70%, by hand: every claim and claim template, and
    // the databases' (one instance each on one node: every volume one replica).
    const list = objects(rendered);
    const claims = [...list.filter((o) => o.kind === "PersistentVolumeClaim").map((o) => o.spec.resources.requests.storage), "20Gi" /* Prometheus */];
    const databases = list.filter((o) => o.kind === "Cluster").map((o) => o.spec.storage.size);
    const bytes = [...claims, ...databases].reduce((sum, size) => sum + quantityBytes(size), 0);
    expect(minimum).toBe(Math.max(MIN_DISK_FLOOR_GIB, Math.ceil(bytes / 0.7 / 2 ** 30)));
    expect(minimum).toBeGreaterThan(MIN_DISK_FLOOR_GIB);
    // docs/install.md gives the demo's minimum (the reference config is the demo's).
    const install = readFileSync(new URL("../docs/install.md", import.meta.url), "utf8").replace(/\s+/g, " ");
    expect(install).toContain(`(the demo config: ${minimum} GiB)`);
    expect(install).toContain(`never less than ${MIN_DISK_FLOOR_GIB} GiB`);
  });

  test("more volume, more disk; replicas spread over nodes", async () => {
    const big = `${minimalConfig}apps:\n  gitea:\n    storage:\n      size: 500Gi\n`;
    const one = await renderText(big);
    const min = (rendered: Rendered) => Number(/minsize = "(\d+) GiB"/.exec(rendered.files.find((f) => f.path.startsWith("image/install/"))?.content ?? "")?.[1]);
    expect(min(one)).toBeGreaterThan(500 / 0.7);
    // Three nodes, three replicas: each node holds one replica of everything, as one node does.
    const three = big.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes:\n    - {name: a, role: server}\n    - {name: b, role: agent}\n    - {name: c, role: agent}\n");
    const spread = await renderText(three);
    const tomls = spread.files.filter((f) => f.path.startsWith("image/install/"));
    expect(tomls.map((f) => f.path).sort()).toEqual(["image/install/a.toml", "image/install/b.toml", "image/install/c.toml"]);
    expect(Math.abs(min(spread) - min(one))).toBeLessThanOrEqual(1);
    // Two replicas on four nodes: half of it on each.
    const four = big.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes:\n    - {name: a, role: server}\n    - {name: b, role: agent}\n    - {name: c, role: agent}\n    - {name: d, role: agent}\n") + "storage:\n  longhorn:\n    replicas: 2\n";
    expect(min(await renderText(four))).toBeLessThan(min(one) * 0.55);
    expect(quantityBytes("1.5Gi")).toBe(1.5 * 2 ** 30);
    expect(quantityBytes("2Ei")).toBe(2 * 2 ** 60);
    expect(quantityBytes("500M")).toBe(5e8);
    expect(() => quantityBytes("lots")).toThrow(/not a storage quantity/);
  });
});
