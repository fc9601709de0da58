// `homelab pr-comment`: posts the render-diff on a Gitea pull request as one comment, updated
// (not duplicated) on every push. Gitea's API, with the job's token.
import { readFileSync } from "node:fs";
import { UserError } from "../errors.ts";

/** Marks the comment this command owns, so the next push finds and updates it. */
export const COMMENT_MARKER = "<!-- homelab:render-diff -->";

export interface PrCommentOptions {
  /** e.g. https://git.home.arpa/api/v1 */
  readonly api: string;
  /** owner/name */
  readonly repository: string;
  readonly pullRequest: number;
  readonly token: string;
  readonly file: string;
}

interface Comment {
  readonly id: number;
  readonly body: string;
}

async function call(options: PrCommentOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${options.api.replace(/\/$/, "")}${path}`, {
    method,
    headers: { Authorization: `token ${options.token}`, Accept: "application/json", ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new UserError(`Gitea API ${method} ${path}: ${response.status} ${response.statusText}`);
  return response.status === 204 ? undefined : response.json();
}

/** Creates or updates the diff comment; returns what it did. */
export async function upsertPrComment(options: PrCommentOptions): Promise<"created" | "updated"> {
  const body = `${COMMENT_MARKER}\n${readFileSync(options.file, "utf8")}`;
  const base = `/repos/${options.repository}/issues`;
  // Gitea returns every comment of the issue in one list (no paging on this endpoint).
  const comments = (await call(options, "GET", `${base}/${options.pullRequest}/comments`)) as Comment[];
  const ours = comments.find((c) => c.body.startsWith(COMMENT_MARKER));
  if (ours) {
    await call(options, "PATCH", `${base}/comments/${ours.id}`, { body });
    return "updated";
  }
  await call(options, "POST", `${base}/${options.pullRequest}/comments`, { body });
  return "created";
}
