/**
 * The docs site's generated pages: catalog and stack config in, Starlight
 * Markdown out, keyed by their path inside the Astro project (docs/ plus
 * these). Pure: the docs build, the deploy trigger and the tests call it.
 *
 * What the pages never hold: secret values (they never reach this module,
 * only 1Password references and file paths do), the Cloudflare account and
 * zone ids, the Access emails, and, unless homelab:docsShowLanAddresses is
 * set, the host's LAN address.
 */
import { hostFormatsPage } from "../host/formats";
import type { Homelab, ResolvedService } from "../catalog/resolve";
import {
  backupService,
  connectorHosts,
  enabledServices,
  labHosts,
  reachedOverLan,
  serviceUrl,
} from "../catalog/resolve";
import { TUNNEL_ORIGIN, ingressOrigin } from "./edge";
import type { HostConfig } from "../config/hosts";
import { BACKUP_RETENTION, BACKUP_SCHEDULE, toTransmissionKBps } from "../catalog/schedules";
import { CONFIG_KEYS, CONFIG_NAMESPACE, defaultBackupBucket } from "../config/schema";
import { defaultShown, type KeySpec } from "../config/key";
import { generatedHeader, stableJson } from "./stable";
import { topologyMarkdown, topologyMermaid } from "./topology";

/** Where `npm run docs` puts the built site inside out/<stack>/. */
export const DOCS_SITE_DIR = "docs";
/** Where the generated Markdown goes inside the Astro project. */
export const DOCS_CONTENT_DIR = "src/content/docs";
/** The topology picture, served at /topology.svg. */
export const TOPOLOGY_FILE = "public/topology.svg";
/** Its Mermaid source, kept beside the pages so the site's inputs name it. */
export const TOPOLOGY_SOURCE_FILE = "topology.mmd";
/** Stack facts astro.config.mjs reads: title, site URL. */
export const SITE_FILE = "homelab-site.json";
/** How the owner's pages write the redacted LAN address. */
export const REDACTED_LAN = "<homelab.ip>";

/** The URL path of a generated page. */
export const servicePath = (id: string) => `/services/${id}/`;

const REFERENCE = {
  toggle: "/reference/local-remote-toggle/",
  // The owner's notes link this path: it stays, whichever entry has the schedule.
  speedSchedule: "/reference/transmission-schedule/",
  backups: "/reference/backups/",
  config: "/reference/configuration/",
} as const;
const RUNBOOKS = {
  addService: "/runbooks/add-a-service/",
  rotateSecret: "/runbooks/rotate-a-secret/",
  failedDeploy: "/runbooks/failed-deploy/",
  drift: "/runbooks/drift/",
  addHost: "/runbooks/add-a-host/",
} as const;

/**
 * The name of the speed schedule page: the title of the catalog entry with
 * a `speedSchedule`, whether or not this stack runs it, since the page and
 * its links are on every stack's site.
 */
function scheduleName(lab: Homelab): string | undefined {
  return lab.catalog.find((e) => e.status === "enabled" && e.speedSchedule !== undefined)?.title;
}

