// OS updates without taking the cluster down, rendered into image/rootfs: the staging unit and
// timer that replace the bases' own update timers (masked in the Containerfile), the script
// that stages an image and writes kured's sentinel, the reboot command kured runs on the host,
// k3s's graceful node shutdown, and the SELinux allowance Longhorn's iscsid needs.
import { imageTemplate } from "./template.ts";
import { HEADER, yamlFile } from "../render/yaml.ts";
import type { GeneratedFile } from "../writer.ts";
import { K3S_DATA_DIR, REBOOT_SCRIPT, REBOOT_SENTINEL, rootfsPath, STAGE_SCRIPT, UNIT_DIR } from "./paths.ts";

export const STAGE_SERVICE = "homelab-os-stage.service";
export const STAGE_TIMER = "homelab-os-stage.timer";
/** How often a node looks for a new image after the first look an hour after boot. */
const STAGE_INTERVAL = "6h";

/**
 * The bases' automatic updates. Fedora and CentOS bootc ship bootc-fetch-apply-updates.timer,
 * which runs `bootc upgrade --apply` (a reboot with no drain; bootc-dev/bootc
 * systemd/bootc-fetch-apply-updates.{timer,service}); ublue-os/main enables
 * rpm-ostreed-automatic.timer (build_files/post-install.sh), which stages for whatever reboot
 * comes next. Both are enabled by links in the base image that `disable` does not remove from
 * /usr, so the image masks them.
 */
export const BASE_UPDATE_TIMERS = ["bootc-fetch-apply-updates.timer", "rpm-ostreed-automatic.timer"] as const;

/**
 * k3s starts the kubelet with --config-dir=<data-dir>/agent/etc/kubelet.conf.d (k3s-io/k3s
 * pkg/daemons/agent/agent_linux.go, pkg/agent/config/config.go); the kubelet reads its *.conf
 * files in order. The file lives in the image and is linked in at boot.
 */
const KUBELET_DROP_IN_DIR = `${K3S_DATA_DIR}/agent/etc/kubelet.conf.d`;
export const KUBELET_DROP_IN = `${KUBELET_DROP_IN_DIR}/50-homelab-shutdown.conf`;
export const KUBELET_DROP_IN_SOURCE = "/usr/lib/homelab/kubelet/50-homelab-shutdown.conf";
export const UPDATES_TMPFILES = "/usr/lib/tmpfiles.d/homelab-updates.conf";
export const LOGIND_DROP_IN = "/usr/lib/systemd/logind.conf.d/50-homelab-kubelet.conf";

/**
 * Graceful node shutdown (kubelet shutdownGracePeriod, KubeletConfiguration v1beta1;
 * kubernetes.io/docs/concepts/cluster-administration/node-shutdown): on a reboot the kubelet
 * holds a logind delay inhibitor and stops pods (critical ones last), so Longhorn's engines
 * detach cleanly. logind caps the delay at InhibitDelayMaxSec (5 s by default), and a kubelet
 * whose grace period is longer does not start its shutdown manager at all
 * (kubernetes/kubernetes#102818), hence the logind drop-in above the grace period. The same
 * drop-in works on k3s (k3s-io/k3s discussion #14504).
 */
export const SHUTDOWN_GRACE_SECONDS = 120;
const SHUTDOWN_CRITICAL_SECONDS = 30;

/**
 * Longhorn's iscsid allowance for SELinux-enforcing Fedora-family hosts, which k3s-selinux does
 * not grant: the rule longhorn/longhorn ships as a workaround DaemonSet
 * (deploy/prerequisite/longhorn-iscsi-selinux-workaround.yaml at v1.12.1), installed here as a
 * CIL policy module at build time instead (semodule -i takes CIL directly).
 */
export const LONGHORN_SELINUX_MODULE = "/usr/share/selinux/packages/homelab/longhorn_iscsid.cil";
const LONGHORN_SELINUX_RULE = "(allow iscsid_t self (capability (dac_override)))";

/** Where embedded etcd keeps its data: only a server of several has it. */
const ETCD_DIR = `${K3S_DATA_DIR}/server/db/etcd`;

const templates = {
  service: imageTemplate("homelab-os-stage.service.hbs"),
  timer: imageTemplate("homelab-os-stage.timer.hbs"),
  stage: imageTemplate("stage-update.sh.hbs"),
  reboot: imageTemplate("reboot.sh.hbs"),
  tmpfiles: imageTemplate("updates-tmpfiles.conf.hbs"),
};

const parent = (path: string) => path.slice(0, path.lastIndexOf("/"));

export function updateFiles(): GeneratedFile[] {
  const kubelet = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    shutdownGracePeriod: `${SHUTDOWN_GRACE_SECONDS}s`,
    shutdownGracePeriodCriticalPods: `${SHUTDOWN_CRITICAL_SECONDS}s`,
  };
  return [
    { path: rootfsPath(`${UNIT_DIR}/${STAGE_SERVICE}`), content: templates.service({ header: HEADER, script: STAGE_SCRIPT }) },
    { path: rootfsPath(`${UNIT_DIR}/${STAGE_TIMER}`), content: templates.timer({ header: HEADER, script: STAGE_SCRIPT, interval: STAGE_INTERVAL }) },
    { path: rootfsPath(STAGE_SCRIPT), content: templates.stage({ header: HEADER, sentinel: REBOOT_SENTINEL, sentinelDir: parent(REBOOT_SENTINEL) }), mode: 0o755 },
    { path: rootfsPath(REBOOT_SCRIPT), content: templates.reboot({ header: HEADER, etcdDir: ETCD_DIR }), mode: 0o755 },
    {
      path: rootfsPath(UPDATES_TMPFILES),
      content: templates.tmpfiles({ header: HEADER, sentinelDir: parent(REBOOT_SENTINEL), kubeletDir: KUBELET_DROP_IN_DIR, kubeletLink: KUBELET_DROP_IN, kubeletTarget: KUBELET_DROP_IN_SOURCE }),
    },
    { path: rootfsPath(KUBELET_DROP_IN_SOURCE), content: yamlFile([kubelet]) },
    { path: rootfsPath(LOGIND_DROP_IN), content: `${HEADER}\n# The kubelet's graceful shutdown waits up to ${SHUTDOWN_GRACE_SECONDS} s for pods to stop.\n[Login]\nInhibitDelayMaxSec=${SHUTDOWN_GRACE_SECONDS + 30}\n` },
    { path: rootfsPath(LONGHORN_SELINUX_MODULE), content: `; ${HEADER.slice(2)}\n; Longhorn's iscsid needs dac_override on SELinux-enforcing Fedora-family hosts.\n${LONGHORN_SELINUX_RULE}\n` },
  ];
}
