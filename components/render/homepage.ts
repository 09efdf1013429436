import { isMultiHost, type Homelab, type ResolvedSecret, type ResolvedService } from "../catalog/resolve";
import { DASHBOARD_GROUPS } from "../catalog/types";
import { iconFile } from "./icons";
import { dashboardService, generatedNote, portalHostnames } from "./portal-common";

/**
 * Homepage's configuration as data. portal.nix sets the NixOS module's
 * `settings`, `services` and `widgets` options from it, and the module's YAML
 * formatter writes Homepage's files.
 * See https://gethomepage.dev/configs/ for the formats.
 */

/** The dashboard's background, as the Core & Portal page has it: an Unsplash photo. */
export const BACKGROUND_IMAGE =
  "https://images.unsplash.com/photo-1502790671504-542ad42d5189?auto=format&fit=crop&w=2560&q=80";

export interface HomepageCard {
  href?: string;
  description: string;
  icon: string;
  widget?: { type: string; url: string; key: string };
}

export interface HomepageConfig {
  _generated: string;
  /** Address Homepage listens on (the dashboard entry's bind). */
  listenAddress: string;
  /** Port Homepage listens on (the dashboard entry's port). */
  listenPort: number;
  /** HOMEPAGE_ALLOWED_HOSTS: the Host headers nginx passes on. */
  allowedHosts: string;
  /**
   * Environment variables that carry secrets into Homepage's config, by name:
   * the absolute path of the secret file on the host. portal.nix reads the
   * files when the service starts; the values never appear here.
   */
  secretEnv: Record<string, string>;
  settings: Record<string, unknown>;
  /** services.yaml: groups in DASHBOARD_GROUPS order, each a list of single-key cards. */
  services: Record<string, Record<string, HomepageCard>[]>[];
  widgets: Record<string, unknown>[];
}

/** The environment variable a dashboard secret is substituted from: `{{HOMEPAGE_VAR_HASS_TOKEN}}`. */
export function secretVariable(secret: ResolvedSecret): string {
  return `HOMEPAGE_VAR_${secret.name.toUpperCase().replace(/-/g, "_")}`;
}

/** Where a card links: the public route, else the entry's own link, else the LAN URL. */
export function cardHref(s: ResolvedService): string | undefined {
  if (s.publicHostname) return `https://${s.publicHostname}`;
  return s.entry.link ?? s.localUrl ?? undefined;
}

/**
 * A card's icon: always a path the portal serves (renderPortalIcons puts the
 * file in the bundle), never a name Homepage would fetch from its CDN, which
 * an offline dashboard cannot reach.
 */
export function cardIcon(s: ResolvedService): string {
  return `/icons/${iconFile(s.entry)}`;
}

/**
 * Columns of every group's row of cards. The same count in every group lines
 * the cards up across groups, at the width of a full four-card row: Homepage
 * puts one card per line on phones, two from 768 px and this many from 1024 px.
 */
export const LAYOUT_COLUMNS = 4;

function card(s: ResolvedService, dashboard: ResolvedService): HomepageCard {
  const out: HomepageCard = { href: cardHref(s), description: s.entry.description, icon: cardIcon(s) };
  // The catalog entry's dashboardWidget; Homepage's server calls the service, so the key never reaches the browser.
  const widget = s.entry.dashboardWidget;
  if (widget) {
    const secret = dashboard.secrets.find((x) => x.name === widget.secret);
    if (!secret) {
      throw new Error(
        `service "${s.id}": its ${widget.type} widget needs the "${widget.secret}" secret of "${dashboard.id}", which the catalog does not declare`,
      );
    }
    if (s.port === null) throw new Error(`service "${s.id}": its ${widget.type} widget needs a port`);
    // Homepage's server calls the service: on loopback beside it, else on the other host's LAN address.
    const url = s.hostName === dashboard.hostName || s.localUrl === null ? `http://127.0.0.1:${s.port}` : s.localUrl;
    out.widget = { type: widget.type, url, key: `{{${secretVariable(secret)}}}` };
  }
  return out;
}

export function renderHomepageConfig(lab: Homelab): HomepageConfig {
  const dashboard = dashboardService(lab);
  if (dashboard.port === null) throw new Error(`service "${dashboard.id}": the dashboard needs a port`);
  const cards = lab.services.filter((s) => s.card);

  const services = DASHBOARD_GROUPS.map((group) => ({
    group,
    cards: cards.filter((s) => s.group === group).map((s) => ({ [s.title]: card(s, dashboard) })),
  }))
    .filter((g) => g.cards.length > 0)
    .map((g) => ({ [g.group]: g.cards }));

  const secretEnv: Record<string, string> = {};
  for (const secret of dashboard.secrets) secretEnv[secretVariable(secret)] = secret.path;

  return {
    _generated: generatedNote("Homepage's settings, services and widgets, read by nixos/modules/portal.nix"),
    listenAddress: dashboard.bind ?? "127.0.0.1",
    listenPort: dashboard.port,
    allowedHosts: portalHostnames(lab).join(","),
    secretEnv,
    settings: {
      title: "Homelab",
      theme: "dark",
      color: "slate",
      headerStyle: "clean",
      cardBlur: "sm",
      background: { image: BACKGROUND_IMAGE },
      // Every group a full-width row of LAYOUT_COLUMNS cards. Homepage's default
      // style puts groups side by side, a quarter of the page each from 1280 px;
      // a group that wraps then stretches across the whole line, cards and all.
      // A list, not a map: Homepage accepts both, and a Nix attribute set (which
      // the NixOS module turns this into) would sort a map's groups by name.
      // https://gethomepage.dev/configs/settings/#layout
      layout: services.map((g) => ({ [Object.keys(g)[0]]: { style: "row", columns: LAYOUT_COLUMNS } })),
    },
    services,
    widgets: [
      // The resources widget reads the machine Homepage runs on; with several hosts its label says which.
      {
        resources:
          isMultiHost(lab) && dashboard.hostName
            ? { label: dashboard.hostName, cpu: true, memory: true }
            : { cpu: true, memory: true },
      },
      { datetime: { text_size: "xl", format: { dateStyle: "short", timeStyle: "short", hourCycle: "h23" } } },
    ],
  };
}
