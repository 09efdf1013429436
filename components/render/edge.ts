import type { Homelab, ResolvedService } from "../catalog/resolve";
import { routedServices } from "../catalog/resolve";
import type { StackConfig } from "../config/schema";

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

/** An ingress rule with the Access check cloudflared applies to it. */
export interface IngressRuleWithAccess<T> extends IngressRule {
  /** Present on every rule of an Access-protected hostname: cloudflared rejects requests without a valid JWT for `audTags`. */
  access?: { required: true; teamName: string; audTags: T[] };
}

export interface DnsRecordPlan {
  name: string;
  type: "CNAME";
  content: string;
  proxied: boolean;
  /** 1 means "automatic", the only TTL Cloudflare allows on proxied records. */
  ttl: 1;
  comment: string;
}

/** What a service's Access application is made of. */
export interface AccessApplicationPlan {
  /** Shown in the Zero Trust dashboard and the App Launcher. */
  name: string;
  /** The route the application protects. */
  domain: string;
  sessionDuration: string;
  /** Present when the service's native clients authenticate with a service token. */
  serviceToken?: { name: string; policyName: string; duration: string };
}

/** Access service-token credentials, as API clients send them. */
export interface ServiceTokenCredentials {
  clientId: string;
  clientSecret: string;
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

/**
 * The ingress with each protected hostname's Access check. Fails closed: a
 * rule for a hostname the catalog protects but that has no audience tag is
 * an error, never a rule without the check.
 */
export function ingressWithAccess<T>(lab: Homelab, audiences: ReadonlyMap<string, T>): IngressRuleWithAccess<T>[] {
  const teamName = lab.config.cloudflare?.teamName;
  const protectedHosts = new Set(routedServices(lab).filter((s) => s.protection === "access").map((s) => s.publicHostname as string));
  return renderIngress(lab).map((rule) => {
    if (!rule.hostname || !protectedHosts.has(rule.hostname)) return rule;
    const aud = audiences.get(rule.hostname);
    if (aud === undefined || !teamName) {
      throw new Error(`ingress rule for ${rule.hostname}: the service is behind Access but ${aud === undefined ? "has no Access application audience" : "the stack has no homelab:accessTeamName"}; refusing to publish it unchecked`);
    }
    return { ...rule, access: { required: true, teamName, audTags: [aud] } };
  });
}

/** The tunnel's CNAME target before Cloudflare assigns the tunnel an id. */
export const TUNNEL_TARGET_PLACEHOLDER = "<tunnel-id>.cfargotunnel.com";

/**
 * The Pages site's expected hostname. Cloudflare adds a suffix when the name
 * is taken, so the program uses the project's real subdomain instead.
 */
export function pagesTarget(config: StackConfig): string {
  return `${config.cloudflare?.pagesProject}.pages.dev`;
}

/**
 * A routed service's proxied CNAME. Tunnel routes point at the tunnel, whose
 * id is known only after Cloudflare creates it (the offline plan shows a
 * placeholder); the Pages route points at the project's hostname. Null when
 * the stack does not route the service.
 */
export function dnsRecordFor(config: StackConfig, s: ResolvedService, tunnelTarget = TUNNEL_TARGET_PLACEHOLDER): DnsRecordPlan | null {
  if (config.edge !== "cloudflare" || s.publicHostname === null) return null;
  return {
    name: s.publicHostname,
    type: "CNAME",
    content: s.entry.runsOn === "pages" ? pagesTarget(config) : tunnelTarget,
    proxied: true,
    ttl: 1,
    comment: `homelab stack ${config.stack}; managed by Pulumi`,
  };
}

/** DNS records of every route, in catalog order. */
export function renderDns(lab: Homelab, tunnelTarget = TUNNEL_TARGET_PLACEHOLDER): DnsRecordPlan[] {
  return routedServices(lab).flatMap((s) => dnsRecordFor(lab.config, s, tunnelTarget) ?? []);
}

/**
 * Cloudflare Access service tokens last a year unless told otherwise; the
 * program sets it explicitly so the expiry is a reviewed value.
 */
export const SERVICE_TOKEN_DURATION = "8760h";

/** The Access application of a route the catalog does not mark public; null for public or unrouted services. */
export function accessApplicationFor(config: StackConfig, s: ResolvedService): AccessApplicationPlan | null {
  if (config.edge !== "cloudflare" || s.publicHostname === null || s.protection !== "access") return null;
  return {
    name: `${s.title} (${config.stack})`,
    domain: s.publicHostname,
    sessionDuration: "24h",
    serviceToken:
      s.nativeClients?.via === "service-token"
        ? { name: `homelab ${config.stack}: ${s.id} clients`, policyName: `homelab ${config.stack}: ${s.id} service token`, duration: SERVICE_TOKEN_DURATION }
        : undefined,
  };
}

/** The reusable email allow policy every Access application lists first. */
export function allowPolicyFor(config: StackConfig): { name: string; emails: string[]; sessionDuration: string } | null {
  if (config.edge !== "cloudflare" || !config.cloudflare) return null;
  return { name: `homelab ${config.stack}: owners`, emails: [...config.cloudflare.accessEmails], sessionDuration: "24h" };
}
