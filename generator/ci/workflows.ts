// In-cluster CI: the Gitea Actions workflows, generated like the rest of the tree. Their
// steps are the commands the README documents.
import { yamlFile } from "../render/yaml.ts";
import type { GeneratedFile } from "../writer.ts";
import type { HomelabConfig } from "../config/schema.ts";

/** What the tests need from the system (the same list as .ci/run). */
export const SYSTEM_PACKAGES = ["unzip", "git", "ca-certificates", "age", "openssl"];

export function workflowFiles(config: HomelabConfig): GeneratedFile[] {
  const pullRequest = {
    name: "pull request",
    on: { pull_request: { branches: [config.git.branch] } },
    jobs: {
      check: {
        "runs-on": "ubuntu-latest",
        steps: [
          // The whole history: the render-diff compares with the base branch.
          { uses: "actions/checkout@v4", with: { "fetch-depth": 0 } },
          // Job containers may run as root (no sudo) or as a user with sudo.
          {
            name: "system packages",
            run: `SUDO=$(command -v sudo || true); $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends ${SYSTEM_PACKAGES.join(" ")}`,
          },
          { name: "npm ci", run: "npm ci" },
          { name: "the committed tree is current", run: "npm run generate -- --check" },
          { name: "npm test", run: "npm test" },
          {
            name: "render-diff",
            env: { HOMELAB_KUBECTL: "node_modules/.cache/homelab-tools/kubectl/kubectl" },
            run: "npm run -s diff -- --base origin/${{ gitea.base_ref }} --output diff-full.md > diff.md",
          },
          {
            name: "post the render-diff on the pull request",
            env: { GITEA_TOKEN: "${{ gitea.token }}" },
            run: "npx homelab pr-comment --file diff.md --api ${{ gitea.server_url }}/api/v1 --repository ${{ gitea.repository }} --pr ${{ gitea.event.pull_request.number }}",
          },
        ],
      },
    },
  };
  return [{ path: ".gitea/workflows/pull-request.yaml", content: yamlFile([pullRequest]) }];
}
