// verify: what the object schemas miss — names and durations Flux and Kubernetes would reject
// at apply time, and two files at one path — checked on every generate so a broken tree is
// never written.
import { formatPath, type Locate } from "./config/load.ts";
import { genericApps } from "./config/rules.ts";
import type { HomelabConfig } from "./config/schema.ts";
import { UserError, type Diagnostic } from "./errors.ts";
import type { Plan } from "./plan.ts";
import { plain } from "./render/yaml.ts";
import type { GeneratedFile } from "./writer.ts";

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Go time.Duration as Flux parses intervals and timeouts. */
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;
const DURATION_KEYS = new Set(["interval", "retryInterval", "timeout"]);

function problemsIn(value: unknown, path: string, problems: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => problemsIn(item, `${path}[${i}]`, problems));
    return;
  }
  if (value === null || typeof value !== "object") return;
  for (const [key, child] of Object.entries(value)) {
    if (DURATION_KEYS.has(key) && typeof child === "string" && !GO_DURATION.test(child)) {
      problems.push(`${path}.${key}: "${child}" is not a duration such as 10m`);
    }
    if (key !== "values") problemsIn(child, `${path}.${key}`, problems);
  }
}

export function verifyPlan(plan: Plan): void {
  const problems: string[] = [];
  for (const unit of plan.units) {
    for (const [file, objects] of Object.entries(unit.files)) {
      for (const object of objects.map((o) => plain(o) as { kind: string; metadata?: { name?: string; namespace?: string }; spec?: unknown })) {
        const where = `${unit.path}/${file}.yaml: ${object.kind}/${object.metadata?.name ?? "?"}`;
        if (!object.metadata?.name || !DNS_SUBDOMAIN.test(object.metadata.name)) problems.push(`${where}: invalid name`);
        if (object.kind === "Service" && object.metadata?.name && !DNS_1035_LABEL.test(object.metadata.name)) problems.push(`${where}: a Service name must start with a letter`);
        if (object.metadata?.namespace !== undefined && !DNS_SUBDOMAIN.test(object.metadata.namespace)) problems.push(`${where}: invalid namespace`);
        problemsIn(object.spec, `${where} spec`, problems);
      }
    }
  }
  if (problems.length > 0) {
    throw new UserError(problems.map((message) => ({ file: "generated tree", line: 0, col: 0, path: "", message })));
  }
}

/** What writes a generated file: a key of homelab.yaml when the config decides its path. */
interface Origin {
  readonly what: string;
  readonly key?: readonly (string | number)[];
}

/**
 * Two files at one path, or a file where another needs a folder: the second write would
 * replace the first (an app named "kustomization" writes clusters/<name>/kustomization.yaml,
 * the cluster's own list). Reported at the keys of homelab.yaml that decide the paths.
 */
export function verifyFilePaths(files: readonly GeneratedFile[], plan: Plan, config: HomelabConfig, locate: Locate): void {
  const apps = new Set(genericApps(config).map(([name]) => name));
  const componentOrigin = (component: string): Origin =>
    apps.has(component) ? { what: `apps.${component}`, key: ["apps", component] } : { what: `the platform's ${component}` };
  /** Everything that may write this path: its folder's unit, its component's list of Flux Kustomizations, the cluster's list. */
  const writersOf = (path: string): Origin[] => {
    const origins = plan.units
      .filter((unit) => path.startsWith(`${unit.path}/`) || path === `${plan.clusterPath}/${unit.component}.yaml`)
      .map((unit) => componentOrigin(unit.component));
    if (path === `${plan.clusterPath}/kustomization.yaml`) origins.push({ what: "the cluster's list of Flux Kustomizations", key: ["cluster", "name"] });
    return origins;
  };

  const clashes: { path: string; writers: Origin[] }[] = [];
  const paths = new Set<string>();
  for (const file of files) {
    if (paths.has(file.path)) clashes.push({ path: file.path, writers: writersOf(file.path) });
    paths.add(file.path);
  }
  const folders = new Set<string>();
  for (const file of files) {
    for (let end = file.path.indexOf("/"); end > 0; end = file.path.indexOf("/", end + 1)) {
      const folder = file.path.slice(0, end);
      if (paths.has(folder) && !folders.has(folder)) clashes.push({ path: `${folder} (a file, and the folder of ${file.path})`, writers: [...writersOf(folder), ...writersOf(file.path)] });
      folders.add(folder);
    }
  }
  if (clashes.length === 0) return;

  const at = (o: Origin) => (o.key ? `${o.what} (homelab.yaml:${locate(o.key).line}:${locate(o.key).col})` : o.what);
  const problems: Diagnostic[] = clashes.flatMap(({ path, writers }) => {
    const parties = [...new Map(writers.map((o) => [o.what, o])).values()];
    const app = parties.find((o) => o.key?.[0] === "apps")?.what;
    const hint = app ? `rename ${app}: an app writes clusters/<cluster>/<app>.yaml and apps/<app>/` : undefined;
    const located = parties.flatMap((self) => {
      const writtenBy = [self.what, ...parties.filter((o) => o !== self).map(at)].join(" and by ");
      return self.key ? [{ file: "homelab.yaml", ...locate(self.key), path: formatPath(self.key), message: `${path} is written twice: by ${writtenBy}`, hint }] : [];
    });
    const who = parties.length > 0 ? parties.map((o) => o.what).join(" and by ") : "the generator";
    return located.length > 0 ? located : [{ file: "generated tree", line: 0, col: 0, path: "", message: `${path} is written twice: by ${who}` }];
  });
  throw new UserError(problems);
}