/** Text for a Markdown table cell or paragraph: Markdown and HTML characters escaped. */
function esc(text: string): string {
  return text.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`);
}

/** A code span; the values put in one never hold a backtick. */
const code = (text: string) => `\`${text}\``;

function page(title: string, description: string, order: number, body: string[]): string {
  const header = generatedHeader("#", "the docs site; regenerate with `npm run docs`").replace(
    "`npm start` or `pulumi up`",
    "`npm run docs` or `pulumi up`",
  );
  return [
    "---",
    header.trimEnd(),
    `title: ${JSON.stringify(title)}`,
    `description: ${JSON.stringify(description)}`,
    `sidebar:`,
    `  order: ${order}`,
    "---",
    "",
    ...body,
    "",
  ].join("\n");
}

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** The host that runs the service (the first host for Pages and unplaced entries). */
function hostOf(lab: Homelab, s: ResolvedService): HostConfig {
  const hosts = labHosts(lab);
  return hosts.find((h) => h.name === s.hostName) ?? hosts[0];
}

/** The LAN address of the service's host as the pages may show it. */
function lanAddress(lab: Homelab, s: ResolvedService): string {
  return lab.config.docs?.showLanAddresses ? hostOf(lab, s).lanAddress : REDACTED_LAN;
}

/** `http://<address>:<port>` for the LAN, or where a loopback service can be reached. */
function localUrl(lab: Homelab, s: ResolvedService): string | null {
  if (s.port === null || s.bind === null) return null;
  return serviceUrl(s.entry, s.bind === "127.0.0.1" ? "127.0.0.1" : lanAddress(lab, s), s.port);
}

function mdnsUrl(lab: Homelab, s: ResolvedService): string | null {
  if (s.port === null || s.bind !== "0.0.0.0") return null;
  return serviceUrl(s.entry, hostOf(lab, s).lanHostname, s.port);
}

function protectionText(s: ResolvedService): string {
  switch (s.protection) {
    case "access":
      return "Cloudflare Access";
    case "public":
      return "public (no Access)";
    case "none":
      return "not routed";
  }
}

function publicRoute(s: ResolvedService): string {
  return s.publicHostname ? `[${s.publicHostname}](https://${s.publicHostname})` : "—";
}

function healthText(lab: Homelab, s: ResolvedService): string {
  const h = s.health;
  const within = `within ${lab.config.healthTimeoutSeconds} s of a switch`;
  if (h.kind === "http") return `HTTP GET ${code(`http://127.0.0.1:${s.port}${h.path}`)} answers below 500, ${within}.`;
  if (h.kind === "tcp") return `A TCP connect to ${code(`127.0.0.1:${s.port}`)} succeeds, ${within}.`;
  return `Not checked on the host: ${esc(h.reason)}.`;
}

function nativeClientsText(lab: Homelab, s: ResolvedService): string[] {
  const stack = lab.config.stack;
  if (s.nativeClients?.via === "tailscale") {
    return [
      `Over Tailscale, straight to the host's port: ${code(`http://<tailscale address>:${s.port}`)} (the address of ${code(s.host ?? "")} on the tailnet, \`tailscale ip -4\` there). ${esc(s.nativeClients.why)}`,
    ];
  }
  if (s.nativeClients?.via === "service-token") {
    const where = lab.config.secrets.generatedItem
      ? `or from the 1Password item ${code(lab.config.secrets.generatedItem)}`
      : "(set homelab:generatedCredentialsItem to also get them in 1Password)";
    return [
      `With a Cloudflare Access service token through ${publicRoute(s)}: send the headers ${code("CF-Access-Client-Id")} and ${code("CF-Access-Client-Secret")}. ${esc(s.nativeClients.why)}`,
      "",
      `Read the credentials with ${code(`pulumi stack output --show-secrets accessServiceTokens --stack ${stack}`)} ${where}. A request without valid headers gets a 401, not the login page. The token lasts a year; see [rotate a secret](${RUNBOOKS.rotateSecret}).`,
    ];
  }
  if (s.protection === "access") {
    return [
      s.entry.runsOn === "pages"
        ? "Browsers only, through the Access login page, on the LAN too: Pages serves it from Cloudflare, not from the host."
        : "Browsers only, through the Access login page; on the LAN, use the local URL.",
    ];
  }
  if (s.protection === "public")
    return ["Anyone can reach the public route; the service's own login is the only gate."];
  return [
    s.bind === "127.0.0.1"
      ? "Only on the host itself (loopback); there is no public route."
      : "Only on the LAN or the host; there is no public route.",
  ];
}

function servicePage(lab: Homelab, s: ResolvedService, order: number): string {
  const { config } = lab;
  const body: string[] = [`${esc(s.entry.description)}.`, ""];
  body.push("## Where it runs", "");
  if (s.entry.runsOn === "pages") {
    body.push(
      `On Cloudflare Pages, project ${code(config.cloudflare?.pagesProject ?? "")}; nothing of it runs on the host.`,
      "",
    );
  } else if (s.port === null) {
    body.push(
      `On ${code(s.hostNames.length > 1 ? s.hostNames.map((n) => labHosts(lab).find((h) => h.name === n)?.lanHostname ?? n).join(", ") : (s.host ?? config.lanHostname))}, with no listening port.`,
      "",
    );
  } else {
    const bindText =
      s.bind === "127.0.0.1"
        ? "loopback only: never reachable from outside the host"
        : "all interfaces: reachable on the LAN";
    body.push(
      `- Port: ${code(String(s.port))}`,
      `- Bind: ${code(s.bind ?? "")} (${bindText})`,
      ...lanGateLines(s),
      `- Local URL: ${code(localUrl(lab, s) ?? "")}`,
      `- mDNS alias: ${mdnsUrl(lab, s) ? code(mdnsUrl(lab, s) as string) : "—"}`,
      "",
    );
    if (s.entry.proxyTo)
      body.push(
        `nginx on port ${s.port} serves the ${esc(s.entry.proxyTo)} app (port ${s.upstreamPort}) under this route.`,
        "",
      );
  }

  body.push("## Route and protection", "");
  if (s.publicHostname) {
    body.push(`Public route: ${publicRoute(s)}, ${protectionText(s)}.`);
    if (s.entry.runsOn === "host") body.push(tunnelPathText(lab, s));
    if (s.entry.runsOn === "pages")
      body.push(
        `The Access application also covers ${code(`${config.cloudflare?.pagesProject}.pages.dev`)} and its preview hostnames, which Pages would otherwise leave public.`,
      );
    body.push("");
  } else {
    body.push(
      s.entry.route === false
        ? "Never routed: no tunnel rule, no DNS record, no Access application."
        : `Not routed in the ${esc(config.stack)} stack.`,
      "",
    );
  }

  body.push("## Native apps and API clients", "", ...nativeClientsText(lab, s), "");
  body.push("## Health check", "", healthText(lab, s), "");
  body.push("## Units", "");
  body.push(s.units.length > 0 ? s.units.map((u) => `- ${code(u)}`).join("\n") : "None on the host.", "");
  if (s.units.length > 0) {
    const restart = s.secrets.length > 0 ? "They restart when one of the service's secret files changes. " : "";
    body.push(`${restart}Logs: ${code(`journalctl -u ${s.units[0]}`)}.`, "");
  }

  body.push("## Backups", "");
  if (s.backup.paths.length === 0) body.push("Nothing of this service is backed up.", "");
  else {
    body.push(...s.backup.paths.map((p) => `- ${code(p)}`), "");
    if (s.backup.exclude.length > 0) body.push("Left out:", "", ...s.backup.exclude.map((p) => `- ${code(p)}`), "");
    body.push(`See [the backup policy](${REFERENCE.backups}).`, "");
  }

  body.push("## Secrets", "");
  if (s.secrets.length === 0) body.push("None.", "");
  else {
    body.push(
      ...table(
        ["Name", "Source", "File on the host", "Mode"],
        s.secrets.map((x) => [
          code(x.name),
          x.ref === "generated"
            ? "generated by the program"
            : config.secrets.source === "1password"
              ? code(x.ref)
              : `secret config ${code(`secretValues["${x.key}"]`)}`,
          code(x.path),
          `${x.mode}, ${x.owner}:${x.group}`,
        ]),
      ),
      "",
      `Only names and references are written here, never a value. See [rotate a secret](${RUNBOOKS.rotateSecret}).`,
      "",
    );
  }
  if (s.entry.speedSchedule)
    body.push(
      "## Schedule",
      "",
      `Speed limits switch between day and night modes; see [the ${esc(s.title)} schedule](${REFERENCE.speedSchedule}).`,
      "",
    );
  if (s.card)
    body.push(
      `Linked from the dashboard, where [the Local/Remote toggle](${REFERENCE.toggle}) picks the public or the local URL.`,
      "",
    );
  return page(s.title, s.entry.description, order, body);
}

/** Catalog text as a sentence on a page: escaped, with a full stop unless it has one. */
const sentence = (text: string) => esc(text) + (/[.!?]$/.test(text) ? "" : ".");

/** How a LAN client gets in: the service's login, or why it needs none. Loopback services have no door to the LAN. */
function lanGateLines(s: ResolvedService): string[] {
  if (s.bind !== "0.0.0.0") return [];
  if (s.entry.login) return [`- Login on the LAN: ${sentence(s.entry.login)}`];
  if (s.entry.lanOpen) return [`- Open on the LAN, without a login: ${sentence(s.entry.lanOpen)}`];
  return [];
}

/** The services anyone on the LAN can use without logging in, each with the catalog's reason. */
function openOnLanLines(enabled: ResolvedService[]): string[] {
  const open = enabled.filter((s) => s.bind === "0.0.0.0" && s.entry.lanOpen);
  if (open.length === 0) return ["Every service reachable from the LAN asks for a login."];
  return [
    `These answer anyone on the LAN without a login of their own; the catalog (${code("lanOpen")}) says why each may. Every other LAN-bound service asks for one (${code("login")}).`,
    "",
    ...open.map(
      (s) => `- [${esc(s.title)}](${servicePath(s.id)}), port ${s.port}: ${sentence(s.entry.lanOpen as string)}`,
    ),
  ];
}

function servicesIndex(lab: Homelab): string {
  const enabled = enabledServices(lab);
  const pending = lab.services.filter((s) => s.status === "pending");
  const rows = enabled.map((s) => [
    `[${esc(s.title)}](${servicePath(s.id)})`,
    localUrl(lab, s) ? code(localUrl(lab, s) as string) : s.entry.runsOn === "pages" ? "Cloudflare Pages" : "—",
    mdnsUrl(lab, s) ? code(mdnsUrl(lab, s) as string) : "—",
    s.publicHostname
      ? `${publicRoute(s)} (${s.protection === "access" ? "Access" : "public"})`
      : s.entry.route === false
        ? "never routed"
        : "—",
  ]);
  const body = [
    `Every service of the ${code(lab.config.stack)} stack, from the catalog (${code("components/catalog/services.ts")}).`,
    lab.config.docs?.showLanAddresses
      ? ""
      : `The host's LAN address is written ${code(REDACTED_LAN)}, as in the owner's pages; set homelab:docsShowLanAddresses to show it.`,
    "",
    ...table(["Service", "Local URL", "mDNS alias", "Public route"], rows),
    "",
    "## Open on the LAN",
    "",
    ...openOnLanLines(enabled),
    "",
    "## Pending",
    "",
    pending.length === 0
      ? "No service is pending."
      : `Declared so their names and routes stay reserved; nothing of them is deployed yet.\n\n${pending.map((s) => `- ${esc(s.title)}: ${esc(s.entry.description)}`).join("\n")}`,
    "",
  ];
  return page("Services", `The services of the ${lab.config.stack} stack`, 0, body);
}

/**
 * How the tunnel reaches a routed service. One host: through nginx. Several:
 * every connector can get any route, so each rule names the service's own
 * host and port on the LAN (see ingressOrigin).
 */
function tunnelPathText(lab: Homelab, s: ResolvedService): string {
  if (ingressOrigin(lab, s) === TUNNEL_ORIGIN)
    return `The tunnel carries it to nginx on port 80, which proxies to port ${s.upstreamPort}.`;
  // The origin names the host's LAN address, which the pages show only when homelab:docsShowLanAddresses says so.
  const origin = lab.config.docs?.showLanAddresses ? ingressOrigin(lab, s) : `http://${lanAddress(lab, s)}:${s.port}`;
  return `Whichever host's connector the tunnel picks sends it over the LAN to ${code(origin)} on ${code(s.host ?? "")}.`;
}

function home(lab: Homelab): string {
  const { config } = lab;
  const enabled = enabledServices(lab);
  const pending = lab.services.filter((s) => s.status === "pending");
  const edge =
    config.edge !== "cloudflare"
      ? `This stack has no Cloudflare edge: the services are reached over the LAN or Tailscale, through nginx on port 80 or their own ports.`
      : connectorHosts(lab).some((c) => reachedOverLan(lab, c))
        ? `Public routes go through Cloudflare: Access in front of each one, then the tunnel to a cloudflared connector on each host that serves a route, which sends each request over the LAN to its service's host and port.`
        : `Public routes go through Cloudflare: Access in front of each one, then the tunnel to cloudflared on the host, then nginx on port 80, which proxies to each service.`;
  const where = `on ${labHosts(lab)
    .map((h) => code(h.lanHostname))
    .join(", ")}`;
  const body = [
    `The home lab of the ${code(config.stack)} stack ${where}: ${enabled.length} services enabled, ${pending.length} pending. ${edge}`,
    "",
    ...topologyMarkdown(lab),
    "",
    "## Start here",
    "",
    `- [Services](/services/): local URLs, routes and protection of every service`,
    `- [The Local/Remote toggle](${REFERENCE.toggle})`,
    `- [The ${esc(scheduleName(lab) ?? "speed")} schedule](${REFERENCE.speedSchedule})`,
    `- [Backups](${REFERENCE.backups})`,
    `- Runbooks: [add a service](${RUNBOOKS.addService}), [rotate a secret](${RUNBOOKS.rotateSecret}), [recover from a failed deploy](${RUNBOOKS.failedDeploy}), [read drift](${RUNBOOKS.drift}), [add a host](${RUNBOOKS.addHost})`,
    "",
    `Pages under Services, Reference and Runbooks are generated from the catalog and the stack config by ${code("npm run docs")}; pages under Notes (the owner's) and Operator (the manual for running this program) are written by hand in ${code("docs/src/content/docs/notes/")} and ${code("docs/src/content/docs/operator/")}.`,
    "",
  ];
  return page(`Home lab: ${config.stack}`, `The ${config.stack} home lab`, 0, body);
}

function togglePage(lab: Homelab): string {
  const rows = enabledServices(lab)
    .filter((s) => s.card && s.publicHostname && s.entry.runsOn === "host" && localUrl(lab, s))
    .map((s) => [esc(s.title), code(`https://${s.publicHostname}`), code(localUrl(lab, s) as string)]);
  const body = [
    "The dashboard links every service to its public URL (Remote, the default). On the LAN, the public URL goes out to Cloudflare and back through the tunnel, and behind Access; the button next to the dashboard clock switches every service link to the service's own port on the host (Local) instead.",
    "",
    `- The choice is saved in the browser (${code("localStorage")} key ${code("homelab.linkMode")}), per browser and device.`,
    `- nginx serves the script at ${code("/api/config/custom.js")}: the map below, generated from the catalog, then ${code("assets/toggle.js")}.`,
    "- Links that are not services on the host (the docs, the Cloudflare dashboard) stay as they are.",
    "",
    rows.length > 0
      ? table(["Service", "Remote", "Local"], rows).join("\n")
      : "This stack has no public routes, so the dashboard links are local already and the toggle changes nothing.",
    "",
  ];
  return page("Local/Remote toggle", "How the dashboard switches between public and LAN links", 1, body);
}

function speedSchedulePage(lab: Homelab): string {
  const on = enabledServices(lab).find((s) => s.entry.speedSchedule !== undefined);
  const body = on?.entry.speedSchedule
    ? [
        `${esc(on.title)} switches its speed limits on a timer, in the host's time zone (${code(lab.config.timeZone)}, homelab:timeZone).`,
        "",
        ...table(
          ["Mode", "From", "To", "Download", "Upload"],
          on.entry.speedSchedule.map((p) => [
            p.name,
            p.from,
            p.to,
            `${p.download.megabytesPerSecond} MB/s (${toTransmissionKBps(p.download)} kB/s)`,
            p.upload.megabytesPerSecond === 0
              ? "0 (disabled)"
              : `${p.upload.megabytesPerSecond} MB/s (${toTransmissionKBps(p.upload)} kB/s)`,
          ]),
        ),
        "",
        `The alternative speed (turtle) limits are left alone, for pausing by hand from ${esc(on.title)}'s UI.`,
        "",
      ]
    : [
        `The ${code(lab.config.stack)} stack does not run ${esc(scheduleName(lab) ?? "a service on a speed schedule")}.`,
        "",
      ];
  return page(`${scheduleName(lab) ?? "Speed"} schedule`, "Day and night speed limits", 2, body);
}

function backupsPage(lab: Homelab): string {
  const enabled = enabledServices(lab);
  const backrest = backupService(lab);
  if (!backrest) {
    const ui = lab.catalog.find((e) => e.role === "backup")?.title ?? "a service with the backup role";
    return page("Backups", "The backup policy", 3, [
      `The ${code(lab.config.stack)} stack runs no backups: it does not enable ${esc(ui)}.`,
      "",
    ]);
  }
  const bucket = lab.config.backupBucket ?? defaultBackupBucket(lab.config.stack);
  const rows = enabled
    .filter((s) => s.backup.paths.length > 0)
    .map((s) => [
      `[${esc(s.title)}](${servicePath(s.id)})`,
      s.backup.paths.map(code).join(", "),
      s.backup.exclude.map(code).join(", ") || "—",
    ]);
  const body = [
    `restic backs up ${BACKUP_SCHEDULE} to ${code(`b2:${bucket}:homelab`)} on Backblaze B2 and keeps ${BACKUP_RETENTION.daily} daily, ${BACKUP_RETENTION.weekly} weekly and ${BACKUP_RETENTION.monthly} monthly snapshots. ${esc(backrest.title)} shows them.`,
    "",
    ...table(["Service", "Paths", "Left out"], rows),
    "",
    `The repository password and the B2 key are ${esc(backrest.title)}'s secrets (see [${esc(backrest.title)}](${servicePath(backrest.id)})); the backup job reads them at each run.`,
    "",
  ];
  return page("Backups", "The backup policy", 3, body);
}

/** A key's default as its record holds it: " Default: `22`.", or "" for a key without one. */
function defaultCell(spec: KeySpec): string {
  const shown = defaultShown(spec);
  if (!shown) return "";
  const text =
    shown.is === "value"
      ? code(shown.text)
      : shown.is === "key"
        ? `the value of ${code(`${CONFIG_NAMESPACE}:${shown.text}`)}`
        : esc(shown.text);
  return ` Default: ${text}.`;
}

/** Every stack config key, from the schema the program validates against, so the reference cannot fall behind it. */
function configPage(lab: Homelab): string {
  const rows = Object.entries(CONFIG_KEYS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, spec]) => {
      const how = [spec.required ? "required" : "", spec.secret ? "secret" : ""].filter(Boolean).join(", ");
      const values = spec.oneOf ? ` One of ${spec.oneOf.map(code).join(", ")}.` : "";
      return [
        code(`${CONFIG_NAMESPACE}:${key}`),
        spec.kind === "string[]" ? "list" : spec.kind,
        how || "—",
        `${esc(spec.doc)}.${values}${defaultCell(spec)}`,
      ];
    });
  return page("Configuration", "Every key of the stack config", 4, [
    `Each stack reads these keys from ${code(`Pulumi.${lab.config.stack}.yaml`)} (${code("pulumi config set homelab:<key> <value>")}; secret keys with ${code("--secret")}). Any other key under ${code(`${CONFIG_NAMESPACE}:`)} is refused with the key it most likely meant. The table is generated from ${code("components/config/schema.ts")}, the code that validates the keys.`,
    "",
    ...table(["Key", "Type", "Required, secret", "What it is"], rows),
    "",
  ]);
}

