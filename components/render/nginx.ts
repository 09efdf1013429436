import type { Homelab, ResolvedService } from "../catalog/resolve";
import { UNWRITABLE_CHARACTER } from "../catalog/rules";
import {
  dashboardService,
  FAVICON_PATHS,
  MASK_ICON,
  portalHostnames,
  portalService,
  proxiedServices,
} from "./portal-common";
import { generatedHeader } from "./stable";

/**
 * The nginx server blocks of the portal, as text included in the http block
 * of the NixOS nginx module (services.nginx.appendHttpConfig). portal.nix
 * replaces the placeholders with store paths; the nginx test replaces them
 * with temporary folders and runs this very text.
 */

/** Store paths portal.nix fills in. */
export const PLACEHOLDERS = {
  /** Folder of the SVG icons (the bundle's assets/icons), served at /icons/. */
  iconsDir: "@iconsDir@",
  /** Folder of the PNG favicons rendered from the NixOS snowflake. */
  faviconsDir: "@faviconsDir@",
  /** The rendered custom.js (link map + toggle). */
  customJs: "@customJs@",
  /** assets/site.webmanifest. */
  webmanifest: "@webmanifest@",
} as const;

export interface NginxOptions {
  /**
   * Addresses every server listens on.
   * @default the portal's port on IPv4 and IPv6: ["80", "[::]:80"]
   * @example ["127.0.0.1:18080"]
   */
  listen?: string[];
  /**
   * Upstream port by service id, in place of the catalog's; the nginx test
   * points the routes at stub servers this way. The portal's entry is the
   * dashboard's port.
   */
  upstreamPorts?: Record<string, number>;
}

const INDENT = "  ";

function block(head: string, lines: string[], depth = 0): string[] {
  const pad = INDENT.repeat(depth);
  return [`${pad}${head} {`, ...lines.map((l) => (l === "" ? "" : `${pad}${INDENT}${l}`)), `${pad}}`];
}

/** Headers and timeouts of every proxied location. */
function proxyLines(port: number): string[] {
  return [
    `proxy_pass http://127.0.0.1:${port};`,
    "proxy_http_version 1.1;",
    "proxy_set_header Host $host;",
    "proxy_set_header X-Real-IP $remote_addr;",
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "proxy_set_header X-Forwarded-Proto $homelab_forwarded_proto;",
    "proxy_set_header X-Forwarded-Host $host;",
    "proxy_set_header Upgrade $http_upgrade;",
    "proxy_set_header Connection $homelab_connection_upgrade;",
    "proxy_read_timeout 1h;",
    "proxy_send_timeout 1h;",
    "proxy_buffering off;",
  ];
}

function listenLines(listen: string[], defaultServer = false): string[] {
  return listen.map((l) => `listen ${l}${defaultServer ? " default_server" : ""};`);
}

/**
 * One comment line. nginx ends a comment at a line feed only, so a title
 * with a newline in it could start a directive of its own (a whole `server`
 * block); validation refuses such titles, and this keeps any that slipped
 * past on the comment line.
 */
export function commentLine(text: string): string {
  return `# ${text.replace(new RegExp(UNWRITABLE_CHARACTER.source, "gu"), " ")}`;
}

/** A server block that proxies every path of `names` to a local port. */
function proxyServer(
  comment: string,
  names: string[],
  listen: string[],
  port: number,
  extra: string[][] = [],
): string[] {
  return [
    commentLine(comment),
    ...block("server", [
      ...listenLines(listen),
      `server_name ${names.join(" ")};`,
      "client_max_body_size 100m;",
      ...extra.flatMap((lines) => ["", ...lines]),
      "",
      ...block("location /", proxyLines(port)),
    ]),
  ];
}

/** A location answering one exact path with one file of a given type. */
function fileLocation(path: string, file: string, type: string, noCache = false): string[] {
  return block(`location = ${path}`, [
    `alias ${file};`,
    "types { }",
    `default_type ${type.includes(" ") ? `"${type}"` : type};`,
    ...(noCache ? ['add_header Cache-Control "no-cache" always;'] : []),
  ]);
}

