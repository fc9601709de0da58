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
/** The image's file overlay in the repository, copied onto / by the Containerfile. */
export const ROOTFS = `${IMAGE_DIR}/rootfs`;
/** Where the image's file at `path` (absolute on a node) lives in the repository. */
export const rootfsPath = (path: string): string => `${ROOTFS}${path}`;
export const UNIT_DIR = "/usr/lib/systemd/system";
/** k3s's own data folder, made at boot like everything under /var. */
export const K3S_DATA_DIR = "/var/lib/rancher/k3s";
/** Where `npm run image:build` writes the bundle before the build copies it in (git-ignored). */
export const BUILD_BUNDLE = "image/build/homelab.bundle";

/**
 * The read-only Gitea user first boot creates: Flux pulls the repository with a token of it,
 * nodes pull the OS image from Gitea's registry with its password. The password is a
 * generated secret, handed to the cluster as the Secret gitea/gitea-reader (keys username,
 * password) and to nodes by node-config.
 */
export const READER_USER = "homelab-reader";
export const READER_PASSWORD_SECRET = "gitea.readerPassword";
export const READER_KUBE_SECRET = { namespace: "gitea", name: "gitea-reader" } as const;
/** The k3s join token (generated secret), written to nodes by node-config. */
export const K3S_TOKEN_SECRET = "k3s.token";
/** Written by the bootstrap when first boot is complete; homelab-bootstrap.service never runs again. */
export const BOOTSTRAP_DONE = `${STATE_DIR}/bootstrap.done`;
/** The admin kubeconfig k3s writes on a server (what the bootstrap's kubectl and helm use). */
export const K3S_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml";

/**
 * k3s reads <config file> and <config file>.d/*.yaml. Servers use the default file, where the
 * image's server flags live (config.yaml.d/00-image.yaml); agents get a file of their own,
 * because `k3s agent` refuses server-only keys such as `disable`.
 */
export const K3S_SERVER_CONFIG = "/etc/rancher/k3s/config.yaml";
export const K3S_AGENT_CONFIG = "/etc/rancher/k3s/agent.yaml";

/**
 * OS updates: the staging unit runs the stage script, which writes the sentinel once an image is
 * staged; kured (its chart mounts the sentinel's folder) then drains the node and runs the
 * reboot script on the host.
 */
export const STAGE_SCRIPT = "/usr/libexec/homelab/stage-update";
export const REBOOT_SCRIPT = "/usr/libexec/homelab/reboot";
export const REBOOT_SENTINEL = "/run/homelab/reboot-required";
