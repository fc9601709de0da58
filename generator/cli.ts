// The homelab command line. Scripts and CI rely on its flags and exit codes:
// 0 success, 1 a problem the user can fix (printed without a stack trace), 2 a bug.
import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseCommandArgs } from "./args.ts";
import { formatDiagnostic, UserError } from "./errors.ts";
import { fileSystemError } from "./fs-errors.ts";

const usage = `Usage: homelab <command> [options]

Commands:
  generate            write the tree for homelab.yaml
      --config FILE   the config (default ./homelab.yaml); its folder is the repository
      --out DIR       where the tree goes (default: the repository)
      --check         change nothing; exit 1 and list stale, missing or extra files and wrong modes
      --regenerate NAME   make a new value for a generated secret that committed Secrets use (repeatable)
  ca rotate --yes     replace the internal CA with a new one (devices and nodes must trust the new root)
  init                make this repository your own: homelab.yaml, an age key, the internal CA
      --name NAME --domain DOMAIN --owner OWNER   (asked for when missing)
  secrets set NAME    store a secret you supply (read from stdin, not echoed), e.g. longhorn.backup.accessKeyId
      --force         replace a value homelab generated (asks you to type yes; --yes when not on a terminal)
  secrets list        every secret: whether it is set and which Secret uses it (never values)
  secrets verify      decrypt every stored value with your age key (never shown): proves a restored key
      --config FILE   as for generate
  diff --base REF     what a change does: the tree at REF against the working tree
      --format markdown|text   (default markdown, for a pull-request comment)
      --output FILE   also write the whole diff, never cut, to FILE
      --helm          also render changed HelmReleases with helm template and diff what they make
      warns (stderr and the report) when homelab.yaml was edited but not generated
  status              what Flux has applied, by phase (Ready / progressing / failed / waiting on what)
      --kubeconfig FILE --wait   (--wait: exit 0 when all are Ready at the head)
      --timeout 15m   how long the whole command may take (default 15m with --wait, else 30s)
  smoke               check a live cluster's milestones (nodes, pod, Longhorn volume, HTTPS, Grafana)
      --kubeconfig FILE --config FILE
      --timeout 10m   how long the milestones may take (default 10m); the clean-up may take 30s more
  pr-comment          post (or update) the render-diff comment on a Gitea pull request (CI)
      --file FILE --api URL --repository OWNER/NAME --pr N   (token from GITEA_TOKEN)
  node-config NAME    the host files node NAME needs at install (unit, k3s drop-in with the join token,
                      registry credentials; the age key for the first server), outside git
      --out DIR       where to write them (default ~/homelab-node-NAME; never inside the repository)
      --config FILE   as for generate
  image-build         bundle the repository and build every image variant (buildah or podman)
      --push          also push the images to image.registry (tags: the commit and latest)
      --tool buildah|podman   (default: whichever is installed)
      --variant NAME  build one variant only (homelab, nvidia)
      --config FILE   as for generate
  schema              write schemas/homelab.schema.json (editor completion)
      --out FILE      where to write it
      --precompiled   also write the config validator and the templates, precompiled (homelab's developers)
  help                this text
`;

async function runDiff(args: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args,
    options: { base: { type: "string" }, config: { type: "string", default: "homelab.yaml" }, format: { type: "string", default: "markdown" }, output: { type: "string" }, helm: { type: "boolean", default: false } },
    strict: true,
  });
  if (!values.base) throw new UserError("diff needs --base REF (a branch, tag or commit)");
  if (values.format !== "markdown" && values.format !== "text") throw new UserError(`--format is markdown or text, not "${values.format}"`);
  const { diffCommand } = await import("./diff/command.ts");
  const warn = (message: string) => console.error(`homelab: warning: ${message}`);
  process.stdout.write(await diffCommand({ configPath: values.config, base: values.base, format: values.format, output: values.output, helm: values.helm, warn }));
  return 0;
}

async function runStatus(args: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args,
    options: { kubeconfig: { type: "string" }, wait: { type: "boolean", default: false }, timeout: { type: "string" } },
    strict: true,
  });
  const { statusCommand } = await import("./status/command.ts");
  const { useColor } = await import("./status/format.ts");
  const { parseDuration } = await import("./status/kube.ts");
  return statusCommand({
    kubeconfig: values.kubeconfig,
    wait: values.wait,
    timeoutMs: values.timeout === undefined ? undefined : parseDuration(values.timeout),
    color: useColor(process.stdout),
    out: (line) => console.log(line),
  });
}

async function runSmoke(args: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args,
    options: { kubeconfig: { type: "string" }, config: { type: "string", default: "homelab.yaml" }, timeout: { type: "string", default: "10m" } },
    strict: true,
  });
  const { smokeCommand } = await import("./smoke/command.ts");
  const { smokeInputs } = await import("./smoke/inputs.ts");
  const { parseDuration } = await import("./status/kube.ts");
  return smokeCommand({ kubeconfig: values.kubeconfig, ...smokeInputs(values.config), timeoutMs: parseDuration(values.timeout), out: (line) => console.log(line) });
}

