/**
 * The home lab as a picture: Internet → Cloudflare (Access, tunnel) →
 * cloudflared → nginx :80 → services, the host's units, where their secrets
 * come from and where their backups go. The diagram is Mermaid text (pure,
 * deterministic); beautiful-mermaid lays it out (elkjs) and draws the SVG
 * without a browser.
 */
import type { Homelab, ResolvedService } from "../catalog/resolve";
import { BACKUP_SERVICE, backupService, connectorHosts, enabledServices, isMultiHost, labHosts, portalHost } from "../catalog/resolve";
import { tunnelServices } from "./edge";

const id = (s: ResolvedService) => `svc_${s.id.replace(/[^A-Za-z0-9]/g, "_")}`;
/** Mermaid's quoted labels end at a double quote; its HTML entity keeps the text. */
const label = (text: string) => `"${text.replace(/"/g, "#quot;")}"`;

function serviceLabel(s: ResolvedService): string {
  const where = s.port === null ? "" : s.bind === "127.0.0.1" ? ` · 127.0.0.1:${s.port}` : ` · :${s.port}`;
  const units = s.units.length > 0 ? `<br/>${s.units.join(", ")}` : "";
  return `${s.title}${where}${units}`;
}

/** The topology of one stack as Mermaid flowchart text. */
export function topologyMermaid(lab: Homelab): string {
  if (isMultiHost(lab)) return multiHostMermaid(lab);
  const { config } = lab;
  const services = enabledServices(lab);
  const onHost = services.filter((s) => s.entry.runsOn === "host");
  const pages = services.find((s) => s.entry.runsOn === "pages" && s.publicHostname);
  const routed = new Set(tunnelServices(lab).map((s) => s.id));
  const cloudflare = config.edge === "cloudflare";
  const lines: string[] = ["flowchart LR"];

  if (cloudflare) {
    lines.push(`  internet([Internet])`);
    lines.push(`  subgraph cf [${label("Cloudflare")}]`);
    lines.push(`    access[${label("Access<br/>one application per route")}]`);
    lines.push(`    tunnel[${label(`Tunnel ${config.cloudflare?.tunnelName ?? ""}`)}]`);
    if (pages) lines.push(`    pages[${label(`Pages · ${pages.publicHostname}`)}]`);
    lines.push(`  end`);
  } else {
    lines.push(`  lan([${label("LAN or Tailscale")}])`);
  }
  lines.push(`  subgraph host [${label(`${config.lanHostname} (NixOS)`)}]`);
  if (cloudflare) lines.push(`    cloudflared[${label("cloudflared<br/>cloudflared-tunnel.service")}]`);
  lines.push(`    nginx[${label("nginx :80<br/>nginx.service")}]`);
  for (const s of onHost) {
    if (s.id === "cloudflared" || s.id === "portal") continue;
    lines.push(`    ${id(s)}[${label(serviceLabel(s))}]`);
  }
  lines.push(`  end`);

  const { withSecrets, backrest } = storeNodes(lab, lines);
  const backedUp = backrest ? onHost.filter((s) => s.backup.paths.length > 0 && s.id !== BACKUP_SERVICE) : [];

  if (cloudflare) {
    lines.push(`  internet --> access`);
    lines.push(`  access --> tunnel`);
    if (pages) lines.push(`  access --> pages`);
    lines.push(`  tunnel --> cloudflared`);
    lines.push(`  cloudflared --> nginx`);
  } else {
    lines.push(`  lan --> nginx`);
  }
  for (const s of onHost) {
    const portalTarget = s.id === "dashboard" && services.some((p) => p.id === "portal");
    if (routed.has(s.id) && s.id !== "portal") lines.push(`  nginx --> ${id(s)}`);
    else if (portalTarget) lines.push(`  nginx --> ${id(s)}`);
  }
  for (const s of withSecrets) {
    const target = s.id === "cloudflared" || s.id === "portal" ? s.id.replace("portal", "nginx") : id(s);
    lines.push(`  secrets -.-> ${target}`);
  }
  if (cloudflare && services.some((s) => s.id === "cloudflared")) lines.push(`  tunnel -.->|token| cloudflared`);
  for (const s of backedUp) lines.push(`  ${id(s)} -.-> ${id(backrest as ResolvedService)}`);
  if (backrest) lines.push(`  ${id(backrest)} -->|restic daily| b2`);
  return lines.join("\n") + "\n";
}

/**
 * The stores both layouts draw, added to `lines`: where secrets come from
 * (when a service has one from it) and the backup repository (when Backrest
 * runs). Returns the services the secrets reach and Backrest.
 */
function storeNodes(lab: Homelab, lines: string[]): { withSecrets: ResolvedService[]; backrest: ResolvedService | undefined } {
  const { config } = lab;
  const services = enabledServices(lab);
  const secretsFrom = config.secrets.source === "1password" ? `1Password · vault ${config.secrets.vault}` : "Pulumi secret config";
  const withSecrets = services.filter((s) => s.secrets.some((x) => x.ref !== "generated"));
  if (withSecrets.length > 0) lines.push(`  secrets[(${label(secretsFrom)})]`);
  const backrest = backupService(lab);
  if (backrest) lines.push(`  b2[(${label(`Backblaze B2 · ${config.backupBucket ?? ""}`)})]`);
  return { withSecrets, backrest };
}

