// A stand-in Gitea on 127.0.0.1 for the bootstrap and Renovate tests: the API endpoints they use,
// answered with the JSON Gitea 1.27 returns (field names and order of its Go structs, the status
// codes of its routes), every call recorded; and git over smart HTTP served by the real
// `git http-backend` (CGI) from bare repositories, so a push is a real push. Basic auth with a
// user's password or `Authorization: token …` as Gitea takes them.
// Facts from go-gitea/gitea: routers/api/v1/api.go (routes, reqSelfOrAdmin +
// reqBasicOrRevProxyAuth on /users/{u}/tokens), routers/api/v1/org/team.go (CreateTeam: 201,
// units_map), routers/api/v1/user/app.go (token `sha1`, DELETE by name), modules/structs.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface GiteaCall {
  readonly method: string;
  readonly path: string;
  /** Who the request authenticated as ("" when anonymous), and how. */
  readonly user: string;
  readonly auth: "basic" | "token" | "none";
  readonly body: unknown;
  readonly status: number;
}

interface User {
  readonly id: number;
  readonly login: string;
  password: string;
  readonly admin: boolean;
  readonly email: string;
  readonly mustChangePassword: boolean;
}
interface Org {
  readonly id: number;
  readonly name: string;
  readonly visibility: string;
}
interface Team {
  readonly id: number;
  readonly org: string;
  readonly name: string;
  readonly permission: string;
  readonly unitsMap: Record<string, string>;
  readonly members: Set<string>;
  readonly repos: Set<string>;
}
interface Token {
  readonly id: number;
  readonly user: string;
  readonly name: string;
  readonly sha1: string;
  readonly scopes: readonly string[];
}

export interface Faults {
  /** "METHOD /path" (the API path after /api/v1) → how many more such calls answer 500. */
  readonly failures: Map<string, number>;
}

export interface FakeGitea {
  readonly url: string;
  readonly calls: GiteaCall[];
  readonly orgs: Map<string, Org>;
  readonly repos: Map<string, { readonly id: number; readonly private: boolean; readonly defaultBranch: string }>;
  readonly users: Map<string, User>;
  readonly teams: Team[];
  readonly tokens: Token[];
  /** Collaborators per repository (owner/name → user → permission). */
  readonly collaborators: Map<string, Map<string, string>>;
  /** Actions secrets per repository (owner/name → NAME → value). */
  readonly actionsSecrets: Map<string, Map<string, string>>;
  readonly faults: Faults;
  /** The bare repository behind owner/name. */
  repositoryPath(owner: string, name: string): string;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body?: unknown) => {
  res.writeHead(status, { "content-type": "application/json;charset=utf-8" });
  res.end(body === undefined ? "" : JSON.stringify(body));
};

