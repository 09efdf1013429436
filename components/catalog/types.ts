import type { SpeedPeriod } from "./schedules";

/**
 * The shape of a catalog entry. A service's everything starts at its entry in
 * `services.ts`: DNS, Access, tunnel ingress, nginx, dashboard cards, backups,
 * secrets and NixOS modules are all derived from it.
 */

/**
 * Dashboard groups, in the order Homepage shows them: the owner's four, as the
 * Core & Portal page lists them. A service the page does not place goes in the
 * closest of these, with the reason in its catalog entry; a fifth group would
 * wrap onto a line of its own on a laptop screen.
 */
export const DASHBOARD_GROUPS = ["Automation", "Media & Entertainment", "Management", "Infrastructure"] as const;

export type DashboardGroup = (typeof DASHBOARD_GROUPS)[number];

/** What proves that a service is up, checked on the host after a rebuild. */
export type HealthCheck =
  /** An HTTP GET on the service's local port answers with a status below 500. */
  | { kind: "http"; path: string }
  /** A TCP connect to the service's local port succeeds. */
  | { kind: "tcp" }
  /** Not checked on the host; `reason` says who watches it instead. */
  | { kind: "none"; reason: string };

/**
 * How clients that cannot pass the Cloudflare Access login page reach the
 * service: the Home Assistant companion app, the Jellyfin apps, API clients.
 */
export type NativeClientAccess =
  /** Over the tailnet, straight to the host's port (the seeds' way for Home Assistant). */
  | { via: "tailscale"; why: string }
  /** Through the public route with a Cloudflare Access service token in the request headers. */
  | { via: "service-token"; why: string };

/** A secret a service consumes, pushed to the host as a root-owned file. */
export interface SecretSpec {
  /** File name under the service's secrets directory; a DNS label. @example "openai-api-key" */
  name: string;
  /**
   * Where the value comes from: a 1Password reference `op://Vault/Item/field`,
   * or `generated` for values the program itself creates (the tunnel token).
   */
  ref: string | "generated";
  /** Group that may read the file (mode 0440); without it the file is 0400 root. */
  group?: string;
}

/**
 * Where a service's icon comes from. The portal serves it at
 * `/icons/<id>-logo.svg`, coloured for the dark dashboard; the `-logo` suffix
 * keeps Homepage from looking the name up on its CDN.
 */
export type IconSpec =
  /**
   * A brand icon from simple-icons (CC0-1.0; a few brands carry their own
   * licence, which assets/icons/LICENSES.md records), by slug.
   * @example { simpleIcons: "jellyfin" }
   */
  | {
      simpleIcons: string;
      /**
       * Fill colour. Lightened until it stands out on the dark dashboard.
       * @default the brand colour from simple-icons
       */
      color?: string;
    }
  /**
   * A Material Design Icons glyph (Apache-2.0), by name: for a service whose
   * brand no maintained set carries, a glyph for what it does.
   * @example { mdi: "backup-restore", color: "#38bdf8" }
   */
  | {
      mdi: string;
      /** Fill colour; lightened like a brand colour. @default "#e2e8f0" */
      color?: string;
    }
  /**
   * An SVG drawn for this project, `assets/icons/<name>-logo.svg`, only where
   * no set has the brand. It must say where it comes from in a comment:
   * `<!-- licence: CC0-1.0; source: drawn for this project -->`.
   */
  | { file: string };

/**
 * What part a service plays for the rest of the lab, beyond serving itself.
 * Renderers and validation find a service by its role, never by its id, so
 * any entry can take one. Each role is held by at most one entry.
 * The tunnel's connector and the tailnet node are roles too, expressed by
 * where they run: `everyHostWith: "routes"` and `"tailnet-clients"`.
 */
export const SERVICE_ROLES = ["portal", "backup"] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/** What brings a service that runs beside others onto a host; see `ServiceEntry.everyHostWith`. */
export const EVERY_HOST_WITH = ["routes", "tailnet-clients"] as const;
export type EveryHostWith = (typeof EVERY_HOST_WITH)[number];

