import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Homelab } from "../catalog/resolve";
import { CATALOG } from "../catalog/services";
import { renderHomepageConfig } from "./homepage";
import { appleTouchSvg, LICENSES_FILE, renderIcon, renderIconLicenses } from "./icons";
import { renderNginxSites } from "./nginx";
import {
  APPLE_TOUCH_SVG,
  FAVICONS,
  generatedNote,
  MASK_ICON,
  portalService,
  routesWithUpstream,
} from "./portal-common";
import { generatedHeader, stableJson } from "./stable";

export {
  APPLE_TOUCH_SVG,
  FAVICON_PATHS,
  FAVICONS,
  MASK_ICON,
  dashboardService,
  portalHostnames,
  portalService,
  proxiedServices,
} from "./portal-common";

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
  /** SVG icons drawn for the project, by file name, from assets/icons/. The rest come from npm. */
  icons: Map<string, string>;
  /** The toggle script, assets/toggle.js. */
  toggleJs: string;
  /** The PWA manifest, assets/site.webmanifest. */
  webmanifest: string;
}

export function readPortalAssets(dir: string = ASSETS_DIR): PortalAssets {
  const iconsDir = join(dir, "icons");
  const icons = new Map<string, string>();
  for (const name of readdirSync(iconsDir)
    .filter((n) => n.endsWith(".svg"))
    .sort()) {
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
 * routed service, each on the LAN address of the host that runs it. Pages
 * sites and unrouted services have no entry, so the toggle leaves their
 * links alone.
 */
export function renderToggleLinks(lab: Homelab): Record<string, string> {
  const links: Record<string, string> = {};
  for (const s of routesWithUpstream(lab)) {
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

/**
 * The icons the portal serves, by file name in the bundle's icons folder:
 * every card's, the portal's own (the favicon), the one-colour mask and the
 * opaque Apple touch icon drawn from it, and the licences of them all.
 */
export function renderPortalIcons(lab: Homelab, assets: PortalAssets): Map<string, string> {
  const portal = portalService(lab);
  if (!portal) throw new Error("the stack does not run the portal");
  const icons = new Map<string, string>();
  for (const s of [portal, ...lab.services.filter((x) => x.card)]) {
    const icon = renderIcon(s.entry, assets.icons);
    icons.set(icon.file, icon.svg);
  }
  const own = renderIcon(portal.entry, assets.icons);
  icons.set(MASK_ICON.file, own.mask);
  // The home-screen icon sits on the colour of the PWA's splash screen.
  const background = (JSON.parse(assets.webmanifest) as { background_color?: string }).background_color;
  if (!background) throw new Error("assets/site.webmanifest has no background_color for the Apple touch icon");
  icons.set(APPLE_TOUCH_SVG, appleTouchSvg(own, background));
  icons.set(LICENSES_FILE, renderLicenses(assets));
  return new Map([...icons].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** assets/icons/LICENSES.md as it should read; a test keeps the committed file equal to it. */
export function renderLicenses(assets: PortalAssets = readPortalAssets()): string {
  const portal = CATALOG.find((e) => e.role === "portal");
  if (!portal) throw new Error('the catalog has no entry with role: "portal"');
  const from = renderIcon(portal, assets.icons).file;
  return renderIconLicenses(CATALOG, assets.icons, [
    { file: MASK_ICON.file, from },
    { file: APPLE_TOUCH_SVG, from },
    ...FAVICONS.map((f) => ({ file: f.file, from: f.opaque ? APPLE_TOUCH_SVG : from })),
  ]);
}

/** Data portal.nix needs besides Homepage's: what to render each favicon from, and at which size. */
export function renderPortalData(lab: Homelab, assets: PortalAssets) {
  const portal = portalService(lab);
  if (!portal) throw new Error("the stack does not run the portal");
  const source = renderIcon(portal.entry, assets.icons).file;
  return {
    _generated: generatedNote("the portal's favicons, read by nixos/modules/portal.nix"),
    favicons: FAVICONS.map((f) => ({ file: f.file, size: f.size, source: f.opaque ? APPLE_TOUCH_SVG : source })),
  };
}

/**
 * The portal's files in the NixOS bundle, by path relative to the bundle root:
 * the generated nginx config, Homepage config, custom.js and portal data, the
 * icons copied from the icon sets, and the static assets the host serves (web
 * manifest). Empty when the stack does not run the portal.
 */
export function renderPortalFiles(lab: Homelab, assets: PortalAssets = readPortalAssets()): Map<string, string> {
  const files = new Map<string, string>();
  if (!portalService(lab)) return files;
  files.set(PORTAL_FILES.nginx, renderNginxSites(lab));
  files.set(PORTAL_FILES.homepage, stableJson(renderHomepageConfig(lab)));
  files.set(PORTAL_FILES.portal, stableJson(renderPortalData(lab, assets)));
  files.set(PORTAL_FILES.customJs, renderCustomJs(lab, assets.toggleJs));
  files.set(PORTAL_FILES.webmanifest, assets.webmanifest);
  for (const [name, svg] of renderPortalIcons(lab, assets)) files.set(`${PORTAL_FILES.iconsDir}/${name}`, svg);
  return files;
}
