// Ignore files for what reads the tree besides kustomize build.
//
// The root .sourceignore: source-controller packs the repository into each revision's artifact
// minus what this file excludes (gitignore syntax, read from the repository root; its patterns
// may re-include the default exclusions: fluxcd/source-controller v1.9.1
// docs/spec/v1/gitrepositories.md, "Excluding files" and "Default exclusions"). Everything but
// the folders Flux Kustomizations apply is left out: the generator, tests, docs, the image and
// the first-boot seed, which Flux must never apply.
//
// <sync path>/.krmignore: flux-local starts with `kustomize cfg grep` over the sync path, and
// flate walks every file under its --path; both honour a .krmignore there (gitignore syntax:
// kubernetes-sigs/kustomize kyaml/kio/ignorefilesmatcher.go; home-operations/flate README,
// "Scoping the scan"). The seed's copies of Gitea's objects would otherwise look like a second,
// orphaned Gitea.
import type { Plan } from "../plan.ts";
import { HEADER } from "./yaml.ts";
import type { GeneratedFile } from "../writer.ts";

export function sourceIgnoreFile(plan: Plan, seedPath: string): GeneratedFile {
  // The top-level folders the sync path and the units live in; gitignore re-includes a folder
  // with "!/name/" after "/*" excluded every top-level entry.
  const tops = [...new Set([plan.clusterPath, ...plan.units.map((unit) => unit.path)].map((path) => path.split("/")[0]))].sort();
  const lines = [
    HEADER,
    "# Flux packs only what it applies (see docs/flux-tools.md).",
    "/*",
    ...tops.map((top) => `!/${top}/`),
    // The seed sits under the sync path's folder but is applied only by the first boot.
    `/${seedPath}/`,
  ];
  return { path: ".sourceignore", content: `${lines.join("\n")}\n` };
}

export function krmIgnoreFile(plan: Plan, seedPath: string): GeneratedFile {
  const seed = seedPath.slice(plan.clusterPath.length + 1);
  return { path: `${plan.clusterPath}/.krmignore`, content: `${HEADER}\n# The first-boot seed: applied by the bootstrap, never by Flux (see docs/flux-tools.md).\n/${seed}/\n` };
}
