// Authentik blueprints are YAML with custom tags (!Find, !KeyOf): built as objects with tagged
// leaves, written by the yaml library like everything else.
import { Document, isMap, isScalar, visit, type Node } from "yaml";

const TAG = "__blueprintTag";
const VALUE = "__blueprintValue";

interface Tagged {
  readonly [TAG]: string;
  readonly [VALUE]: unknown;
}

/** `!Find [model, [field, value]]`: the primary key of an existing object, looked up at apply time. */
export function find(model: string, field: string, value: string | boolean): Tagged {
  return { [TAG]: "!Find", [VALUE]: [model, [field, value]] };
}

/** `!KeyOf id`: the primary key of an object an earlier entry of the same blueprint declares. */
export function keyOf(id: string): Tagged {
  return { [TAG]: "!KeyOf", [VALUE]: id };
}

/** `!Env NAME`: a value from the Authentik worker's environment (fed from a Secret). */
export function env(name: string): Tagged {
  return { [TAG]: "!Env", [VALUE]: name };
}

export function blueprintText(blueprint: unknown): string {
  const doc = new Document(blueprint);
  visit(doc, {
    Map(_key, node) {
      const tag = node.get(TAG);
      if (!isMap(node) || typeof tag !== "string") return undefined;
      const replacement = doc.createNode((node.toJSON() as Record<string, unknown>)[VALUE]) as Node;
      replacement.tag = tag;
      if (!isScalar(replacement)) (replacement as { flow?: boolean }).flow = true;
      return replacement;
    },
  });
  return doc.toString({ lineWidth: 0 });
}
