import { ensureTools } from "./tools.ts";

export default function setup(): void {
  ensureTools();
}
