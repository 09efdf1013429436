import { missingFromSet } from "../render/icons";
import type { ConfigProblem, StackConfig } from "../config/schema";
import { opReferenceError } from "./opref";
import { placeServices } from "./placement";
import { REPOSITORY_SECRETS, inStack, routeLabel } from "./resolve";
import {
  HEALTH_PATH,
  POSIX_NAME,
  RANGES,
  TEXT_LIMITS,
  UNIT_NAME,
  containsPath,
  forbiddenCharacter,
  hostPathProblem,
  httpUrlProblem,
  isDnsLabel,
  isHostname,
} from "./rules";
import { scheduleProblems, type SpeedPeriod } from "./schedules";
import { DASHBOARD_GROUPS, EVERY_HOST_WITH, SERVICE_ROLES, type ServiceEntry } from "./types";

export { isDnsLabel, isHostname } from "./rules";
export { opReferenceError } from "./opref";

/** One thing wrong with the catalog or the stack config, and how to fix it. */
export interface Problem {
  /** Catalog id of the service involved, if any. */
  service?: string;
  /** The catalog field or stack config key at fault. */
  field: string;
  message: string;
  fix: string;
}

const CATALOG_FILE = "components/catalog/services.ts";

/** Every field a catalog entry may have; anything else is a typo or a value nothing would check. */
const ENTRY_FIELDS: ReadonlySet<string> = new Set([
  "id",
  "title",
  "group",
  "description",
  "status",
  "runsOn",
  "port",
  "scheme",
  "bind",
  "route",
  "protection",
  "nativeClients",
  "proxyTo",
  "colocateWith",
  "everyHostWith",
  "card",
  "link",
  "icon",
  "health",
  "units",
  "backup",
  "secrets",
  "role",
  "speedSchedule",
  "dashboardWidget",
  "login",
  "lanOpen",
]);

const ICON_FILE = /^[a-z0-9][a-z0-9._-]{0,100}\.svg$/;
/** simple-icons slugs are lowercase letters and digits; @mdi/svg names are hyphenated words. */
const ICON_NAME: Readonly<Record<string, RegExp>> = {
  simpleIcons: /^[a-z0-9]{1,64}$/,
  mdi: /^[a-z0-9]+(-[a-z0-9]+){0,10}$/,
};
const ICON_COLOR = /^#[0-9a-fA-F]{6}$/;

