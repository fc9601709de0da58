// The string formats homelab.schema.json names, for the config validator (and for building it).
import { isIPv4, isIPv6 } from "node:net";
import { isCron } from "./cron.ts";

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone !== "" && !/^[+-]/.test(zone);
  } catch {
    return false;
  }
}

export const formats: Readonly<Record<string, (value: string) => boolean>> = { ipv4: isIPv4, ipv6: isIPv6, cron: isCron, timezone: isTimeZone };
