#!/usr/bin/env node
// Runs the TypeScript sources directly: Node 24 strips the types, so there is no build step.
import { main } from "../generator/cli.ts";

process.exitCode = main(process.argv.slice(2));
