// Generated docs: the install order (Mermaid, from the real dependsOn graph) and a reference
// of every config key (from the JSON Schema).
import { template } from "./templates.ts";
import { phases } from "./components/types.ts";
import homelabSchema from "../schemas/homelab.schema.json" with { type: "json" };
import type { Plan } from "./plan.ts";
import { HEADER } from "./render/yaml.ts";
import type { GeneratedFile } from "./writer.ts";

const markdownHeader = `<!-- ${HEADER.slice(2)} -->`;

const installOrderTemplate = template("templates/install-order.md.hbs");

const mermaidId = (name: string) => name.replace(/[^A-Za-z0-9]/g, "_");

function installOrder(plan: Plan): GeneratedFile {
  const units = plan.units;
  const grouped = Object.entries(phases)
    .map(([phase, label]) => ({
      id: `phase${phase}`,
      label,
      units: units.filter((u) => String(u.phase) === phase).map((u) => ({ id: mermaidId(u.name), name: u.name })),
    }))
    .filter((p) => p.units.length > 0);
  const edges = units.flatMap((u) => u.dependsOn.map((d) => ({ from: mermaidId(d), to: mermaidId(u.name) })));
  const rows = units.map((u) => ({ phase: phases[u.phase], name: u.name, path: u.path, waits: u.dependsOn.join(", ") || "—" }));
  return {
    path: "docs/install-order.md",
    content: installOrderTemplate({ header: markdownHeader, clusterPath: plan.clusterPath, phases: grouped, edges, rows }),
  };
}

/** The JSON Schema subset the reference walks. */
interface TSchema {
  type?: string;
  enum?: unknown[];
  items?: TSchema;
  properties?: Record<string, TSchema>;
  additionalProperties?: boolean | TSchema;
  required?: string[];
  default?: unknown;
  description?: string;
}

interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  description: string;
}

function typeOf(schema: TSchema): string {
  if (schema.enum) return (schema.enum as unknown[]).map((v) => JSON.stringify(v)).join(" \\| ");
  if (schema.type === "array") return `list of ${typeOf(schema.items as TSchema)}`;
  if (schema.type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object" && !schema.properties) return "mapping";
  return String(schema.type ?? "any");
}

function referenceRows(schema: TSchema, prefix: string, required: readonly string[], rows: ReferenceRow[]): void {
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
    if (key === "$schema") continue;
    const path = prefix ? `${prefix}.${key}` : key;
    const isObject = child.type === "object" && child.properties;
    rows.push({
      key: `\`${path}\``,
      type: isObject ? "section" : typeOf(child),
      default: required.includes(key) ? "**required**" : child.default !== undefined && !isObject ? `\`${JSON.stringify(child.default)}\`` : "",
      description: String(child.description ?? "").replace(/\|/g, "\\|"),
    });
    if (isObject) referenceRows(child, path, (child.required as string[] | undefined) ?? [], rows);
    if (child.type === "array" && (child.items as TSchema).properties) referenceRows(child.items as TSchema, `${path}[]`, ((child.items as TSchema).required as string[] | undefined) ?? [], rows);
    if (child.additionalProperties && typeof child.additionalProperties === "object") {
      referenceRows(child.additionalProperties as TSchema, `${path}.<name>`, ((child.additionalProperties as TSchema).required as string[] | undefined) ?? [], rows);
    }
  }
}

const referenceTemplate = template("templates/config-reference.md.hbs");

function configReference(): GeneratedFile {
  const rows: ReferenceRow[] = [];
  referenceRows(homelabSchema as TSchema, "", homelabSchema.required, rows);
  return { path: "docs/config-reference.md", content: referenceTemplate({ header: markdownHeader, rows }) };
}

export function docsFiles(plan: Plan): GeneratedFile[] {
  return [installOrder(plan), configReference()];
}
