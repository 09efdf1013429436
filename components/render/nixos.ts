import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Homelab, ResolvedService } from "../catalog/resolve";
import {
  backupService,
  connectorHosts,
  enabledServices,
  hostSecrets,
  hostView,
  labHosts,
  portalHost,
  reachedOverLan,
} from "../catalog/resolve";
import {
  BACKUP_RETENTION,
  BACKUP_SCHEDULE,
  TRANSMISSION_SCHEDULE,
  resticPruneOpts,
  scheduleProblems,
  toTransmissionKBps,
  type SpeedPeriod,
} from "../catalog/schedules";
import { defaultBackupBucket } from "../config/schema";
import { deployLists, healthChecksFor, takeoverList } from "../host/commands";
import { renderPortalFiles } from "./portal";
import { stableJson } from "./stable";

/**
 * The NixOS bundle the host imports from `paths.bundleDir`
 * (/etc/nixos/homelab): the hand-written modules under the repo's nixos/
 * directory, copied as they are, plus data generated from the catalog under
 * generated/. The modules read the data with `lib.importJSON` into typed
 * `homelab.*` options (nixos/modules/options.nix), so the option types check
 * every generated value on the host.
 *
 *   bundle = readNixosTree()          hand-written, from disk
 *          + renderNixosData(lab, h)  generated/homelab.json and service-options.json, pure
 *          + renderPortalFiles(lab)   nginx sites, Homepage config, toggle, icons
 *          + deployLists(...)         generated/health-checks.tsv, secret-files.list
 *          + takeoverList(...)        generated/takeover.tsv, the first deploy's report
 */
export function renderNixosBundle(lab: Homelab, name: string): Map<string, string> {
  const files = readNixosTree();
  // What the apply reads from the release: this host's health checks and secret files.
  const view = hostView(lab, name);
  const lists = deployLists(
    healthChecksFor(enabledServices(view)),
    hostSecrets(lab, name).map((s) => s.path),
    lab.config.paths,
  );
  const takeover = takeoverList(
    enabledServices(view)
      .filter((s) => s.entry.runsOn === "host")
      .map((s) => ({ id: s.id, units: s.units, port: s.port, paths: s.entry.backup?.paths ?? [] })),
  );
  for (const [path, content] of [
    ...renderNixosData(lab, name),
    ...renderPortalFiles(portalLab(lab, name)),
    ...lists,
    ...takeover,
  ]) {
    if (files.has(path))
      throw new Error(`nixos/${path} is hand-written but the bundle also generates it; remove one of them`);
    files.set(path, content);
  }
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every host's bundle, by host name, in homelab:hosts order. */
export function renderHostBundles(lab: Homelab): Map<string, Map<string, string>> {
  return new Map(labHosts(lab).map((h) => [h.name, renderNixosBundle(lab, h.name)]));
}

/**
 * What the portal renders from on the host that runs it: every service of
 * the stack (the dashboard shows them all, linking each to its own host),
 * seen with the portal host's LAN facts. Empty on every other host.
 */
function portalLab(lab: Homelab, host: string): Homelab {
  if (portalHost(lab) !== host) return { config: lab.config, catalog: lab.catalog, services: [] };
  return { config: hostView(lab, host).config, catalog: lab.catalog, services: lab.services };
}

/** The repo's nixos/ directory, the hand-written half of the bundle. */
export const NIXOS_SOURCE_DIR = resolve(__dirname, "..", "..", "nixos");

/** Where generated files live inside the bundle; never read from the source tree. */
export const GENERATED_DIR = "generated";

/** The generated data file every module reads. */
export const HOMELAB_JSON = `${GENERATED_DIR}/homelab.json`;

/** The catalog's host services, from which modules/options.nix declares `homelab.services`. */
export const SERVICE_OPTIONS_JSON = `${GENERATED_DIR}/service-options.json`;

/** Editor and OS leftovers that never belong in the bundle. */
function isJunk(name: string): boolean {
  return (
    name.startsWith(".") || name.endsWith("~") || /^#.*#$/.test(name) || /\.(swp|swo|swx|orig|rej|bak|tmp)$/.test(name)
  );
}

/**
 * Every hand-written file under `dir`, by path relative to it, sorted. The
 * whole tree is copied, whoever wrote it (modules/portal.nix, deploy/), so
 * what the host imports is exactly what is in the repo. A generated/ folder
 * in the source tree (left by a local experiment) is skipped: generated
 * files come from the renderers only.
 */
export function readNixosTree(dir: string = NIXOS_SOURCE_DIR): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (rel: string): void => {
    const entries = readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (isJunk(entry.name)) continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (path === GENERATED_DIR) continue;
        walk(path);
      } else if (entry.isFile()) {
        files.set(path, readFileSync(join(dir, path), "utf8"));
      }
    }
  };
  walk("");
  return files;
}

/** The generated half of one host's bundle. Pure: catalog and stack config in, text out. */
export function renderNixosData(lab: Homelab, host: string): Map<string, string> {
  return new Map([
    [HOMELAB_JSON, stableJson(homelabNixosData(lab, host))],
    [SERVICE_OPTIONS_JSON, stableJson(serviceOptionsData(lab))],
  ]);
}

