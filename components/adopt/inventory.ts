/**
 * What a Cloudflare account and zone hold, read with Cloudflare's official
 * TypeScript SDK (npm `cloudflare`), every page of every list. Read-only:
 * adopting changes nothing in Cloudflare; the first `pulumi up` does.
 */
import Cloudflare from "cloudflare";
import type { Inventory } from "./match";

export interface InventoryScope {
  accountId: string;
  zoneId: string;
}

/** An API client for `token`; `baseURL` (or CLOUDFLARE_BASE_URL, the SDK's own variable) points it elsewhere than api.cloudflare.com. */
export function cloudflareClient(token: string, baseURL?: string): Cloudflare {
  return new Cloudflare({ apiToken: token, ...(baseURL ? { baseURL } : {}), maxRetries: 2, timeout: 60_000 });
}

async function all<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of pages) out.push(item);
  return out;
}

/** Every tunnel, DNS record, Access application, policy, service token and Pages project (with domains). */
export async function readInventory(client: Cloudflare, scope: InventoryScope): Promise<Inventory> {
  const account = { account_id: scope.accountId };
  const [tunnels, dnsRecords, accessApplications, accessPolicies, serviceTokens, projects] = await Promise.all([
    all(client.zeroTrust.tunnels.cloudflared.list({ ...account, is_deleted: false })),
    all(client.dns.records.list({ zone_id: scope.zoneId })),
    all(client.zeroTrust.access.applications.list(account)),
    all(client.zeroTrust.access.policies.list(account)),
    all(client.zeroTrust.access.serviceTokens.list(account)),
    all(client.pages.projects.list(account)),
  ]);
  const tunnelHostnames: Record<string, string[]> = {};
  for (const t of tunnels) {
    if (!t.id || t.config_src === "local") {
      if (t.id) tunnelHostnames[t.id] = [];
      continue;
    }
    const config = await client.zeroTrust.tunnels.cloudflared.configurations.get(t.id, account);
    tunnelHostnames[t.id] = (config.config?.ingress ?? []).flatMap((rule) => (rule.hostname ? [rule.hostname] : []));
  }
  const pagesProjects = await Promise.all(
    projects.map(async (p) => ({
      name: p.name,
      subdomain: p.subdomain,
      domains: (await all(client.pages.projects.domains.list(p.name, account))).map((d) => d.name),
    })),
  );
  return {
    tunnels: tunnels.flatMap((t) =>
      t.id && t.name
        ? [{ id: t.id, name: t.name, config_src: t.config_src ?? null, deleted_at: t.deleted_at ?? null }]
        : [],
    ),
    tunnelHostnames,
    dnsRecords: dnsRecords.map((d) => ({
      id: d.id,
      name: d.name,
      type: d.type,
      content: String(d.content ?? ""),
      comment: d.comment ?? null,
    })),
    accessApplications: accessApplications.flatMap((a) =>
      a.id
        ? [
            {
              id: a.id,
              name: a.name,
              domain: "domain" in a ? (a.domain as string | undefined) : undefined,
              type: a.type,
            },
          ]
        : [],
    ),
    accessPolicies: accessPolicies.flatMap((p) => (p.id && p.name ? [{ id: p.id, name: p.name }] : [])),
    serviceTokens: serviceTokens.flatMap((t) => (t.id && t.name ? [{ id: t.id, name: t.name }] : [])),
    pagesProjects,
  };
}
