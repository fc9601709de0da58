// The image's handlebars templates (units, scripts, the Containerfile): strict, so a missing
// value fails the render instead of leaving a blank, and no HTML escaping (generator/templates.ts).
import { template } from "../templates.ts";

/** The template generator/image/templates/<name>. */
export function imageTemplate(name: string): (context: object) => string {
  return template(`image/templates/${name}`);
}
