// What first boot says about itself: homelab-bootstrap.service writes the step it is in, and
// what keeps it from going on, to a ConfigMap (image/templates/bootstrap.sh.hbs, publish). Until
// Flux is installed that is all there is to show; afterwards a stuck step explains a tree that
// does not move.
import type { CoreV1Api } from "@kubernetes/client-node";
import { BOOTSTRAP_STATUS, FLUX_NAMESPACE } from "../render/flux.ts";
import { statusCode } from "./kube.ts";

/** The line to show for the ConfigMap's data, or undefined once first boot is complete. */
function firstBootText(data: Readonly<Record<string, string>> | undefined): string | undefined {
  const step = data?.["step"];
  if (!step || step === "complete") return undefined;
  const problem = data?.["problem"];
  return problem ? `first boot is stuck in step ${step}: ${problem}` : `first boot is in step ${step}`;
}

/** Reads the ConfigMap; none (a cluster set up without the bootstrap, or not yet) says nothing. */
export async function readFirstBoot(core: CoreV1Api): Promise<string | undefined> {
  try {
    const configMap = await core.readNamespacedConfigMap({ name: BOOTSTRAP_STATUS, namespace: FLUX_NAMESPACE });
    return firstBootText(configMap.data);
  } catch (error) {
    if (statusCode(error) === 404) return undefined;
    throw error;
  }
}