/** The portal's own locations, answered by nginx before anything reaches Homepage. */
function portalLocations(): string[][] {
  return [
    [
      "# The Local/Remote toggle, in place of Homepage's own custom.js. no-cache: Cloudflare",
      "# would otherwise keep a .js file for hours and hide a new version of the links.",
      ...fileLocation("/api/config/custom.js", PLACEHOLDERS.customJs, "text/javascript; charset=utf-8", true),
    ],
    [
      "# Local icons; Homepage's config names them /icons/<name>-logo.svg.",
      ...block("location ^~ /icons/", [`alias ${PLACEHOLDERS.iconsDir}/;`]),
    ],
    [
      "# Favicons: the NixOS snowflake instead of Homepage's own.",
      ...Object.entries(FAVICON_PATHS).flatMap(([path, file]) =>
        fileLocation(path, `${PLACEHOLDERS.faviconsDir}/${file}`, "image/png"),
      ),
      ...block("location ~ ^/android-chrome-.*\\.png$", [`root ${PLACEHOLDERS.faviconsDir};`]),
      ...fileLocation(MASK_ICON.path, `${PLACEHOLDERS.iconsDir}/${MASK_ICON.file}`, "image/svg+xml"),
    ],
    [
      "# The PWA manifest, so an installed dashboard uses the snowflake too.",
      ...fileLocation("/site.webmanifest", PLACEHOLDERS.webmanifest, "application/manifest+json", true),
    ],
  ];
}

function upstreamPort(s: ResolvedService, options: NginxOptions): number {
  const port = options.upstreamPorts?.[s.id] ?? s.upstreamPort;
  if (port === null) throw new Error(`service "${s.id}" is routed but has no port for nginx to proxy to`);
  return port;
}

/**
 * nginx's server blocks for a stack: a default server that answers unknown
 * names with 404, the portal on its public name and the LAN names, and one
 * server per routed host service. Never-routed services (the SSH MCP
 * endpoint), pending ones and the Pages site get none.
 */
export function renderNginxSites(lab: Homelab, options: NginxOptions = {}): string {
  const portal = portalService(lab);
  if (!portal) throw new Error("the stack does not run the portal, so nginx has nothing to serve");
  const port = portal.port ?? 80;
  const listen = options.listen ?? [`${port}`, `[::]:${port}`];
  const dashboard = dashboardService(lab);

  const out: string[] = [
    generatedHeader("#", "nginx server blocks of the portal and the routed services"),
    "# Included in the http block by nixos/modules/portal.nix, which replaces the",
    "# @...@ placeholders with store paths.",
    "#",
    "# Every proxied location passes WebSocket upgrades (Home Assistant, Jellyfin,",
    "# Cockpit) and keeps them open for an hour of silence, and does not buffer",
    "# answers, so streamed ones (Ollama, LiteLLM) reach the client as they come.",
    "# Bodies stop at 100 MB, the most Cloudflare's tunnel carries on the free plan.",
    "",
    "# Upgrade WebSocket requests and close the others. Named apart from the NixOS",
    "# nginx module's own $connection_upgrade map, which sits in the same http block.",
    ...block("map $http_upgrade $homelab_connection_upgrade", ["default upgrade;", '"" close;']),
    "",
    "# Keep the scheme cloudflared reports (https); requests from the LAN are plain http.",
    ...block("map $http_x_forwarded_proto $homelab_forwarded_proto", [
      "default $http_x_forwarded_proto;",
      '"" $scheme;',
    ]),
    "",
    "# Any other Host gets a 404: without a default, nginx would hand unknown",
    "# names to the first server below.",
    ...block("server", [...listenLines(listen, true), "server_name _;", "return 404;"]),
    "",
    ...proxyServer(
      `${portal.id}: the ${dashboard.title} dashboard, on its public name and on the LAN`,
      portalHostnames(lab),
      listen,
      upstreamPort(portal, options),
      portalLocations(),
    ),
  ];

  for (const s of proxiedServices(lab)) {
    if (s.id === portal.id) continue;
    out.push("", ...proxyServer(`${s.id}: ${s.title}`, [s.publicHostname as string], listen, upstreamPort(s, options)));
  }
  return `${out.join("\n")}\n`;
}
