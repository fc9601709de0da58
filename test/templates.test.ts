// The precompiled templates (generator/templates.ts): current with their sources, complete, and
// rendering exactly what compiling the source renders; an edited template is compiled instead.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import { expect, test } from "vitest";
import { precompiledTemplatesSource, template, templateFrom, TEMPLATES } from "../generator/templates.ts";

const generatorDir = join(import.meta.dirname, "..", "generator");

test("generator/templates.generated.js is current (run `npm run schema` after editing a template)", () => {
  expect(readFileSync(join(generatorDir, "templates.generated.js"), "utf8")).toBe(precompiledTemplatesSource());
});

test("every .hbs file under generator/ is listed, so none is compiled at every run", () => {
  const files = readdirSync(generatorDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".hbs")).sort();
  expect(Object.keys(TEMPLATES).sort()).toEqual(files);
});

const installOrder = "templates/install-order.md.hbs";
const context = {
  header: "<!-- header -->",
  clusterPath: "clusters/home",
  phases: [{ id: "phase1", label: "1-cluster", units: [{ id: "flux", name: "flux" }] }],
  edges: [{ from: "flux", to: "longhorn" }],
  rows: [{ phase: "1-cluster", name: "flux", path: "clusters/home/flux", waits: "—" }],
};

test("a precompiled template renders what its source compiled renders", () => {
  const source = readFileSync(join(generatorDir, installOrder), "utf8");
  expect(template(installOrder)(context)).toBe(Handlebars.compile(source, TEMPLATES[installOrder])(context));
});

test("a template edited since it was precompiled is compiled from its source", () => {
  const edited = `${readFileSync(join(generatorDir, installOrder), "utf8")}edited: {{clusterPath}}\n`;
  expect(templateFrom(installOrder, edited, TEMPLATES[installOrder]!)(context)).toContain("edited: clusters/home");
});

test("image templates stay strict: a missing value fails the render", () => {
  expect(() => template("image/templates/k3s.service.hbs")({})).toThrow(/not defined/);
});
