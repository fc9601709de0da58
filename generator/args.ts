// A command's flags, as node:util's parseArgs reads them, where an empty value is a mistake:
// `--out ""` would otherwise mean the current folder, and `--config ""` the repository's parent.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UserError } from "./errors.ts";

export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const parsed = parseArgs(config);
  for (const [name, value] of Object.entries(parsed.values)) {
    if ((Array.isArray(value) ? value : [value]).includes("")) throw new UserError(`--${name} needs a value, and it was given an empty one`);
  }
  return parsed;
}
