import type { Homelab } from "../catalog/resolve";
import { renderHostBundles } from "./nixos";
import { renderPlan } from "./plan";
import { stableJson } from "./stable";

/** Where the hosts' bundles sit inside out/<stack>/: one folder per host, by name. */
export const HOSTS_DIR = "hosts";

/** The folder of one host's bundle inside out/<stack>/. */
export function hostBundleDir(host: string): string {
  return `${HOSTS_DIR}/${host}/nixos`;
}

/**
 * Every file the offline plan writes to out/<stack>/, by relative path.
 * `hosts/<name>/nixos/` is the bundle that host receives, byte for byte, one
 * per host (a stack without homelab:hosts has one, named after its mDNS
 * name). `pulumi up` pushes the same maps.
 */
export function renderOutputs(lab: Homelab): Map<string, string> {
  const files = new Map<string, string>();
  files.set("plan.json", stableJson(renderPlan(lab)));
  for (const [host, bundle] of renderHostBundles(lab)) {
    for (const [path, content] of bundle) files.set(`${hostBundleDir(host)}/${path}`, content);
  }
  return files;
}

/** One host's bundle out of `renderOutputs(lab)`, with its folder taken off: what that host receives. */
export function hostBundleFromOutputs(outputs: ReadonlyMap<string, string>, host: string): Map<string, string> {
  const prefix = `${hostBundleDir(host)}/`;
  const bundle = new Map<string, string>();
  for (const [path, content] of outputs) {
    if (path.startsWith(prefix)) bundle.set(path.slice(prefix.length), content);
  }
  return bundle;
}
