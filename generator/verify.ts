// verify: what the object schemas miss — names and durations Flux and Kubernetes would reject
// at apply time, checked on every generate so a broken tree is never written.
import { UserError } from "./errors.ts";
import type { Plan } from "./plan.ts";
import { plain } from "./render/yaml.ts";

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