/** One catalog host service as modules/options.nix declares its `homelab.services.<id>` option. */
export interface NixosServiceOption {
  /** The catalog title; the option's description and its `title` default. */
  title: string;
  /**
   * The addresses `bind` may take. A service the catalog keeps on loopback
   * may only bind 127.0.0.1, so no host override can open it to the LAN.
   */
  binds: ("0.0.0.0" | "127.0.0.1")[];
}

/** The whole of generated/service-options.json. */
export interface ServiceOptionsData {
  _generated: string;
  /** Every enabled host service of the catalog, by id, whether or not this stack runs it. */
  services: Record<string, NixosServiceOption>;
}

/**
 * The option set of the host services: every enabled host entry of the
 * whole catalog, not only this stack's, because a module reads the
 * `enable` of its service whether the stack runs it or not. A new entry
 * declares its option here, with no line in options.nix.
 */
export function serviceOptionsData(lab: Homelab): ServiceOptionsData {
  const entries = lab.catalog.filter((e) => e.status === "enabled" && e.runsOn === "host");
  return {
    _generated: GENERATED_NOTE,
    services: Object.fromEntries(
      entries.map((e) => [
        e.id,
        { title: e.title, binds: e.bind === "127.0.0.1" ? ["127.0.0.1"] : ["0.0.0.0", "127.0.0.1"] },
      ]),
    ),
  };
}

/* ------------------------------------------------------------------ data -- */

/**
 * One enabled host service as the NixOS modules see it; the option
 * `homelab.services.<id>` in nixos/modules/options.nix has the same shape.
 */
export interface NixosService {
  enable: true;
  title: string;
  /** TCP port the service listens on, or null when it has no listener. */
  port: number | null;
  /** Address the listener binds. */
  bind: "0.0.0.0" | "127.0.0.1" | null;
  /**
   * Whether the port is opened in the host firewall. The dashboard's Local
   * mode links straight to `<lanAddress>:<port>`, so every LAN-bound
   * (0.0.0.0) listener is opened; loopback-only ones never are.
   */
  openFirewall: boolean;
  /** `http://<lanAddress>:<port>`, or the loopback URL for 127.0.0.1 services. */
  localUrl: string | null;
  /** `https://<route>.<domain>` when the stack routes the service, else null. */
  publicUrl: string | null;
  /** systemd units the catalog says the service runs as; the modules assert they exist. */
  units: string[];
  /** Secret name to the absolute path of its file on the host. Never a value. */
  secrets: Record<string, string>;
}

/** One window of the Transmission schedule, in Transmission's own units. */
export interface NixosSpeedPeriod {
  name: string;
  /** `HH:MM` the window starts; a timer fires then. */
  start: string;
  /** `HH:MM` the window ends (`00:00` is midnight). */
  end: string;
  /** `speed-limit-down` in kB/s (1 kB = 1000 bytes). */
  downloadKBps: number;
  /** `speed-limit-up` in kB/s; 0 means limited to zero, with the limit enabled. */
  uploadKBps: number;
}

export interface NixosBackups {
  enable: true;
  /** restic repository, `b2:<bucket>:homelab`. */
  repository: string;
  /** Every backed-up state directory of the enabled services, in catalog order. */
  paths: string[];
  exclude: string[];
  /** `restic forget --prune` flags. */
  pruneOpts: string[];
  /** systemd calendar expression of the backup timer. */
  onCalendar: string;
  passwordFile: string;
  b2AccountIdFile: string;
  b2AccountKeyFile: string;
}

/**
 * What the module of a service with a speed schedule reads as
 * `homelab.<id>` (and declares there): the windows in its own units, and
 * the Host header names it must accept.
 */
export interface NixosSpeedSchedule {
  schedule: NixosSpeedPeriod[];
  hostWhitelist: string[];
}

/**
 * The whole of generated/homelab.json; the `homelab` option tree minus
 * `_generated`. Besides the keys below, each service with a speed schedule
 * has `<id>: NixosSpeedSchedule`; read it with `speedScheduleData`.
 */
export interface HomelabNixosData {
  /** JSON has no comments: this key is the "generated, do not edit" header. */
  _generated: string;
  stack: string;
  timeZone: string;
  lan: { address: string; hostName: string; domain: string; connectors?: string[] };
  secretsDir: string;
  services: Record<string, NixosService>;
  backups?: NixosBackups;
}

/** The keys of homelab.json that are not a service's: a service with a speed schedule may not be named after one. */
export const HOMELAB_DATA_KEYS: readonly string[] = [
  "_generated",
  "stack",
  "timeZone",
  "lan",
  "secretsDir",
  "services",
  "backups",
  "runtimeSecrets",
];

/** `homelab.<id>` of a service with a speed schedule in homelab.json's data, or undefined. */
export function speedScheduleData(data: HomelabNixosData, id: string): NixosSpeedSchedule | undefined {
  return HOMELAB_DATA_KEYS.includes(id)
    ? undefined
    : ((data as unknown as Record<string, unknown>)[id] as NixosSpeedSchedule | undefined);
}