async function runPrComment(args: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args,
    options: { file: { type: "string" }, api: { type: "string" }, repository: { type: "string" }, pr: { type: "string" } },
    strict: true,
  });
  const token = process.env.GITEA_TOKEN;
  if (!values.file || !values.api || !values.repository || !values.pr || !/^\d+$/.test(values.pr)) {
    throw new UserError("pr-comment needs --file FILE --api URL --repository OWNER/NAME --pr NUMBER");
  }
  if (!token) throw new UserError("pr-comment needs the job's token in GITEA_TOKEN");
  const { upsertPrComment } = await import("./ci/pr-comment.ts");
  const done = await upsertPrComment({ file: values.file, api: values.api, repository: values.repository, pullRequest: Number(values.pr), token });
  console.log(`homelab: render-diff comment ${done}`);
  return 0;
}

async function runInit(args: string[]): Promise<number> {
  const { values } = parseCommandArgs({ args, options: { name: { type: "string" }, domain: { type: "string" }, owner: { type: "string" }, dir: { type: "string", default: "." } }, strict: true });
  const { init } = await import("./init.ts");
  console.log(await init({ dir: values.dir, name: values.name, domain: values.domain, owner: values.owner }));
  return 0;
}

async function runSecrets(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args,
    options: { config: { type: "string", default: "homelab.yaml" }, force: { type: "boolean", default: false }, yes: { type: "boolean", default: false } },
    allowPositionals: true,
    strict: true,
  });
  const [action, name, ...rest] = positionals;
  const { setSecret, listSecrets, verifySecrets } = await import("./secrets/commands.ts");
  const usage = "usage: homelab secrets set NAME [--force [--yes]] | homelab secrets list | homelab secrets verify  [--config FILE]";
  if (action === "set" && name && rest.length === 0) {
    console.log(await setSecret(values.config, name, { force: values.force, yes: values.yes }));
    return 0;
  }
  if (action !== "list" && action !== "verify") throw new UserError(usage);
  if (name) throw new UserError(`secrets ${action} takes no name ("${name}"); ${usage}`);
  const setOnly = (["force", "yes"] as const).filter((flag) => values[flag]);
  if (setOnly.length > 0) throw new UserError(`${setOnly.map((flag) => `--${flag}`).join(" and ")} belong${setOnly.length > 1 ? "" : "s"} to \`secrets set\`, not \`secrets ${action}\``);
  console.log(action === "list" ? await listSecrets(values.config) : await verifySecrets(values.config));
  return 0;
}

async function runGenerate(args: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args,
    options: {
      config: { type: "string", default: "homelab.yaml" },
      out: { type: "string" },
      check: { type: "boolean", default: false },
      regenerate: { type: "string", multiple: true, default: [] },
    },
    strict: true,
  });
  const started = performance.now();
  const options = { configPath: values.config, outDir: values.out, regenerate: values.regenerate };
  const elapsed = () => `${Math.round(performance.now() - started)} ms`;
  if (values.check && values.regenerate.length > 0) throw new UserError("--check changes nothing: it cannot --regenerate");
  if (values.check) {
    const { check } = await import("./generate.ts");
    const { result, warnings } = await check(options);
    printWarnings(warnings);
    const problems = [
      ...result.stale.map((p) => `stale:   ${p}`),
      ...result.missing.map((p) => `missing: ${p}`),
      ...result.extra.map((p) => `extra:   ${p}`),
      ...result.mode.map((p) => `mode:    ${p} (its executable bit differs from the tree's)`),
    ];
    if (problems.length === 0) {
      console.log(`homelab: the tree is current (${elapsed()})`);
      return 0;
    }
    console.error(`${problems.join("\n")}\nhomelab: the tree is out of date: run \`npm run generate\` and commit the result (${elapsed()})`);
    return 1;
  }
  if (values.regenerate.length === 0) {
    // Nothing read or written since the last run changed: done, without loading the pipeline.
    const { unchangedSinceLastRun } = await import("./up-to-date.ts");
    const same = unchangedSinceLastRun(values.config, resolve(values.out ?? dirname(resolve(values.config))));
    if (same) {
      for (const warning of same.warnings) console.error(warning);
      console.log(`homelab: 0 written, ${same.unchanged} unchanged, 0 removed in ${elapsed()}`);
      return 0;
    }
  }
  const { generate } = await import("./generate.ts");
  const generated = await generate(options);
  printGenerated(generated);
  console.log(summaryLine(generated.result, elapsed()));
  return 0;
}

