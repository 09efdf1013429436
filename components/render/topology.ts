/**
 * The home lab as a picture: Internet → Cloudflare (Access, tunnel) →
 * cloudflared → nginx :80 → services, the host's units, where their secrets
 * come from and where their backups go.
 *
 * Drawn as one graph, all of it came out over 2,000 px wide, with lines
 * through unrelated boxes: beautiful-mermaid (which lays a flowchart out
 * with elkjs and draws it without a browser) redraws each fan-out, one box
 * to many, as straight lines through a shared trunk, so a line to a box one
 * column further runs through whatever sits in between. So the picture is
 * a few small views instead, stacked in one SVG no wider than the docs
 * site's content column: the edge, the services on each host, the secrets,
 * the backups. Each is Mermaid text (pure, deterministic) in which every
 * fan-out reaches the next column only; the tests check every line of the
 * drawn picture against every box.
 */
import type { Homelab, ResolvedService } from "../catalog/resolve";
import {
  backupService,
  connectorHosts,
  enabledServices,
  labHosts,
  portalHost,
  routesViaLocalNginx,
  serviceWithRole,
} from "../catalog/resolve";
import { singleHostName, type HostConfig } from "../config/hosts";
import { tunnelServices } from "./edge";

const safe = (name: string) => name.replace(/[^A-Za-z0-9]/g, "_");
const id = (s: ResolvedService) => `svc_${safe(s.id)}`;
/** Mermaid's quoted labels end at a double quote; its HTML entity keeps the text. */
const label = (text: string) => `"${text.replace(/"/g, "#quot;")}"`;

function serviceLabel(s: ResolvedService): string {
  const where = s.port === null ? "" : s.bind === "127.0.0.1" ? ` · 127.0.0.1:${s.port}` : ` · :${s.port}`;
  const units = s.units.length > 0 ? `<br/>${s.units.join(", ")}` : "";
  return `${s.title}${where}${units}`;
}

/** One part of the picture. */
export interface TopologyView {
  /** Short name: `edge`, `services-<host>` and `local-<host>`, `secrets`, `backups`. */
  slug: string;
  /** The heading drawn above it. */
  title: string;
  /** Mermaid flowchart text. */
  mermaid: string;
}

const hostId = (h: HostConfig) => `host_${safe(h.name)}`;
/** The host's mDNS name, and its name in the stack where that says something else (a one-host stack's is the mDNS name's first label). */
const hostLabel = (h: HostConfig) =>
  h.name === singleHostName(h.lanHostname) ? `${h.lanHostname} (NixOS)` : `${h.lanHostname} (NixOS) · ${h.name}`;
/** The tunnel's connector: the entry that runs on every host with a route. */
const connector = (lab: Homelab) => enabledServices(lab).find((s) => s.entry.everyHostWith === "routes");
const connectorName = (lab: Homelab) => connector(lab)?.id ?? "connector";
const connectorId = (lab: Homelab, host: string) => `${safe(connectorName(lab))}_${safe(host)}`;
/** The connector's box: its name and its units. */
const connectorLabel = (lab: Homelab, where = "") =>
  `${connectorName(lab)}${where}<br/>${connector(lab)?.units.join(", ") ?? ""}`;
const NGINX_LABEL = "nginx :80<br/>nginx.service";
/** The services drawn as boxes of their own: the connector and the portal are drawn as cloudflared and nginx. */
const ownBox = (s: ResolvedService) =>
  s.entry.runsOn === "host" && s.entry.everyHostWith !== "routes" && s.entry.role !== "portal";

/** `subgraph` … `end` around `body`, indented; nothing when the body is empty. */
function box(idText: string, title: string, body: string[]): string[] {
  return body.length === 0 ? [] : [`  subgraph ${idText} [${label(title)}]`, ...body.map((l) => `  ${l}`), `  end`];
}

/**
 * Internet → Access → the tunnel (and Pages) → the connector on each host
 * with a route, then nginx on the host whose connector hands it the routes
 * on localhost (no other host's connector reaches them); the tunnel's token.
 */