function show(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

type Add = (field: string, message: string, fix: string) => void;

/** Free text bound for a config file or the dashboard: a string, not empty, not too long, no control characters. */
function checkText(add: Add, field: string, value: unknown, max: number): void {
  if (typeof value !== "string")
    return add(field, `expected text, got ${show(value)}`, `write ${field} as a string in ${CATALOG_FILE}`);
  if (value.trim() === "") return add(field, "is empty", `write a ${field} in ${CATALOG_FILE}`);
  const bad = forbiddenCharacter(value);
  if (bad)
    return add(
      field,
      `${show(value)} contains the control character ${bad}`,
      `write ${field} on one line, without control characters`,
    );
  if (value.length > max)
    add(field, `is ${value.length} characters long, more than ${max}`, `shorten ${field} to at most ${max} characters`);
}

function checkEnum(add: Add, field: string, value: unknown, allowed: readonly unknown[], optional = false): boolean {
  if (optional && value === undefined) return true;
  if (allowed.includes(value)) return true;
  add(
    field,
    `${show(value)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`,
    `set ${field} to one of: ${allowed.join(", ")}`,
  );
  return false;
}

/** A host path the catalog names (backup paths and their exclusions). */
function checkPath(add: Add, field: string, value: unknown): value is string {
  if (typeof value !== "string") {
    add(field, `expected a path, got ${show(value)}`, `write ${field} as a list of absolute paths`);
    return false;
  }
  const why = hostPathProblem(value);
  if (why) {
    add(
      field,
      `${show(value)} ${why}`,
      "use the service's own state directory, such as /var/lib/<service>, written without a trailing slash",
    );
    return false;
  }
  return true;
}

/**
 * Type, enum, range, character set and length of every field of one entry,
 * whatever the stack: a hostile value in a pending entry still reaches
 * plan.json. Returns false when the entry is too broken for the stack rules.
 */
function checkEntryShape(e: ServiceEntry, add: Add): boolean {
  const raw = e as unknown as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!ENTRY_FIELDS.has(key))
      add(key, "is not a catalog field", `remove it, or use one of: ${[...ENTRY_FIELDS].join(", ")}`);
  }
  checkText(add, "title", e.title, TEXT_LIMITS.title);
  checkText(add, "description", e.description, TEXT_LIMITS.description);
  checkEnum(add, "group", e.group, DASHBOARD_GROUPS);
  const statusOk = checkEnum(add, "status", e.status, ["enabled", "pending"]);
  const runsOnOk = checkEnum(add, "runsOn", e.runsOn, ["host", "pages"]);
  checkEnum(add, "scheme", e.scheme, ["http", "https", "mqtt"], true);
  checkEnum(add, "bind", e.bind, ["0.0.0.0", "127.0.0.1"], true);
  checkEnum(add, "protection", e.protection, ["access", "public"], true);
  if (
    e.port !== undefined &&
    (typeof e.port !== "number" || !Number.isInteger(e.port) || e.port < RANGES.port.min || e.port > RANGES.port.max)
  ) {
    add("port", `${show(e.port)} is out of range`, `use a whole number from ${RANGES.port.min} to ${RANGES.port.max}`);
  }
  if (e.route !== undefined && e.route !== false) {
    if (!isObject(e.route) || Object.keys(e.route).some((k) => k !== "name")) {
      add(
        "route",
        `${show(e.route)} is neither false nor { name }`,
        'write route: false, route: {}, or route: { name: "<label>" }',
      );
    } else if (e.route.name !== undefined && (typeof e.route.name !== "string" || !isDnsLabel(e.route.name))) {
      add(
        "route.name",
        `${show(e.route.name)} is not a valid DNS label`,
        "use lowercase letters, digits and inner hyphens",
      );
    }
  }
  if (e.nativeClients !== undefined) {
    if (!isObject(e.nativeClients))
      add(
        "nativeClients",
        `${show(e.nativeClients)} is not { via, why }`,
        'write nativeClients: { via: "tailscale" | "service-token", why: "<reason>" }',
      );
    else {
      checkEnum(add, "nativeClients.via", e.nativeClients.via, ["tailscale", "service-token"]);
      checkText(add, "nativeClients.why", e.nativeClients.why, TEXT_LIMITS.reason);
    }
  }
  if (e.proxyTo !== undefined && (typeof e.proxyTo !== "string" || !isDnsLabel(e.proxyTo))) {
    add("proxyTo", `${show(e.proxyTo)} is not a catalog id`, "point proxyTo at an existing entry's id");
  }
  if (
    e.colocateWith !== undefined &&
    (typeof e.colocateWith !== "string" || !isDnsLabel(e.colocateWith) || e.colocateWith === e.id)
  ) {
    add(
      "colocateWith",
      `${show(e.colocateWith)} is not another entry's id`,
      "point colocateWith at the id of the service this one talks to on 127.0.0.1",
    );
  }
  const everyHostOk = checkEnum(add, "everyHostWith", e.everyHostWith, EVERY_HOST_WITH, true);
  if (everyHostOk && e.everyHostWith !== undefined && e.colocateWith !== undefined)
    add(
      "everyHostWith",
      "runs on every host that needs it, so it cannot also follow one service",
      "remove colocateWith or everyHostWith",
    );
  if (e.card !== undefined && typeof e.card !== "boolean")
    add("card", `${show(e.card)} is not true or false`, "set card to true or false");
  if (e.link !== undefined) {
    const why = typeof e.link === "string" ? httpUrlProblem(e.link) : "is not a string";
    if (why)
      add(
        "link",
        `${show(e.link)} ${why}`,
        "use an http:// or https:// URL as the browser shows it, such as https://one.dash.cloudflare.com/",
      );
  }
  checkIcon(add, e.icon as unknown);
  checkHealth(add, e.health);
  if (!Array.isArray(e.units)) {
    add(
      "units",
      `${show(e.units)} is not a list of unit names`,
      'write units: ["<name>.service"], or [] when the host runs nothing for it',
    );
  } else {
    for (const unit of e.units as unknown[]) {
      if (typeof unit !== "string" || !UNIT_NAME.test(unit))
        add(
          "units",
          `${show(unit)} is not a systemd unit name`,
          "name the unit with its type, such as jellyfin.service or cockpit.socket",
        );
    }
    if (new Set(e.units).size !== e.units.length) add("units", "lists a unit twice", "list each unit once");
  }
  if (e.login !== undefined) checkText(add, "login", e.login, TEXT_LIMITS.reason);
  if (e.lanOpen !== undefined) checkText(add, "lanOpen", e.lanOpen, TEXT_LIMITS.reason);
  checkBackupShape(add, e.backup);
  checkSecretsShape(add, e.secrets);
  checkRoleShape(add, e);
  checkSpeedSchedule(add, e.speedSchedule);
  checkDashboardWidget(add, e.dashboardWidget);
  return statusOk && runsOnOk && typeof e.id === "string";
}