export async function startFakeGitea(options: { root: string; admin: { username: string; password: string } }): Promise<FakeGitea> {
  let nextId = 1;
  const users = new Map<string, User>([[options.admin.username, { id: nextId++, login: options.admin.username, password: options.admin.password, admin: true, email: "admin@home.arpa", mustChangePassword: false }]]);
  const orgs = new Map<string, Org>();
  const repos = new Map<string, { id: number; private: boolean; defaultBranch: string }>();
  const teams: Team[] = [];
  const tokens: Token[] = [];
  const actionsSecrets = new Map<string, Map<string, string>>();
  const collaborators = new Map<string, Map<string, string>>();
  const calls: GiteaCall[] = [];
  const faults: Faults = { failures: new Map() };
  let url = "";
  const repositoryPath = (owner: string, name: string) => join(options.root, owner, `${name}.git`);

  const userJson = (u: User) => ({ id: u.id, login: u.login, login_name: "", source_id: 0, full_name: "", email: u.email, avatar_url: "", html_url: `${url}/${u.login}`, language: "", is_admin: u.admin, active: true, prohibit_login: false, restricted: false, visibility: "public", username: u.login });
  const orgJson = (o: Org) => ({ id: o.id, name: o.name, full_name: "", email: "", avatar_url: "", description: "", website: "", location: "", visibility: o.visibility, repo_admin_change_team_access: false, username: o.name });
  const teamJson = (t: Team) => ({
    id: t.id,
    name: t.name,
    description: "",
    organization: orgJson(orgs.get(t.org) as Org),
    includes_all_repositories: false,
    permission: t.permission,
    units: Object.keys(t.unitsMap),
    units_map: t.unitsMap,
    can_create_org_repo: false,
  });
  const repoJson = (full: string) => {
    const [owner = "", name = ""] = full.split("/");
    const repo = repos.get(full);
    return { id: repo?.id, owner: orgJson(orgs.get(owner) as Org), name, full_name: full, private: repo?.private, default_branch: repo?.defaultBranch, clone_url: `${url}/${full}.git` };
  };

  /** The user a request authenticates as, or undefined for bad credentials. */
  function authenticate(req: IncomingMessage): { user: string; auth: GiteaCall["auth"]; token?: Token } | undefined {
    const header = req.headers.authorization ?? "";
    if (!header) return { user: "", auth: "none" };
    const basic = /^Basic (.+)$/.exec(header);
    if (basic) {
      const [login, ...rest] = Buffer.from(basic[1] ?? "", "base64").toString("utf8").split(":");
      const user = users.get(login ?? "");
      return user && user.password === rest.join(":") ? { user: user.login, auth: "basic" } : undefined;
    }
    const token = /^token ([0-9a-f]+)$/.exec(header);
    const found = tokens.find((t) => t.sha1 === token?.[1]);
    return found ? { user: found.user, auth: "token", token: found } : undefined;
  }

  /** Whether a user may read a repository: site admin, or a member of a team that has it. */
  const canRead = (user: string, full: string) => users.get(user)?.admin === true || teams.some((t) => t.members.has(user) && t.repos.has(full) && t.unitsMap["repo.code"] !== undefined);

  function api(req: IncomingMessage, res: ServerResponse, path: string, body: any, who: NonNullable<ReturnType<typeof authenticate>>): number {
    const send = (status: number, payload?: unknown) => {
      json(res, status, payload);
      return status;
    };
    const missing = () => send(404, { errors: null, message: "The target couldn't be found.", url: `${url}/api/swagger` });
    const admin = users.get(who.user)?.admin === true;
    const m = (pattern: RegExp) => pattern.exec(path);
    const method = req.method ?? "GET";
    let match: RegExpExecArray | null;

    if (method === "GET" && path === "/version") return send(200, { version: "1.27.0" });
    if (!who.user) return send(401, { message: "token is required", url: `${url}/api/swagger` });
    if (who.token && !who.token.scopes.includes("read:repository") && path.startsWith("/repos/")) return send(403, { message: "token does not have at least one of required scope(s): [read:repository]" });

    if ((match = m(/^\/orgs\/([^/]+)$/)) && method === "GET") {
      const org = orgs.get(match[1] ?? "");
      return org ? send(200, orgJson(org)) : missing();
    }
    if (path === "/orgs" && method === "POST") {
      if (orgs.has(body.username) || users.has(body.username)) return send(422, { message: "user already exists [name: " + body.username + "]" });
      const org: Org = { id: nextId++, name: body.username, visibility: body.visibility ?? "public" };
      orgs.set(org.name, org);
      // Every organisation starts with its Owners team.
      teams.push({ id: nextId++, org: org.name, name: "Owners", permission: "owner", unitsMap: { "repo.code": "admin" }, members: new Set([who.user]), repos: new Set() });
      return send(201, orgJson(org));
    }
    if ((match = m(/^\/repos\/([^/]+)\/([^/]+)$/)) && method === "GET") {
      const full = `${match[1]}/${match[2]}`;
      return repos.has(full) && canRead(who.user, full) ? send(200, repoJson(full)) : missing();
    }
    if ((match = m(/^\/orgs\/([^/]+)\/repos$/)) && method === "POST") {
      const owner = match[1] ?? "";
      if (!orgs.has(owner)) return missing();
      const full = `${owner}/${body.name}`;
      if (repos.has(full)) return send(409, { message: "The repository with the same name already exists." });
      // Gitea makes the bare repository before it answers 201.
      const bare = repositoryPath(owner, body.name);
      mkdirSync(join(options.root, owner), { recursive: true });
      if (spawnSync("git", ["init", "--quiet", "--bare", bare]).status !== 0) return send(500, { message: `git init ${bare} failed` });
      repos.set(full, { id: nextId++, private: body.private === true, defaultBranch: body.default_branch ?? "main" });
      return send(201, repoJson(full));
    }
    if ((match = m(/^\/admin\/users\/([^/]+)$/)) && method === "PATCH") {
      if (!admin) return send(403, { message: "You have no permission to request for this." });
      const user = users.get(match[1] ?? "");
      if (!user) return missing();
      if (body.password) user.password = body.password;
      return send(200, userJson(user));
    }
    if ((match = m(/^\/repos\/([^/]+\/[^/]+)\/collaborators\/([^/]+)$/)) && method === "PUT") {
      const full = match[1] ?? "";
      if (!admin) return send(403, { message: "reqAdmin" });
      if (!repos.has(full) || !users.has(match[2] ?? "")) return missing();
      collaborators.set(full, new Map([...(collaborators.get(full) ?? []), [match[2] ?? "", body.permission]]));
      return send(204);
    }
    if ((match = m(/^\/users\/([^/]+)$/)) && method === "GET") {
      const user = users.get(match[1] ?? "");
      return user ? send(200, userJson(user)) : missing();
    }
    if (path === "/admin/users" && method === "POST") {
      if (!admin) return send(403, { message: "You have no permission to request for this." });
      if (users.has(body.username) || orgs.has(body.username)) return send(422, { message: "user already exists [name: " + body.username + "]" });
      const user: User = { id: nextId++, login: body.username, password: body.password, admin: false, email: body.email, mustChangePassword: body.must_change_password !== false };
      users.set(user.login, user);
      return send(201, userJson(user));
    }
    if ((match = m(/^\/orgs\/([^/]+)\/teams$/)) && method === "GET") {
      if (!orgs.has(match[1] ?? "")) return missing();
      return send(200, teams.filter((t) => t.org === match?.[1]).map(teamJson));
    }
    if ((match = m(/^\/orgs\/([^/]+)\/teams$/)) && method === "POST") {
      const org = match[1] ?? "";
      if (!orgs.has(org)) return missing();
      if (teams.some((t) => t.org === org && t.name === body.name)) return send(422, { message: "team already exists" });
      const team: Team = { id: nextId++, org, name: body.name, permission: body.permission, unitsMap: body.units_map ?? {}, members: new Set(), repos: new Set() };
      teams.push(team);
      return send(201, teamJson(team));
    }
    if ((match = m(/^\/teams\/(\d+)\/members\/([^/]+)$/))) {
      const team = teams.find((t) => t.id === Number(match?.[1]));
      const login = match[2] ?? "";
      if (!team || !users.has(login)) return missing();
      if (method === "GET") return team.members.has(login) ? send(200, userJson(users.get(login) as User)) : missing();
      if (method === "PUT") {
        team.members.add(login);
        return send(204);
      }
    }
    if ((match = m(/^\/teams\/(\d+)\/repos\/([^/]+)\/([^/]+)$/))) {
      const team = teams.find((t) => t.id === Number(match?.[1]));
      const full = `${match[2]}/${match[3]}`;
      if (!team || !repos.has(full)) return missing();
      if (method === "GET") return team.repos.has(full) ? send(200, repoJson(full)) : missing();
      if (method === "PUT") {
        team.repos.add(full);
        return send(204);
      }
    }
    // routers/api/v1/repo/action.go: names are stored upper-case; PUT answers 201 when created, 204 when updated.
    if ((match = m(/^\/repos\/([^/]+\/[^/]+)\/actions\/secrets(?:\/([^/]+))?$/))) {
      const full = match[1] ?? "";
      if (!repos.has(full)) return missing();
      if (!admin) return send(403, { message: "reqOwner" });
      const secrets = actionsSecrets.get(full) ?? new Map<string, string>();
      actionsSecrets.set(full, secrets);
      if (method === "GET" && !match[2]) return send(200, [...secrets.keys()].map((name) => ({ name, created_at: "2026-01-01T00:00:00Z" })));
      if (method === "PUT" && match[2]) {
        const name = match[2].toUpperCase();
        const existed = secrets.has(name);
        secrets.set(name, body.data);
        return send(existed ? 204 : 201);
      }
    }
    if ((match = m(/^\/users\/([^/]+)\/tokens(?:\/([^/]+))?$/))) {
      const login = match[1] ?? "";
      // reqSelfOrAdmin + reqBasicOrRevProxyAuth: a token cannot make tokens.
      if (who.auth !== "basic") return send(401, { message: "auth required" });
      if (who.user !== login && !admin) return send(403, { message: "Only the user or an admin may do this." });
      const name = match[2];
      if (method === "GET" && !name) return send(200, tokens.filter((t) => t.user === login).map((t) => ({ id: t.id, name: t.name, scopes: t.scopes, token_last_eight: t.sha1.slice(-8) })));
      if (method === "DELETE" && name) {
        // Gitea takes the token's id or, failing that, its name.
        const index = tokens.findIndex((t) => t.user === login && (String(t.id) === name || t.name === decodeURIComponent(name)));
        if (index < 0) return missing();
        tokens.splice(index, 1);
        return send(204);
      }
      if (method === "POST" && !name) {
        if (tokens.some((t) => t.user === login && t.name === body.name)) return send(400, { message: "access token name has been used already" });
        const token: Token = { id: nextId++, user: login, name: body.name, sha1: randomBytes(20).toString("hex"), scopes: body.scopes ?? [] };
        tokens.push(token);
        return send(201, { id: token.id, name: token.name, sha1: token.sha1, token_last_eight: token.sha1.slice(-8) });
      }
    }
    return missing();
  }

  /** git smart HTTP through the real git http-backend; push needs write (the site admin). */
  function git(req: IncomingMessage, res: ServerResponse, who: NonNullable<ReturnType<typeof authenticate>>, target: URL, body: Buffer, done: (status: number) => void): void {
    const full = /^\/([^/]+\/[^/]+)\.git\//.exec(target.pathname)?.[1] ?? "";
    const pushing = target.searchParams.get("service") === "git-receive-pack" || target.pathname.endsWith("/git-receive-pack");
    if (!who.user) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="Gitea"' });
      res.end();
      done(401);
      return;
    }
    if (!repos.has(full) || !canRead(who.user, full) || (pushing && users.get(who.user)?.admin !== true)) {
      res.writeHead(404);
      res.end();
      done(404);
      return;
    }
    const child = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: options.root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: target.pathname,
        QUERY_STRING: target.search.slice(1),
        REQUEST_METHOD: req.method,
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        CONTENT_LENGTH: String(body.length),
        REMOTE_USER: who.user,
        REMOTE_ADDR: "127.0.0.1",
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
      },
    });
    const out: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.resume();
    child.on("close", () => {
      const all = Buffer.concat(out);
      const end = all.indexOf("\r\n\r\n") >= 0 ? all.indexOf("\r\n\r\n") + 4 : all.indexOf("\n\n") + 2;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of all.subarray(0, end).toString("utf8").split(/\r?\n/).filter(Boolean)) {
        const [name = "", ...value] = line.split(":");
        if (name.toLowerCase() === "status") status = Number.parseInt(value.join(":").trim(), 10);
        else headers[name] = value.join(":").trim();
      }
      res.writeHead(status, headers);
      res.end(all.subarray(end));
      done(status);
    });
    // git http-backend may answer and exit before reading the whole body (a push it refuses, a
    // fetch it has served): its reply is what counts, and the broken pipe is not a failure.
    child.stdin.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
    child.stdin.end(body);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const target = new URL(req.url ?? "/", "http://127.0.0.1");
      const raw = Buffer.concat(chunks);
      const who = authenticate(req);
      const method = req.method ?? "GET";
      const apiPath = target.pathname.startsWith("/api/v1/") ? target.pathname.slice("/api/v1".length) : undefined;
      let body: unknown = undefined;
      if (apiPath !== undefined && raw.length > 0) {
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch {
          body = raw.toString("utf8");
        }
      }
      const record = (status: number) => calls.push({ method, path: apiPath ?? target.pathname, user: who?.user ?? "", auth: who?.auth ?? "none", body, status });
      if (!who) {
        json(res, 401, { message: "user does not exist [uid: 0, name: ]", url: `${url}/api/swagger` });
        record(401);
        return;
      }
      const fault = `${method} ${apiPath}`;
      const failures = faults.failures.get(fault) ?? 0;
      if (apiPath !== undefined && failures > 0) {
        faults.failures.set(fault, failures - 1);
        json(res, 500, { message: "injected fault", url: `${url}/api/swagger` });
        record(500);
        return;
      }
      if (apiPath !== undefined) record(api(req, res, apiPath, body, who));
      else git(req, res, who, target, raw, record);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeGitea = {
    url,
    calls,
    orgs,
    repos,
    users,
    teams,
    tokens,
    actionsSecrets,
    collaborators,
    faults,
    repositoryPath,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
