import { CATALOG } from "../catalog/services";
import { resolveHomelab, type Homelab } from "../catalog/resolve";
import type { ServiceEntry } from "../catalog/types";
import { fromConfigProblems, validateCatalog, ValidationError } from "../catalog/validate";
import { CONFIG_NAMESPACE, parseStackConfig } from "./schema";

export interface LoadedStack {
  lab: Homelab;
  /** Raw values of the secret config keys (the offline plan never reads them). */
  secretKeys: Record<string, string>;
}

/**
 * Validate a stack's config and the catalog together and combine them.
 * `raw` maps full config keys (`homelab:domain`) to values; keys of other
 * namespaces (`cloudflare:apiToken`) belong to providers and are ignored.
 * Throws a ValidationError listing every problem at once.
 */
export function loadStack(stack: string, raw: Record<string, unknown>, catalog: readonly ServiceEntry[] = CATALOG): LoadedStack {
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const [ns, ...rest] = key.split(":");
    if (ns === CONFIG_NAMESPACE && rest.length > 0) own[rest.join(":")] = value;
  }
  const parsed = parseStackConfig(stack, own);
  if (!parsed.config) throw new ValidationError(stack, fromConfigProblems(parsed.problems));
  const problems = validateCatalog(catalog, parsed.config);
  if (problems.length > 0) throw new ValidationError(stack, problems);
  return { lab: resolveHomelab(catalog, parsed.config), secretKeys: parsed.secretKeys };
}
