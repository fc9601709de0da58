// image/install/<node>.toml: the bootc-image-builder config each node is installed with (a disk
// image or the installer ISO): the administrator with its SSH key, in wheel for sudo. Nothing
// secret: passwords stay out (the key is the login), so the files are committed.
//
// One key per user: bootc-image-builder writes `key` into a single kickstart `sshkey` line for the
// ISO, which breaks on a multi-line value (osbuild/bootc-image-builder#1220; osbuild stage
// org.osbuild.kickstart), while disk images append it to authorized_keys as is.
//
// The root filesystem's minimum size (osbuild/bootc-image-builder README.md, "Filesystems":
// `[[customizations.filesystem]]` with mountpoint "/" and minsize; otherwise a disk image's root
// is twice the container's size, a few GiB): what the tree's volumes need (disk.ts). The
// installer ISO lays out the target disk itself and does not read it (bib/cmd/bootc-image-builder
// legacy_iso.go takes users, kernel, FIPS and installer settings): first boot checks the disk.
import { stringify } from "smol-toml";
import type { HomelabConfig } from "../config/schema.ts";
import { clusterNodes, type ClusterNode } from "../nodes/cluster.ts";
import { HEADER } from "../render/yaml.ts";
import type { GeneratedFile } from "../writer.ts";
import { variantRepository } from "./build.ts";
import { imageVariants } from "./containerfile.ts";
import { minimumDiskGiB } from "./disk.ts";
import type { ImageInputs } from "./index.ts";

export const INSTALL_DIR = "image/install";

/** The image a node runs and follows with `bootc upgrade`: GPU nodes take the NVIDIA variant when the config builds one. */
export function nodeImage(config: HomelabConfig, node: ClusterNode): string {
  const variants = imageVariants(config);
  const variant = variants.find((v) => v.name === "nvidia" && node.gpu) ?? variants[0]!;
  return `${variantRepository(config, variant)}:latest`;
}

export function installFiles({ config, plan }: ImageInputs): GeneratedFile[] {
  const { name, sshKey } = config.image.admin;
  const minimum = minimumDiskGiB(config, plan);
  const toml = stringify({
    customizations: {
      user: [{ name, ...(sshKey ? { key: sshKey } : {}), groups: ["wheel"] }],
      filesystem: [{ mountpoint: "/", minsize: `${minimum} GiB` }],
    },
  });
  return clusterNodes(config).map((node) => ({
    path: `${INSTALL_DIR}/${node.name}.toml`,
    content: [
      HEADER,
      `# bootc-image-builder config for ${node.name} (${node.role}), mounted as /config.toml: the installer ISO`,
      `# (--type anaconda-iso) or a disk image (--type qcow2) of ${nodeImage(config, node)}. See docs/install.md.`,
      `# The root filesystem needs at least ${minimum} GiB (Longhorn keeps the volumes there): a disk image gets it;`,
      "# the installer ISO uses the target disk as it is, and first boot stops, saying so, on a smaller one.",
      ...(sshKey ? [] : ["# No image.admin.sshKey in homelab.yaml: nobody can log in to a node installed from this."]),
      "",
      toml,
    ].join("\n"),
  }));
}