function checkHealth(add: Add, health: unknown): void {
  if (!isObject(health))
    return add(
      "health",
      `${show(health)} is not a health check`,
      'write health: { kind: "http", path: "/" }, { kind: "tcp" } or { kind: "none", reason: "<who watches it>" }',
    );
  if (!checkEnum(add, "health.kind", health.kind, ["http", "tcp", "none"])) return;
  const allowed = health.kind === "http" ? ["kind", "path"] : health.kind === "none" ? ["kind", "reason"] : ["kind"];
  for (const key of Object.keys(health)) {
    if (!allowed.includes(key))
      add(
        `health.${key}`,
        `is not a field of a ${health.kind} check`,
        `remove it; a ${health.kind} check has ${allowed.join(" and ")}`,
      );
  }
  if (health.kind === "http" && (typeof health.path !== "string" || !HEALTH_PATH.test(health.path))) {
    add(
      "health.path",
      `${show(health.path)} is not a plain URL path`,
      "start it with / and use only letters, digits and / . _ ~ % ? = & : + -, at most 256 characters",
    );
  }
  if (health.kind === "none") checkText(add, "health.reason", health.reason, TEXT_LIMITS.reason);
}

function checkBackupShape(add: Add, backup: unknown): void {
  if (backup === undefined) return;
  if (
    !isObject(backup) ||
    !Array.isArray(backup.paths) ||
    (backup.exclude !== undefined && !Array.isArray(backup.exclude))
  ) {
    return add(
      "backup",
      `${show(backup)} is not { paths, exclude? }`,
      'write backup: { paths: ["/var/lib/<service>"], exclude: [...] }',
    );
  }
  const paths = (backup.paths as unknown[]).filter((p, i) => checkPath(add, `backup.paths[${i}]`, p)) as string[];
  ((backup.exclude ?? []) as unknown[]).forEach((x, i) => {
    if (checkPath(add, `backup.exclude[${i}]`, x) && !paths.some((p) => x !== p && containsPath(p, x))) {
      add(
        `backup.exclude[${i}]`,
        `${show(x)} is not inside one of the service's backup paths`,
        "exclude only paths under one of backup.paths, or remove it",
      );
    }
  });
  for (const [i, a] of paths.entries()) {
    for (const [j, b] of paths.entries()) {
      if (i < j && (containsPath(a, b) || containsPath(b, a)))
        add(
          `backup.paths[${j}]`,
          `${show(b)} overlaps ${show(a)}`,
          "list each directory once, and not one inside another",
        );
    }
  }
}

function checkSecretsShape(add: Add, secrets: unknown): void {
  if (secrets === undefined) return;
  if (!Array.isArray(secrets))
    return add("secrets", `${show(secrets)} is not a list`, "write secrets: [{ name, ref, group? }]");
  const names = new Set<unknown>();
  for (const s of secrets as unknown[]) {
    if (!isObject(s) || Object.keys(s).some((k) => !["name", "ref", "group"].includes(k))) {
      add("secrets", `${show(s)} is not { name, ref, group? }`, "write each secret as { name, ref, group? }");
      continue;
    }
    if (typeof s.name !== "string" || !isDnsLabel(s.name))
      add(
        "secrets.name",
        `${show(s.name)} is not a valid file name label`,
        "use lowercase letters, digits and inner hyphens",
      );
    if (names.has(s.name))
      add("secrets.name", `secret ${show(s.name)} is declared twice`, "give each secret of a service its own name");
    names.add(s.name);
    if (typeof s.ref !== "string")
      add(
        "secrets.ref",
        `${show(s.ref)} is not a reference`,
        'write it as op://<vault>/<item>/[section/]<field>, or "generated"',
      );
    else if (s.ref !== "generated") {
      const err = opReferenceError(s.ref);
      if (err)
        add(
          "secrets.ref",
          `malformed 1Password reference ${show(s.ref)}: ${err}`,
          "write it as op://<vault>/<item>/[section/]<field>",
        );
    }
    if (s.group !== undefined && (typeof s.group !== "string" || !POSIX_NAME.test(s.group))) {
      add(
        "secrets.group",
        `${show(s.group)} is not a group name`,
        "use the consuming service's group: lowercase letters, digits, _ and -, at most 32 characters, or leave group out",
      );
    }
  }
}

