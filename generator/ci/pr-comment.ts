// `homelab pr-comment`: posts the render-diff on a Gitea pull request as one comment, updated
// (not duplicated) on every push. Gitea's API, with the job's token.
import { readFileSync } from "node:fs";
import { UserError } from "../errors.ts";
import { fileSystemError } from "../fs-errors.ts";

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

/** The URL as it may be printed: without the user and password it may carry. */
function printable(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "--api";
  }
}

async function call(options: PrCommentOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = `${options.api.replace(/\/$/, "")}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { Authorization: `token ${options.token}`, Accept: "application/json", ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (error) {
    // undici says "fetch failed" and keeps the reason (refused, DNS, TLS) in its cause.
    const reason = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new UserError([{ file: printable(url), line: 0, col: 0, path: "", message: `cannot reach Gitea's API: ${reason}`, hint: "check --api (e.g. https://git.example/api/v1) and that Gitea answers from here" }]);
  }
  if (!response.ok) throw new UserError(`Gitea API ${method} ${path}: ${response.status} ${response.statusText}`);
  if (response.status === 204) return undefined;
  try {
    return await response.json();
  } catch {
    throw new UserError([{ file: printable(url), line: 0, col: 0, path: "", message: "Gitea's API answered with something that is not JSON", hint: "is --api Gitea's API root (…/api/v1)?" }]);
  }
}

/** Checked before any request: what would otherwise fail deep inside fetch. */
function checkOptions(options: PrCommentOptions): void {
  let api: URL | undefined;
  try {
    api = new URL(options.api);
  } catch {
    // Reported below.
  }
  if (!api || (api.protocol !== "https:" && api.protocol !== "http:")) throw new UserError(`--api ${api ? `"${printable(options.api)}" ` : ""}is not an http(s) URL, e.g. https://git.example/api/v1`);
  // The token goes in GITEA_TOKEN: fetch refuses a URL with credentials, and they would be printed.
  if (api.username !== "" || api.password !== "") throw new UserError("--api carries a user or password: put the token in GITEA_TOKEN instead");
  if (!/^[\w.-]+\/[\w.-]+$/.test(options.repository)) throw new UserError(`--repository "${options.repository}" is not OWNER/NAME`);
  if (!Number.isSafeInteger(options.pullRequest) || options.pullRequest < 1) throw new UserError(`--pr ${options.pullRequest} is not a pull request number`);
  // A header value cannot hold a line break; never echo the token itself.
  if (/[\r\n\0]/.test(options.token)) throw new UserError("GITEA_TOKEN holds a line break: set it to the token alone");
}

/** Creates or updates the diff comment; returns what it did. */
export async function upsertPrComment(options: PrCommentOptions): Promise<"created" | "updated"> {
  checkOptions(options);
  let report: string;
  try {
    report = readFileSync(options.file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = "pass the report `homelab diff --output FILE` wrote";
    if (code === "ENOENT") throw new UserError([{ file: options.file, line: 0, col: 0, path: "", message: "no such file", hint }]);
    if (code === "EISDIR") throw new UserError([{ file: options.file, line: 0, col: 0, path: "", message: "is a folder, not a report", hint }]);
    throw fileSystemError(error, options.file);
  }
  const body = `${COMMENT_MARKER}\n${report}`;
  const base = `/repos/${options.repository}/issues`;
  // Gitea returns every comment of the issue in one list (no paging on this endpoint).
  const comments = await call(options, "GET", `${base}/${options.pullRequest}/comments`);
  if (!Array.isArray(comments)) throw new UserError(`Gitea API GET ${base}/${options.pullRequest}/comments: expected a list of comments`);
  const ours = (comments as Comment[]).find((c) => typeof c?.body === "string" && c.body.startsWith(COMMENT_MARKER));
  if (ours) {
    await call(options, "PATCH", `${base}/comments/${ours.id}`, { body });
    return "updated";
  }
  await call(options, "POST", `${base}/${options.pullRequest}/comments`, { body });
  return "created";
}
