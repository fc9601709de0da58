// Where things live on a node. The Containerfile, the units, the bootstrap script, node-config
// and the tests all read these, so a path is named once.

/** The repository (history included) as a git bundle: what first boot seeds Gitea with. */
export const REPO_BUNDLE = "/usr/share/homelab/repo/homelab.bundle";
/** Non-secret settings the bootstrap reads (cluster name, git owner/repository/branch, …). */
export const BOOTSTRAP_ENV = "/usr/share/homelab/bootstrap.env";
export const BOOTSTRAP_SCRIPT = "/usr/libexec/homelab/bootstrap";
/** Pinned, checksum-verified tools only the bootstrap uses (outside PATH on purpose). */
export const SOPS_BIN = "/usr/libexec/homelab/sops";
export const HELM_BIN = "/usr/libexec/homelab/helm";
export const K3S_BIN = "/usr/bin/k3s";
/** The cluster's age private key: placed on servers at install time, never in the image. */
export const AGE_KEY = "/etc/homelab/age.key";
/** Where the bootstrap records finished steps (created by tmpfiles.d, survives reboots). */
export const STATE_DIR = "/var/lib/homelab";
/** Folder of the image sources in the repository. */
export const IMAGE_DIR = "image";
/** Where `npm run image:build` writes the bundle before the build copies it in (git-ignored). */
export const BUILD_BUNDLE = "image/build/homelab.bundle";
