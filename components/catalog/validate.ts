import { Secrets } from "@1password/sdk";
import type { ConfigProblem, StackConfig } from "../config/schema";
import { inStack, routeLabel } from "./resolve";
import { DASHBOARD_GROUPS, type ServiceEntry } from "./types";

/** One thing wrong with the catalog or the stack config, and how to fix it. */
export interface Problem {
  /** Catalog id of the service involved, if any. */
  service?: string;
  /** The catalog field or stack config key at fault. */
  field: string;
  message: string;
  fix: string;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const CATALOG_FILE = "components/catalog/services.ts";

export function isDnsLabel(label: string): boolean {
  return LABEL.test(label);
}

/** A hostname or domain: dot-separated labels, at most 253 characters, with at least two labels. */
export function isHostname(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.split(".");
  return labels.length >= 2 && labels.every(isDnsLabel);
}

/** The SDK's own parser decides what a well-formed secret reference is. */
export function opReferenceError(ref: string): string | undefined {
  try {
    Secrets.validateSecretReference(ref);
    return undefined;
  } catch (err) {
    // The SDK's errors carry a JSON body: {"name": ..., "message": ...}.
    const raw = (err as { message?: string }).message ?? String(err);
    try {
      return (JSON.parse(raw) as { message?: string }).message ?? raw;
    } catch {
      return raw;
    }
  }
}

/** Every rule over the catalog for one stack. Reports all problems at once. */
export function validateCatalog(catalog: readonly ServiceEntry[], config: StackConfig): Problem[] {
  const problems: Problem[] = [];
  const add = (service: string | undefined, field: string, message: string, fix: string) =>
    problems.push({ service, field, message, fix });
  const ids = new Map<string, ServiceEntry>();

  for (const e of catalog) {
    if (!isDnsLabel(e.id)) {
      add(e.id, "id", `"${e.id}" is not a valid DNS label`, "use lowercase letters, digits and inner hyphens, at most 63 characters");
    }
    if (ids.has(e.id)) {
      add(e.id, "id", "the id is declared twice", `rename or remove one of the two "${e.id}" entries in ${CATALOG_FILE}`);
    }
    ids.set(e.id, e);
  }

  const members = catalog.filter((e) => inStack(e, config));
  const ports = new Map<number, string>();
  const hostnames = new Map<string, string>();

  for (const e of members) {
    if (!(DASHBOARD_GROUPS as readonly string[]).includes(e.group)) {
      add(e.id, "group", `unknown dashboard group "${e.group}"`, `use one of: ${DASHBOARD_GROUPS.join(", ")}, or add the group to DASHBOARD_GROUPS`);
    }

    if (e.port !== undefined) {
      if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) {
        add(e.id, "port", `${e.port} is out of range`, "use a whole number from 1 to 65535");
      } else if (e.runsOn === "host") {
        const other = ports.get(e.port);
        if (other) {
          add(e.id, "port", `port ${e.port} is already used by "${other}" on the same host`, "give one of them a free port");
        } else {
          ports.set(e.port, e.id);
        }
      }
    }
    if (e.runsOn === "pages" && e.port !== undefined) {
      add(e.id, "port", "a Cloudflare Pages site has no local port", "remove the port, or set runsOn to host");
    }
    if (e.runsOn === "host" && e.status === "enabled" && e.route !== false && e.port === undefined) {
      add(e.id, "port", "a routed host service needs a port for nginx to proxy to", "set its port, or set route: false");
    }

    const loopback = e.bind === "127.0.0.1";
    if (loopback && e.route !== false) {
      add(e.id, "route", "a loopback-only service (bind 127.0.0.1) cannot be given a public route", "set route: false, or bind it to 0.0.0.0 if it is meant to be reachable");
    }
    if (loopback && e.proxyTo !== undefined) {
      add(e.id, "proxyTo", "a loopback-only service (bind 127.0.0.1) cannot be given a proxy", "remove proxyTo");
    }
    if (e.proxyTo !== undefined && !ids.has(e.proxyTo)) {
      add(e.id, "proxyTo", `"${e.proxyTo}" is not a catalog id`, "point proxyTo at an existing entry's id");
    }

    const label = routeLabel(e, config.routePattern);
    if (e.route && e.route.name !== undefined && !isDnsLabel(e.route.name)) {
      add(e.id, "route.name", `"${e.route.name}" is not a valid DNS label`, "use lowercase letters, digits and inner hyphens");
    } else if (label !== null && !isDnsLabel(label)) {
      add(e.id, "route", `route label "${label}" is not a valid DNS label`, "shorten the route name or fix homelab:routePattern");
    } else if (label !== null) {
      const hostname = `${label}.${config.domain}`;
      if (!isHostname(hostname)) {
        add(e.id, "route", `"${hostname}" is not a valid hostname`, "shorten the route name or the domain");
      }
      const other = hostnames.get(hostname);
      if (other) {
        add(e.id, "route", `public hostname ${hostname} is already used by "${other}"`, "give one of them another route name");
      } else {
        hostnames.set(hostname, e.id);
      }
    }
    if (e.protection === "public" && label === null) {
      add(e.id, "protection", "public protection on a service that is never routed", "remove protection");
    }

    const secretNames = new Set<string>();
    for (const s of e.secrets ?? []) {
      if (!isDnsLabel(s.name)) {
        add(e.id, "secrets.name", `"${s.name}" is not a valid file name label`, "use lowercase letters, digits and inner hyphens");
      }
      if (secretNames.has(s.name)) {
        add(e.id, "secrets.name", `secret "${s.name}" is declared twice`, "give each secret of a service its own name");
      }
      secretNames.add(s.name);
      if (s.ref !== "generated") {
        const err = opReferenceError(s.ref);
        if (err) {
          add(e.id, "secrets.ref", `malformed 1Password reference "${s.ref}": ${err}`, "write it as op://<vault>/<item>/[section/]<field>");
        }
      }
    }
  }

