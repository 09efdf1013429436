/**
 * A stateful stand-in for the Cloudflare API v4 on 127.0.0.1, for the adopt
 * command (through the official `cloudflare` SDK) and, in the engine tier,
 * the Pulumi cloudflare provider (through its `baseUrl`).
 *
 * Shapes follow the types of the `cloudflare` npm package 7.3.0, which is
 * generated from Cloudflare's published OpenAPI schema: the envelope
 * (`success`, `errors`, `messages`, `result`, `result_info` with `page`,
 * `per_page`, `count`, `total_count`, `total_pages`), and each object's
 * fields (resources/dns/records.d.ts, zero-trust/tunnels/cloudflared,
 * zero-trust/access/{applications,policies,service-tokens}, pages/projects).
 * Duplicate DNS records get Cloudflare's own refusals: 81053 ("An A, AAAA,
 * or CNAME record with that host already exists") and 81057 ("Identical
 * record already exists").
 *
 * One behaviour is the dashboard's, taken as documented rather than read
 * from a schema: the first remote configuration written to a locally
 * managed tunnel migrates it (config_src becomes "cloudflare"; the
 * migration is one-way).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

type Obj = Record<string, unknown>;

export interface ApiError {
  code: number;
  message: string;
}

export interface CloudflareState {
  accountId: string;
  zoneId: string;
  zoneName: string;
  tunnels: Obj[];
  /** Remote configurations by tunnel id. */
  tunnelConfigs: Record<string, Obj>;
  /** Tunnel secrets by tunnel id: write-only in the API, kept for the token. */
  tunnelSecrets: Record<string, string>;
  dnsRecords: Obj[];
  accessApplications: Obj[];
  accessPolicies: Obj[];
  serviceTokens: Obj[];
  pagesProjects: Obj[];
  /** Pages custom domains by project name. */
  pagesDomains: Record<string, Obj[]>;
  organization: Obj;
  identityProviders: Obj[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  body?: unknown;
}