const hostId = (name: string) => `host_${name.replace(/[^A-Za-z0-9]/g, "_")}`;
const connectorId = (name: string) => `cloudflared_${name.replace(/[^A-Za-z0-9]/g, "_")}`;
/** A service's node on one host: its plain id on its first host, suffixed on the others (Tailscale on each host with app clients). */
const nodeOn = (s: ResolvedService, host: string) => (s.hostNames.indexOf(host) > 0 ? `${id(s)}_${host.replace(/[^A-Za-z0-9]/g, "_")}` : id(s));

/**
 * A stack of several hosts: one box per machine with its services, a
 * connector on each host that serves a route, and nginx on the portal's
 * host only. Each connector is drawn to its own host's routes; Cloudflare
 * may hand any route to any connector, which reaches it over the LAN.
 */
function multiHostMermaid(lab: Homelab): string {
  const { config } = lab;
  const services = enabledServices(lab);
  const pages = services.find((s) => s.entry.runsOn === "pages" && s.publicHostname);
  const routed = new Set(tunnelServices(lab).map((s) => s.id));
  const cloudflare = config.edge === "cloudflare";
  const portal = portalHost(lab);
  const connectors = connectorHosts(lab);
  const lines: string[] = ["flowchart LR"];
  if (cloudflare) {
    lines.push(`  internet([Internet])`);
    lines.push(`  subgraph cf [${label("Cloudflare")}]`);
    lines.push(`    access[${label("Access<br/>one application per route")}]`);
    lines.push(`    tunnel[${label(`Tunnel ${config.cloudflare?.tunnelName ?? ""}<br/>a connector on each host with a route`)}]`);
    if (pages) lines.push(`    pages[${label(`Pages · ${pages.publicHostname}`)}]`);
    lines.push(`  end`);
  } else {
    lines.push(`  lan([${label("LAN or Tailscale")}])`);
  }
  for (const h of labHosts(lab)) {
    lines.push(`  subgraph ${hostId(h.name)} [${label(`${h.lanHostname} (NixOS) · ${h.name}`)}]`);
    if (cloudflare && connectors.includes(h.name)) lines.push(`    ${connectorId(h.name)}[${label("cloudflared<br/>cloudflared-tunnel.service")}]`);
    if (h.name === portal) lines.push(`    nginx[${label("nginx :80<br/>nginx.service")}]`);
    for (const s of services) {
      if (!s.hostNames.includes(h.name) || s.entry.everyHostWith === "routes" || s.id === "portal") continue;
      lines.push(`    ${nodeOn(s, h.name)}[${label(serviceLabel(s))}]`);
    }
    lines.push(`  end`);
  }
  const { withSecrets, backrest } = storeNodes(lab, lines);
  if (cloudflare) {
    lines.push(`  internet --> access`);
    lines.push(`  access --> tunnel`);
    if (pages) lines.push(`  access --> pages`);
    for (const c of connectors) lines.push(`  tunnel --> ${connectorId(c)}`);
  }
  for (const s of services) {
    if (!s.hostName || s.entry.everyHostWith === "routes") continue;
    const target = s.id === "portal" ? "nginx" : id(s);
    if (routed.has(s.id)) lines.push(cloudflare ? `  ${connectorId(s.hostName)} --> ${target}` : `  lan --> ${target}`);
    else if (s.id === "dashboard" && portal) lines.push(`  nginx --> ${id(s)}`);
  }
  for (const s of withSecrets) {
    const targets = s.id === "portal" ? ["nginx"] : s.entry.everyHostWith === "routes" ? s.hostNames.map(connectorId) : s.hostNames.map((h) => nodeOn(s, h));
    for (const t of targets) lines.push(`  secrets -.-> ${t}`);
  }
  if (cloudflare) for (const c of connectors) lines.push(`  tunnel -.->|token| ${connectorId(c)}`);
  if (backrest) {
    // Each host backs up its own services' paths; the other hosts' restic jobs write to the repository directly.
    for (const s of services) {
      if (s.backup.paths.length === 0 || s.id === BACKUP_SERVICE || !s.hostName) continue;
      lines.push(s.hostName === backrest.hostName ? `  ${id(s)} -.-> ${id(backrest)}` : `  ${id(s)} -.->|restic daily| b2`);
    }
    lines.push(`  ${id(backrest)} -->|restic daily| b2`);
  }
  return lines.join("\n") + "\n";
}

/**
 * The topology as SVG. beautiful-mermaid's default style imports Inter from
 * Google Fonts; the docs site is behind Access and must work offline, so the
 * import is dropped and the system font used.
 */
export async function renderTopologySvg(lab: Homelab): Promise<string> {
  // beautiful-mermaid is ESM-only; a dynamic import loads it from this CommonJS project.
  const { renderMermaidSVG } = await import("beautiful-mermaid");
  const svg = renderMermaidSVG(topologyMermaid(lab), { font: "system-ui", padding: 24 });
  return svg.replace(/^\s*@import url\([^)]*\);\s*\n/gm, "").replace(/'Inter', /g, "") + (svg.endsWith("\n") ? "" : "\n");
}
