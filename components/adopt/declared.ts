/**
 * The Cloudflare resources a stack declares, by the names `pulumi preview`
 * shows, with what each is matched by when it already exists and the id
 * Pulumi's `import` option takes for it. Pure: `npm run adopt`, the config
 * check of `homelab:adopt` and the program all read this one list, and a
 * test holds it to the names the program registers.
 */
import type { Homelab } from "../catalog/resolve";
import { routedServices } from "../catalog/resolve";
import { CLOUDFLARE_ID, PAGES_PROJECT_NAME } from "../catalog/rules";
import type { Problem } from "../catalog/validate";
import { CONFIG_NAMESPACE, show } from "../config/schema";
import { accessApplicationFor, allowPolicyFor, dnsRecordFor } from "../render/edge";

/** What kind of Cloudflare object a declared resource is. */
export type EdgeKind =
  | "tunnel"
  | "tunnel-config"
  | "access-policy"
  | "dns-record"
  | "access-application"
  | "service-token"
  | "pages-project"
  | "pages-domain";

export interface DeclaredEdgeResource {
  /** The resource name in the preview tree, and the key of `homelab:adopt`. @example "jellyfin-dns" */
  name: string;
  kind: EdgeKind;
  /** What an existing object is matched by: a hostname, a name or a domain. @example "jellyfin-home.javiersc.com" */
  matchBy: string;
  /** The catalog id of the service that owns it; undefined for what the stack's services share. */
  service?: string;
}

/** The Pulumi type token of each kind, as the preview shows it. */
export const EDGE_TYPES: Readonly<Record<EdgeKind, string>> = {
  tunnel: "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared",
  "tunnel-config": "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
  "access-policy": "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy",
  "dns-record": "cloudflare:index/dnsRecord:DnsRecord",
  "access-application": "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication",
  "service-token": "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken",
  "pages-project": "cloudflare:index/pagesProject:PagesProject",
  "pages-domain": "cloudflare:index/pagesDomain:PagesDomain",
};

/** Resource names the program gives; service.ts and homelab.ts build theirs from these. */
export const edgeNames = {
  tunnel: (stack: string) => `${stack}-tunnel-cloudflared`,
  tunnelConfig: (stack: string) => `${stack}-ingress`,
  allowPolicy: (stack: string) => `${stack}-owners`,
  dnsRecord: (service: string) => `${service}-dns`,
  accessApplication: (service: string) => `${service}-access`,
  serviceToken: (service: string) => `${service}-token`,
  serviceTokenPolicy: (service: string) => `${service}-token-policy`,
  pagesProject: (service: string) => `${service}-pages`,
  pagesDomain: (service: string) => `${service}-pages-domain`,
};

