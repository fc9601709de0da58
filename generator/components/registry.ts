// Every component, in phase order. Adding a component = one module and one line here.
import type { HomelabConfig } from "../config/schema.ts";
import { genericApps } from "../config/rules.ts";
import { authentik } from "./authentik.ts";
import { barmanCloud } from "./barman-cloud.ts";
import { certManager } from "./cert-manager.ts";
import { cloudnativePg } from "./cloudnative-pg.ts";
import { cloudnativePgMonitoring } from "./cloudnative-pg-monitoring.ts";
import { flux } from "./flux.ts";
import { gitea } from "./gitea.ts";
import { helmApp } from "./helm-app.ts";
import { homeAssistant } from "./home-assistant.ts";
import { k3s } from "./k3s.ts";
import { kured } from "./kured.ts";
import { longhorn } from "./longhorn.ts";
import { monitoring } from "./monitoring.ts";
import { nvidia } from "./nvidia.ts";
import { ollama } from "./ollama.ts";
import { renovate } from "./renovate.ts";
import { stepCa } from "./step-ca.ts";
import type { Component } from "./types.ts";
import { vaultwarden } from "./vaultwarden.ts";

export const platformComponents: readonly Component[] = [flux, k3s, longhorn, cloudnativePg, certManager, barmanCloud, stepCa, monitoring, cloudnativePgMonitoring, kured, authentik, gitea, vaultwarden, homeAssistant, renovate, nvidia, ollama];

/** The components this config deploys: the enabled platform components and one per Helm app. */
export function componentsFor(config: HomelabConfig): Component[] {
  return [...platformComponents.filter((c) => c.enabled(config)), ...genericApps(config).map(([name, app]) => helmApp(name, app))];
}
