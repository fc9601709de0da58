// The render-diff as Markdown (a pull-request comment) or plain text (a terminal). Markdown
// stays under the size a comment can take: the summary is always whole, object diffs are cut
// with a note, and --output keeps the full diff.
import type { ComponentChange, TreeDiff } from "./compare.ts";
import type { ReleaseRender } from "./helm.ts";

export const COMMENT_LIMIT = 60_000;

function describe(change: ComponentChange): string[] {
  const parts: string[] = [];
  if (change.versions.length > 0) parts.push(change.versions.join(", "));
  if (change.charts.length > 0) parts.push(`chart ${change.charts.join(", ")}`);
  if (change.values.length > 0) parts.push(`values: ${change.values.slice(0, 8).join(", ")}${change.values.length > 8 ? `, and ${change.values.length - 8} more` : ""}`);
  if (change.valuesFrom.length > 0) parts.push(`values from ${change.valuesFrom.join("; ")}`);
  if (change.added.length > 0) parts.push(`added ${change.added.join(", ")}`);
  if (change.removed.length > 0) parts.push(`removed ${change.removed.join(", ")}`);
  if (change.dependsOnAdded.length > 0) parts.push(`now waits for ${change.dependsOnAdded.join(", ")}`);
  if (change.dependsOnRemoved.length > 0) parts.push(`no longer waits for ${change.dependsOnRemoved.join(", ")}`);
  if (change.reencrypted.length > 0) parts.push(`re-encrypted ${change.reencrypted.join(", ")} (a value or the recipients changed; \`sops -d\` shows them)`);
  return parts;
}

/** --helm: per release, how many rendered objects change and what the render could not show. */
function renderParts(renders: readonly ReleaseRender[]): string[] {
  return renders.map((r) => {
    const notes = r.notes.length > 0 ? ` (${r.notes.join("; ")})` : "";
    return r.failure === undefined ? `${r.release} renders ${r.objects.length} changed object(s)${notes}` : `${r.release} not rendered: ${r.failure}${notes}`;
  });
}

function summaryLines(diff: TreeDiff, bullet: string, code: (s: string) => string): string[] {
  const lines = diff.warnings.map((w) => `${bullet}warning: ${w}`);
  const renders = diff.renders ?? [];
  const units = new Set(diff.components.map((c) => c.unit));
  for (const change of diff.components) {
    const status = change.status === "changed" ? "" : ` (${change.status === "added" ? "new" : "removed"})`;
    const parts = [...describe(change), ...renderParts(renders.filter((r) => r.unit === change.unit))];
    lines.push(`${bullet}${code(change.unit)}${status}${parts.length > 0 ? `: ${parts.join("; ")}` : ""}`);
  }
  // A release whose inputs changed through another unit only (e.g. a values ConfigMap it holds).
  for (const unit of [...new Set(renders.map((r) => r.unit))].filter((u) => !units.has(u)).sort()) {
    lines.push(`${bullet}${code(unit)}: ${renderParts(renders.filter((r) => r.unit === unit)).join("; ")}`);
  }
  return lines;
}

interface Block {
  readonly key: string;
  readonly unit: string;
  readonly patch: string;
}

/** Rendered objects as diff blocks, named by the release that makes them. */
function renderBlocks(diff: TreeDiff): Block[] {
  return (diff.renders ?? []).flatMap((r) => r.objects.map((o) => ({ key: `${o.key} (rendered by ${r.release})`, unit: r.unit, patch: o.patch })));
}

/** `staleTree`: the tree does not match homelab.yaml (see diff/command.ts); said first, changes or not. */
export function formatDiff(diff: TreeDiff, options: { base: string; format: "markdown" | "text"; limit?: number; staleTree?: string }): string {
  const stale = options.staleTree === undefined ? "" : options.format === "markdown" ? `> **Warning:** ${options.staleTree}\n\n` : `warning: ${options.staleTree}\n`;
  if (diff.objects.length === 0) return options.format === "markdown" ? `### homelab diff against \`${options.base}\`\n\n${stale}No changes.\n` : `${stale}homelab diff: no changes\n`;
  const rendered = renderBlocks(diff);
  if (options.format === "text") {
    return [
      `${stale}homelab diff against ${options.base}`,
      "",
      ...summaryLines(diff, "  ", (s) => s),
      "",
      ...rendered.map((o) => `== ${o.key} (${o.unit})\n${o.patch}\n`),
      ...diff.objects.map((o) => `== ${o.key} (${o.unit})\n${o.patch}\n`),
    ].join("\n");
  }
  const limit = options.limit ?? COMMENT_LIMIT;
  const head = [
    `### homelab diff against \`${options.base}\``,
    "",
    `${stale}${diff.objects.length} object(s) change in ${diff.components.length} component(s).`,
    "",
    ...summaryLines(diff, "- ", (s) => `\`${s}\``),
    "",
  ].join("\n");
  const cutNote = (key: string) => `\n_${key}: diff cut to fit a comment; \`npm run diff -- --base ${options.base} --output FILE\` writes it whole._\n`;
  // Room kept for the closing note on left-out objects.
  const budget = limit - head.length - 400;
  let body = "";
  let leftOut = 0;
  // What the charts make of the change first (the reason for --helm), then the tree's own objects.
  const sections: [string, readonly Block[]][] = [["#### Rendered by helm", rendered], ["#### Objects", diff.objects]];
  for (const [title, blocks] of sections.filter(([, blocks]) => blocks.length > 0)) {
    if (budget - body.length > title.length + 3) body += `\n${title}\n\n`;
    for (const object of blocks) {
      const block = `<details><summary><code>${object.key}</code> (${object.unit})</summary>\n\n\`\`\`diff\n${object.patch.replace(/\`\`\`/g, "\`\u200b\`\`")}\n\`\`\`\n</details>\n\n`;
      const room = budget - body.length;
      if (block.length <= room) {
        body += block;
        continue;
      }
      const note = cutNote(object.key);
      if (room < note.length + 400) {
        leftOut++;
        continue;
      }
      let kept = "";
      for (const line of object.patch.split("\n")) {
        if (kept.length + line.length + note.length + 150 > room) break;
        kept += `${line}\n`;
      }
      body += `<details><summary><code>${object.key}</code> (${object.unit})</summary>\n\n\`\`\`diff\n${kept}\`\`\`\n</details>\n${note}\n`;
    }
  }
  if (leftOut > 0) body += `_${leftOut} more object diff(s) left out to fit a comment; \`npm run diff -- --base ${options.base} --output FILE\` writes them all._\n`;
  return head + body;
}
