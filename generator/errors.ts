// Errors a user can act on. The CLI prints these without a stack trace and exits 1; anything
// else that escapes is a bug.

export interface Diagnostic {
  readonly file: string;
  /** 1-based; 0 when the problem has no place in the file. */
  readonly line: number;
  readonly col: number;
  /** Dotted key path, e.g. cluster.nodes[0].name; empty for the whole document. */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

export function formatDiagnostic(d: Diagnostic, severity: "error" | "warning" = "error"): string {
  const place = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  const label = severity === "warning" ? " warning:" : "";
  const where = d.path ? ` ${d.path}:` : "";
  const hint = d.hint ? `\n  hint: ${d.hint}` : "";
  return `${place}:${label}${where} ${d.message}${hint}`;
}

/** A problem in the user's config or repository, reported as one or more diagnostics. */
export class UserError extends Error {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[] | string) {
    // The same problem found twice (say, by several files under one folder) is said once.
    const list =
      typeof diagnostics === "string"
        ? [{ file: "homelab", line: 0, col: 0, path: "", message: diagnostics }]
        : [...new Map(diagnostics.map((d) => [formatDiagnostic(d), d])).values()];
    super(list.map((d) => formatDiagnostic(d)).join("\n"));
    this.name = "UserError";
    this.diagnostics = list;
  }
}
