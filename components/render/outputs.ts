import type { Homelab } from "../catalog/resolve";
import { renderNixosBundle } from "./nixos";
import { renderPlan } from "./plan";
import { stableJson } from "./stable";

/** Where the NixOS bundle sits inside out/<stack>/. */
export const BUNDLE_DIR = "nixos";

/**
 * Every file the offline plan writes to out/<stack>/, by relative path.
 * `nixos/` is the bundle the host receives, byte for byte; `pulumi up`
 * pushes the same map.
 */
export function renderOutputs(lab: Homelab): Map<string, string> {
  const files = new Map<string, string>();
  files.set("plan.json", stableJson(renderPlan(lab)));
  for (const [path, content] of renderNixosBundle(lab)) files.set(`${BUNDLE_DIR}/${path}`, content);
  return files;
}