/** Every Cloudflare resource the stack declares, in the order the program declares them. Empty without an edge. */
export function declaredEdge(lab: Homelab): DeclaredEdgeResource[] {
  const { config } = lab;
  const cf = config.cloudflare;
  const allow = allowPolicyFor(config);
  if (config.edge !== "cloudflare" || !cf || !allow) return [];
  const out: DeclaredEdgeResource[] = [
    { name: edgeNames.tunnel(config.stack), kind: "tunnel", matchBy: cf.tunnelName },
    { name: edgeNames.allowPolicy(config.stack), kind: "access-policy", matchBy: allow.name },
  ];
  for (const s of routedServices(lab)) {
    if (s.status !== "enabled") continue;
    if (s.entry.runsOn === "pages") {
      out.push({ name: edgeNames.pagesProject(s.id), kind: "pages-project", matchBy: cf.pagesProject, service: s.id });
      out.push({
        name: edgeNames.pagesDomain(s.id),
        kind: "pages-domain",
        matchBy: s.publicHostname as string,
        service: s.id,
      });
    }
    const record = dnsRecordFor(config, s);
    if (record) out.push({ name: edgeNames.dnsRecord(s.id), kind: "dns-record", matchBy: record.name, service: s.id });
    const app = accessApplicationFor(config, s);
    if (app?.serviceToken) {
      out.push({
        name: edgeNames.serviceToken(s.id),
        kind: "service-token",
        matchBy: app.serviceToken.name,
        service: s.id,
      });
      out.push({
        name: edgeNames.serviceTokenPolicy(s.id),
        kind: "access-policy",
        matchBy: app.serviceToken.policyName,
        service: s.id,
      });
    }
    if (app)
      out.push({
        name: edgeNames.accessApplication(s.id),
        kind: "access-application",
        matchBy: app.domain,
        service: s.id,
      });
  }
  out.push({ name: edgeNames.tunnelConfig(config.stack), kind: "tunnel-config", matchBy: cf.tunnelName });
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The stack's Cloudflare ids that every import id is scoped by. */
export interface EdgeScope {
  accountId: string;
  zoneId: string;
}

/**
 * The import id of an object of `kind` whose own id (or, for Pages, name) is
 * `objectId`, in the form the provider's import documents for the type.
 * @example importId("dns-record", scope, "372e67954025e0ba6aaa6d586b9e0b59") // "<zone>/372e…"
 */
export function importId(kind: EdgeKind, scope: EdgeScope, objectId: string, pagesProject?: string): string {
  switch (kind) {
    case "dns-record":
      return `${scope.zoneId}/${objectId}`;
    case "access-application":
    case "service-token":
      return `accounts/${scope.accountId}/${objectId}`;
    case "pages-domain":
      return `${scope.accountId}/${pagesProject}/${objectId}`;
    default:
      return `${scope.accountId}/${objectId}`;
  }
}

/** What an import id of each kind looks like, for the fix of a refused one. */
const IMPORT_FORM: Readonly<Record<EdgeKind, string>> = {
  tunnel: "<account id>/<tunnel uuid>",
  "tunnel-config": "<account id>/<tunnel uuid>",
  "access-policy": "<account id>/<policy uuid>",
  "dns-record": "<zone id>/<record id>",
  "access-application": "accounts/<account id>/<application uuid>",
  "service-token": "accounts/<account id>/<token uuid>",
  "pages-project": "<account id>/<project name>",
  "pages-domain": "<account id>/<project name>/<domain>",
};

/** Why `id` is not an import id of `kind` in this scope, or undefined. */
export function importIdProblem(
  kind: EdgeKind,
  scope: EdgeScope,
  id: string,
  expectDomain?: string,
): string | undefined {
  const parts = id.split("/");
  const at = (i: number) => parts[i] ?? "";
  const wrongScope = (got: string, want: string, what: string) =>
    got === want ? undefined : `names ${what} ${show(got)}, not this stack's ${want}`;
  switch (kind) {
    case "dns-record":
      if (parts.length !== 2 || !CLOUDFLARE_ID.test(at(1))) break;
      return wrongScope(at(0), scope.zoneId, "zone");
    case "access-application":
    case "service-token":
      if (parts.length !== 3 || at(0) !== "accounts" || !UUID.test(at(2))) break;
      return wrongScope(at(1), scope.accountId, "account");
    case "pages-project":
      if (parts.length !== 2 || !PAGES_PROJECT_NAME.test(at(1))) break;
      return wrongScope(at(0), scope.accountId, "account");
    case "pages-domain":
      if (parts.length !== 3 || !PAGES_PROJECT_NAME.test(at(1))) break;
      if (expectDomain !== undefined && at(2) !== expectDomain)
        return `names the domain ${show(at(2))}, but the resource is the custom domain ${expectDomain}`;
      return wrongScope(at(0), scope.accountId, "account");
    default:
      if (parts.length !== 2 || !UUID.test(at(1))) break;
      return wrongScope(at(0), scope.accountId, "account");
  }
  return `${show(id)} is not an import id of ${EDGE_TYPES[kind].split(":").at(-1)}, which takes ${IMPORT_FORM[kind]}`;
}

/**
 * Every problem of `homelab:adopt`: a name the stack does not declare, an id
 * of the wrong form or of another account or zone, and a tunnel config that
 * names another tunnel than the adopted tunnel.
 */
export function adoptProblems(lab: Homelab): Problem[] {
  const adopt = lab.config.adopt;
  if (!adopt) return [];
  const file = `Pulumi.${lab.config.stack}.yaml`;
  const cf = lab.config.cloudflare;
  const field = (name: string) => `${CONFIG_NAMESPACE}:adopt.${name}`;
  if (!cf) {
    return [
      {
        field: `${CONFIG_NAMESPACE}:adopt`,
        message: "adopts Cloudflare objects, but the stack has no Cloudflare edge (homelab:edge none)",
        fix: `remove ${CONFIG_NAMESPACE}:adopt from ${file}`,
      },
    ];
  }
  const scope = { accountId: cf.accountId, zoneId: cf.zoneId };
  const declared = new Map(declaredEdge(lab).map((r) => [r.name, r]));
  const problems: Problem[] = [];
  for (const [name, id] of Object.entries(adopt)) {
    const resource = declared.get(name);
    if (!resource) {
      problems.push({
        field: field(name),
        message: `the stack declares no Cloudflare resource named ${show(name)}`,
        fix: `run npm run adopt -- --stack ${lab.config.stack} to rewrite ${CONFIG_NAMESPACE}:adopt, or remove the entry from ${file}`,
      });
      continue;
    }
    const why = importIdProblem(
      resource.kind,
      scope,
      id,
      resource.kind === "pages-domain" ? resource.matchBy : undefined,
    );
    if (why)
      problems.push({
        field: field(name),
        message: why,
        fix: `run npm run adopt -- --stack ${lab.config.stack}, which writes ids of the form ${IMPORT_FORM[resource.kind]}`,
      });
  }
  const tunnel = adopt[edgeNames.tunnel(lab.config.stack)];
  const ingress = adopt[edgeNames.tunnelConfig(lab.config.stack)];
  if (ingress !== undefined && ingress !== tunnel) {
    problems.push({
      field: field(edgeNames.tunnelConfig(lab.config.stack)),
      message:
        tunnel === undefined
          ? "adopts a tunnel's configuration without adopting the tunnel"
          : `names tunnel ${show(ingress)}, but the adopted tunnel is ${show(tunnel)}`,
      fix: `adopt the tunnel and its configuration together: run npm run adopt -- --stack ${lab.config.stack}`,
    });
  }
  return problems;
}

/** The adopted id of a declared resource, or undefined when the program creates it. */
export function adoptedId(lab: Pick<Homelab, "config">, name: string): string | undefined {
  return lab.config.adopt?.[name];
}

/** The tunnel's own uuid from its import id `<account>/<uuid>`. */
export function tunnelUuid(importIdOfTunnel: string): string {
  return importIdOfTunnel.split("/")[1];
}