function edgeView(lab: Homelab): TopologyView | null {
  const { config } = lab;
  if (config.edge !== "cloudflare") return null;
  const pages = enabledServices(lab).find((s) => s.entry.runsOn === "pages" && s.publicHostname);
  const connectors = connectorHosts(lab);
  const toNginx = connectors.filter((c) => routesViaLocalNginx(lab, c));
  const tunnel = `Tunnel ${config.cloudflare?.tunnelName ?? ""}${connectors.length > 1 ? "<br/>a connector on each host with a route" : ""}`;
  const lines = ["flowchart TB", `  internet([Internet])`];
  lines.push(
    ...box("cf", "Cloudflare", [
      `  access[${label("Access<br/>one application per route")}]`,
      `  tunnel[${label(tunnel)}]`,
      ...(pages ? [`  pages[${label(`Pages · ${pages.publicHostname}`)}]`] : []),
    ]),
  );
  // No box per host here: an edge coming down into one would run through its heading.
  for (const h of labHosts(lab)) {
    if (connectors.includes(h.name))
      lines.push(`  ${connectorId(lab, h.name)}[${label(connectorLabel(lab, ` on ${h.lanHostname}`))}]`);
  }
  for (const h of labHosts(lab).filter((x) => toNginx.includes(x.name)))
    lines.push(`  nginx[${label(`nginx :80 on ${h.lanHostname}<br/>nginx.service`)}]`);
  lines.push(`  internet --> access`, `  access --> tunnel`);
  if (pages) lines.push(`  access --> pages`);
  for (const c of connectors) lines.push(`  tunnel --> ${connectorId(lab, c)}`);
  // The connector's token: a secret the program takes from the tunnel, not from the secret store.
  for (const c of connectors) lines.push(`  tunnel -.->|token| ${connectorId(lab, c)}`);
  for (const c of toNginx) lines.push(`  ${connectorId(lab, c)} --> nginx`);
  const title =
    toNginx.length > 0
      ? "The edge: Access, the tunnel, cloudflared, nginx"
      : "The edge: Access, the tunnel, a connector on each host";
  return { slug: "edge", title, mermaid: `${lines.join("\n")}\n` };
}

/**
 * One host's services and how requests reach them: nginx on port 80
 * proxying the routed ones (one host, Cloudflare), the host's connector
 * reaching each routed one on its port (several hosts), or the LAN reaching
 * each one with a LAN port (no Cloudflare). Where nginx is itself reached
 * that way, it and the dashboard behind it are a box of their own, drawn
 * top to bottom, so the view stays two columns wide. The services nothing
 * reaches from outside the host get a view of their own, after this one:
 * drawn here, they would add a column.
 */
