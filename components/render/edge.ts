import type { Homelab, ResolvedService } from "../catalog/resolve";
import { routedServices } from "../catalog/resolve";

/**
 * The tunnel's single origin: nginx on the host, which routes by the Host
 * header, so cloudflared needs no per-service ports.
 */
export const TUNNEL_ORIGIN = "http://localhost:80";
export const CATCH_ALL = "http_status:404";

export interface IngressRule {
  hostname?: string;
  service: string;
}

export interface DnsRecordPlan {
  name: string;
  type: "CNAME";
  content: string;
  proxied: boolean;
}

/** Routed services that the tunnel carries: every route except the Pages site. */
export function tunnelServices(lab: Homelab): ResolvedService[] {
  return routedServices(lab).filter((s) => s.entry.runsOn === "host");
}

/** Ingress rules in evaluation order; the catch-all comes last. Empty without an edge. */
export function renderIngress(lab: Homelab): IngressRule[] {
  if (lab.config.edge !== "cloudflare") return [];
  return [
    ...tunnelServices(lab).map((s) => ({ hostname: s.publicHostname as string, service: TUNNEL_ORIGIN })),
    { service: CATCH_ALL },
  ];
}

/** The tunnel's CNAME target before Cloudflare assigns the tunnel an id. */
export const TUNNEL_TARGET_PLACEHOLDER = "<tunnel-id>.cfargotunnel.com";

/**
 * The Pages site's expected hostname. Cloudflare adds a suffix when the name
 * is taken, so the program uses the project's real subdomain instead.
 */
export function pagesTarget(lab: Homelab): string {
  return `${lab.config.cloudflare?.pagesProject}.pages.dev`;
}

/**
 * DNS records, one proxied CNAME per route. Tunnel routes point at the tunnel,
 * whose id is known only after Cloudflare creates it (the offline plan shows
 * a placeholder); the Pages route points at the project's hostname.
 */
export function renderDns(lab: Homelab, tunnelTarget = TUNNEL_TARGET_PLACEHOLDER): DnsRecordPlan[] {
  if (lab.config.edge !== "cloudflare") return [];
  return routedServices(lab).map((s) => ({
    name: s.publicHostname as string,
    type: "CNAME" as const,
    content: s.entry.runsOn === "pages" ? pagesTarget(lab) : tunnelTarget,
    proxied: true,
  }));
}