  for (const id of config.services ?? []) {
    const e = ids.get(id);
    if (!e) {
      add(undefined, "homelab:services", `"${id}" is not a catalog id`, `remove it from homelab:services in Pulumi.${config.stack}.yaml`);
    } else if (e.status !== "enabled") {
      add(id, "homelab:services", `"${id}" is pending and cannot run yet`, `remove it from homelab:services, or set status: "enabled" once it is migrated`);
    }
  }
  if (config.edge === "none" && members.some((e) => e.id === "cloudflared" && e.status === "enabled")) {
    add("cloudflared", "homelab:services", "a stack with homelab:edge none has no tunnel to run", "leave cloudflared out of homelab:services");
  }

  if (!isHostname(config.domain)) {
    add(undefined, "homelab:domain", `"${config.domain}" is not a valid domain`, `set homelab:domain in Pulumi.${config.stack}.yaml to a domain such as example.com`);
  }
  if (!isHostname(config.lanHostname)) {
    add(undefined, "homelab:lanHostname", `"${config.lanHostname}" is not a valid hostname`, "use a name such as nixos.local");
  }
  if (!/^(\d{1,3})(\.\d{1,3}){3}$/.test(config.lanAddress) || config.lanAddress.split(".").some((o) => Number(o) > 255)) {
    add(undefined, "homelab:lanAddress", `"${config.lanAddress}" is not an IPv4 address`, `set homelab:lanAddress in Pulumi.${config.stack}.yaml to the host's LAN address`);
  }
  return problems;
}

/** Config problems in the same shape as catalog problems. */
export function fromConfigProblems(problems: ConfigProblem[]): Problem[] {
  return problems.map((p) => ({ field: p.key, message: p.message, fix: p.fix }));
}

export function formatProblem(p: Problem): string {
  const where = p.service ? `service "${p.service}", field "${p.field}"` : `${p.field}`;
  return `${where}: ${p.message}. Fix: ${p.fix}.`;
}

/** Raised when validation fails; the message lists every problem. */
export class ValidationError extends Error {
  constructor(
    public readonly stack: string,
    public readonly problems: Problem[],
  ) {
    super(
      `stack "${stack}" has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
    );
    this.name = "ValidationError";
  }
}
