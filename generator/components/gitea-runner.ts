// The Gitea Actions runner (apps.gitea.runner): act_runner with a Docker-in-Docker sidecar, as
// plain objects. Deviation from "its own chart": the `actions` chart's source could not be read
// at any version, and a values key that cannot be verified is not set; these objects are
// checked against the Kubernetes models instead.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { HomelabConfig } from "../config/schema.ts";
import { yamlText } from "../render/yaml.ts";
import { catalog } from "../catalog.ts";
import { dataVolume, TRUSTED_CA } from "../render/kube.ts";
import { GITEA_INTERNAL_URL } from "./flux.ts";
import type { KubeObject, SecretSpec } from "./types.ts";

/** The global registration token: Gitea reads it from GITEA_RUNNER_REGISTRATION_TOKEN, the runner registers with it. */
export const RUNNER_TOKEN_SECRET: SecretSpec = {
  name: "gitea-runner-token",
  namespace: "gitea",
  // Gitea wants at least 32 random characters.
  data: { token: { generated: "gitea.runnerToken", form: "hex" } },
};

const NAME = "gitea-runner";
const CONFIG = "gitea-runner-config";


function runnerConfig(): IConfigMap {
  const config = {
    log: { level: "info" },
    runner: {
      file: "/data/.runner",
      capacity: 1,
      // `runs-on: ubuntu-latest` jobs run in Debian with Node (actions need it) and apt.
      labels: [`ubuntu-latest:docker://${catalog.images.actionsJob}`],
      // Jobs call Gitea's HTTPS address (checkout, the API, the registry): trust the internal CA.
      envs: { NODE_EXTRA_CA_CERTS: `${TRUSTED_CA.mountPath}/${TRUSTED_CA.key}`, GIT_SSL_CAINFO: `${TRUSTED_CA.mountPath}/${TRUSTED_CA.key}` },
    },
    container: {
      // The image workflow builds the OS image with buildah inside the job container. Only this
      // repository's own workflows run here.
      privileged: true,
      // The path is the Docker daemon's (the dind sidecar mounts the CA there).
      options: `-v ${TRUSTED_CA.mountPath}:${TRUSTED_CA.mountPath}:ro`,
      valid_volumes: [TRUSTED_CA.mountPath],
    },
  };
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: CONFIG, namespace: "gitea" }, data: { "config.yaml": yamlText(config) } };
}

function runnerStatefulSet(): IStatefulSet {
  const labels = { "app.kubernetes.io/name": NAME };
  const certs = { name: "docker-certs", mountPath: "/certs" };
  const ca = { name: "homelab-ca", mountPath: TRUSTED_CA.mountPath, readOnly: true };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: NAME, namespace: "gitea", labels },
    spec: {
      serviceName: NAME,
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          // The Docker daemon as a native sidecar: it starts before the runner and stops after it.
          initContainers: [
            {
              name: "docker",
              image: catalog.images.dind,
              restartPolicy: "Always",
              // Docker-in-Docker needs it; this pod runs only this repository's own workflows.
              securityContext: { privileged: true },
              env: [{ name: "DOCKER_TLS_CERTDIR", value: "/certs" }],
              volumeMounts: [certs, ca, { name: "docker-data", mountPath: "/var/lib/docker" }],
              startupProbe: { exec: { command: ["docker", "info"] }, periodSeconds: 2, failureThreshold: 60 },
            },
          ],
          containers: [
            {
              name: "runner",
              image: catalog.images.actRunner,
              env: [
                { name: "GITEA_INSTANCE_URL", value: GITEA_INTERNAL_URL },
                { name: "GITEA_RUNNER_REGISTRATION_TOKEN", valueFrom: { secretKeyRef: { name: RUNNER_TOKEN_SECRET.name, key: "token" } } },
                { name: "GITEA_RUNNER_NAME", value: NAME },
                { name: "CONFIG_FILE", value: "/config/config.yaml" },
                { name: "DOCKER_HOST", value: "tcp://localhost:2376" },
                { name: "DOCKER_CERT_PATH", value: "/certs/client" },
                { name: "DOCKER_TLS_VERIFY", value: "1" },
              ],
              volumeMounts: [certs, { name: "data", mountPath: "/data" }, { name: "config", mountPath: "/config", readOnly: true }],
            },
          ],
          volumes: [
            { name: "docker-certs", emptyDir: {} },
            { name: "docker-data", emptyDir: {} },
            { name: "config", configMap: { name: CONFIG } },
            { name: "homelab-ca", configMap: { name: TRUSTED_CA.configMap } },
            // The registration (.runner) survives restarts, so the runner does not register again.
            { name: "data", persistentVolumeClaim: { claimName: `${NAME}-data` } },
          ],
        },
      },
    },
  };
}

export function giteaRunnerObjects(config: HomelabConfig): Record<string, KubeObject[]> {
  return {
    config: [runnerConfig()],
    volume: [dataVolume(config, { name: `${NAME}-data`, namespace: "gitea", size: "1Gi" })],
    runner: [runnerStatefulSet()],
  };
}