/** Every rule over the catalog for one stack. Reports all problems at once. */
export function validateCatalog(catalog: readonly ServiceEntry[], config: StackConfig): Problem[] {
  const problems: Problem[] = [];
  const add = (service: string | undefined, field: string, message: string, fix: string) =>
    problems.push({ service, field, message, fix });
  const ids = new Map<string, ServiceEntry>();
  const usable = new Set<ServiceEntry>();

  if (!Array.isArray(catalog)) {
    return [
      { field: "catalog", message: "is not a list of entries", fix: `export CATALOG as an array in ${CATALOG_FILE}` },
    ];
  }
  for (const e of catalog) {
    if (!isObject(e as unknown)) {
      add(
        undefined,
        "catalog",
        `entry ${show(e)} is not an object`,
        `write every entry of ${CATALOG_FILE} as { id, title, ... }`,
      );
      continue;
    }
    const id = typeof e.id === "string" ? e.id : show(e.id);
    if (typeof e.id !== "string" || !isDnsLabel(e.id)) {
      add(
        id,
        "id",
        `${show(e.id)} is not a valid DNS label`,
        "use lowercase letters, digits and inner hyphens, at most 63 characters",
      );
    }
    if (ids.has(id)) {
      add(
        id,
        "id",
        "the id is declared twice",
        `rename or remove one of the two ${show(id)} entries in ${CATALOG_FILE}`,
      );
    }
    ids.set(id, e);
    if (checkEntryShape(e, (field, message, fix) => add(id, field, message, fix))) usable.add(e);
  }

  const members = catalog.filter((e) => usable.has(e) && inStack(e, config));
  const placement = placeServices(
    catalog.filter((e) => usable.has(e)),
    config,
  );
  const ports = new Map<string, string>();
  const hostnames = new Map<string, string>();
  const backupOwners = new BackupOwners();
  const hostDirs: [string, string][] = [
    ["homelab:bundleDir", config.paths.bundleDir],
    ["homelab:credentialsDir", config.paths.secretsDir],
    ["homelab:stateDir", config.paths.stateDir],
  ];

  for (const e of members) {
    if (
      typeof e.port === "number" &&
      Number.isInteger(e.port) &&
      e.port >= RANGES.port.min &&
      e.port <= RANGES.port.max &&
      e.runsOn === "host"
    ) {
      for (const host of placement.hostsOf.get(e.id) ?? []) {
        const other = ports.get(`${host}:${e.port}`);
        if (other) {
          add(
            e.id,
            "port",
            `port ${e.port} is already used by "${other}" on the same host (${host})`,
            "give one of them a free port, or place one on another host with homelab:placement",
          );
        } else {
          ports.set(`${host}:${e.port}`, e.id);
        }
      }
    }
    if (e.runsOn === "pages" && e.port !== undefined) {
      add(e.id, "port", "a Cloudflare Pages site has no local port", "remove the port, or set runsOn to host");
    }
    if (e.runsOn === "host" && e.status === "enabled" && e.route !== false && e.port === undefined) {
      add(
        e.id,
        "port",
        "a routed host service needs a port for nginx to proxy to",
        "set its port, or set route: false",
      );
    }

    const loopback = e.bind === "127.0.0.1";
    if (loopback && e.route !== false) {
      add(
        e.id,
        "route",
        "a loopback-only service (bind 127.0.0.1) cannot be given a public route",
        "set route: false, or bind it to 0.0.0.0 if it is meant to be reachable",
      );
    }
    if (loopback && e.proxyTo !== undefined) {
      add(e.id, "proxyTo", "a loopback-only service (bind 127.0.0.1) cannot be given a proxy", "remove proxyTo");
    }
    checkLanGate(e, (field, message, fix) => add(e.id, field, message, fix));
    if (typeof e.colocateWith === "string" && isDnsLabel(e.colocateWith) && !ids.has(e.colocateWith)) {
      add(
        e.id,
        "colocateWith",
        `"${e.colocateWith}" is not a catalog id`,
        "point colocateWith at an existing entry's id",
      );
    }
    if (typeof e.proxyTo === "string" && isDnsLabel(e.proxyTo) && !ids.has(e.proxyTo)) {
      add(e.id, "proxyTo", `"${e.proxyTo}" is not a catalog id`, "point proxyTo at an existing entry's id");
    }

    const routeNameOk = !(
      e.route &&
      e.route.name !== undefined &&
      (typeof e.route.name !== "string" || !isDnsLabel(e.route.name))
    );
    const label =
      routeNameOk && (e.route === undefined || e.route === false || isObject(e.route))
        ? routeLabel(e, config.routePattern)
        : null;
    if (label !== null && !isDnsLabel(label)) {
      add(
        e.id,
        "route",
        `route label "${label}" is not a valid DNS label`,
        "shorten the route name or fix homelab:routePattern",
      );
    } else if (label !== null) {
      const hostname = `${label}.${config.domain}`;
      if (!isHostname(hostname)) {
        add(e.id, "route", `"${hostname}" is not a valid hostname`, "shorten the route name or the domain");
      }
      const other = hostnames.get(hostname);
      if (other) {
        add(
          e.id,
          "route",
          `public hostname ${hostname} is already used by "${other}"`,
          "give one of them another route name",
        );
      } else {
        hostnames.set(hostname, e.id);
      }
    }
    if (e.protection === "public" && e.route === false) {
      add(e.id, "protection", "public protection on a service that is never routed", "remove protection");
    }

    if (e.status === "enabled" && isObject(e.backup) && Array.isArray(e.backup.paths)) {
      for (const path of e.backup.paths) {
        if (typeof path !== "string" || hostPathProblem(path)) continue;
        for (const [key, dir] of hostDirs) {
          if (containsPath(path, dir) || containsPath(dir, path)) {
            add(
              e.id,
              "backup.paths",
              `${show(path)} overlaps ${key} (${dir})`,
              `back up the service's own state directory, apart from ${key}`,
            );
          }
        }
        const other = backupOwners.overlapping(path, e.id);
        if (other)
          add(
            e.id,
            "backup.paths",
            `${show(path)} overlaps ${show(other.path)} of "${other.id}"`,
            "give each service its own backup directories, none inside another's",
          );
        backupOwners.add(path, e.id);
      }
    }
  }

  for (const id of config.services ?? []) {
    const e = ids.get(id);
    if (!e) {
      add(
        undefined,
        "homelab:services",
        `"${id}" is not a catalog id`,
        `remove it from homelab:services in Pulumi.${config.stack}.yaml`,
      );
    } else if (e.status !== "enabled") {
      add(
        id,
        "homelab:services",
        `"${id}" is pending and cannot run yet`,
        `remove it from homelab:services, or set status: "enabled" once it is migrated`,
      );
    }
  }
  problems.push(...placement.problems);
  for (const role of SERVICE_ROLES) {
    const holders = catalog.filter((e) => usable.has(e) && e.role === role);
    for (const e of holders.slice(1)) {
      add(
        e.id,
        "role",
        `"${holders[0].id}" already has the ${role} role; renderers would not know which one to use`,
        `give the ${role} role to one entry only`,
      );
    }
  }
  // The tunnel's connector is the entry on every host with a route.
  for (const e of members.filter((x) => x.everyHostWith === "routes" && x.status === "enabled")) {
    if (config.edge === "none")
      add(
        e.id,
        "homelab:services",
        "a stack with homelab:edge none has no tunnel to run",
        `leave ${e.id} out of homelab:services`,
      );
  }
  return problems;
}

