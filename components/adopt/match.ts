/**
 * Matching what a Cloudflare account already holds against what a stack
 * declares (components/adopt/declared.ts). Pure: the inventory comes from
 * components/adopt/inventory.ts (Cloudflare's API) or from a test.
 */
import type { Homelab } from "../catalog/resolve";
import { TUNNEL_CNAME_DOMAIN } from "../catalog/rules";
import { pagesTarget } from "../render/edge";
import { declaredEdge, importId, type DeclaredEdgeResource, type EdgeKind } from "./declared";

/** What the account and zone hold, in the fields of Cloudflare's objects the matching reads. */
export interface Inventory {
  tunnels: { id: string; name: string; config_src?: string | null; deleted_at?: string | null }[];
  /** Each tunnel's remote ingress hostnames, by tunnel id (empty for a locally managed tunnel). */
  tunnelHostnames: Record<string, string[]>;
  dnsRecords: { id: string; name: string; type: string; content: string; comment?: string | null }[];
  accessApplications: { id: string; name?: string; domain?: string; type?: string }[];
  accessPolicies: { id: string; name: string }[];
  serviceTokens: { id: string; name: string }[];
  pagesProjects: { name: string; subdomain?: string; domains?: string[] }[];
}

export type RowStatus = "adopted" | "create" | "conflict" | "unmanaged";

/** One line of the adopt table. */
export interface AdoptRow {
  status: RowStatus;
  /** The declared resource; undefined for an unmanaged object. */
  resource?: string;
  kind: EdgeKind;
  /** The object, as the owner knows it from the dashboard. */
  what: string;
  /** The import id (adopted) or Cloudflare's id of the object (conflict, unmanaged). */
  id?: string;
  /** What the first `pulumi up` will do beyond the import, or why a row conflicts. */
  note?: string;
}

export interface AdoptPlan {
  rows: AdoptRow[];
  /** `homelab:adopt`: resource name to import id, in declaration order. */
  adopt: Record<string, string>;
  /** Other stack keys whose live value the stack must take, or the program would replace the object (key without the namespace). */
  settings: Record<string, string>;
}

/** Two or more objects fit one declared resource; nothing is written. */
export class AmbiguousMatchError extends Error {
  constructor(
    public readonly resource: string,
    public readonly candidates: string[],
  ) {
    super(
      `${resource} matches ${candidates.length} objects: ${candidates.join("; ")}. Delete or rename all but one in the Cloudflare dashboard, then run npm run adopt again; nothing was written`,
    );
    this.name = "AmbiguousMatchError";
  }
}

const TUNNEL_SUFFIX = `.${TUNNEL_CNAME_DOMAIN}`;

/** The single element of `found`, undefined for none; more than one is refused. */
function single<T>(resource: string, found: T[], describe: (t: T) => string): T | undefined {
  const distinct = [...new Set(found)];
  if (distinct.length > 1) throw new AmbiguousMatchError(resource, distinct.map(describe));
  return distinct[0];
}

/**
 * Match every declared Cloudflare resource of the stack to what exists.
 * Tunnel: by name, or as the target of the catalog's routes. DNS record: by
 * hostname, adopted only as a proxied-or-not CNAME to the adopted tunnel or
 * Pages project. Access application: by domain. Policy and service token:
 * by name. Pages project: by name or by the docs route as its custom domain.
 */