function servicesViews(lab: Homelab, h: HostConfig): TopologyView[] {
  const { config } = lab;
  const services = enabledServices(lab);
  const routed = new Set(tunnelServices(lab).map((s) => s.id));
  const cloudflare = config.edge === "cloudflare";
  const hasNginx = portalHost(lab) === h.name;
  const viaNginx = cloudflare && routesViaLocalNginx(lab, h.name);
  const portalService = serviceWithRole(lab, "portal");
  const portal = hasNginx && portalService !== undefined;
  const here = services.filter((s) => ownBox(s) && s.hostNames.includes(h.name));
  const dashboard = portal ? here.find((s) => s.id === portalService.entry.proxyTo) : undefined;

  // Where requests come from, and what they reach.
  let entry: string | null = null;
  const targets: ResolvedService[] = [];
  let nginxTarget = false;
  if (viaNginx) {
    entry = "nginx";
    targets.push(...here.filter((s) => routed.has(s.id) || s === dashboard));
  } else if (cloudflare) {
    if (connectorHosts(lab).includes(h.name)) entry = connectorId(lab, h.name);
    if (entry) targets.push(...here.filter((s) => routed.has(s.id) && s.hostName === h.name));
    nginxTarget = entry !== null && hasNginx && portalService !== undefined && routed.has(portalService.id);
  } else {
    entry = "lan";
    targets.push(...here.filter((s) => s.port !== null && s.bind !== "127.0.0.1" && s !== dashboard));
    nginxTarget = hasNginx;
  }
  const behindNginx = dashboard && nginxTarget && !targets.includes(dashboard) ? dashboard : undefined;
  const drawn = new Set([...targets, ...(behindNginx ? [behindNginx] : [])]);
  const rest = here.filter((s) => !drawn.has(s));
  const views: TopologyView[] = [];
  const suffix = `-${h.name}`;

  if (entry !== null && (targets.length > 0 || nginxTarget)) {
    const body: string[] = [];
    // A direction of the host box's own makes the renderer lay out each box apart, which the portal's top-to-bottom box needs.
    const portalBox = behindNginx !== undefined;
    if (portalBox) body.push(`  direction LR`);
    if (entry !== "lan") body.push(`  ${entry}[${label(entry === "nginx" ? NGINX_LABEL : connectorLabel(lab))}]`);
    if (portalBox) {
      body.push(
        `  subgraph portal [${label("Portal")}]`,
        `    direction TB`,
        `    nginx[${label(NGINX_LABEL)}]`,
        `    ${id(behindNginx)}[${label(serviceLabel(behindNginx))}]`,
        `  end`,
      );
    } else if (nginxTarget) {
      body.push(`  nginx[${label(NGINX_LABEL)}]`);
    }
    for (const s of targets) body.push(`  ${id(s)}[${label(serviceLabel(s))}]`);
    const lines = ["flowchart LR"];
    if (entry === "lan") lines.push(`  lan([${label("LAN or<br/>Tailscale")}])`);
    lines.push(...box(hostId(h), hostLabel(h), body));
    if (nginxTarget) lines.push(`  ${entry} --> nginx`);
    for (const s of targets) lines.push(`  ${entry} --> ${id(s)}`);
    if (behindNginx) lines.push(`  nginx --> ${id(behindNginx)}`);
    const how = !cloudflare
      ? ", over the LAN or Tailscale"
      : viaNginx
        ? ": nginx :80 proxies the routed ones"
        : ": the connector reaches the routed ones";
    views.push({
      slug: `services${suffix}`,
      title: `Services on ${h.lanHostname}${how}`,
      mermaid: `${lines.join("\n")}\n`,
    });
  }
  if (rest.length > 0) {
    const lines = [
      "flowchart LR",
      ...box(
        hostId(h),
        hostLabel(h),
        rest.map((s) => `  ${id(s)}[${label(serviceLabel(s))}]`),
      ),
    ];
    const why = cloudflare ? ", with no route" : ": loopback only or no port";
    views.push({
      slug: `local${suffix}`,
      title: `${views.length > 0 ? "Also on" : "On"} ${h.lanHostname}${why}`,
      mermaid: `${lines.join("\n")}\n`,
    });
  }
  return views;
}

/** A secret's file name on the host. */
const fileName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** Names joined with commas, a line break where a line would pass `max` characters. */
function wrapNames(names: string[], max = 30): string {
  const lines: string[] = [];
  for (const n of names) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 2 + n.length <= max) lines[last] += `, ${n}`;
    else lines.push(n);
  }
  return lines.join("<br/>");
}

/**
 * The secret files each service gets from the stack's secret store. (The
 * tunnel's token, which the program generates, is in the edge view.)
 */
function secretsView(lab: Homelab): TopologyView | null {
  const { config } = lab;
  const withFiles = enabledServices(lab).filter(
    (s) => s.entry.runsOn === "host" && s.secrets.some((x) => x.ref !== "generated"),
  );
  if (withFiles.length === 0) return null;
  const store =
    config.secrets.source === "1password" ? `1Password<br/>vault ${config.secrets.vault}` : "Pulumi<br/>secret config";
  const lines = ["flowchart LR", `  secrets[(${label(store)})]`];
  const edges: string[] = [];
  for (const h of labHosts(lab)) {
    const body: string[] = [];
    for (const s of withFiles) {
      if (!s.hostNames.includes(h.name)) continue;
      // Tailscale runs on each host with app clients: a box on each, named apart.
      const node = s.hostNames.indexOf(h.name) > 0 ? `${id(s)}_${safe(h.name)}` : id(s);
      const title = s.entry.role === "portal" ? `${s.title} (nginx)` : s.title;
      const files = s.secrets.map((x) =>
        x.ref === "generated" ? `${fileName(x.path)} (generated)` : fileName(x.path),
      );
      body.push(`  ${node}[${label(`${title}<br/>${wrapNames(files)}`)}]`);
      edges.push(`  secrets -.-> ${node}`);
    }
    lines.push(...box(hostId(h), hostLabel(h), body));
  }
  lines.push(...edges);
  return {
    slug: "secrets",
    title: `Secrets: the files each service gets from ${config.secrets.source === "1password" ? "1Password" : "the secret config"}`,
    mermaid: `${lines.join("\n")}\n`,
  };
}

/**
 * What is backed up: each service's paths, through Backrest on its host
 * to the B2 repository; a service on another host is backed up by that
 * host's own restic job, straight to the repository.
 */
