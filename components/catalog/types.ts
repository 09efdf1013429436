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
   * What a client speaks to the port, the scheme of its local URL.
   * @default "http"
   */
  scheme?: "http" | "mqtt";
  /** Address the listener binds. `127.0.0.1` means never reachable from outside the host. */
  bind?: "0.0.0.0" | "127.0.0.1";
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
