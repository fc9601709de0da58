// The loaded-config cache (generator/config/load-cache.ts): the same text and generator give the
// remembered config; anything else, a damaged cache or a config JSON cannot hold exactly, loads it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { configCacheKey, rememberConfig, rememberedConfig } from "../generator/config/load-cache.ts";
import { loadConfigFile, parseConfig } from "../generator/config/load.ts";
import { minimalConfig, tempDir, tempRepo } from "./support/render.ts";

const cachePath = () => join(tempDir("homelab-config-cache-"), "config.json");

describe("the loaded-config cache", () => {
  test("a config loads from the cache exactly as it loads from its text, warnings included", () => {
    const text = `${minimalConfig}apps:\n  demo:\n    chart: {repository: https://charts.example.com, name: demo, version: 1.0.0}\n    values: {a: "on", b: 1.5}\n`;
    const loaded = parseConfig(text);
    const path = cachePath();
    const key = configCacheKey(text, "homelab.yaml");
    rememberConfig(key, loaded.config, loaded.warnings, path);
    const remembered = rememberedConfig(key, path);
    expect(remembered?.config).toEqual(loaded.config);
    expect(remembered?.warnings).toEqual(loaded.warnings);
    expect(remembered?.warnings.length).toBeGreaterThan(0);
  });

  test("another text, or the same text under another file name, is another key", () => {
    const path = cachePath();
    const key = configCacheKey(minimalConfig, "homelab.yaml");
    rememberConfig(key, parseConfig(minimalConfig).config, [], path);
    expect(rememberedConfig(configCacheKey(`${minimalConfig}# edited\n`, "homelab.yaml"), path)).toBeUndefined();
    expect(rememberedConfig(configCacheKey(minimalConfig, "other.yaml"), path)).toBeUndefined();
    expect(rememberedConfig(key, path)).toBeDefined();
  });

  test("a damaged or hand-edited cache is not used", () => {
    const path = cachePath();
    const key = configCacheKey(minimalConfig, "homelab.yaml");
    rememberConfig(key, parseConfig(minimalConfig).config, [], path);
    const text = readFileSync(path, "utf8");
    writeFileSync(path, text.slice(0, -10));
    expect(rememberedConfig(key, path)).toBeUndefined();
    writeFileSync(path, JSON.stringify(JSON.parse(text), null, 2));
    expect(rememberedConfig(key, path)).toBeUndefined();
  });

  test("a config holding what JSON cannot (.inf, -0) is never cached", () => {
    const path = cachePath();
    for (const value of [".inf", "-.inf", ".nan", "-0"]) {
      const text = `${minimalConfig}apps:\n  demo:\n    chart: {repository: https://charts.example.com, name: demo, version: 1.0.0}\n    values: {x: ${value}}\n`;
      const key = configCacheKey(text, "homelab.yaml");
      rememberConfig(key, parseConfig(text).config, [], path);
      expect(rememberedConfig(key, path), value).toBeUndefined();
    }
  });

  test("a config loaded twice from its file is the same both times, and later errors still carry positions", () => {
    const { configPath } = tempRepo(`${minimalConfig}apps:\n  demo:\n    chart: {repository: https://charts.example.com, name: demo, version: 1.0.0}\n`);
    const path = cachePath();
    const first = loadConfigFile(configPath, path);
    expect(rememberedConfig(configCacheKey(readFileSync(configPath, "utf8"), "homelab.yaml"), path)).toBeDefined();
    const second = loadConfigFile(configPath, path);
    expect(second.config).toEqual(first.config);
    expect(second.locate(["apps", "demo", "chart", "version"])).toEqual(first.locate(["apps", "demo", "chart", "version"]));
    expect(second.locate(["apps", "demo", "chart", "version"])).toEqual({ line: 9, col: 74 });
  });
});