type Generated = Awaited<ReturnType<typeof import("./generate.ts").generate>>;

/** Warnings, a recovered interruption, and every path removed or kept, before the summary. */
function printGenerated({ warnings, result, recovered }: Generated): void {
  printWarnings(warnings);
  if (recovered) console.error(`homelab: an interrupted run was ${recovered === "finished" ? "finished" : "undone"} first`);
  for (const { path, reason } of result.kept) console.error(`homelab: warning: kept ${path}, which the config no longer produces: ${reason}`);
  for (const path of result.removed) console.log(`removed: ${path}`);
}

function summaryLine(result: Generated["result"], elapsed: string): string {
  const created = result.state.length > 0 ? `, ${result.state.length} secret(s) and CA file(s) created` : "";
  return `homelab: ${result.written.length} written, ${result.unchanged.length} unchanged, ${result.removed.length} removed${created} in ${elapsed}`;
}

async function runCa(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args,
    options: { config: { type: "string", default: "homelab.yaml" }, yes: { type: "boolean", default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.join(" ") !== "rotate") throw new UserError("usage: homelab ca rotate --yes [--config FILE]");
  if (!values.yes) {
    throw new UserError(
      "ca rotate replaces the internal CA: every certificate is issued anew, and every device, browser and node must trust the new root (the OS image carries it: rebuild and upgrade the nodes). Run it again with --yes to go ahead (docs/safety.md)",
    );
  }
  const started = performance.now();
  const { generate } = await import("./generate.ts");
  const generated = await generate({ configPath: values.config, rotateCa: true });
  printGenerated(generated);
  console.log(summaryLine(generated.result, `${Math.round(performance.now() - started)} ms`));
  console.log(
    `homelab: a new internal CA is in ${generated.result.state.filter((p) => p.startsWith("certs/")).join(", ")}. Commit, let Flux roll it out, rebuild the image (npm run image:build) and trust the new root on your devices.`,
  );
  return 0;
}

async function runSchema(args: string[]): Promise<number> {
  // TypeBox builds the schema; only this command pays for loading it.
  const { schemaJson } = await import("./config/schema-json.ts");
  const { values } = parseCommandArgs({ args, options: { out: { type: "string", default: "schemas/homelab.schema.json" }, precompiled: { type: "boolean", default: false } }, strict: true });
  const target = resolve(values.out);
  const schema = schemaJson();
  try {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, schema);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EISDIR") throw new UserError(`--out ${values.out} is a folder: give the path of the schema file, e.g. ${join(values.out, "homelab.schema.json")}`);
    throw fileSystemError(error, target);
  }
  console.log(`homelab: wrote ${values.out}`);
  if (values.precompiled) {
    const { validatorSource, VALIDATOR_PATH } = await import("./config/validator-source.ts");
    writeFileSync(resolve(import.meta.dirname, "..", VALIDATOR_PATH), validatorSource(JSON.parse(schema) as object));
    console.log(`homelab: wrote ${VALIDATOR_PATH}`);
    const { precompiledTemplatesSource } = await import("./templates.ts");
    writeFileSync(join(import.meta.dirname, "templates.generated.js"), precompiledTemplatesSource());
    console.log("homelab: wrote generator/templates.generated.js");
  }
  return 0;
}

function printWarnings(warnings: readonly Parameters<typeof formatDiagnostic>[0][]): void {
  for (const warning of warnings) console.error(formatDiagnostic(warning, "warning"));
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case "generate":
        return await runGenerate(args);
      case "secrets":
        return await runSecrets(args);
      case "ca":
        return await runCa(args);
      case "init":
        return await runInit(args);
      case "diff":
        return await runDiff(args);
      case "pr-comment":
        return await runPrComment(args);
      case "status":
        return await runStatus(args);
      case "smoke":
        return await runSmoke(args);
      case "node-config":
        return await (await import("./nodes/command.ts")).nodeConfigCommand(args);
      case "image-build":
        return await (await import("./image/build-command.ts")).imageBuildCommand(args);
      case "schema":
        return await runSchema(args);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(usage);
        return 0;
      default:
        throw new UserError(`unknown command "${command}"; run \`homelab help\``);
    }
  } catch (error) {
    if (error instanceof UserError) {
      console.error(error.message);
      return 1;
    }
    // A file operation the user can fix (a path in the way, no permission, a full disk), wherever it failed.
    const { syscall, path } = error as NodeJS.ErrnoException;
    const asUserError = syscall !== undefined && path !== undefined ? fileSystemError(error, path) : undefined;
    if (asUserError instanceof UserError) {
      console.error(asUserError.message);
      return 1;
    }
    if (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`homelab: ${error.message}\n\n${usage}`);
      return 1;
    }
    console.error(`homelab: internal error, please report it as a bug:\n${(error as Error).stack ?? String(error)}`);
    return 2;
  }
}
