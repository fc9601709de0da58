// The pinned version of every chart and binary the generator deploys. Renovate's custom
// managers update this file; homelab.yaml overrides each entry where it has a version key.
// Keep each entry one object literal with double-quoted strings (renovate.json reads it;
// test/renovate.test.ts checks).

export interface ChartSource {
  /** https:// Helm repository or oci:// registry path (without the chart name). */
  readonly repository: string;
  readonly chart: string;
  readonly version: string;
  /** Some publishers tag charts with a leading "v" (cert-manager). */
  readonly versionPrefix?: string;
}

export const catalog = {
  k3s: { version: "v1.36.3+k3s1" },
  flux: { version: "2.9.4" },
  baseImage: "ghcr.io/ublue-os/base-main:44",
  // Bundled in the image for first boot: sops decrypts the seed, helm installs flux-operator.
  sops: { version: "3.13.3" },
  helm: { version: "4.2.3" },
  // Container images the tree runs outside any chart: the Gitea Actions runner, the
  // Vaultwarden image once more for the init container that adds the internal CA to its roots.
  images: {
    actRunner: "docker.io/gitea/act_runner:0.2.12",
    dind: "docker.io/library/docker:28.5-dind",
    // What `runs-on: ubuntu-latest` jobs run in.
    actionsJob: "docker.io/library/node:24-bookworm",
    vaultwarden: "docker.io/vaultwarden/server:1.36.0-alpine",
    // Renovate (apps.renovate) and the Node image its Gitea-token step runs in.
    renovate: "ghcr.io/renovatebot/renovate:44.39.2",
    node: "docker.io/library/node:24-alpine",
  },
  charts: {
    fluxOperator: {
      repository: "oci://ghcr.io/controlplaneio-fluxcd/charts",
      chart: "flux-operator",
      version: "0.58.1",
    },
    longhorn: { repository: "https://charts.longhorn.io", chart: "longhorn", version: "1.12.1" },
    certManager: {
      repository: "https://charts.jetstack.io",
      chart: "cert-manager",
      version: "1.21.1",
      versionPrefix: "v",
    },
    stepCertificates: {
      repository: "https://smallstep.github.io/helm-charts/",
      chart: "step-certificates",
      version: "1.30.0",
    },
    stepIssuer: {
      repository: "https://smallstep.github.io/helm-charts/",
      chart: "step-issuer",
      version: "1.11.0",
    },
    kubePrometheusStack: {
      repository: "https://prometheus-community.github.io/helm-charts",
      chart: "kube-prometheus-stack",
      version: "88.5.3",
    },
    // PostgreSQL for Gitea and Authentik: the operator and its barman-cloud backup plugin.
    cloudnativePg: { repository: "https://cloudnative-pg.github.io/charts", chart: "cloudnative-pg", version: "0.29.0" },
    pluginBarmanCloud: { repository: "https://cloudnative-pg.github.io/charts", chart: "plugin-barman-cloud", version: "0.7.0" },
    // Drains and reboots nodes once they staged a new OS image (kured 1.23.0).
    kured: { repository: "https://kubereboot.github.io/charts", chart: "kured", version: "6.1.0" },
    authentik: { repository: "https://charts.goauthentik.io", chart: "authentik", version: "2026.8.0" },
    gitea: { repository: "https://dl.gitea.com/charts/", chart: "gitea", version: "12.7.0" },
    vaultwarden: {
      repository: "https://guerzon.github.io/vaultwarden",
      chart: "vaultwarden",
      version: "0.43.1",
    },
    nvidiaDevicePlugin: {
      repository: "https://nvidia.github.io/k8s-device-plugin",
      chart: "nvidia-device-plugin",
      version: "0.20.0",
    },
    ollama: { repository: "https://otwld.github.io/ollama-helm/", chart: "ollama", version: "1.77.0" },
    homeAssistant: {
      repository: "https://pajikos.github.io/home-assistant-helm-chart/",
      chart: "home-assistant",
      version: "0.3.72",
    },
  },
} as const satisfies {
  k3s: { version: string };
  flux: { version: string };
  baseImage: string;
  sops: { version: string };
  helm: { version: string };
  images: Record<string, string>;
  charts: Record<string, ChartSource>;
};

export type ChartName = keyof typeof catalog.charts;