/**
 * A listener the LAN can reach either checks who is calling (`login`) or
 * says why it need not (`lanOpen`): an open door is a decision written in
 * the catalog, never a default. Loopback listeners and entries without one
 * (Pages, the tunnel, pending services) have no door to the LAN.
 */
function checkLanGate(e: ServiceEntry, add: Add): void {
  const listens = e.status === "enabled" && e.runsOn === "host" && e.port !== undefined;
  const lanBound = listens && e.bind !== "127.0.0.1";
  if (!lanBound) {
    if (e.lanOpen !== undefined)
      add(
        "lanOpen",
        listens
          ? "is set on a service bound to 127.0.0.1, which the LAN cannot reach"
          : "is set on a service with no listener on the host",
        "remove lanOpen",
      );
    return;
  }
  const bind = e.bind ?? "0.0.0.0";
  if (e.login !== undefined && e.lanOpen !== undefined) {
    add(
      "lanOpen",
      "is set beside login: a service either checks who calls it or is open",
      "keep login if the service checks credentials on every request, otherwise remove login and keep lanOpen",
    );
  } else if (e.login === undefined && e.lanOpen === undefined) {
    add(
      "login",
      `port ${e.port} binds ${bind}, so anyone on the LAN reaches it, and the entry says neither how a caller logs in (login) nor why it may stay open (lanOpen)`,
      `add login: "<how a LAN client authenticates>" (configure that login in its NixOS module), or lanOpen: "<why anyone on the LAN may use it>", or bind it to 127.0.0.1`,
    );
  }
}

