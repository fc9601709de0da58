// The status report as lines of text. Pure: the same report gives the same lines; with
// `color` the state words and phase names carry ANSI colours, and removing those codes gives
// exactly the plain text (so piped output and a terminal say the same).
import type { Item, State, StatusReport } from "./report.ts";
import { allItems } from "./report.ts";

const ANSI = { bold: "1", dim: "2", red: "31", green: "32", yellow: "33", blue: "34", magenta: "35", cyan: "36", gray: "90" } as const;
type Style = keyof typeof ANSI;

/** Colour for a terminal, none when piped; NO_COLOR (no-color.org) and FORCE_COLOR win. */
export function useColor(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

export function paint(text: string, style: Style, color: boolean): string {
  return color ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text;
}

const STATE_STYLE: Record<State | "missing", Style> = {
  ready: "green",
  progressing: "cyan",
  waiting: "yellow",
  failed: "red",
  suspended: "gray",
  missing: "red",
};

/** Long Helm errors run to several lines; a status line shows the start of the first few. */
const MAX_MESSAGE = 400;

/** "main@sha1:0123456789abcdef…" → "main@sha1:0123456" (Git's short form); anything else as is. */
export function shortRevision(revision: string): string {
  return revision.replace(/(sha1|sha256):([0-9a-f]{7})[0-9a-f]+/, "$1:$2");
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE - 1)}…` : flat;
}

function revisionText(item: Item, head: string | undefined): string {
  if (item.kind === "HelmRelease") {
    // history[0] is the latest release, which need not have worked.
    const failedRelease = item.releaseStatus && item.releaseStatus !== "deployed" ? ` (${item.releaseStatus})` : "";
    const released = item.revision ? `chart ${item.revision}${failedRelease}` : "not released";
    return item.attempted ? `${released}, attempted ${item.attempted}` : released;
  }
  if (!item.revision) return item.attempted ? `never applied, attempted ${shortRevision(item.attempted)}` : "never applied";
  if (item.atHead === false && head) return `${shortRevision(item.revision)}, behind head ${shortRevision(head)}`;
  return shortRevision(item.revision);
}

function itemLines(item: Item, head: string | undefined, width: number, color: boolean): string[] {
  // HelmReleases sit under the Kustomization that applied them.
  const label = item.kind === "Kustomization" ? `Kustomization ${item.name}` : `  HelmRelease ${item.namespace}/${item.name}`;
  const state = paint(item.state.padEnd(11), STATE_STYLE[item.state], color);
  const lines = [`  ${state} ${label.padEnd(width)}  ${revisionText(item, head)}`];
  const indent = " ".repeat(item.kind === "Kustomization" ? 16 : 18);
  if (item.waitingOn.length > 0) {
    const deps = item.waitingOn.map((d) => `${d.ref} (${paint(d.state, STATE_STYLE[d.state], color)})`);
    lines.push(`${indent}waiting on ${deps.join(", ")}`);
  }
  const showDetail = item.state === "failed" || (item.state === "progressing" && item.message) || (item.state === "waiting" && item.waitingOn.length === 0);
  if (showDetail && (item.reason || item.message)) {
    const reason = item.reason ? `${item.reason}: ` : "";
    const gaveUp = item.terminal ? paint(" (Flux gave up; fix and commit)", "red", color) : "";
    lines.push(`${indent}${reason}${oneLine(item.message ?? "")}${gaveUp}`);
  }
  return lines;
}

export interface FormatOptions {
  readonly color: boolean;
}

/** The whole report: the source and its head, each phase with its objects, a summary line. */
export function formatStatus(report: StatusReport, options: FormatOptions): string[] {
  const { color } = options;
  const lines: string[] = [];
  if (report.source === "missing") {
    lines.push(`${paint("source", "bold", color)}  GitRepository flux-system/flux-system: ${paint("missing", "red", color)} (is Flux installed?)`);
  } else {
    const head = report.head ? shortRevision(report.head) : "no revision fetched yet";
    lines.push(`${paint("source", "bold", color)}  GitRepository flux-system/flux-system at ${head}`);
    if (report.source) {
      const { state, reason, message } = report.source;
      lines.push(`        ${paint(state, STATE_STYLE[state], color)}${reason ? ` ${reason}` : ""}${message ? `: ${oneLine(message)}` : ""}`);
    }
  }
  const items = allItems(report);
  const width = Math.max(0, ...items.map((item) => (item.kind === "Kustomization" ? 14 + item.name.length : 14 + item.namespace.length + 1 + item.name.length)));
  for (const group of report.phases) {
    lines.push("", paint(group.phase, "bold", color));
    for (const item of group.items) lines.push(...itemLines(item, report.head, width, color));
  }
  lines.push("", summary(report, color));
  return lines;
}

function summary(report: StatusReport, color: boolean): string {
  const items = allItems(report);
  if (items.length === 0) return "no Flux Kustomizations with a homelab/phase label found (has Flux applied clusters/<name> yet?)";
  const order: State[] = ["ready", "progressing", "waiting", "failed", "suspended"];
  const counts = order
    .map((state) => [state, items.filter((item) => item.state === state).length] as const)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => paint(`${n} ${state}`, STATE_STYLE[state], color));
  const behind = items.filter((item) => item.atHead === false).length;
  const behindText = behind > 0 ? `; ${behind} Kustomization(s) behind the branch head` : "";
  return `${items.length} objects: ${counts.join(", ")}${behindText}`;
}

/** One line per object whose state changed between two polls of `--wait`. */
export function formatChanges(before: StatusReport, after: StatusReport, options: FormatOptions & { elapsed: string }): string[] {
  const previous = new Map(allItems(before).map((item) => [`${item.kind} ${item.namespace}/${item.name}`, item]));
  const lines: string[] = [];
  if (before.head !== after.head && after.head) lines.push(`[${options.elapsed}] new head ${shortRevision(after.head)}`);
  for (const group of after.phases) {
    for (const item of group.items) {
      const old = previous.get(`${item.kind} ${item.namespace}/${item.name}`);
      if (old && old.state === item.state && old.revision === item.revision) continue;
      const from = old && old.state !== item.state ? `${old.state} → ` : "";
      const why = item.state === "failed" && item.reason ? ` (${item.reason})` : "";
      const moved = old && old.revision !== item.revision ? `, now ${revisionText(item, after.head)}` : "";
      const name = item.kind === "Kustomization" ? `Kustomization ${item.name}` : `HelmRelease ${item.namespace}/${item.name}`;
      lines.push(`[${options.elapsed}] ${group.phase} ${name}: ${from}${paint(item.state, STATE_STYLE[item.state], options.color)}${why}${moved}`);
    }
  }
  return lines;
}