export interface CloudflareApi {
  /** Base URL to hand to the SDK (`baseURL`) or the provider (`baseUrl`). */
  url: string;
  token: string;
  state: CloudflareState;
  /** Every request, in order; what changed Cloudflare is every one that is not a GET. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const now = () => new Date("2026-12-01T12:00:00Z").toISOString();

/** An empty account and zone; seed it with `ownerLab` (test/support/owner-lab.ts) or by hand. */
export function emptyState(accountId: string, zoneId: string, zoneName: string): CloudflareState {
  return {
    accountId,
    zoneId,
    zoneName,
    tunnels: [],
    tunnelConfigs: {},
    tunnelSecrets: {},
    dnsRecords: [],
    accessApplications: [],
    accessPolicies: [],
    serviceTokens: [],
    pagesProjects: [],
    pagesDomains: {},
    organization: {
      auth_domain: "javiersc.cloudflareaccess.com",
      name: "javiersc",
      is_ui_read_only: false,
      created_at: now(),
      updated_at: now(),
    },
    identityProviders: [{ id: randomUUID(), name: "One-time PIN", type: "onetimepin", config: {} }],
  };
}

class HttpError extends Error {
  constructor(
    public readonly status: number,
    public readonly errors: ApiError[],
  ) {
    super(errors.map((e) => e.message).join("; "));
  }
}

const notFound = (what: string) =>
  new HttpError(404, [
    { code: 7003, message: `Could not route to ${what}, perhaps your object identifier is invalid?` },
  ]);

/** A new CNAME/A/... record as Cloudflare stores it (RecordResponse of the SDK). */
export function dnsRecord(fields: {
  name: string;
  type: string;
  content: string;
  proxied?: boolean;
  ttl?: number;
  comment?: string | null;
  id?: string;
}): Obj {
  return {
    id: fields.id ?? randomBytes(16).toString("hex"),
    name: fields.name,
    type: fields.type,
    content: fields.content,
    proxiable: ["A", "AAAA", "CNAME"].includes(fields.type),
    proxied: fields.proxied ?? false,
    ttl: fields.ttl ?? 1,
    settings: {},
    meta: {},
    comment: fields.comment ?? null,
    tags: [],
    created_on: now(),
    modified_on: now(),
  };
}

/** A tunnel as `cloudflared tunnel create` (config_src local) or the dashboard (cloudflare) leaves it. */
export function tunnel(
  state: CloudflareState,
  fields: { name: string; config_src: "local" | "cloudflare"; id?: string; secret?: string },
): Obj {
  const id = fields.id ?? randomUUID();
  state.tunnelSecrets[id] = fields.secret ?? randomBytes(32).toString("base64");
  const t = {
    id,
    account_tag: state.accountId,
    config_src: fields.config_src,
    remote_config: fields.config_src === "cloudflare",
    connections: [],
    conns_active_at: now(),
    conns_inactive_at: null,
    created_at: now(),
    deleted_at: null,
    metadata: {},
    name: fields.name,
    status: "healthy",
    tun_type: "cfd_tunnel",
  };
  state.tunnels.push(t);
  return t;
}

function page(items: Obj[], query: URLSearchParams, defaultPerPage: number): { result: Obj[]; result_info: Obj } {
  const perPage = Math.max(1, Math.min(Number(query.get("per_page") ?? defaultPerPage) || defaultPerPage, 5000));
  const pageNo = Math.max(1, Number(query.get("page") ?? 1) || 1);
  const result = items.slice((pageNo - 1) * perPage, pageNo * perPage);
  return {
    result,
    result_info: {
      page: pageNo,
      per_page: perPage,
      count: result.length,
      total_count: items.length,
      total_pages: Math.max(1, Math.ceil(items.length / perPage)),
    },
  };
}

/** `name=x` or `name.exact=x`, as the SDK and the provider send a DNS name filter. */
function nameFilter(query: URLSearchParams): string | null {
  return query.get("name.exact") ?? query.get("name");
}

function merge(target: Obj, body: Obj, fields: readonly string[]): void {
  for (const f of fields) if (body[f] !== undefined) target[f] = body[f];
}

const DNS_FIELDS = [
  "name",
  "type",
  "content",
  "proxied",
  "ttl",
  "comment",
  "tags",
  "settings",
  "priority",
  "data",
] as const;
const APP_FIELDS = [
  "name",
  "domain",
  "type",
  "destinations",
  "self_hosted_domains",
  "session_duration",
  "app_launcher_visible",
  "service_auth_401_redirect",
  "allowed_idps",
  "auto_redirect_to_identity",
  "enable_binding_cookie",
  "http_only_cookie_attribute",
  "options_preflight_bypass",
  "skip_interstitial",
  "tags",
  "cors_headers",
  "logo_url",
] as const;
const POLICY_FIELDS = [
  "name",
  "decision",
  "include",
  "exclude",
  "require",
  "session_duration",
  "approval_required",
  "isolation_required",
  "purpose_justification_required",
] as const;

/** Route one request against `state`; returns the `result` (and paging) or throws an HttpError. */
function route(
  state: CloudflareState,
  method: string,
  path: string,
  query: URLSearchParams,
  body: Obj,
): { result: unknown; result_info?: Obj } {
  const parts = path.split("/").filter(Boolean);
  const [scope, scopeId, ...rest] = parts;
  if (scope === "zones" && scopeId === state.zoneId && rest.length === 0 && method === "GET") {
    return { result: { id: state.zoneId, name: state.zoneName, status: "active", account: { id: state.accountId } } };
  }
  if (scope === "zones") {
    if (scopeId !== state.zoneId) throw notFound(`zone ${scopeId}`);
    if (rest[0] !== "dns_records") throw notFound(path);
    return dnsRecords(state, method, rest[1], query, body);
  }
  if (scope !== "accounts") throw notFound(path);
  if (scopeId !== state.accountId) throw new HttpError(403, [{ code: 10000, message: "Authentication error" }]);
  const key = rest.join("/");
  if (rest[0] === "cfd_tunnel") return tunnels(state, method, rest.slice(1), query, body);
  if (key === "access/organizations" && method === "GET") return { result: state.organization };
  if (key === "access/identity_providers" && method === "GET") return page(state.identityProviders, query, 50);
  if (rest[0] === "access" && rest[1] === "apps")
    return collection(
      state.accessApplications,
      method,
      rest[2],
      query,
      body,
      APP_FIELDS,
      "access application",
      (o) => ({ aud: randomBytes(32).toString("hex"), ...o }),
      (o) => expandPolicies(state, o),
    );
  if (rest[0] === "access" && rest[1] === "policies")
    return collection(state.accessPolicies, method, rest[2], query, body, POLICY_FIELDS, "access policy", (o) => ({
      reusable: true,
      app_count: 0,
      ...o,
    }));
  if (rest[0] === "access" && rest[1] === "service_tokens")
    return serviceTokens(state, method, rest.slice(2), query, body);
  if (rest[0] === "pages" && rest[1] === "projects") return pages(state, method, rest.slice(2), query, body);
  throw notFound(path);
}

function dnsRecords(
  state: CloudflareState,
  method: string,
  id: string | undefined,
  query: URLSearchParams,
  body: Obj,
): { result: unknown; result_info?: Obj } {
  const all = state.dnsRecords;
  const refuseDuplicate = (candidate: Obj, self?: unknown) => {
    const same = all.filter((r) => r.id !== self && r.name === candidate.name);
    if (same.some((r) => r.type === candidate.type && r.content === candidate.content))
      throw new HttpError(400, [{ code: 81057, message: "Identical record already exists." }]);
    const exclusive = (t: unknown) => t === "CNAME";
    if (
      same.some((r) => exclusive(r.type) || exclusive(candidate.type)) &&
      same.some((r) => ["A", "AAAA", "CNAME"].includes(String(r.type)))
    ) {
      throw new HttpError(400, [
        { code: 81053, message: "An A, AAAA, or CNAME record with that host already exists." },
      ]);
    }
  };
  if (!id) {
    if (method === "GET") {
      const name = nameFilter(query);
      const type = query.get("type");
      return page(
        all.filter((r) => (name === null || r.name === name) && (type === null || r.type === type)),
        query,
        100,
      );
    }
    if (method === "POST") {
      for (const f of ["name", "type"])
        if (typeof body[f] !== "string")
          throw new HttpError(400, [{ code: 9000 + (f === "name" ? 7 : 4), message: `DNS record ${f} is required` }]);
      const record = dnsRecord({
        name: String(body.name),
        type: String(body.type),
        content: String(body.content ?? ""),
        proxied: body.proxied as boolean,
        ttl: body.ttl as number,
        comment: body.comment as string,
      });
      refuseDuplicate(record);
      all.push(record);
      return { result: record };
    }
  } else {
    const record = all.find((r) => r.id === id);
    if (!record) throw new HttpError(404, [{ code: 81044, message: "Record does not exist." }]);
    if (method === "GET") return { result: record };
    if (method === "PATCH" || method === "PUT") {
      const next = { ...record };
      merge(next, body, DNS_FIELDS);
      refuseDuplicate(next, id);
      Object.assign(record, next, { modified_on: now() });
      return { result: record };
    }
    if (method === "DELETE") {
      all.splice(all.indexOf(record), 1);
      return { result: { id } };
    }
  }
  throw new HttpError(405, [{ code: 10405, message: `method ${method} not allowed` }]);
}

function tunnels(
  state: CloudflareState,
  method: string,
  rest: string[],
  query: URLSearchParams,
  body: Obj,
): { result: unknown; result_info?: Obj } {
  const [id, sub] = rest;
  if (!id) {
    if (method === "GET") {
      const name = query.get("name");
      const deleted = query.get("is_deleted");
      return page(
        state.tunnels.filter(
          (t) =>
            (name === null || t.name === name) &&
            (deleted === null || (deleted === "true") === (t.deleted_at !== null)),
        ),
        query,
        20,
      );
    }
    if (method === "POST") {
      if (typeof body.name !== "string" || body.name === "")
        throw new HttpError(400, [{ code: 1001, message: "tunnel name is required" }]);
      const t = tunnel(state, {
        name: body.name,
        config_src: body.config_src === "cloudflare" ? "cloudflare" : "local",
        secret: body.tunnel_secret as string | undefined,
      });
      return { result: t };
    }
  }
  const t = state.tunnels.find((x) => x.id === id);
  if (!t) throw new HttpError(404, [{ code: 1003, message: "Tunnel not found" }]);
  if (sub === "token" && method === "GET") {
    return {
      result: Buffer.from(JSON.stringify({ a: state.accountId, t: id, s: state.tunnelSecrets[id] })).toString("base64"),
    };
  }
  if (sub === "configurations") {
    if (method === "GET")
      return {
        result: state.tunnelConfigs[id] ?? {
          account_id: state.accountId,
          tunnel_id: id,
          version: 0,
          config: null,
          source: t.config_src,
          created_at: null,
        },
      };
    if (method === "PUT") {
      const previous = state.tunnelConfigs[id];
      state.tunnelConfigs[id] = {
        account_id: state.accountId,
        tunnel_id: id,
        version: ((previous?.version as number) ?? 0) + 1,
        config: body.config ?? null,
        source: "cloudflare",
        created_at: now(),
      };
      Object.assign(t, { config_src: "cloudflare", remote_config: true });
      return { result: state.tunnelConfigs[id] };
    }
  }
  if (sub === undefined) {
    if (method === "GET") return { result: t };
    if (method === "PATCH") {
      if (typeof body.name === "string") t.name = body.name;
      if (typeof body.tunnel_secret === "string") state.tunnelSecrets[id] = body.tunnel_secret;
      return { result: t };
    }
    if (method === "DELETE") {
      t.deleted_at = now();
      return { result: t };
    }
  }
  throw new HttpError(405, [{ code: 10405, message: `method ${method} not allowed` }]);
}

/** Applications list their policies as the policy objects with a precedence, as the API returns them. */
function expandPolicies(state: CloudflareState, app: Obj): Obj {
  const policies = (app.policies as { id?: string; precedence?: number }[] | undefined) ?? [];
  return {
    ...app,
    policies: policies.map((p, i) => ({
      ...(state.accessPolicies.find((x) => x.id === p.id) ?? {}),
      id: p.id,
      precedence: p.precedence ?? i + 1,
    })),
  };
}

function collection(
  items: Obj[],
  method: string,
  id: string | undefined,
  query: URLSearchParams,
  body: Obj,
  fields: readonly string[],
  what: string,
  onCreate: (o: Obj) => Obj = (o) => o,
  view: (o: Obj) => Obj = (o) => o,
): { result: unknown; result_info?: Obj } {
  if (!id) {
    if (method === "GET") return { ...page(items.map(view), query, 25) };
    if (method === "POST") {
      const o: Obj = { id: randomUUID(), created_at: now(), updated_at: now() };
      merge(o, body, [...fields, "policies"]);
      const created = onCreate(o);
      items.push(created);
      return { result: view(created) };
    }
  } else {
    const o = items.find((x) => x.id === id);
    if (!o) throw notFound(`${what} ${id}`);
    if (method === "GET") return { result: view(o) };
    if (method === "PUT" || method === "PATCH") {
      merge(o, body, [...fields, "policies"]);
      o.updated_at = now();
      return { result: view(o) };
    }
    if (method === "DELETE") {
      items.splice(items.indexOf(o), 1);
      return { result: { id } };
    }
  }
  throw new HttpError(405, [{ code: 10405, message: `method ${method} not allowed` }]);
}

function serviceTokens(
  state: CloudflareState,
  method: string,
  rest: string[],
  query: URLSearchParams,
  body: Obj,
): { result: unknown; result_info?: Obj } {
  const [id, sub] = rest;
  const hide = (t: Obj) => Object.fromEntries(Object.entries(t).filter(([k]) => k !== "client_secret"));
  if (!id && method === "POST") {
    const t: Obj = {
      id: randomUUID(),
      name: body.name,
      duration: body.duration ?? "8760h",
      client_id: `${randomBytes(16).toString("hex")}.access`,
      client_secret: randomBytes(32).toString("hex"),
      created_at: now(),
      updated_at: now(),
    };
    t.expires_at = new Date(Date.parse(now()) + 365 * 86_400_000).toISOString();
    state.serviceTokens.push(t);
    return { result: t };
  }
  if (id && sub === "rotate" && method === "POST") {
    const t = state.serviceTokens.find((x) => x.id === id);
    if (!t) throw notFound(`service token ${id}`);
    t.client_secret = randomBytes(32).toString("hex");
    return { result: t };
  }
  const r = collection(state.serviceTokens, method, id, query, body, ["name", "duration"], "service token");
  return { ...r, result: Array.isArray(r.result) ? (r.result as Obj[]).map(hide) : hide(r.result as Obj) };
}

/**
 * A project as the API returns it: every member of build_config and of a git
 * source's config present, with the defaults Pages gives the ones never set.
 */
function projectView(state: CloudflareState, p: Obj): Obj {
  const build = {
    build_caching: false,
    build_command: "",
    destination_dir: "",
    root_dir: "",
    web_analytics_tag: null,
    web_analytics_token: null,
    ...((p.build_config as Obj | undefined) ?? {}),
  };
  const source = p.source as { type?: string; config?: Obj } | null | undefined;
  const config = source?.config
    ? {
        owner_id: "1234567",
        repo_id: "7654321",
        path_excludes: [],
        path_includes: ["*"],
        pr_comments_enabled: true,
        preview_branch_excludes: [],
        preview_branch_includes: ["*"],
        preview_deployment_setting: "all",
        deployments_enabled: true,
        production_deployments_enabled: true,
        ...source.config,
      }
    : undefined;
  return {
    ...p,
    build_config: build,
    source: source ? { ...source, config } : null,
    domains: (state.pagesDomains[String(p.name)] ?? []).map((d) => d.name),
  };
}

function pages(
  state: CloudflareState,
  method: string,
  rest: string[],
  query: URLSearchParams,
  body: Obj,
): { result: unknown; result_info?: Obj } {
  const [name, sub, domain] = rest;
  const view = (p: Obj) => projectView(state, p);
  if (!name) {
    if (method === "GET") return page(state.pagesProjects.map(view), query, 10);
    if (method === "POST") {
      if (state.pagesProjects.some((p) => p.name === body.name))
        throw new HttpError(409, [
          { code: 8000002, message: "A project with this name already exists. Choose a different project name." },
        ]);
      const p: Obj = {
        id: randomUUID(),
        name: body.name,
        subdomain: `${String(body.name)}.pages.dev`,
        production_branch: body.production_branch ?? "main",
        created_on: now(),
        build_config: body.build_config ?? {},
        deployment_configs: body.deployment_configs ?? { preview: {}, production: {} },
        source: body.source ?? null,
        canonical_deployment: null,
        latest_deployment: null,
      };
      state.pagesProjects.push(p);
      return { result: view(p) };
    }
  }
  const p = state.pagesProjects.find((x) => x.name === name);
  if (!p)
    throw new HttpError(404, [
      {
        code: 8000007,
        message: "Project not found. The specified project name does not match any of your existing projects.",
      },
    ]);
  if (!sub) {
    if (method === "GET") return { result: view(p) };
    if (method === "PATCH") {
      merge(p, body, ["production_branch", "build_config", "deployment_configs", "source"]);
      return { result: view(p) };
    }
    if (method === "DELETE") {
      state.pagesProjects.splice(state.pagesProjects.indexOf(p), 1);
      return { result: null };
    }
  }
  if (sub === "domains") {
    state.pagesDomains[name] ??= [];
    const domains = state.pagesDomains[name];
    if (!domain && method === "GET") return page(domains, query, 100);
    if (!domain && method === "POST") {
      if (domains.some((d) => d.name === body.name))
        throw new HttpError(409, [{ code: 8000018, message: "You have already added this custom domain." }]);
      const d = pagesDomain(state, String(body.name));
      domains.push(d);
      return { result: d };
    }
    const d = domains.find((x) => x.name === domain);
    if (!d) throw new HttpError(404, [{ code: 8000016, message: "Domain not found." }]);
    if (method === "GET" || method === "PATCH") return { result: d };
    if (method === "DELETE") {
      domains.splice(domains.indexOf(d), 1);
      return { result: null };
    }
  }
  throw new HttpError(405, [{ code: 10405, message: `method ${method} not allowed` }]);
}

/** A Pages custom domain as the API returns it (DomainListResponse of the SDK). */
export function pagesDomain(state: CloudflareState, name: string): Obj {
  return {
    id: randomUUID(),
    domain_id: randomUUID(),
    name,
    status: "active",
    certificate_authority: "google",
    created_on: now(),
    zone_tag: state.zoneId,
    validation_data: { status: "active", method: "http" },
    verification_data: { status: "active" },
  };
}

/** Start the stand-in on a free loopback port. Requests need `Authorization: Bearer <token>`. */
export async function startCloudflareApi(
  state: CloudflareState,
  token = "test-token-0123456789abcdefghijklmnopqrstuvwxyz",
): Promise<CloudflareApi> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const path = url.pathname.replace(/^\/client\/v4/, "");
      const method = req.method ?? "GET";
      let body: Obj = {};
      const reply = (status: number, payload: Obj) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(payload));
      };
      try {
        const text = Buffer.concat(chunks).toString("utf8");
        body = text ? (JSON.parse(text) as Obj) : {};
      } catch {
        reply(400, {
          success: false,
          errors: [{ code: 6007, message: "Malformed JSON in request body" }],
          messages: [],
          result: null,
        });
        return;
      }
      requests.push({ method, path: `${path}${url.search}`, body: Object.keys(body).length ? body : undefined });
      if (req.headers.authorization !== `Bearer ${token}`) {
        reply(403, {
          success: false,
          errors: [{ code: 10000, message: "Authentication error" }],
          messages: [],
          result: null,
        });
        return;
      }
      try {
        const { result, result_info } = route(state, method, path, url.searchParams, body);
        reply(200, { success: true, errors: [], messages: [], result, ...(result_info ? { result_info } : {}) });
      } catch (err) {
        if (err instanceof HttpError)
          reply(err.status, { success: false, errors: err.errors, messages: [], result: null });
        else
          reply(500, {
            success: false,
            errors: [{ code: 10001, message: String((err as Error).message) }],
            messages: [],
            result: null,
          });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    token,
    state,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