export function matchInventory(lab: Homelab, inv: Inventory): AdoptPlan {
  const cf = lab.config.cloudflare;
  if (!cf)
    throw new Error(`stack ${lab.config.stack} has no Cloudflare edge (homelab:edge none): there is nothing to adopt`);
  const scope = { accountId: cf.accountId, zoneId: cf.zoneId };
  const declared = declaredEdge(lab);
  const rows: AdoptRow[] = [];
  const adopt: Record<string, string> = {};
  const settings: Record<string, string> = {};
  const used = new Set<string>();
  const take = (r: DeclaredEdgeResource, objectKey: string, id: string, what: string, note?: string) => {
    used.add(objectKey);
    adopt[r.name] = id;
    rows.push({ status: "adopted", resource: r.name, kind: r.kind, what, id, note });
  };
  const create = (r: DeclaredEdgeResource) =>
    rows.push({ status: "create", resource: r.name, kind: r.kind, what: r.matchBy });

  const hostnames = new Set(declared.filter((r) => r.kind === "dns-record").map((r) => r.matchBy));
  const tunnels = inv.tunnels.filter((t) => !t.deleted_at);
  const routed = new Set(
    inv.dnsRecords
      .filter((d) => hostnames.has(d.name) && d.type === "CNAME" && d.content.endsWith(TUNNEL_SUFFIX))
      .map((d) => d.content.slice(0, -TUNNEL_SUFFIX.length)),
  );
  const tunnelResource = declared.find((r) => r.kind === "tunnel");
  if (!tunnelResource) throw new Error("the declared edge has no tunnel; adoption needs edge: cloudflare");
  const tunnel = single(
    tunnelResource.name,
    tunnels.filter(
      (t) =>
        t.name === cf.tunnelName || routed.has(t.id) || (inv.tunnelHostnames[t.id] ?? []).some((h) => hostnames.has(h)),
    ),
    (t) => `tunnel ${t.name} (${t.id})`,
  );
  const pagesResource = declared.find((r) => r.kind === "pages-project");
  const pagesDomain = declared.find((r) => r.kind === "pages-domain");
  const project = pagesResource
    ? single(
        pagesResource.name,
        inv.pagesProjects.filter(
          (p) =>
            p.name === cf.pagesProject ||
            (pagesDomain !== undefined && (p.domains ?? []).includes(pagesDomain.matchBy)),
        ),
        (p) => `Pages project ${p.name}`,
      )
    : undefined;

  for (const r of declared) {
    switch (r.kind) {
      case "tunnel":
      case "tunnel-config": {
        if (!tunnel) {
          create(r);
          break;
        }
        const local = tunnel.config_src === "local";
        const note =
          r.kind === "tunnel"
            ? [
                tunnel.name !== cf.tunnelName ? `renamed to ${cf.tunnelName}` : "",
                local ? "locally managed: becomes remotely managed with the catalog's ingress" : "",
              ]
                .filter(Boolean)
                .join("; ") || undefined
            : local
              ? "the ingress moves from cloudflared's config file to Cloudflare"
              : undefined;
        take(r, `tunnel:${tunnel.id}`, importId(r.kind, scope, tunnel.id), `tunnel ${tunnel.name}`, note);
        break;
      }
      case "dns-record": {
        const live = inv.dnsRecords.filter((d) => d.name === r.matchBy);
        if (live.length === 0) {
          create(r);
          break;
        }
        const service = lab.services.find((s) => s.id === r.service);
        const wanted =
          service?.entry.runsOn === "pages"
            ? (project?.subdomain ?? pagesTarget(lab.config))
            : tunnel
              ? `${tunnel.id}${TUNNEL_SUFFIX}`
              : undefined;
        const fits =
          live.length === 1 && live[0].type === "CNAME" && wanted !== undefined && live[0].content === wanted;
        if (fits) {
          take(r, `dns:${live[0].id}`, importId(r.kind, scope, live[0].id), `CNAME ${r.matchBy} → ${live[0].content}`);
          break;
        }
        for (const d of live) {
          used.add(`dns:${d.id}`);
          rows.push({
            status: "conflict",
            resource: r.name,
            kind: r.kind,
            what: `${d.type} ${d.name} → ${d.content}`,
            id: d.id,
            note: `the stack wants CNAME → ${wanted ?? "the tunnel it creates"}; delete or change the record, then run npm run adopt again`,
          });
        }
        break;
      }
      case "access-application": {
        const app = single(
          r.name,
          inv.accessApplications.filter((a) => a.domain === r.matchBy),
          (a) => `Access application ${a.name ?? "(unnamed)"} (${a.id})`,
        );
        if (!app) create(r);
        else if (app.type !== undefined && app.type !== "self_hosted") {
          used.add(`app:${app.id}`);
          rows.push({
            status: "conflict",
            resource: r.name,
            kind: r.kind,
            what: `${app.type} application ${app.name ?? ""} for ${r.matchBy}`,
            id: app.id,
            note: "the stack declares a self_hosted application",
          });
        } else
          take(
            r,
            `app:${app.id}`,
            importId(r.kind, scope, app.id),
            `Access application ${app.name ?? app.domain} (${r.matchBy})`,
          );
        break;
      }
      case "access-policy": {
        const policy = single(
          r.name,
          inv.accessPolicies.filter((p) => p.name === r.matchBy),
          (p) => `Access policy ${p.name} (${p.id})`,
        );
        if (policy) take(r, `policy:${policy.id}`, importId(r.kind, scope, policy.id), `Access policy ${policy.name}`);
        else create(r);
        break;
      }
      case "service-token": {
        const token = single(
          r.name,
          inv.serviceTokens.filter((t) => t.name === r.matchBy),
          (t) => `service token ${t.name} (${t.id})`,
        );
        if (token)
          take(
            r,
            `token:${token.id}`,
            importId(r.kind, scope, token.id),
            `service token ${token.name}`,
            "its secret stays with its clients; bump homelab:apiClientKeyVersion to have one issued to the stack",
          );
        else create(r);
        break;
      }
      case "pages-project": {
        if (!project) {
          create(r);
          break;
        }
        // A Pages project is known by its name: declaring another would replace it.
        if (project.name !== cf.pagesProject) settings.pagesProject = project.name;
        take(
          r,
          `pages:${project.name}`,
          importId(r.kind, scope, project.name),
          `Pages project ${project.name}`,
          project.name !== cf.pagesProject ? `homelab:pagesProject set to ${project.name}` : undefined,
        );
        break;
      }
      case "pages-domain": {
        if (project && (project.domains ?? []).includes(r.matchBy))
          take(
            r,
            `pages-domain:${project.name}:${r.matchBy}`,
            importId(r.kind, scope, r.matchBy, project.name),
            `Pages domain ${r.matchBy}`,
          );
        else create(r);
        break;
      }
    }
  }

  const unmanaged = (kind: EdgeKind, key: string, what: string, id: string) => {
    if (!used.has(key)) rows.push({ status: "unmanaged", kind, what, id });
  };
  for (const t of tunnels) unmanaged("tunnel", `tunnel:${t.id}`, `tunnel ${t.name}`, t.id);
  for (const d of inv.dnsRecords) unmanaged("dns-record", `dns:${d.id}`, `${d.type} ${d.name} → ${d.content}`, d.id);
  for (const a of inv.accessApplications)
    unmanaged(
      "access-application",
      `app:${a.id}`,
      `Access application ${a.name ?? ""} (${a.domain ?? a.type ?? "no domain"})`,
      a.id,
    );
  for (const p of inv.accessPolicies) unmanaged("access-policy", `policy:${p.id}`, `Access policy ${p.name}`, p.id);
  for (const t of inv.serviceTokens) unmanaged("service-token", `token:${t.id}`, `service token ${t.name}`, t.id);
  for (const p of inv.pagesProjects) {
    unmanaged("pages-project", `pages:${p.name}`, `Pages project ${p.name}`, p.name);
    for (const d of p.domains ?? [])
      unmanaged("pages-domain", `pages-domain:${p.name}:${d}`, `Pages domain ${d} of ${p.name}`, d);
  }
  return { rows, adopt, settings };
}

const STATUS_ORDER: Record<RowStatus, number> = { conflict: 0, adopted: 1, create: 2, unmanaged: 3 };

/** The table `npm run adopt` prints: conflicts first, then adopted, to be created and unmanaged rows. */
export function renderAdoptTable(plan: AdoptPlan): string {
  const rows = [...plan.rows].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status]);
  const cells = rows.map((r) => [r.status, r.resource ?? "-", r.what, r.id ?? "-", r.note ?? ""]);
  const head = ["status", "resource", "object", "id", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const count = (s: RowStatus) => plan.rows.filter((r) => r.status === s).length;
  return [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
    "",
    `${count("adopted")} adopted, ${count("create")} to be created, ${count("conflict")} conflicting, ${count("unmanaged")} unmanaged (listed, never touched)`,
  ].join("\n");
}
