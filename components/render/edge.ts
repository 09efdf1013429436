import type { Homelab, ResolvedService } from "../catalog/resolve";
import { labHosts, routedServices, routesViaLocalNginx } from "../catalog/resolve";
import { TUNNEL_CNAME_DOMAIN } from "../catalog/rules";
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
  /**
   * The origin serves TLS with the certificate it made itself on the host
   * (catalog scheme `https`), which no CA vouches for: cloudflared encrypts
   * to it without checking the certificate.
   */
  noTlsVerify?: true;
}

/** An ingress rule with the Access check cloudflared applies to it. */
export interface IngressRuleWithAccess<T> extends IngressRule {
  /** Present on every rule of an Access-protected hostname: cloudflared rejects requests without a valid JWT for `audTags`. */
  access?: { required: true; teamName: T; audTags: T[] };
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
  /**
   * Whether the project's own Pages hostnames need protecting too:
   * `<project>.pages.dev` and every preview `*.<project>.pages.dev` serve the
   * same content, and Pages leaves them public by default.
   */
  coversPagesHostnames: boolean;
  sessionDuration: string;
  /** Present when the service's native clients authenticate with a service token. */
  serviceToken?: { name: string; policyName: string; duration: string; version: number };
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

/**
 * Where a route's requests go. When only the service's own host runs a
 * connector and nginx is there too, nginx on localhost routes by Host.
 * Otherwise Cloudflare may hand a request to a connector on another machine
 * (reachedOverLan), so the rule must work from every one of them: it names
 * the service on the LAN address of the host that runs it (the portal's own
 * rule reaches nginx there). Routed services listen on 0.0.0.0 with their
 * port open (validation refuses a routed loopback service), and no route
 * depends on a host other than its own, so a connector on one host keeps the
 * others' routes up while it reboots.
 */
export function ingressOrigin(lab: Homelab, s: ResolvedService): string {
  const own = s.hostName ?? labHosts(lab)[0].name;
  if (routesViaLocalNginx(lab, own)) return TUNNEL_ORIGIN;
  const host = labHosts(lab).find((h) => h.name === s.hostName);
  if (!host || s.port === null)
    throw new Error(`service "${s.id}": a route needs a host and a port to send requests to`);
  // A service that refuses plain HTTP from other machines (scheme https) is reached over its own TLS.
  return `${s.entry.scheme === "https" ? "https" : "http"}://${host.lanAddress}:${s.port}`;
}

/** Ingress rules in evaluation order; the catch-all comes last. Empty without an edge. */
export function renderIngress(lab: Homelab): IngressRule[] {
  if (lab.config.edge !== "cloudflare") return [];
  return [
    ...tunnelServices(lab).map((s): IngressRule => {
      const service = ingressOrigin(lab, s);
      return {
        hostname: s.publicHostname as string,
        service,
        ...(service.startsWith("https:") ? { noTlsVerify: true as const } : {}),
      };
    }),
    { service: CATCH_ALL },
  ];
}

/**
 * The ingress with each protected hostname's Access check, against the team
 * whose JWTs cloudflared accepts. Fails closed: a rule for a hostname the
 * catalog protects but that has no audience tag is an error, never a rule
 * without the check.
 */
export function ingressWithAccess<T>(
  lab: Homelab,
  audiences: ReadonlyMap<string, T>,
  teamName: T,
): IngressRuleWithAccess<T>[] {
  const protectedHosts = new Set(
    routedServices(lab)
      .filter((s) => s.protection === "access")
      .map((s) => s.publicHostname as string),
  );
  return renderIngress(lab).map((rule) => {
    if (!rule.hostname || !protectedHosts.has(rule.hostname)) return rule;
    const aud = audiences.get(rule.hostname);
    if (aud === undefined) {
      throw new Error(
        `ingress rule for ${rule.hostname}: the service is behind Access but has no Access application audience; refusing to publish it unchecked`,
      );
    }
    return { ...rule, access: { required: true, teamName, audTags: [aud] } };
  });
}

/** What the program reads from the account's Zero Trust organisation before it changes any ingress. */
export interface ZeroTrustFacts {
  /** The organisation's auth domain, `<team>.cloudflareaccess.com`. */
  authDomain: string;
  /** The login methods (identity providers) the organisation offers, by type, e.g. "onetimepin". */
  loginMethods: string[];
}

const AUTH_DOMAIN_SUFFIX = ".cloudflareaccess.com";

/**
 * The team name cloudflared checks Access JWTs against, from Cloudflare's own
 * organisation record. A typo in homelab:accessTeamName would make cloudflared
 * reject every request on every route, and an organisation without a login
 * method lets nobody through the email policy: both are errors here, naming
 * the key or the dashboard setting that fixes them.
 */
export function checkZeroTrust(config: StackConfig, facts: ZeroTrustFacts): string {
  const configured = config.cloudflare?.teamName;
  if (!facts.authDomain.endsWith(AUTH_DOMAIN_SUFFIX)) {
    throw new Error(
      `the Zero Trust organisation's auth domain "${facts.authDomain}" does not end in ${AUTH_DOMAIN_SUFFIX}; check the account in homelab:cloudflareAccountId`,
    );
  }
  const team = facts.authDomain.slice(0, -AUTH_DOMAIN_SUFFIX.length);
  if (configured !== team) {
    throw new Error(
      `homelab:accessTeamName is "${configured}", but the account's Zero Trust team is "${team}" (${facts.authDomain}); cloudflared would reject every request. Run pulumi config set homelab:accessTeamName ${team} --stack ${config.stack}`,
    );
  }
  if (facts.loginMethods.length === 0) {
    throw new Error(
      `the Zero Trust organisation ${facts.authDomain} has no login method, so nobody can pass the email policy of homelab:accessEmails. Add one in the Zero Trust dashboard: Settings → Authentication → Login methods → One-time PIN`,
    );
  }
  return team;
}

/** Days before a service token's expiry from which `pulumi preview` warns. */
export const SERVICE_TOKEN_WARN_DAYS = 30;

/** A warning when a service token expires within SERVICE_TOKEN_WARN_DAYS of `now`, else null. */
export function serviceTokenExpiryWarning(
  serviceId: string,
  expiresAt: string | undefined,
  now: Date,
  stack: string,
): string | null {
  if (!expiresAt) return null;
  const left = Date.parse(expiresAt) - now.getTime();
  if (Number.isNaN(left) || left > SERVICE_TOKEN_WARN_DAYS * 86_400_000) return null;
  const when =
    left <= 0 ? `expired on ${expiresAt}` : `expires on ${expiresAt}, in ${Math.ceil(left / 86_400_000)} days`;
  return `the Access service token of ${serviceId} ${when}; API clients will get 401s. Rotate it: pulumi config set homelab:apiClientKeyVersion <next number> --stack ${stack}, then pulumi up (the operator manual's "The edge and secrets", "Rotating API client keys")`;
}

/** The tunnel's CNAME target before Cloudflare assigns the tunnel an id. */
export const TUNNEL_TARGET_PLACEHOLDER = `<tunnel-id>.${TUNNEL_CNAME_DOMAIN}`;

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
export function dnsRecordFor(
  config: StackConfig,
  s: ResolvedService,
  tunnelTarget = TUNNEL_TARGET_PLACEHOLDER,
): DnsRecordPlan | null {
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
 * A year: long enough that API clients are not re-keyed often, short enough
 * that a leaked key dies on its own. The expiry is exported and `pulumi
 * preview` warns SERVICE_TOKEN_WARN_DAYS before it; never "forever".
 */
export const SERVICE_TOKEN_DURATION = "8760h";

/** The Access application of a route the catalog does not mark public; null for public or unrouted services. */
export function accessApplicationFor(config: StackConfig, s: ResolvedService): AccessApplicationPlan | null {
  if (config.edge !== "cloudflare" || s.publicHostname === null || s.protection !== "access") return null;
  return {
    name: `${s.title} (${config.stack})`,
    domain: s.publicHostname,
    coversPagesHostnames: s.entry.runsOn === "pages",
    sessionDuration: "24h",
    serviceToken:
      s.nativeClients?.via === "service-token"
        ? {
            name: `homelab ${config.stack}: ${s.id} clients`,
            policyName: `homelab ${config.stack}: ${s.id} service token`,
            duration: SERVICE_TOKEN_DURATION,
            version: config.apiClientKeyVersion,
          }
        : undefined,
  };
}

/** The reusable email allow policy every Access application lists first. */
export function allowPolicyFor(
  config: StackConfig,
): { name: string; emails: string[]; sessionDuration: string } | null {
  if (config.edge !== "cloudflare" || !config.cloudflare) return null;
  return {
    name: `homelab ${config.stack}: owners`,
    emails: [...config.cloudflare.accessEmails],
    sessionDuration: "24h",
  };
}
