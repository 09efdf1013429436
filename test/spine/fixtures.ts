import { CATALOG } from "../../components/catalog/services";
import type { ServiceEntry } from "../../components/catalog/types";
import { parseStackConfig, type StackConfig } from "../../components/config/schema";

/** A valid config, as the prod stack file would give it, with overrides. */
export function config(overrides: Record<string, unknown> = {}, stack = "prod"): StackConfig {
  const parsed = parseStackConfig(stack, {
    domain: "javiersc.com",
    lanAddress: "192.0.2.10",
    cloudflareAccountId: "0123456789abcdef0123456789abcdef",
    cloudflareZoneId: "fedcba9876543210fedcba9876543210",
    accessEmails: ["owner@javiersc.com"],
    accessTeamName: "javiersc",
    ...overrides,
  });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

/** The real catalog with one entry changed or added. */
export function catalogWith(id: string, change: Partial<ServiceEntry>): ServiceEntry[] {
  const found = CATALOG.some((e) => e.id === id);
  if (!found) return [...CATALOG, { ...CATALOG.find((e) => e.id === "sonarr")!, id, ...change }];
  return CATALOG.map((e) => (e.id === id ? { ...e, ...change } : e));
}
