/** apps keys with a built-in definition; any other key under apps is a Helm app. */
export const presetKeys = ["gitea", "vaultwarden", "homeAssistant", "ollama", "renovate"] as const;
