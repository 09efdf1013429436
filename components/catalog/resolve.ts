import { stackHosts, type HostConfig } from "../config/hosts";
import type { StackConfig } from "../config/schema";
import { placeServices } from "./placement";
import {
  secretFilePath,
  type HealthCheck,
  type NativeClientAccess,
  type ServiceEntry,
  type ServiceRole,
} from "./types";

/** A secret as one stack sees it: the vault rewritten, its file path fixed. */
export interface ResolvedSecret {
  /** `<service>.<name>`: the key used in logs, config and triggers. */
  key: string;
  serviceId: string;
  name: string;
  /** 1Password reference with the stack's vault, or "generated". */
  ref: string;
  /** Absolute path of the file on the host. */
  path: string;
  owner: "root";
  group: string;
  mode: "0400" | "0440";
  /** Units restarted when the value changes. */
  units: string[];
}

/** A catalog entry combined with one stack's config. */
export interface ResolvedService {
  entry: ServiceEntry;
  id: string;
  title: string;
  group: string;
  status: "enabled" | "pending";
  port: number | null;
  bind: string | null;
  /** LAN host the service runs on; null for Pages. */
  host: string | null;
  /** Name of the host of `homelab:hosts` it runs on (the first, for a connector on several); null for Pages. */
  hostName: string | null;
  /** Every host it runs on: one, or each host that serves a route for the tunnel's connector. */
  hostNames: string[];
  localUrl: string | null;
  /** `<route>.<domain>` when routed in this stack, else null. */
  publicHostname: string | null;
  protection: "access" | "public" | "none";
  nativeClients: NativeClientAccess | null;
  /** Port nginx proxies the public hostname to. */
  upstreamPort: number | null;
  card: boolean;
  health: HealthCheck;
  units: string[];
  backup: { paths: string[]; exclude: string[] };
  secrets: ResolvedSecret[];
}

export interface Homelab {
  config: StackConfig;
  /**
   * The whole catalog the stack was resolved from, its other stacks'
   * services included: the NixOS option set declares every host service
   * of it, so a module can read a service this stack does not run.
   */
  catalog: readonly ServiceEntry[];
  /** Every service the stack declares, enabled first in catalog order, then pending. */
  services: ResolvedService[];
}

/** The first DNS label of a service's route, or null when it is never routed. */
export function routeLabel(entry: ServiceEntry, routePattern: string): string | null {
  if (entry.route === false) return null;
  const name = entry.route?.name ?? entry.id;
  return routePattern.replace("{name}", name);
}

/** Swap the vault of an `op://` reference for the stack's vault. */
export function withVault(ref: string, vault: string): string {
  if (!ref.startsWith("op://")) return ref;
  const rest = ref.slice("op://".length);
  const slash = rest.indexOf("/");
  return slash < 0 ? ref : `op://${vault}${rest.slice(slash)}`;
}

/** `<scheme>://<address>:<port>`; HTTP's own port 80 is left out. */
export function serviceUrl(entry: ServiceEntry, address: string, port: number): string {
  const scheme = entry.scheme ?? "http";
  return scheme === "http" && port === 80 ? `http://${address}` : `${scheme}://${address}:${port}`;
}

/** Is this entry part of the stack? Pending entries always are; they generate nothing. */
export function inStack(entry: ServiceEntry, config: StackConfig): boolean {
  if (entry.status === "pending") return true;
  return config.services === undefined || config.services.includes(entry.id);
}

export function resolveService(
  entry: ServiceEntry,
  config: StackConfig,
  catalog: readonly ServiceEntry[],
  on: HostConfig[] = stackHosts(config).slice(0, 1),
): ResolvedService {
  const enabled = entry.status === "enabled";
  const label = routeLabel(entry, config.routePattern);
  const routed = enabled && label !== null && config.edge === "cloudflare";
  const onHost = entry.runsOn === "host";
  const port = entry.port ?? null;
  const bind = onHost && port !== null ? (entry.bind ?? "0.0.0.0") : null;
  const target = entry.proxyTo ? catalog.find((e) => e.id === entry.proxyTo) : undefined;
  const placed = on[0] ?? stackHosts(config)[0];
  const address = bind === "127.0.0.1" ? "127.0.0.1" : placed.lanAddress;
  return {
    entry,
    id: entry.id,
    title: entry.title,
    group: entry.group,
    status: entry.status,
    port,
    bind,
    host: onHost ? placed.lanHostname : null,
    hostName: onHost ? placed.name : null,
    hostNames: onHost ? on.map((h) => h.name) : [],
    localUrl: onHost && port !== null ? serviceUrl(entry, address, port) : null,
    publicHostname: routed ? `${label}.${config.domain}` : null,
    protection: routed ? (entry.protection ?? "access") : "none",
    nativeClients: entry.nativeClients ?? null,
    upstreamPort: target?.port ?? port,
    card: enabled && (label !== null || entry.link !== undefined) && entry.card !== false,
    health: entry.health,
    units: [...entry.units],
    backup: { paths: [...(entry.backup?.paths ?? [])], exclude: [...(entry.backup?.exclude ?? [])] },
    secrets: (entry.secrets ?? []).map((s) => ({
      key: `${entry.id}.${s.name}`,
      serviceId: entry.id,
      name: s.name,
      ref: withVault(s.ref, config.secrets.vault),
      path: secretFilePath(config.paths.secretsDir, entry.id, s.name),
      owner: "root",
      group: s.group ?? "root",
      mode: s.group ? "0440" : "0400",
      units: [...entry.units],
    })),
  };
}