/** A role's value, and what holding it needs from the entry (see ServiceEntry.role). */
function checkRoleShape(add: Add, e: ServiceEntry): void {
  if (!checkEnum(add, "role", e.role, SERVICE_ROLES, true) || e.role === undefined) return;
  if (e.runsOn !== "host")
    add(
      "role",
      `the ${e.role} role runs on a host, but the entry runs on ${show(e.runsOn)}`,
      `set runsOn: "host", or remove role`,
    );
  if (e.role === "portal" && e.proxyTo === undefined)
    add(
      "proxyTo",
      "the portal shows the dashboard app, but the entry names none",
      "set proxyTo to the dashboard entry's id",
    );
  if (e.role === "backup") {
    const names = Array.isArray(e.secrets) ? e.secrets.map((s) => (isObject(s as unknown) ? s.name : undefined)) : [];
    const missing = REPOSITORY_SECRETS.filter((n) => !names.includes(n));
    if (missing.length > 0)
      add(
        "secrets",
        `the backup role unlocks the restic repository with ${missing.map((n) => `"${n}"`).join(", ")}, which the entry does not declare`,
        `add ${missing.join(", ")} to secrets`,
      );
  }
}

/** A Homepage widget: its type and the dashboard secret holding the key. */
function checkDashboardWidget(add: Add, widget: unknown): void {
  if (widget === undefined) return;
  const fix =
    'write dashboardWidget: { type: "<Homepage widget type>", secret: "<name of a secret of the dashboard entry>" }';
  if (!isObject(widget) || Object.keys(widget).some((k) => k !== "type" && k !== "secret"))
    return add("dashboardWidget", `${show(widget)} is not { type, secret }`, fix);
  if (typeof widget.type !== "string" || !/^[a-z][a-z0-9]{0,63}$/.test(widget.type))
    add(
      "dashboardWidget.type",
      `${show(widget.type)} is not a Homepage widget type`,
      "use the widget's type as Homepage names it, such as homeassistant",
    );
  if (typeof widget.secret !== "string" || !isDnsLabel(widget.secret))
    add(
      "dashboardWidget.secret",
      `${show(widget.secret)} is not a secret name`,
      "name a secret of the dashboard entry, such as hass-token",
    );
}

/** A speed schedule: a list of windows that covers the day exactly once, with rates of zero or more. */
function checkSpeedSchedule(add: Add, schedule: unknown): void {
  if (schedule === undefined) return;
  const fix =
    'write speedSchedule: [{ name, from: "HH:MM", to: "HH:MM", download: { megabytesPerSecond }, upload: { megabytesPerSecond } }, ...], covering the day once';
  const isRate = (r: unknown) =>
    isObject(r) && typeof r.megabytesPerSecond === "number" && Number.isFinite(r.megabytesPerSecond);
  const isWindow = (p: unknown) =>
    isObject(p) &&
    typeof p.name === "string" &&
    typeof p.from === "string" &&
    typeof p.to === "string" &&
    isRate(p.download) &&
    isRate(p.upload);
  if (!Array.isArray(schedule) || schedule.length === 0 || !schedule.every(isWindow))
    return add("speedSchedule", `${show(schedule)} is not a list of speed windows`, fix);
  for (const p of schedule as SpeedPeriod[]) checkText(add, "speedSchedule.name", p.name, TEXT_LIMITS.title);
  for (const problem of scheduleProblems(schedule as SpeedPeriod[])) add("speedSchedule", problem, fix);
}

