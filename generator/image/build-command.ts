// `homelab image-build`: bundle the repository (history included) where the Containerfile
// copies it from, then build every image variant with buildah or podman, and push on request.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { parseCommandArgs } from "../args.ts";
import { loadConfigFile } from "../config/load.ts";
import { UserError } from "../errors.ts";
import { imageTags } from "./build.ts";
import { CONTAINERFILE, imageVariants } from "./containerfile.ts";
import { BUILD_BUNDLE } from "./paths.ts";

const BUILDERS = ["buildah", "podman"] as const;
type Builder = (typeof BUILDERS)[number];

function onPath(command: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function chooseBuilder(requested: string | undefined): Builder {
  if (requested !== undefined) {
    const builder = BUILDERS.find((name) => name === requested);
    if (!builder) throw new UserError(`--tool is buildah or podman, not "${requested}"`);
    if (!onPath(builder)) throw new UserError(`${builder} is not installed (not found on PATH)`);
    return builder;
  }
  const found = BUILDERS.find(onPath);
  if (!found) throw new UserError("image-build needs buildah or podman, and neither is on PATH: install one (e.g. `dnf install buildah`)");
  return found;
}

function git(repoDir: string, args: string[]): string {
  const result = spawnSync("git", args, { cwd: repoDir, encoding: "utf8" });
  if (result.error) throw new UserError(`image-build needs git: ${result.error.message}`);
  if (result.status !== 0) throw new UserError(`git ${args.join(" ")} failed in ${repoDir}:\n${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** Runs a builder command with its output on the terminal; false when it fails. */
function run(builder: Builder, args: string[], cwd: string): boolean {
  console.log(`homelab: ${builder} ${args.join(" ")}`);
  const result = spawnSync(builder, args, { cwd, stdio: "inherit" });
  return result.status === 0;
}

export async function imageBuildCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args,
    options: {
      config: { type: "string", default: "homelab.yaml" },
      push: { type: "boolean", default: false },
      tool: { type: "string" },
      variant: { type: "string" },
    },
    strict: true,
  });
  const configPath = resolve(values.config);
  const repoDir = dirname(configPath);
  const { config } = loadConfigFile(configPath);
  const variants = imageVariants(config).filter((variant) => values.variant === undefined || variant.name === values.variant);
  if (variants.length === 0) {
    const known = imageVariants(config).map((variant) => variant.name);
    throw new UserError(`no image variant "${values.variant}": this config builds ${known.join(", ")}`);
  }
  if (!existsSync(join(repoDir, CONTAINERFILE))) throw new UserError(`${CONTAINERFILE} is missing: run \`npm run generate\` first`);
  const builder = chooseBuilder(values.tool);

  // The bundle is the whole git repository: Gitea is seeded with it, so it must be this one.
  if (realpathSync(git(repoDir, ["rev-parse", "--show-toplevel"])) !== realpathSync(repoDir)) {
    throw new UserError(`${repoDir} is not the top of its git repository: the image embeds the whole repository`);
  }
  const commit = git(repoDir, ["rev-parse", "--short", "HEAD"]);
  if (git(repoDir, ["status", "--porcelain"]) !== "") {
    // Fine for trying things out; but the image's files come from the working tree while its
    // tag and its embedded bundle name the commit.
    console.error(`homelab: warning: the working tree has uncommitted changes; the images are tagged ${commit} but include them (the embedded repository does not)`);
  }
  // The folder ignores itself, so the bundle never lands in a commit (or in the next bundle).
  mkdirSync(join(repoDir, dirname(BUILD_BUNDLE)), { recursive: true });
  writeFileSync(join(repoDir, dirname(BUILD_BUNDLE), ".gitignore"), "*\n");
  git(repoDir, ["bundle", "create", BUILD_BUNDLE, "--all"]);
  git(repoDir, ["bundle", "verify", "--quiet", BUILD_BUNDLE]);
  console.log(`homelab: bundled the repository at ${commit} into ${BUILD_BUNDLE}`);

  const built: string[] = [];
  for (const variant of variants) {
    const tags = imageTags(config, variant, commit);
    const buildArgs = ["build", "--layers", "-f", CONTAINERFILE, "--target", variant.stage, ...tags.flatMap((tag) => ["-t", tag]), "."];
    if (!run(builder, buildArgs, repoDir)) {
      console.error(`homelab: building the ${variant.name} image failed`);
      return 1;
    }
    built.push(...tags);
  }
  if (values.push) {
    for (const tag of built) {
      if (!run(builder, ["push", tag], repoDir)) {
        console.error(`homelab: pushing ${tag} failed (log in first: \`${builder} login ${tag.split("/")[0]}\`)`);
        return 1;
      }
    }
  }
  console.log(`homelab: ${values.push ? "built and pushed" : "built"} ${built.join(", ")}`);
  return 0;
}