/** Combine the catalog with a stack's config. Call after validation. */
export function resolveHomelab(catalog: readonly ServiceEntry[], config: StackConfig): Homelab {
  const members = catalog.filter((e) => inStack(e, config));
  const ordered = [...members.filter((e) => e.status === "enabled"), ...members.filter((e) => e.status === "pending")];
  const hosts = stackHosts(config);
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const { hostsOf } = placeServices(catalog, config);
  const on = (e: ServiceEntry) => (hostsOf.get(e.id) ?? [hosts[0].name]).map((n) => byName.get(n) ?? hosts[0]);
  return { config, catalog, services: ordered.map((e) => resolveService(e, config, catalog, on(e))) };
}

/** The stack's hosts, first = default. */
export function labHosts(lab: Homelab): HostConfig[] {
  return stackHosts(lab.config);
}

/**
 * Whether the stack has several hosts, for text that must name a host to
 * tell it apart: the dashboard's resources widget, a failed rebuild's
 * message. Names, bundles and routes never depend on it (see reachedOverLan).
 */
export function isMultiHost(lab: Homelab): boolean {
  return labHosts(lab).length > 1;
}

/**
 * Whether a tunnel connector on another machine may take a request for one
 * of `host`'s routes: Cloudflare hands each request to any connector, so
 * those routes name the host's LAN address, and its services trust those
 * connectors as proxies. Otherwise the host's own connector carries them to
 * nginx on localhost.
 */
export function reachedOverLan(lab: Homelab, host: string): boolean {
  const routesHere = lab.services.some(
    (s) => s.publicHostname !== null && s.entry.runsOn === "host" && s.hostNames.includes(host),
  );
  return routesHere && connectorHosts(lab).some((c) => c !== host);
}

/**
 * Whether the tunnel hands `host`'s routes to nginx on that host's
 * localhost: it runs the portal, and no connector on another machine can
 * take one of its routes. Otherwise each rule names the service's own host
 * and port on the LAN.
 */
export function routesViaLocalNginx(lab: Homelab, host: string): boolean {
  return portalHost(lab) === host && !reachedOverLan(lab, host);
}

/** The services one host runs (a connector on several hosts is on each). */
export function servicesOn(lab: Homelab, host: string): ResolvedService[] {
  return lab.services.filter((s) => s.hostNames.includes(host));
}

/**
 * One host's view of the lab: its own services, with the config's LAN and
 * SSH facts set to that host's, so the single-host renderers render its
 * bundle unchanged.
 */
export function hostView(lab: Homelab, host: string): Homelab {
  const h = labHosts(lab).find((x) => x.name === host);
  if (!h) throw new Error(`host "${host}" is not in homelab:hosts`);
  return {
    config: { ...lab.config, lanAddress: h.lanAddress, lanHostname: h.lanHostname, ssh: { ...h.ssh } },
    catalog: lab.catalog,
    services: servicesOn(lab, host),
  };
}

/** The enabled service with a role (see ServiceEntry.role), or undefined when the stack runs none. */
export function serviceWithRole(lab: Homelab, role: ServiceRole): ResolvedService | undefined {
  return lab.services.find((s) => s.entry.role === role && s.status === "enabled");
}

/** The host that runs the portal (nginx and the dashboard), or undefined when the stack has none. */
export function portalHost(lab: Homelab): string | undefined {
  return serviceWithRole(lab, "portal")?.hostName ?? undefined;
}

/** The hosts that run the tunnel's connector (the `everyHostWith: "routes"` entry); none without one. */
export function connectorHosts(lab: Homelab): string[] {
  return lab.services.find((s) => s.entry.everyHostWith === "routes" && s.status === "enabled")?.hostNames ?? [];
}

export function enabledServices(lab: Homelab): ResolvedService[] {
  return lab.services.filter((s) => s.status === "enabled");
}

/** Services with a public hostname, in catalog order. */
export function routedServices(lab: Homelab): ResolvedService[] {
  return lab.services.filter((s) => s.publicHostname !== null);
}

/**
 * The service with the backup role (Backrest) when the stack runs it: its
 * secrets unlock the restic repository, and its host runs the backup UI.
 */
export function backupService(lab: Homelab): ResolvedService | undefined {
  const backup = serviceWithRole(lab, "backup");
  return backup?.entry.runsOn === "host" ? backup : undefined;
}

/** The backup service's secrets that unlock the restic repository; restic on every host with backup paths needs them. */
export const REPOSITORY_SECRETS: readonly string[] = ["restic-password", "b2-account-id", "b2-account-key"];

/**
 * The backup credentials (Backrest's restic password and B2 keys) a host
 * needs that it does not get as Backrest's own host: every host holding
 * backup paths runs restic against the one repository, so state placed on a
 * second machine is backed up too. Nothing to restart when they change:
 * restic reads them at each run. Empty on Backrest's host, on a host with
 * no backup paths, and in a stack without Backrest.
 */
export function backupCredentialsFor(lab: Homelab, host: string): ResolvedSecret[] {
  const backrest = backupService(lab);
  if (!backrest || backrest.hostNames.includes(host)) return [];
  const backsUp = servicesOn(lab, host).some((s) => s.status === "enabled" && s.backup.paths.length > 0);
  // The repository's credentials only: the UI's login password stays on the UI's host.
  return backsUp
    ? backrest.secrets.filter((s) => REPOSITORY_SECRETS.includes(s.name)).map((s) => ({ ...s, units: [] }))
    : [];
}

/** Every secret file one host receives: its services' secrets and, where it backs up without Backrest, the backup credentials. */
export function hostSecrets(lab: Homelab, host: string): ResolvedSecret[] {
  return [...enabledSecrets(hostView(lab, host)), ...backupCredentialsFor(lab, host)];
}

/** Every secret of the enabled services. */
export function enabledSecrets(lab: Homelab): ResolvedSecret[] {
  return enabledServices(lab).flatMap((s) => s.secrets);
}
