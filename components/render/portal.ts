import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Homelab } from "../catalog/resolve";
import { renderHomepageConfig } from "./homepage";
import { renderNginxSites } from "./nginx";
import { FAVICONS, generatedNote, PORTAL_ID, portalService, proxiedServices } from "./portal-common";
import { generatedHeader, stableJson } from "./stable";

export { FAVICON_PATHS, FAVICONS, PORTAL_ID, dashboardService, portalHostnames, portalService, proxiedServices } from "./portal-common";

/**
 * The portal: nginx on the portal's port (80) in front of the Homepage
 * dashboard and of every routed service, with the Local/Remote toggle, the
 * local icons and the favicon. This module ties the pieces together; the
 * nginx text and the Homepage data are rendered by nginx.ts and homepage.ts.
 */

/** Where the hand-written portal assets live in the repository. */
export const ASSETS_DIR = resolve(__dirname, "..", "..", "assets");

/** Paths of the portal's files inside the NixOS bundle. portal.nix reads the same paths. */
export const PORTAL_FILES = {
  nginx: "generated/nginx-sites.conf",
  homepage: "generated/homepage.json",
  portal: "generated/portal.json",
  customJs: "generated/custom.js",
  webmanifest: "assets/site.webmanifest",
  iconsDir: "assets/icons",
} as const;

/** The hand-written files the portal ships, read from assets/. */
export interface PortalAssets {
  /** SVG icons by file name, from assets/icons/. */
  icons: Map<string, string>;
  /** The toggle script, assets/toggle.js. */
  toggleJs: string;
  /** The PWA manifest, assets/site.webmanifest. */
  webmanifest: string;
}

export function readPortalAssets(dir: string = ASSETS_DIR): PortalAssets {
  const iconsDir = join(dir, "icons");
  const icons = new Map<string, string>();
  for (const name of readdirSync(iconsDir).filter((n) => n.endsWith(".svg")).sort()) {
    icons.set(name, readFileSync(join(iconsDir, name), "utf8"));
  }
  return {
    icons,
    toggleJs: readFileSync(join(dir, "toggle.js"), "utf8"),
    webmanifest: readFileSync(join(dir, "site.webmanifest"), "utf8"),
  };
}

/**
 * The toggle's map from a service's public origin to its LAN URL, for every
 * routed service on the host. Pages sites and unrouted services have no
 * entry, so the toggle leaves their links alone.
 */
export function renderToggleLinks(lab: Homelab): Record<string, string> {
  const links: Record<string, string> = {};
  for (const s of proxiedServices(lab)) {
    if (s.publicHostname && s.localUrl) links[`https://${s.publicHostname}`] = s.localUrl;
  }
  return links;
}

/** What nginx serves as /api/config/custom.js: the generated link map, then the static toggle. */
export function renderCustomJs(lab: Homelab, toggleJs: string): string {
  return (
    generatedHeader("//", "the Local/Remote toggle: the link map, then assets/toggle.js") +
    `window.HOMELAB_LINKS = ${stableJson(renderToggleLinks(lab)).trimEnd()};\n\n` +
    toggleJs
  );
}

/** Data portal.nix needs besides Homepage's: what to render the favicons from, and at which sizes. */
export function renderPortalData(lab: Homelab, assets: PortalAssets) {
  const portal = portalService(lab);
  if (!portal) throw new Error("the stack does not run the portal");
  const icon = portal.entry.icon;
  if (!("file" in icon) || !assets.icons.has(icon.file)) {
    throw new Error(`service "${PORTAL_ID}": the favicon is drawn from its icon, which must be a file in assets/icons/`);
  }
  return {
    _generated: generatedNote("the portal's favicons, read by nixos/modules/portal.nix"),
    faviconSource: icon.file,
    favicons: FAVICONS.map((f) => ({ ...f })),
  };
}

/**
 * The portal's files in the NixOS bundle, by path relative to the bundle root:
 * the generated nginx config, Homepage config, custom.js and portal data, and
 * the static assets the host serves (icons, web manifest). Empty when the
 * stack does not run the portal.
 */
export function renderPortalFiles(lab: Homelab, assets: PortalAssets = readPortalAssets()): Map<string, string> {
  const files = new Map<string, string>();
  if (!portalService(lab)) return files;
  files.set(PORTAL_FILES.nginx, renderNginxSites(lab));
  files.set(PORTAL_FILES.homepage, stableJson(renderHomepageConfig(lab, new Set(assets.icons.keys()))));
  files.set(PORTAL_FILES.portal, stableJson(renderPortalData(lab, assets)));
  files.set(PORTAL_FILES.customJs, renderCustomJs(lab, assets.toggleJs));
  files.set(PORTAL_FILES.webmanifest, assets.webmanifest);
  for (const [name, svg] of assets.icons) files.set(`${PORTAL_FILES.iconsDir}/${name}`, svg);
  return files;
}