/** Config problems in the same shape as catalog problems. */
export function fromConfigProblems(problems: ConfigProblem[]): Problem[] {
  return problems.map((p) => ({ field: p.key, message: p.message, fix: p.fix }));
}

export function formatProblem(p: Problem): string {
  const where = p.service ? `service "${p.service}", field "${p.field}"` : `${p.field}`;
  return `${where}: ${p.message}. Fix: ${p.fix}.`;
}

/**
 * Raised when validation fails; the message lists every problem. Its
 * `stack` is that list too, with no trace: the Pulumi runtime prints an
 * error's `stack`, and a user's config mistake is not a program crash.
 */
export class ValidationError extends Error {
  constructor(
    public readonly stackName: string,
    public readonly problems: Problem[],
  ) {
    super(
      `stack "${stackName}" has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
    );
    this.name = "ValidationError";
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** One icon source: a simple-icons slug or an mdi glyph (each with an optional colour), or a drawn file. */
function checkIcon(add: (field: string, message: string, fix: string) => void, icon: unknown): void {
  const fix = 'write icon: { simpleIcons: "<slug>" }, icon: { mdi: "<glyph>" } or icon: { file: "<name>-logo.svg" }';
  if (!isObject(icon)) return add("icon", `${show(icon)} is not an icon source`, fix);
  const sources: string[] = Object.keys(icon).filter((k) => k === "simpleIcons" || k === "mdi" || k === "file");
  const extra = Object.keys(icon).filter((k) => !sources.includes(k) && !(k === "color" && !("file" in icon)));
  if (sources.length !== 1 || extra.length > 0) return add("icon", `${show(icon)} is not exactly one icon source`, fix);
  const [source] = sources;
  const value = icon[source];
  if (source === "file") {
    if (typeof value !== "string" || !ICON_FILE.test(value))
      add(
        "icon.file",
        `${show(value)} is not a file name in assets/icons/`,
        "name an .svg file in assets/icons/ in lowercase letters, digits, dots, underscores and hyphens",
      );
  } else if (typeof value !== "string" || !ICON_NAME[source].test(value)) {
    add(
      `icon.${source}`,
      `${show(value)} is not a ${source === "mdi" ? "Material Design Icons glyph name" : "simple-icons slug"}`,
      source === "mdi" ? "use a glyph name such as backup-restore" : "use a slug such as jellyfin",
    );
  } else {
    const missing = missingFromSet(source === "mdi" ? { mdi: value } : { simpleIcons: value });
    if (missing) {
      add(
        `icon.${source}`,
        `${show(value)} ${missing}`,
        source === "mdi"
          ? "pick a glyph from https://pictogrammers.com/library/mdi/"
          : "pick a slug from https://simpleicons.org/, or use an mdi glyph or a drawn file",
      );
    }
  }
  if (icon.color !== undefined && (typeof icon.color !== "string" || !ICON_COLOR.test(icon.color)))
    add("icon.color", `${show(icon.color)} is not a colour`, 'write a hex colour such as "#38bdf8"');
}

/**
 * Backup paths by owner, indexed by every ancestor directory, so checking a
 * new path against all earlier ones costs its depth rather than the size of
 * the catalog: a catalog of thousands of services validates in linear time.
 */
class BackupOwners {
  private readonly exact = new Map<string, { path: string; id: string }>();
  private readonly below = new Map<string, { path: string; id: string }[]>();

  /** An earlier path of another service that equals, contains or lies inside `path`. */
  overlapping(path: string, id: string): { path: string; id: string } | undefined {
    for (const dir of [...ancestors(path), path]) {
      const owner = this.exact.get(dir);
      if (owner && owner.id !== id) return owner;
    }
    return this.below.get(path)?.find((o) => o.id !== id);
  }

  add(path: string, id: string): void {
    if (!this.exact.has(path)) this.exact.set(path, { path, id });
    for (const dir of ancestors(path)) {
      const list = this.below.get(dir);
      if (list) list.push({ path, id });
      else this.below.set(dir, [{ path, id }]);
    }
  }
}

/** `/var/lib/x/y` → `/var`, `/var/lib`, `/var/lib/x`. */
function ancestors(path: string): string[] {
  const parts = path.split("/").slice(1, -1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
}
