// The image's handlebars templates (units, scripts, the Containerfile): one instance for all,
// strict so a missing value fails the render instead of leaving a blank, no HTML escaping.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";

const handlebars = Handlebars.create();

/** The compiled template generator/image/templates/<name>. */
export function imageTemplate(name: string): HandlebarsTemplateDelegate {
  return handlebars.compile(readFileSync(join(import.meta.dirname, "templates", name), "utf8"), { noEscape: true, strict: true });
}