export const GENERATED_NOTE =
  "Generated by homelab from components/catalog/services.ts and the stack config. Do not edit: change the catalog or Pulumi.<stack>.yaml and run `npm start` or `pulumi up`.";

/** Services the NixOS modules configure: enabled, in the stack, on the host. */
export function nixosServices(lab: Homelab): ResolvedService[] {
  return enabledServices(lab).filter((s) => s.entry.runsOn === "host");
}

export function homelabNixosData(full: Homelab, host: string): HomelabNixosData {
  const lab = hostView(full, host);
  const services = nixosServices(lab);
  const [hostName, ...domain] = lab.config.lanHostname.split(".");
  const data: HomelabNixosData = {
    _generated: GENERATED_NOTE,
    stack: lab.config.stack,
    timeZone: lab.config.timeZone,
    lan: { address: lab.config.lanAddress, hostName, domain: domain.length > 0 ? domain.join(".") : "local" },
    secretsDir: lab.config.paths.secretsDir,
    services: Object.fromEntries(services.map((s) => [s.id, nixosService(s)])),
  };
  if (reachedOverLan(full, host)) data.lan.connectors = connectorAddresses(full);
  for (const s of services) {
    if (!s.entry.speedSchedule) continue;
    if (HOMELAB_DATA_KEYS.includes(s.id))
      throw new Error(
        `service "${s.id}": its speed schedule would be homelab.${s.id}, which the bundle uses for something else; rename the service`,
      );
    (data as unknown as Record<string, unknown>)[s.id] = speedScheduleOf(lab, s, s.entry.speedSchedule);
  }
  // restic runs on every host that holds backup paths, with Backrest's repository and credentials; the UI only where Backrest is placed.
  const backrest = backupService(full);
  if (backrest && services.some((s) => s.backup.paths.length > 0)) data.backups = backupsData(lab, services, backrest);
  return data;
}

function nixosService(s: ResolvedService): NixosService {
  const bind = s.bind === "0.0.0.0" || s.bind === "127.0.0.1" ? s.bind : null;
  return {
    enable: true,
    title: s.title,
    port: s.port,
    bind,
    openFirewall: s.port !== null && bind === "0.0.0.0",
    localUrl: s.localUrl,
    publicUrl: s.publicHostname ? `https://${s.publicHostname}` : null,
    units: [...s.units],
    secrets: Object.fromEntries(s.secrets.map((secret) => [secret.name, secret.path])),
  };
}

/** LAN addresses of the hosts that run the tunnel's connector; every host's services trust them as proxies. */
function connectorAddresses(lab: Homelab): string[] {
  const names = connectorHosts(lab);
  return labHosts(lab)
    .filter((h) => names.includes(h.name))
    .map((h) => h.lanAddress);
}

/**
 * A speed schedule in Transmission's units (kB/s, 1 kB = 1000 bytes); a
 * schedule that leaves a gap or overlaps never renders.
 */
export function transmissionPeriods(schedule: readonly SpeedPeriod[] = TRANSMISSION_SCHEDULE): NixosSpeedPeriod[] {
  const problems = scheduleProblems(schedule);
  if (problems.length > 0) throw new Error(`the speed schedule is invalid: ${problems.join("; ")}`);
  return schedule.map((p) => ({
    name: p.name,
    start: p.from,
    end: p.to,
    downloadKBps: toTransmissionKBps(p.download),
    uploadKBps: toTransmissionKBps(p.upload),
  }));
}

function speedScheduleOf(lab: Homelab, s: ResolvedService, schedule: readonly SpeedPeriod[]): NixosSpeedSchedule {
  // Transmission answers 421 to a Host header it does not know unless the
  // name is whitelisted: the public route (through nginx) and the mDNS name.
  const hosts = [s.publicHostname, lab.config.lanHostname].filter((h): h is string => h !== null);
  return { schedule: transmissionPeriods(schedule), hostWhitelist: [...new Set(hosts)] };
}

function backupsData(lab: Homelab, services: ResolvedService[], backrest: ResolvedService): NixosBackups {
  const secret = (name: string): string => {
    const found = backrest.secrets.find((x) => x.name === name);
    if (!found)
      throw new Error(
        `the ${backrest.id} catalog entry (the backup role) has no "${name}" secret; restic needs it for the B2 repository`,
      );
    return found.path;
  };
  const bucket = lab.config.backupBucket ?? defaultBackupBucket(lab.config.stack);
  return {
    enable: true,
    repository: `b2:${bucket}:homelab`,
    paths: unique(services.flatMap((s) => s.backup.paths)),
    exclude: unique(services.flatMap((s) => s.backup.exclude)),
    pruneOpts: resticPruneOpts(BACKUP_RETENTION),
    onCalendar: BACKUP_SCHEDULE,
    passwordFile: secret("restic-password"),
    b2AccountIdFile: secret("b2-account-id"),
    b2AccountKeyFile: secret("b2-account-key"),
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
