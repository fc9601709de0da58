#!/usr/bin/env node
// Runs the TypeScript sources directly: Node 24 strips the types, so there is no build step.
// The compile cache keeps V8's compiled modules on disk, which halves start-up time.
import module from "node:module";

module.enableCompileCache?.();
const { main } = await import("../generator/cli.ts");
process.exitCode = await main(process.argv.slice(2));
