import type { Homelab } from "../catalog/resolve";

/**
 * The NixOS bundle: the hand-written modules under nixos/ plus the data
 * generated from the catalog, by path relative to the bundle root.
 */
export function renderNixosBundle(_lab: Homelab): Map<string, string> {
  return new Map();
}