function backupsView(lab: Homelab): TopologyView | null {
  const { config } = lab;
  const backrest = backupService(lab);
  if (!backrest) return null;
  const backedUp = enabledServices(lab).filter(
    (s) => s.entry.runsOn === "host" && s.backup.paths.length > 0 && s.id !== backrest.id && s.hostName,
  );
  const lines = ["flowchart LR"];
  for (const h of labHosts(lab)) {
    const body = backedUp.filter((s) => s.hostName === h.name).map((s) => `  ${id(s)}[${label(s.title)}]`);
    if (backrest.hostName === h.name) body.push(`  ${id(backrest)}[${label(backrest.title)}]`);
    lines.push(...box(hostId(h), hostLabel(h), body));
  }
  lines.push(`  b2[(${label(`Backblaze B2<br/>${config.backupBucket ?? ""}`)})]`);
  for (const s of backedUp)
    lines.push(
      s.hostName === backrest.hostName ? `  ${id(s)} -.-> ${id(backrest)}` : `  ${id(s)} -.->|restic daily| b2`,
    );
  lines.push(`  ${id(backrest)} -->|restic daily| b2`);
  return {
    slug: "backups",
    title: "Backups: each service's paths, with restic, daily, to B2",
    mermaid: `${lines.join("\n")}\n`,
  };
}

/** The parts of one stack's picture, top to bottom. */
export function topologyViews(lab: Homelab): TopologyView[] {
  const views = [
    edgeView(lab),
    ...labHosts(lab).flatMap((h) => servicesViews(lab, h)),
    secretsView(lab),
    backupsView(lab),
  ];
  return views.filter((v): v is TopologyView => v !== null);
}

/** The topology of one stack as Mermaid text: one flowchart per view, each after a `%%` comment naming it. */
export function topologyMermaid(lab: Homelab): string {
  return topologyViews(lab)
    .map((v) => `%% ${v.slug}: ${v.title}\n${v.mermaid}`)
    .join("\n");
}

export type TopologyTheme = "light" | "dark";
/** Where the docs site serves the picture, per theme. */
export const TOPOLOGY_PICTURES: Record<TopologyTheme, string> = { light: "/topology.svg", dark: "/topology-dark.svg" };
/** Light: beautiful-mermaid's default. Dark: Starlight's dark background, so the picture sits on the page. */
const COLORS: Record<TopologyTheme, { bg: string; fg: string }> = {
  light: { bg: "#FFFFFF", fg: "#27272A" },
  dark: { bg: "#17181C", fg: "#E4E4E7" },
};
/** The width of the docs site's content column (Starlight's, beside the sidebar and the table of contents); the picture is drawn for it. */
export const TOPOLOGY_COLUMN_PX = 650;
/** Padding around each view, and the size of the headings above them. */
const PAD = 16;
const TITLE_PX = 15;
/** Between boxes in a column, and between columns: tighter than the renderer's 28 and 48, for a narrower, shorter picture. */
const NODE_SPACING = 18;
const LAYER_SPACING = 36;
/** Narrowest picture: the docs site's check expects more than 500 px of drawing. */
const MIN_WIDTH = 560;

const num = (n: number) => String(Math.round(n * 100) / 100);
const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A generous width for a heading: system-ui bold runs under 0.62 em per character. */
const headingWidth = (text: string) => text.length * TITLE_PX * 0.62;
const TITLE_LINE = TITLE_PX + 5;

/** A heading in lines that fit `width`, broken between words. */
function wrapHeading(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(" ")) {
    const last = lines.length - 1;
    if (last >= 0 && headingWidth(`${lines[last]} ${word}`) <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}

interface Drawn {
  view: TopologyView;
  width: number;
  height: number;
  style: string;
  defs: string;
  body: string;
}

/** One view drawn by beautiful-mermaid, split into its style, its markers and its drawing. */
function drawView(render: (text: string, options: object) => string, view: TopologyView): Drawn {
  // Inter is imported from Google Fonts by default; the docs site is behind Access and must work offline.
  const svg = render(view.mermaid, {
    font: "system-ui",
    padding: PAD,
    nodeSpacing: NODE_SPACING,
    layerSpacing: LAYER_SPACING,
    ...COLORS.light,
  })
    .replace(/^\s*@import url\([^)]*\);\s*\n/gm, "")
    .replace(/'Inter', /g, "");
  const open = svg.slice(0, svg.indexOf(">") + 1);
  const [, , width, height] = (open.match(/viewBox="([^"]*)"/)?.[1] ?? "").split(" ").map(Number);
  const style = svg.match(/<style>[\s\S]*?<\/style>/)?.[0];
  const defs = svg.match(/<defs>[\s\S]*?<\/defs>/)?.[0];
  if (!style || !defs || !(width > 0 && height > 0))
    throw new Error(`topology view ${view.slug}: unexpected SVG from beautiful-mermaid`);
  const body = svg.slice(open.length, svg.lastIndexOf("</svg>")).replace(style, "").replace(defs, "").trim();
  return { view, width, height, style, defs, body };
}