function runbooks(lab: Homelab): Map<string, string> {
  const { config } = lab;
  const stack = config.stack;
  const st = `--stack ${stack}`;
  const state = config.paths.stateDir;
  const withSecrets = enabledServices(lab).filter((s) => s.secrets.length > 0);
  const pages = new Map<string, string>();
  pages.set(
    "add-a-service",
    page("Add a service", "From a catalog entry to a deployed, routed service", 1, [
      `1. Add one entry to ${code("components/catalog/services.ts")}: id, title, group, description, port and bind address, how LAN clients log in (login) or why it may be open (lanOpen), icon, health check, units, backup paths and the 1Password references of its secrets. The route defaults to ${code(`${config.routePattern.replace("{name}", "<id>")}.${config.domain}`)}, behind Access.`,
      config.services
        ? `2. Add its id to ${code("homelab:services")} in ${code(`Pulumi.${stack}.yaml`)}: this stack runs only the services listed there.`
        : "2. This stack runs every enabled catalog entry; nothing to list.",
      `3. Run ${code(`npm start -- ${st}`)}: validation names any clash (port, hostname, group, reference) and the plan shows the new route.`,
      `4. If nixpkgs has a module for it, set it from the generated data in a module under ${code("nixos/modules/")}.`,
      `5. ${code(`pulumi preview --diff ${st}`)}, then ${code(`pulumi up ${st}`)}: the tunnel rule, DNS record, Access application, nginx site, dashboard card, backups and these docs follow from the entry.`,
      "",
    ]),
  );
  const rows = withSecrets.flatMap((s) =>
    s.secrets.map((x) => [
      code(x.key),
      x.ref === "generated" ? "generated" : code(x.ref),
      code(`${s.id}-secrets`),
      s.units.map(code).join(", "),
    ]),
  );
  pages.set(
    "rotate-a-secret",
    page("Rotate a secret", "New values in 1Password, new files on the host", 2, [
      config.secrets.source === "1password"
        ? `1. Change the value in 1Password (vault ${code(config.secrets.vault)}).`
        : `1. Set the new value: ${code(`pulumi config set --secret --path 'secretValues["<service>.<name>"]' <value> ${st}`)}.`,
      `2. ${code(`pulumi preview --diff ${st}`)} shows only that service's secrets command changing, with an HMAC of the new value in its triggers, never the value.`,
      `3. ${code(`pulumi up ${st}`)} rewrites the file and restarts only that service's units.`,
      "",
      ...table(["Secret", "Reference", "Command", "Units restarted"], rows),
      "",
      `The tunnel token: ${code(`pulumi config set homelab:tunnelCredentialGeneration <next number> ${st}`)}. API client keys (Access service tokens): ${code(`pulumi config set homelab:apiClientKeyVersion <next number> ${st}`)}, with homelab:apiClientKeyOverlapUntil for when the old keys stop working (required with a new version; the current time for no overlap).`,
      "",
    ]),
  );
  pages.set(
    "failed-deploy",
    page("Recover from a failed deploy", "What the rollback did, and where the apply log is", 3, [
      `When the switch or a health check fails, the deploy script has already rolled back before ${code("pulumi up")} reports the failure:`,
      "",
      `- the host is back on the previous system generation (${code("nixos-rebuild switch --rollback")}), and the failed generation is deleted;`,
      `- the bundle link ${code(config.paths.bundleDir)} points at the previous release again;`,
      `- secret files of the new release that the old one does not declare stay until a healthy release no longer needs them.`,
      "",
      `${code("pulumi up")} fails naming the services whose checks failed. Find out why:`,
      "",
      `- The apply log of every switch: ${code(`${state}/apply-log/`)} on the host; the newest is ${code(`ls -t ${state}/apply-log | head -1`)}.`,
      `- The unit's log: ${code("journalctl -u <unit> -b")}.`,
      `- The deploy record (release and generation): ${code(`${state}/`)}.`,
      "",
      `If the log says ROLLBACK FAILED, the host stayed on the generation it names: run ${code("nixos-rebuild switch --rollback")} on the host. A dropped SSH session does not stop a switch: it runs detached, and the next deploy waits for it.`,
      "",
      `Fix the catalog or the module, then ${code(`pulumi up ${st}`)} again.`,
      "",
    ]),
  );
  pages.set(
    "drift",
    page("Read drift", "When the host changed outside Pulumi", 4, [
      `Every ${code("pulumi preview")} and ${code("pulumi up")}${config.detectDrift ? "" : " (with homelab:detectDrift on; this stack turns it off)"} reads the host over SSH, read-only, and shows a change made by hand as a warning and as an update of the step that puts it back, with the reason in its triggers (${code(`pulumi preview --diff ${st}`)}):`,
      "",
      ...table(
        ["Reason", "Meaning", "What up does"],
        [
          [
            code("bundle on host differs from declared"),
            `the files under ${code(config.paths.bundleDir)} changed`,
            "pushes the bundle again",
          ],
          [
            code("secret file <service>.<name> on host differs from declared"),
            "a secret file was edited or removed",
            "rewrites the file",
          ],
          [
            code("system generation changed outside Pulumi"),
            "someone ran nixos-rebuild by hand",
            "switches back to the declared configuration",
          ],
          [
            code("no deploy recorded on the host"),
            "a first deploy, or the host's state directory is gone (a reinstall)",
            "runs every step: bundle, secrets, rebuild",
          ],
          [
            code("units failed: <unit>"),
            "a unit is in the failed state (a warning, never a trigger)",
            "nothing: look at journalctl -u <unit>",
          ],
          [
            code("unreachable: could not check …"),
            "the host did not answer",
            "nothing was checked; the preview never reports no changes",
          ],
        ],
      ),
      "",
      "To keep a change made by hand, put it into the catalog or the NixOS modules, then run pulumi up.",
      "",
    ]),
  );
  pages.set(
    "add-a-host",
    page("Add a host", "A second machine in this stack", 5, [
      `1. In ${code(`Pulumi.${stack}.yaml`)}, each machine is an entry of ${code("homelab:hosts")}, by name: ${hostList(lab)} now. Keep each name, since a host's resources are named after it; a stack without ${code("homelab:hosts")} names its one host after its mDNS name, so move its ${code("lanAddress")}, ${code("lanHostname")} and ${code("sshHostKey")} under that name (the single-host keys ${code("homelab:lanAddress")}, ${code("homelab:lanHostname")}, ${code("homelab:sshHostKey")} may not stay beside ${code("homelab:hosts")}). Then add the new machine: ${code("lanAddress")}, ${code("sshHostKey")} (from ${code("ssh-keyscan -t ed25519 <host> | cut -d' ' -f2-")}) and ${code("sshKeyConfig: sshPrivateKey<Name>")}.`,
      `2. ${code(`pulumi config set --secret homelab:sshPrivateKey<Name> < ~/.ssh/<key> --stack ${stack}`)}: the new host's login key.`,
      `3. Place services on it: ${code("homelab:placement")}, service id → host name (${code("ollama: gpu")}); what follows a service (LiteLLM follows Ollama) goes with it. Optionally ${code("homelab:rollout: [<name>]")} deploys it first, as a canary.`,
      `4. On the new host, import the bundle once in ${code("/etc/nixos/configuration.nix")}: ${code("imports = [ ./hardware-configuration.nix ./homelab ];")}.`,
      `5. ${code(`npm start -- --stack ${stack}`)} to check the plan (one ${code("hosts/<name>/nixos/")} bundle per host), then ${code("pulumi preview --diff")} and ${code("pulumi up")}.`,
      "",
      `The operator page "Adding a service or a machine" walks through moving Ollama to a GPU box. A machine that should be its own environment (its own tunnel, routes and Pages project) is a stack of its own instead: copy ${code(`Pulumi.${stack}.yaml`)} to ${code("Pulumi.<new>.yaml")} with its own ${code("homelab:routePattern")}, ${code("homelab:tunnelName")} and ${code("homelab:pagesProject")}.`,
      "",
    ]),
  );
  return pages;
}

