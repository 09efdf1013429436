import type { NixosFlake } from "../../../components/config/hosts";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { join } from "node:path";
import { CATALOG } from "../../../components/catalog/services";
import type { ServiceEntry } from "../../../components/catalog/types";
import { enabledSecrets, enabledServices, resolveHomelab, type Homelab } from "../../../components/catalog/resolve";
import { parseStackConfig } from "../../../components/config/schema";
import { DEPLOY_SCRIPT_PATH } from "../../../components/host/bundle";
import { healthChecksFor, type HostHealthCheck, type HostPaths } from "../../../components/host/commands";
import type { NixosHostArgs, NixosHostSecret } from "../../../components/host/nixos-host";
import { testHostRoot, type SshTarget } from "./testhost";

export const REPO = join(__dirname, "../../..");
export const SCRIPT_FILE = join(REPO, "nixos", DEPLOY_SCRIPT_PATH);
export const SCRIPT = readFileSync(SCRIPT_FILE, "utf8");

/** Services with secrets in every shape: root-only, and readable by a group the switch creates. */
export const SERVICES = ["portal", "dashboard", "home-assistant", "mosquitto", "transmission"];

/**
 * The prefix of this run's service groups, `hl<6 hex>-`. The fake switch
 * creates real groups (groupadd) and the session deletes them: with the
 * catalog's own names (mosquitto, hass) two test runs at once, or the machine
 * itself, would share and delete each other's groups.
 */
export const GROUP_PREFIX = `hl${randomBytes(3).toString("hex")}-`;

/** The catalog with every secret's group renamed to this run's group; nothing else differs. */
export function catalogWithGroupPrefix(catalog: readonly ServiceEntry[], prefix: string): ServiceEntry[] {
  return catalog.map((e) =>
    e.secrets ? { ...e, secrets: e.secrets.map((s) => (s.group ? { ...s, group: `${prefix}${s.group}` } : s)) } : e,
  );
}

export const TEST_CATALOG = catalogWithGroupPrefix(CATALOG, GROUP_PREFIX);

/** The groups the test services' secrets name, which the fake switch creates: all of them this run's. */
export const SECRET_GROUPS = [
  ...new Set(
    TEST_CATALOG.filter((e) => SERVICES.includes(e.id)).flatMap((e) =>
      (e.secrets ?? []).flatMap((s) => (s.group ? [s.group] : [])),
    ),
  ),
].sort();
for (const g of SECRET_GROUPS) {
  // groupadd's limit, and the charset both it and homelab-deploy.sh accept.
  if (g.length > 32 || !/^[a-z_][a-z0-9_-]*$/.test(g)) throw new Error(`test group ${g} is not a valid group name`);
}

/** A LAN-only stack whose host paths point into the test host's temp dir; `services` defaults to SERVICES. */
export function testLab(paths: HostPaths, services: readonly string[] = SERVICES): Homelab {
  const parsed = parseStackConfig(
    "ci",
    {
      domain: "example.test",
      lanAddress: "192.0.2.10",
      edge: "none",
      services: [...services],
      bundleDir: paths.bundleDir,
      credentialsDir: paths.secretsDir,
      stateDir: paths.stateDir,
    },
    "plan",
    { hostRoot: testHostRoot(paths) },
  );
  if (!parsed.config) throw new Error(JSON.stringify(parsed.problems));
  return resolveHomelab(TEST_CATALOG, parsed.config);
}

/** A small bundle with the real deploy script; fake-host/groups tells the fake switch which groups NixOS would create. */
export function testBundle(extra: Record<string, string> = {}): Map<string, string> {
  return new Map(
    Object.entries({
      "default.nix": "{ ... }: { imports = [ ./modules/services.nix ]; }\n",
      "modules/services.nix": "{ lib, ... }: { homelab.services = lib.importJSON ../generated/services.json; }\n",
      "generated/services.json": `${JSON.stringify({ services: SERVICES }, null, 2)}\n`,
      "fake-host/groups": `${SECRET_GROUPS.join("\n")}\n`,
      [DEPLOY_SCRIPT_PATH]: SCRIPT,
      ...extra,
    }),
  );
}

/** One value per secret key; `overrides` changes some. */
export function secretValues(lab: Homelab, overrides: Record<string, string> = {}): Map<string, string> {
  return new Map(enabledSecrets(lab).map((s) => [s.key, overrides[s.key] ?? `value of ${s.key}\nsecond line`]));
}

export function hostSecrets(lab: Homelab, values: Map<string, string>): NixosHostSecret[] {
  return enabledSecrets(lab).map((s) => ({ ...s, value: values.get(s.key)! }));
}

/** Local stand-ins for the services the health checks probe: one HTTP, one TCP. */
export interface Listeners {
  httpPort: number;
  tcpPort: number;
  close(): Promise<void>;
}

export async function startListeners(): Promise<Listeners> {
  const http: HttpServer = createHttpServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
  const tcp: TcpServer = createTcpServer((sock) => sock.end());
  const listen = (srv: HttpServer | TcpServer) =>
    new Promise<number>((r) => srv.listen(0, "127.0.0.1", () => r((srv.address() as { port: number }).port)));
  const httpPort = await listen(http);
  const tcpPort = await listen(tcp);
  return {
    httpPort,
    tcpPort,
    close: async () => {
      await new Promise((r) => http.close(r));
      await new Promise((r) => tcp.close(r));
    },
  };
}

/** The catalog's checks for the test services, pointed at the local stand-ins. */
export function testChecks(lab: Homelab, listeners: Listeners): HostHealthCheck[] {
  return healthChecksFor(enabledServices(lab)).map((c) => ({
    ...c,
    port: c.kind === "http" ? listeners.httpPort : listeners.tcpPort,
  }));
}

export interface ArgsOptions {
  bundle?: Map<string, string>;
  values?: Map<string, string>;
  checks?: HostHealthCheck[];
  healthTimeoutSeconds?: number;
  /** @default 60: long enough that no test's timer fires unless it waits for it */
  confirmTimeoutSeconds?: number;
  hostKey?: string;
  detectDrift?: boolean;
  /** A flake host's flake and input; unset for a channel host. */
  flake?: NixosFlake;
}

export function hostArgs(
  target: SshTarget,
  paths: HostPaths,
  lab: Homelab,
  listeners: Listeners,
  o: ArgsOptions = {},
): NixosHostArgs {
  return {
    connection: {
      host: target.host,
      port: target.port,
      user: target.user,
      privateKey: target.privateKey,
      hostKey: "hostKey" in o ? o.hostKey : target.hostKey,
    },
    bundle: o.bundle ?? testBundle(),
    secrets: hostSecrets(lab, o.values ?? secretValues(lab)),
    paths,
    healthChecks: o.checks ?? testChecks(lab, listeners),
    keepGenerations: 3,
    flake: o.flake,
    healthTimeoutSeconds: o.healthTimeoutSeconds ?? 10,
    confirmTimeoutSeconds: o.confirmTimeoutSeconds ?? 60,
    detectDrift: o.detectDrift,
  };
}
