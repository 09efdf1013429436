import { stackHosts } from "../config/hosts";
import type { StackConfig } from "../config/schema";
import type { EveryHostWith, ServiceEntry } from "./types";

/**
 * Which host runs which service: `homelab:placement` read against the
 * catalog. One pure function both validation and resolution call, so a
 * placement that validates is the placement that renders.
 */

/** One placement problem, in validate.ts's Problem shape. */
export interface PlacementProblem {
  service?: string;
  field: string;
  message: string;
  fix: string;
}

export interface Placement {
  /** Host names each host service of the stack runs on, by id: one, or every host that needs it (`everyHostWith`). */
  hostsOf: Map<string, string[]>;
  problems: PlacementProblem[];
}

const inStack = (e: ServiceEntry, config: StackConfig): boolean =>
  e.status === "pending" || config.services === undefined || config.services.includes(e.id);

/** Does the stack give the entry a tunnel route? Pages sites are routed but served by Cloudflare. */
function servesRoute(e: ServiceEntry, config: StackConfig): boolean {
  return config.edge === "cloudflare" && e.status === "enabled" && e.runsOn === "host" && e.route !== false;
}

/** For each `everyHostWith` kind: whether a placed entry brings it onto its host, and what the refusal to place it says. */
const EVERY_HOST: Record<EveryHostWith, { needs: (e: ServiceEntry, config: StackConfig) => boolean; refusal: string }> =
  {
    routes: { needs: servesRoute, refusal: "the service runs on every host that serves a route, not on one" },
    "tailnet-clients": {
      needs: (e) => e.status === "enabled" && e.runsOn === "host" && e.nativeClients?.via === "tailscale",
      refusal:
        "the service runs on every host with a service whose apps come over Tailscale (nativeClients.via), not on one",
    },
  };

/** The kind of an entry that runs beside others, when it is one validateCatalog accepts (it reports the others). */
const everyHostKind = (e: ServiceEntry) =>
  e.everyHostWith !== undefined && Object.hasOwn(EVERY_HOST, e.everyHostWith) ? EVERY_HOST[e.everyHostWith] : undefined;

/** Are the two the portal (the `portal` role) and the dashboard app it proxies to? */
const isPortalPair = (a: ServiceEntry, b: ServiceEntry) =>
  (a.role === "portal" && a.proxyTo === b.id) || (b.role === "portal" && b.proxyTo === a.id);

export function placeServices(catalog: readonly ServiceEntry[], config: StackConfig): Placement {
  const hosts = stackHosts(config);
  const first = hosts[0].name;
  const file = `Pulumi.${config.stack}.yaml`;
  const members = catalog.filter((e) => typeof e === "object" && e !== null && inStack(e, config));
  const byId = new Map(members.map((e) => [e.id, e]));
  const explicit = config.placement ?? {};
  const problems: PlacementProblem[] = [];
  const usable = new Set<string>();

  for (const [id, host] of Object.entries(explicit)) {
    const field = `homelab:placement.${id}`;
    const e = catalog.find((x) => x.id === id);
    if (!e)
      problems.push({
        field,
        message: `"${id}" is not a catalog id`,
        fix: `remove it from homelab:placement in ${file}`,
      });
    else if (!byId.has(id) || e.status !== "enabled") {
      problems.push({
        service: id,
        field,
        message: `places "${id}" on host "${host}", but this stack does not run it`,
        fix: `remove it from homelab:placement, or add it to homelab:services in ${file}`,
      });
    } else if (e.runsOn !== "host")
      problems.push({
        service: id,
        field,
        message: "the service runs on Cloudflare Pages, not on a host",
        fix: `remove it from homelab:placement in ${file}`,
      });
    else if (e.everyHostWith) {
      problems.push({
        service: id,
        field,
        message: everyHostKind(e)?.refusal ?? "the service runs on every host that needs it, not on one",
        fix: `remove it from homelab:placement in ${file}`,
      });
    } else usable.add(id);
  }

  const hostOf = (e: ServiceEntry, seen: Set<string>): string => {
    if (usable.has(e.id)) return explicit[e.id];
    const partner = e.colocateWith ? byId.get(e.colocateWith) : undefined;
    if (partner && partner.runsOn === "host" && !seen.has(partner.id)) return hostOf(partner, new Set([...seen, e.id]));
    return first;
  };

  const hostsOf = new Map<string, string[]>();
  for (const e of members) {
    if (e.runsOn === "host" && !e.everyHostWith) hostsOf.set(e.id, [hostOf(e, new Set())]);
  }

  for (const e of members) {
    const partner = e.colocateWith ? byId.get(e.colocateWith) : undefined;
    if (!partner || !hostsOf.has(e.id) || !hostsOf.has(partner.id)) continue;
    const [mine] = hostsOf.get(e.id) as string[];
    const [theirs] = hostsOf.get(partner.id) as string[];
    if (mine === theirs) continue;
    const portal = isPortalPair(e, partner);
    const moved = usable.has(e.id) ? e.id : partner.id;
    problems.push({
      service: e.id,
      field: `homelab:placement.${moved}`,
      message: portal
        ? `the portal (nginx and the dashboard) runs on one host, but "${e.id}" is on "${mine}" and "${partner.id}" on "${theirs}"`
        : `"${e.id}" talks to "${partner.id}" on 127.0.0.1, but "${e.id}" is on host "${mine}" and "${partner.id}" on "${theirs}"`,
      fix: `place both on one host in homelab:placement in ${file}, or leave ${e.id} out of it so it follows ${partner.id}`,
    });
  }

  for (const e of members) {
    const kind = everyHostKind(e);
    if (e.runsOn !== "host" || !kind) continue;
    const on = hosts
      .filter((h) =>
        members.some((x) => !x.everyHostWith && kind.needs(x, config) && hostsOf.get(x.id)?.[0] === h.name),
      )
      .map((h) => h.name);
    hostsOf.set(e.id, on.length > 0 ? on : [first]);
  }

  if (config.hostsDeclared) {
    for (const h of hosts) {
      const runs = members.some((e) => e.status === "enabled" && !e.everyHostWith && hostsOf.get(e.id)?.[0] === h.name);
      if (!runs) {
        problems.push({
          field: `homelab:hosts.${h.name}`,
          message: `host "${h.name}" runs no service`,
          fix: `place a service on it with homelab:placement.<service>: ${h.name}, or remove it from homelab:hosts in ${file}`,
        });
      }
    }
  }
  return { hostsOf, problems };
}