/**
 * The topology as SVG: the views stacked, each under its heading, as wide
 * as the widest view. Both themes come from one layout; only the two
 * colours the rest derive from differ.
 */
export async function renderTopologyPictures(lab: Homelab): Promise<Record<TopologyTheme, string>> {
  // beautiful-mermaid is ESM-only; a dynamic import loads it from this CommonJS project.
  const { renderMermaidSVG } = await import("beautiful-mermaid");
  const drawn = topologyViews(lab).map((v) => drawView(renderMermaidSVG, v));
  for (const d of drawn) {
    // One style block and one set of arrow markers serve every view; they are the same text for every flowchart.
    if (d.style !== drawn[0].style || d.defs !== drawn[0].defs)
      throw new Error(`topology view ${d.view.slug}: its style differs from the others'`);
  }
  const width = Math.ceil(Math.max(MIN_WIDTH, ...drawn.map((d) => d.width)));
  const parts: string[] = [];
  let y = 0;
  drawn.forEach((d, i) => {
    if (i > 0)
      parts.push(
        `<line class="view-rule" x1="${PAD}" y1="${num(y)}" x2="${width - PAD}" y2="${num(y)}" stroke="var(--_node-stroke)" stroke-width="1" />`,
      );
    const heading = wrapHeading(d.view.title, width - 2 * PAD);
    const top = y + PAD + heading.length * TITLE_LINE;
    parts.push(
      `<g class="view" data-view="${escapeXml(d.view.slug)}">`,
      ...heading.map(
        (line, n) =>
          `<text x="${PAD}" y="${num(y + PAD + TITLE_PX + n * TITLE_LINE)}" font-size="${TITLE_PX}" font-weight="600" fill="var(--_text)">${escapeXml(line)}</text>`,
      ),
      `<g transform="translate(0 ${num(top)})">`,
      d.body,
      `</g>`,
      `</g>`,
    );
    y = top + d.height;
  });
  const height = Math.ceil(y);
  const picture = (theme: TopologyTheme) =>
    [
      `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" style="--bg:${COLORS[theme].bg};--fg:${COLORS[theme].fg};background:var(--bg)">`,
      drawn[0]?.style ?? "",
      drawn[0]?.defs ?? "",
      ...parts,
      "</svg>",
      "",
    ].join("\n");
  return { light: picture("light"), dark: picture("dark") };
}

/** The topology as SVG in one theme. */
export async function renderTopologySvg(lab: Homelab, theme: TopologyTheme = "light"): Promise<string> {
  return (await renderTopologyPictures(lab))[theme];
}

/**
 * The home page's picture: the light or the dark file as Starlight's theme
 * is (its `light:sl-hidden` and `dark:sl-hidden` classes follow the theme
 * picker, and the system's setting on Auto), each a link to itself at full
 * size.
 */
export function topologyMarkdown(lab: Homelab): string[] {
  const { config } = lab;
  const views = topologyViews(lab);
  const alt = escapeXml(
    `Topology of the ${config.stack} stack, in ${views.length} parts: ${views.map((v) => v.title).join("; ")}`,
  );
  const link = (theme: TopologyTheme, hide: string) =>
    `<a class="${hide}" href="${TOPOLOGY_PICTURES[theme]}"><img src="${TOPOLOGY_PICTURES[theme]}" alt="${alt}" /></a>`;
  return [
    `<p>${link("light", "dark:sl-hidden")}${link("dark", "light:sl-hidden")}</p>`,
    "",
    `Dashed lines: secrets pushed to the services (the tunnel's token among them), and the paths restic backs up. The picture on its own, at full size: [light](${TOPOLOGY_PICTURES.light}), [dark](${TOPOLOGY_PICTURES.dark}).`,
  ];
}
