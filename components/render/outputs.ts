import { isMultiHost, type Homelab } from "../catalog/resolve";
import { renderHostBundles, renderNixosBundle } from "./nixos";
import { renderPlan } from "./plan";
import { stableJson } from "./stable";

/** Where the NixOS bundle sits inside out/<stack>/. */
export const BUNDLE_DIR = "nixos";

/** Where each host's bundle sits inside out/<stack>/ in a stack of several hosts. */
export const HOSTS_DIR = "hosts";

/** The folder of one host's bundle inside out/<stack>/. */
export function hostBundleDir(lab: Homelab, host: string): string {
  return isMultiHost(lab) ? `${HOSTS_DIR}/${host}/${BUNDLE_DIR}` : BUNDLE_DIR;
}

/**
 * Every file the offline plan writes to out/<stack>/, by relative path.
 * `nixos/` is the bundle the host receives, byte for byte; with several
 * hosts each has its own, `hosts/<name>/nixos/`. `pulumi up` pushes the
 * same maps.
 */
export function renderOutputs(lab: Homelab): Map<string, string> {
  const files = new Map<string, string>();
  files.set("plan.json", stableJson(renderPlan(lab)));
  if (!isMultiHost(lab)) {
    for (const [path, content] of renderNixosBundle(lab)) files.set(`${BUNDLE_DIR}/${path}`, content);
    return files;
  }
  for (const [host, bundle] of renderHostBundles(lab)) {
    for (const [path, content] of bundle) files.set(`${hostBundleDir(lab, host)}/${path}`, content);
  }
  return files;
}

/** One host's bundle out of `renderOutputs(lab)`, with its folder taken off: what that host receives. */
export function hostBundleFromOutputs(
  lab: Homelab,
  outputs: ReadonlyMap<string, string>,
  host: string,
): Map<string, string> {
  const prefix = `${hostBundleDir(lab, host)}/`;
  const bundle = new Map<string, string>();
  for (const [path, content] of outputs) {
    if (path.startsWith(prefix)) bundle.set(path.slice(prefix.length), content);
  }
  return bundle;
}
