// Runs before each Renovate run (an init container): makes sure the Gitea user Renovate acts
// as exists with the password from the secret store and may write to the repository, then
// creates a fresh access token and leaves it in TOKEN_FILE. Gitea makes tokens itself, so the
// store keeps the user's password and the token lives only as long as the pod.
import { writeFileSync } from "node:fs";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const api = env("GITEA_URL").replace(/\/$/, "") + "/api/v1";
const admin = [env("ADMIN_USER"), env("ADMIN_PASSWORD")];
const bot = [env("BOT_USER"), env("BOT_PASSWORD")];
const [owner, repository] = env("REPOSITORY").split("/");
const TOKEN_NAME = "renovate";

async function call(method, path, credentials, body) {
  const response = await fetch(api + path, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(credentials.join(":")).toString("base64")}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok && response.status !== 404) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  return response.status === 404 ? undefined : response.status === 204 ? {} : response.json();
}

const user = { login_name: bot[0], source_id: 0, password: bot[1], must_change_password: false };
if (await call("GET", `/users/${bot[0]}`, admin)) {
  // The password in the store wins (it may have been rotated).
  await call("PATCH", `/admin/users/${bot[0]}`, admin, user);
} else {
  await call("POST", "/admin/users", admin, { ...user, username: bot[0], email: env("BOT_EMAIL"), full_name: "Renovate" });
}
await call("PUT", `/repos/${owner}/${repository}/collaborators/${bot[0]}`, admin, { permission: "write" });
for (const token of (await call("GET", `/users/${bot[0]}/tokens`, bot)) ?? []) {
  if (token.name === TOKEN_NAME) await call("DELETE", `/users/${bot[0]}/tokens/${token.id}`, bot);
}
const created = await call("POST", `/users/${bot[0]}/tokens`, bot, {
  name: TOKEN_NAME,
  // What Renovate's Gitea platform needs: repositories, pull requests and issues, labels.
  scopes: ["write:repository", "write:issue", "read:user", "read:organization"],
});
writeFileSync(env("TOKEN_FILE"), created.sha1, { mode: 0o600 });
console.log(`token for ${bot[0]} ready`);
