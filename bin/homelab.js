#!/usr/bin/env node
// Runs the TypeScript sources directly: Node 24 strips the types, so there is no build step.
// The compile cache keeps V8's compiled modules on disk, which halves start-up time.
// Plain JavaScript that older Nodes can parse: on a Node without type stripping it re-runs
// itself under the Node that `npm ci` put in node_modules, or says which Node to use.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import module from "node:module";
import { fileURLToPath } from "node:url";

if (!process.features.typescript) {
  const projectNode = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  // The marker stops a loop when that Node cannot strip types either (NODE_OPTIONS, say).
  if (existsSync(projectNode) && !process.env.HOMELAB_REEXEC) {
    const env = { ...process.env, HOMELAB_REEXEC: "1" };
    const child = spawnSync(projectNode, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit", env });
    process.exit(child.status ?? 1);
  }
  console.error(
    `homelab: Node ${process.version} cannot run TypeScript sources; homelab needs Node 24 (22.18 or newer works).\n` +
      "  hint: run `npm ci` in the repository (it brings Node 24), then `npx homelab …` or `npm run generate`",
  );
  process.exit(1);
}

module.enableCompileCache?.();
const { main } = await import("../generator/cli.ts");
// Exit as soon as the command is done: a connection the runtime cannot cancel (a TLS handshake
// a silent server never finishes, nodejs/undici#4405) must not keep a finished command alive.
// Writes to pipes and files are synchronous on Linux, so nothing printed is lost.
process.exit(await main(process.argv.slice(2)));
