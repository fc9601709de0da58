// Phase 6, optional (apps.renovate): Renovate as a CronJob against the in-cluster Gitea. The
// repository's renovate.json says what to update; pull requests get the render-diff comment
// like any other. Plain objects: Renovate has no chart of its own worth pinning for a CronJob.
import { readFileSync } from "node:fs";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { ICronJob } from "kubernetes-models/batch/v1/CronJob";
import { catalog } from "../catalog.ts";
import { namespace } from "../render/kube.ts";
import { GITEA_INTERNAL_URL } from "./flux.ts";
import { GITEA_ADMIN_USER } from "./gitea.ts";
import type { Component } from "./types.ts";

const NAMESPACE = "renovate";
const SECRET = "renovate-gitea";
const SCRIPTS = "renovate-scripts";
const BOT_USER = "renovate";
const TOKEN_FILE = "/token/token";

const tokenScript = readFileSync(new URL("./renovate/gitea-token.mjs", import.meta.url), "utf8");

export const renovate: Component = {
  name: "renovate",
  phase: 6,
  enabled: (config) => config.apps.renovate.enabled,
  render({ config }) {
    const repository = `${config.git.owner}/${config.git.repository}`;
    const scripts: IConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: SCRIPTS, namespace: NAMESPACE },
      data: { "gitea-token.mjs": tokenScript },
    };
    const fromSecret = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: SECRET, key } } });
    const cronJob: ICronJob = {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "renovate", namespace: NAMESPACE },
      spec: {
        schedule: config.apps.renovate.schedule,
        timeZone: config.cluster.timezone,
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: 1,
            template: {
              spec: {
                restartPolicy: "Never",
                initContainers: [
                  {
                    name: "gitea-token",
                    image: catalog.images.node,
                    command: ["node", "/scripts/gitea-token.mjs"],
                    env: [
                      { name: "GITEA_URL", value: GITEA_INTERNAL_URL },
                      { name: "REPOSITORY", value: repository },
                      { name: "BOT_USER", value: BOT_USER },
                      { name: "BOT_EMAIL", value: `${BOT_USER}@${config.cluster.domain}` },
                      { name: "TOKEN_FILE", value: TOKEN_FILE },
                      fromSecret("ADMIN_USER", "admin-username"),
                      fromSecret("ADMIN_PASSWORD", "admin-password"),
                      fromSecret("BOT_PASSWORD", "bot-password"),
                    ],
                    volumeMounts: [
                      { name: "scripts", mountPath: "/scripts", readOnly: true },
                      { name: "token", mountPath: "/token" },
                    ],
                  },
                ],
                containers: [
                  {
                    name: "renovate",
                    image: catalog.images.renovate,
                    // The token is made by the init container, so it reaches Renovate through a file.
                    command: ["sh", "-c", `RENOVATE_TOKEN="$(cat ${TOKEN_FILE})" exec renovate`],
                    env: [
                      { name: "RENOVATE_PLATFORM", value: "gitea" },
                      // Gitea's in-cluster address needs no DNS or CA trust; clones use it too (gitUrl: endpoint).
                      { name: "RENOVATE_ENDPOINT", value: `${GITEA_INTERNAL_URL}/api/v1` },
                      { name: "RENOVATE_GIT_URL", value: "endpoint" },
                      { name: "RENOVATE_REPOSITORIES", value: repository },
                      // The repository carries its renovate.json (the generator writes it).
                      { name: "RENOVATE_ONBOARDING", value: "false" },
                      { name: "RENOVATE_REQUIRE_CONFIG", value: "required" },
                      { name: "RENOVATE_GIT_AUTHOR", value: `Renovate <${BOT_USER}@${config.cluster.domain}>` },
                      { name: "LOG_LEVEL", value: "info" },
                    ],
                    volumeMounts: [{ name: "token", mountPath: "/token", readOnly: true }],
                  },
                ],
                volumes: [
                  { name: "scripts", configMap: { name: SCRIPTS } },
                  { name: "token", emptyDir: { medium: "Memory" } },
                ],
              },
            },
          },
        },
      },
    };
    return {
      units: [
        {
          name: "renovate",
          path: "apps/renovate",
          files: { namespace: [namespace(NAMESPACE)], scripts: [scripts], "cron-job": [cronJob] },
          needs: ["git-server"],
          secrets: [
            {
              name: SECRET,
              namespace: NAMESPACE,
              data: {
                // The same store values the gitea-admin Secret holds.
                "admin-username": { literal: GITEA_ADMIN_USER },
                "admin-password": { generated: "gitea.adminPassword" },
                "bot-password": { generated: "renovate.giteaPassword" },
              },
            },
          ],
        },
      ],
    };
  },
};
