// A stand-in Kubernetes API for the real kubectl (the pinned one), built on fake-api.ts: legacy
// discovery for the resource types a test declares, server-side apply (PATCH) into an object
// store, GET of one object or a list by name, and /readyz. A type can be added later, as a CRD
// appears when its chart is installed.
import { apiStatus, startFakeApi, type ApiAnswer, type ApiRequest, type FakeApi } from "./fake-api.ts";
import { testAuthority } from "./pki.ts";

export interface ResourceType {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export const CORE_TYPES: readonly ResourceType[] = [
  { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
  { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  { group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true },
  { group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", namespaced: false },
];

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface FakeKube {
  readonly api: FakeApi;
  /** Stored objects by "<group>/<plural>/<namespace>/<name>" (namespace empty when cluster-scoped). */
  readonly objects: Map<string, StoredObject>;
  /** Declares resource types (a CRD being installed); known ones are skipped. */
  addTypes(types: readonly ResourceType[]): void;
  /** "<namespace>/<name>" → how many more applies of that object answer 500. */
  readonly failApply: Map<string, number>;
  /** How many /readyz calls answer 500 before the API reports ready. */
  notReadyFor(calls: number): void;
  object(type: ResourceType, namespace: string, name: string): StoredObject | undefined;
  /** Called on every server-side apply, after the object is stored. */
  onApply?: (object: StoredObject) => void;
  close(): Promise<void>;
}

const groupVersion = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);
const basePath = (t: ResourceType) => (t.group ? `/apis/${t.group}/${t.version}` : "/api/v1");
const keyOf = (t: ResourceType, namespace: string, name: string) => `${t.group}/${t.plural}/${t.namespaced ? namespace : ""}/${name}`;

export async function startFakeKube(types: readonly ResourceType[] = CORE_TYPES): Promise<FakeKube> {
  const known: ResourceType[] = [...types];
  const objects = new Map<string, StoredObject>();
  let notReady = 0;
  let version = 1;
  const ca = await testAuthority("fake", "fake.test");

  const resourceList = (gv: string): ApiAnswer => {
    const resources = known.filter((t) => groupVersion(t) === gv);
    if (resources.length === 0) return apiStatus(404, "NotFound", "the server could not find the requested resource");
    return {
      body: {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: gv,
        resources: resources.map((t) => ({
          name: t.plural,
          singularName: t.kind.toLowerCase(),
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
        })),
      },
    };
  };

  // kubectl asks OpenAPI v3 whether PATCH takes fieldValidation (then the server validates);
  // a document with just that answers it.
  const openapiPath = (gv: string) => (gv === "v1" ? "api/v1" : `apis/${gv}`);
  const openapiDocument = (path: string): ApiAnswer => {
    const types = known.filter((t) => openapiPath(groupVersion(t)) === path);
    if (types.length === 0) return apiStatus(404, "NotFound", "the server could not find the requested resource");
    const paths = Object.fromEntries(
      types.map((t) => [
        `${basePath(t)}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.plural}/{name}`,
        {
          patch: {
            "x-kubernetes-group-version-kind": { group: t.group, version: t.version, kind: t.kind },
            parameters: [{ name: "fieldValidation", in: "query", schema: { type: "string" } }],
            responses: { "200": { description: "OK" } },
          },
        },
      ]),
    );
    return { body: { openapi: "3.0.0", info: { title: "Kubernetes", version: "v1.36.3+k3s1" }, paths } };
  };

  /** The type and object address of a resource path, e.g. /api/v1/namespaces/x/secrets/y. */
  const locate = (path: string): { type: ResourceType; namespace: string; name?: string } | undefined => {
    for (const type of known) {
      const base = basePath(type);
      if (!path.startsWith(`${base}/`)) continue;
      const rest = path.slice(base.length + 1).split("/");
      if (type.namespaced && rest.length <= 4 && rest[0] === "namespaces" && rest[2] === type.plural) return { type, namespace: rest[1] ?? "", name: rest[3] };
      if (!type.namespaced && rest.length <= 2 && rest[0] === type.plural) return { type, namespace: "", name: rest[1] };
    }
    return undefined;
  };

  const fake: FakeKube = {
    api: undefined as unknown as FakeApi,
    objects,
    addTypes: (more) => known.push(...more.filter((t) => !known.some((k) => k.group === t.group && k.version === t.version && k.kind === t.kind))),
    failApply: new Map(),
    notReadyFor: (calls) => {
      notReady = calls;
    },
    object: (type, namespace, name) => objects.get(keyOf(type, namespace, name)),
    close: () => fake.api.close(),
  };

  const route = (request: ApiRequest): ApiAnswer | undefined => {
    const { method, path } = request;
    if (method === "GET" && path === "/readyz") {
      if (notReady > 0) {
        notReady--;
        return { status: 500, body: "[-]etcd failed: reason withheld\nreadyz check failed" };
      }
      return { body: "ok" };
    }
    if (method === "GET" && path === "/version") return { body: { major: "1", minor: "36", gitVersion: "v1.36.3+k3s1" } };
    if (method === "GET" && path === "/api") return { body: { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }] } };
    if (method === "GET" && path === "/apis") {
      const groups = [...new Set(known.filter((t) => t.group).map((t) => t.group))].map((name) => {
        const versions = [...new Set(known.filter((t) => t.group === name).map((t) => t.version))].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
        return { name, versions, preferredVersion: versions[0] };
      });
      return { body: { kind: "APIGroupList", apiVersion: "v1", groups } };
    }
    if (method === "GET" && path === "/openapi/v3") {
      const gvs = [...new Set(known.map(groupVersion))];
      return { body: { paths: Object.fromEntries(gvs.map((gv) => [openapiPath(gv), { serverRelativeURL: `/openapi/v3/${openapiPath(gv)}?hash=${known.filter((t) => groupVersion(t) === gv).length}` }])) } };
    }
    const openapi = /^\/openapi\/v3\/(.+)$/.exec(path);
    if (method === "GET" && openapi) return openapiDocument(openapi[1] ?? "");
    // Client-side validation's schema (kubectl falls back to it for a kind the server does not
    // know yet): an empty protobuf Document, so nothing is validated and the mapping fails as
    // it does on a real server ("ensure CRDs are installed first").
    if (method === "GET" && path === "/openapi/v2") return { body: "", headers: { "content-type": "application/octet-stream" } };
    if (method === "GET" && path === "/apis/apiextensions.k8s.io/v1/customresourcedefinitions") {
      return { body: { kind: "CustomResourceDefinitionList", apiVersion: "apiextensions.k8s.io/v1", metadata: {}, items: [] } };
    }
    if (method === "GET" && path === "/api/v1") return resourceList("v1");
    const groupPath = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (method === "GET" && groupPath) return resourceList(`${groupPath[1]}/${groupPath[2]}`);

    const where = locate(path);
    if (!where) return undefined;
    const { type, namespace, name } = where;
    const notFound = () => apiStatus(404, "NotFound", `${type.plural}${type.group ? `.${type.group}` : ""} "${name}" not found`);
    if (method === "PATCH" && name && String(request.headers["content-type"]).startsWith("application/apply-patch")) {
      const failures = fake.failApply.get(`${namespace}/${name}`) ?? 0;
      if (failures > 0) {
        fake.failApply.set(`${namespace}/${name}`, failures - 1);
        return apiStatus(500, "InternalError", "an injected fault");
      }
      const { stringData, ...body } = (typeof request.body === "string" ? JSON.parse(request.body) : request.body) as StoredObject;
      // As the API server stores a Secret: stringData merged into data, base64.
      const data = stringData
        ? { ...(body["data"] as Record<string, string> | undefined), ...Object.fromEntries(Object.entries(stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) }
        : body["data"];
      const stored: StoredObject = {
        ...body,
        ...(data ? { data } : {}),
        metadata: { ...body.metadata, name, ...(type.namespaced ? { namespace } : {}), uid: `uid-${name}`, resourceVersion: String(version++) },
      };
      objects.set(keyOf(type, namespace, name), stored);
      fake.onApply?.(stored);
      return { body: stored };
    }
    if (method === "GET" && name) return objects.get(keyOf(type, namespace, name)) ? { body: objects.get(keyOf(type, namespace, name)) } : notFound();
    if (method === "GET") {
      const selected = request.query.get("fieldSelector")?.match(/^metadata\.name=(.+)$/)?.[1];
      const items = [...objects.entries()]
        .filter(([key]) => key.startsWith(`${type.group}/${type.plural}/${type.namespaced ? namespace : ""}/`))
        .map(([, object]) => object)
        .filter((object) => selected === undefined || object.metadata.name === selected);
      return { body: { kind: `${type.kind}List`, apiVersion: groupVersion(type), metadata: { resourceVersion: String(version) }, items } };
    }
    return undefined;
  };

  (fake as { api: FakeApi }).api = await startFakeApi({ tls: await ca.issue({ ips: ["127.0.0.1"] }), rootPem: ca.rootPem, route });
  return fake;
}