/** The site's URL, when the stack routes the docs. */
export function docsSiteUrl(lab: Homelab): string | null {
  const docs = enabledServices(lab).find((s) => s.entry.runsOn === "pages" && s.publicHostname);
  return docs ? `https://${docs.publicHostname}` : null;
}

/**
 * Every generated file of the docs site, by path inside the Astro project.
 * The topology's SVG is drawn from TOPOLOGY_SOURCE_FILE by the build
 * (renderTopologySvg), since the layout engine loads asynchronously.
 */
export function renderDocsPages(lab: Homelab): Map<string, string> {
  const files = new Map<string, string>();
  const add = (path: string, content: string) => files.set(`${DOCS_CONTENT_DIR}/${path}`, content);
  add("index.md", home(lab));
  add("services/index.md", servicesIndex(lab));
  for (const [i, s] of enabledServices(lab).entries()) add(`services/${s.id}.md`, servicePage(lab, s, i + 1));
  add("reference/local-remote-toggle.md", togglePage(lab));
  add("reference/transmission-schedule.md", speedSchedulePage(lab));
  add("reference/backups.md", backupsPage(lab));
  add("reference/configuration.md", configPage(lab));
  add(
    "reference/host-formats.md",
    page(
      "Host formats",
      "The text the program and the deploy script exchange, and the hashes both compute",
      5,
      hostFormatsPage(),
    ),
  );
  for (const [slug, content] of runbooks(lab)) add(`runbooks/${slug}.md`, content);
  files.set(TOPOLOGY_SOURCE_FILE, topologyMermaid(lab));
  files.set(
    SITE_FILE,
    stableJson({ stack: lab.config.stack, title: `Home lab (${lab.config.stack})`, site: docsSiteUrl(lab) }),
  );
  return files;
}

/** The stack's hosts by name, as the add-a-host runbook lists them: "`nixos` is the host there". */
function hostList(lab: Homelab): string {
  const names = labHosts(lab).map((h) => code(h.name));
  return names.length === 1 ? `${names[0]} is the host there` : `${names.join(", ")} are the hosts there`;
}
