// In-cluster CI: the Gitea Actions workflows, generated like the rest of the tree. Their
// steps are the commands the README documents.
import { yamlFile } from "../render/yaml.ts";
import type { GeneratedFile } from "../writer.ts";
import type { HomelabConfig } from "../config/schema.ts";
import { registryHost } from "../nodes/cluster.ts";
import { TRUSTED_CA } from "../render/kube.ts";

/** What the tests need from the system (the same list as .ci/run). */
export const SYSTEM_PACKAGES = ["git", "ca-certificates", "age", "openssl", "buildah", "podman", "busybox-static", "shellcheck", "systemd", "curl", "bsdutils", "util-linux", "coreutils"];

/** The repository's Actions secrets the image workflow logs in to the registry with (first boot writes them). */
export const REGISTRY_SECRETS = { user: "REGISTRY_USER", token: "REGISTRY_TOKEN" } as const;
/** The name of the admin's package-writing token behind REGISTRY_TOKEN. */
export const REGISTRY_TOKEN_NAME = "image-workflow";

/** Job containers may run as root (no sudo) or as a user with sudo. */
const apt = (packages: readonly string[]) =>
  `SUDO=$(command -v sudo || true); $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends ${packages.join(" ")}`;

/**
 * On main, when the image's sources change: build every variant and push it to the registry
 * nodes follow (bootc upgrade). Gitea's job token cannot push packages, so the credentials are
 * the repository's Actions secrets REGISTRY_USER and REGISTRY_TOKEN (first boot sets them).
 */
function imageWorkflow(config: HomelabConfig) {
  const host = registryHost(config);
  return {
    name: "OS image",
    on: { push: { branches: [config.git.branch], paths: ["image/**", "certs/**"] } },
    jobs: {
      image: {
        "runs-on": "ubuntu-latest",
        steps: [
          // The whole history: the image carries the repository as a git bundle.
          { uses: "actions/checkout@v4", with: { "fetch-depth": 0 } },
          { name: "system packages", run: apt(["git", "ca-certificates", "buildah", "podman"]) },
          { name: "npm ci", run: "npm ci" },
          {
            name: "trust the internal CA for the registry",
            run: `SUDO=$(command -v sudo || true); $SUDO mkdir -p /etc/containers/certs.d/${host} && $SUDO cp ${TRUSTED_CA.mountPath}/${TRUSTED_CA.key} /etc/containers/certs.d/${host}/ca.crt`,
          },
          {
            name: "log in to the registry",
            env: { REGISTRY_USER: `\${{ secrets.${REGISTRY_SECRETS.user} }}`, REGISTRY_TOKEN: `\${{ secrets.${REGISTRY_SECRETS.token} }}` },
            run: `printf '%s' "$REGISTRY_TOKEN" | buildah login --username "$REGISTRY_USER" --password-stdin ${host}`,
          },
          // Inside a job container: chroot isolation and the vfs driver need no extra mounts.
          { name: "build and push every variant", env: { BUILDAH_ISOLATION: "chroot", STORAGE_DRIVER: "vfs" }, run: "npm run image:build -- --push" },
        ],
      },
    },
  };
}

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
          {
            name: "system packages",
            run: apt(SYSTEM_PACKAGES),
          },
          { name: "npm ci", run: "npm ci" },
          { name: "the committed tree is current", run: "npm run generate -- --check" },
          // Every tool is installed above: a test that would skip fails instead (test/support/requires.ts).
          { name: "npm test", env: { HOMELAB_TEST_REQUIRE_TOOLS: "1" }, run: "npm test" },
          // The pinned kubectl and helm `npm test` unpacked; --helm renders the changed charts too.
          {
            name: "render-diff",
            env: { HOMELAB_KUBECTL: "node_modules/.cache/homelab-tools/kubectl/kubectl", HOMELAB_HELM: "node_modules/.cache/homelab-tools/helm/helm" },
            run: "npm run -s diff -- --base origin/${{ gitea.base_ref }} --helm --output diff-full.md > diff.md",
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
  return [
    { path: ".gitea/workflows/pull-request.yaml", content: yamlFile([pullRequest]) },
    { path: ".gitea/workflows/image.yaml", content: yamlFile([imageWorkflow(config)]) },
  ];
}