export interface ServiceEntry {
  /** Stable identifier and DNS label. Everything generated for the service is named after it. */
  id: string;
  /** Name shown on the dashboard and in the plan. */
  title: string;
  /** Dashboard group; one of DASHBOARD_GROUPS. */
  group: string;
  /** One line shown under the dashboard card. */
  description: string;
  /**
   * `enabled` services are deployed and routed. `pending` services are declared
   * so their route and port are reserved, and generate nothing.
   */
  status: "enabled" | "pending";
  /** Where the service runs: natively on the NixOS host, or on Cloudflare Pages. */
  runsOn: "host" | "pages";
  /** TCP port on the host. Absent for Pages and for host services without a listener. */
  port?: number;
  /**
   * What a client speaks to the port, the scheme of its local URL. `https`:
   * the service serves TLS itself, with the certificate it makes on the host
   * (self-signed), and refuses plain HTTP except from the host itself.
   * @default "http"
   */
  scheme?: "http" | "https" | "mqtt";
  /** Address the listener binds. `127.0.0.1` means never reachable from outside the host. */
  bind?: "0.0.0.0" | "127.0.0.1";
  /**
   * How a client on the LAN proves who it is before the service acts for
   * it: the service's own login, a key, a password from its secrets. A
   * service bound beyond loopback carries this or `lanOpen`; validation
   * refuses one with neither.
   * @example "Backrest's own login: the homelab user, whose bcrypt hash is made from the ui-password secret"
   */
  login?: string;
  /**
   * Why a service bound beyond loopback may answer anyone on the LAN with
   * no login of its own. The docs site lists every such service with this
   * reason.
   * @example "Ollama's API has no login; Home Assistant's Ollama integration calls it by address"
   */
  lanOpen?: string;
  /**
   * Public route. `{ name }` publishes `<routePattern(name)>.<domain>`; the
   * default name is the id. `false` means never routed: no tunnel rule, no
   * DNS, no proxy, no dashboard card.
   * @default { name: id }
   */
  route?: { name?: string } | false;
  /**
   * `access` puts the route behind a Cloudflare Access application; `public`
   * is an explicit opt-out.
   * @default "access"
   */
  protection?: "access" | "public";
  /** How native apps reach the service when Access is in front of it. */
  nativeClients?: NativeClientAccess;
  /**
   * Where nginx sends the route's requests when it is not the service's own
   * port: the Portal is nginx itself and shows the dashboard's port.
   */
  proxyTo?: string;
  /**
   * Catalog id of a service this one must share a host with, because it
   * talks to it on 127.0.0.1. Unplaced, it follows that service's host;
   * `homelab:placement` may not separate them.
   * @example "home-assistant"
   */
  colocateWith?: string;
  /**
   * Runs on every host that needs it instead of on one placed host, and is
   * never listed in `homelab:placement`. `"routes"`: each host that serves a
   * public route (the tunnel's connector). `"tailnet-clients"`: each host
   * with a service whose native apps come over Tailscale (the tailnet node
   * those apps connect to). With no such host, the first host.
   */
  everyHostWith?: EveryHostWith;
  /**
   * The part the service plays for the rest of the lab; see SERVICE_ROLES.
   * `portal`: nginx itself, the single entry point on port 80. Its `proxyTo`
   * names the dashboard app, which must share its host; nginx, the
   * dashboard's cards and the favicons are rendered on the portal's host.
   * `backup`: the backup UI. Its secrets `restic-password`, `b2-account-id`
   * and `b2-account-key` unlock the one restic repository every host with
   * backup paths writes to; without it the stack runs no backups.
   */
  role?: ServiceRole;
  /**
   * Day/night speed windows, for a service whose bandwidth follows the time
   * of day. They must cover the day exactly once. The bundle gives them,
   * in the service's own units, to its module as `homelab.<id>.schedule`,
   * with the Host names it answers on as `homelab.<id>.hostWhitelist`; the
   * module declares both. The docs site publishes them.
   * @example TRANSMISSION_SCHEDULE
   */
  speedSchedule?: readonly SpeedPeriod[];
  /**
   * A Homepage widget on the service's dashboard card: Homepage's widget
   * type, and the name of the dashboard entry's secret that holds the
   * service's API key. Homepage's server calls the service, so the key
   * never reaches the browser.
   * @example { type: "homeassistant", secret: "hass-token" }
   */
  dashboardWidget?: { type: string; secret: string };
  /** Whether the service gets a dashboard card. Routed services get one unless this is false. */
  card?: boolean;
  /**
   * Where the dashboard card of a service without a route of its own links
   * to; giving one also gives the service a card.
   * @example "https://one.dash.cloudflare.com/"
   */
  link?: string;
  /**
   * Dashboard icon, always served by the portal itself (the dashboard must
   * work offline): copied from an icon set installed from npm at render time,
   * or drawn for this project. See IconSpec.
   */
  icon: IconSpec;
  /** What proves the service is up. */
  health: HealthCheck;
  /** systemd units of the service; they restart when one of its secrets changes. */
  units: string[];
  /** State directories that restic backs up daily, and paths inside them to leave out. */
  backup?: { paths: string[]; exclude?: string[] };
  /** Secrets the service consumes. */
  secrets?: SecretSpec[];
}

/** Where a secret file lives on the host. The NixOS modules read the same path. */
export function secretFilePath(secretsDir: string, serviceId: string, name: string): string {
  return `${secretsDir}/${serviceId}/${name}`;
}
