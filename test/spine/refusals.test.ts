import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CATALOG } from "../../components/catalog/services";
import type { ServiceEntry } from "../../components/catalog/types";
import { ValidationError } from "../../components/catalog/validate";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { runPlan } from "../../components/plan/cli";

/**
 * Every door, refused: a hostile or mistaken value in the stack config, the
 * stack file's shape or a catalog entry stops `npm start` with a message that
 * names the field and says how to fix it, and the previous plan on disk stays
 * byte for byte as it was.
 */

const REPO = join(__dirname, "..", "..");
const PROD = readStackFile(REPO, "prod");

/** What a row changes: config values (null removes the key), the whole stack file, the catalog, or the command line. */
type Row =
  | { name: string; config: Record<string, unknown>; where: string; fix: RegExp }
  | { name: string; file: string; where: string; fix: RegExp }
  | { name: string; service: string; change: Record<string, unknown>; where: string; fix: RegExp }
  | { name: string; catalog: (c: readonly ServiceEntry[]) => unknown[]; where: string; fix: RegExp }
  | { name: string; stack: string; where: string; fix: RegExp };

const cfg = (key: string, values: unknown[], fix: RegExp): Row[] =>
  values.map((value) => ({
    name: `homelab:${key} = ${JSON.stringify(value)}`,
    config: { [`homelab:${key}`]: value },
    where: `homelab:${key}:`,
    fix,
  }));

const entry = (service: string, field: string, changes: Record<string, unknown>[], fix: RegExp): Row[] =>
  changes.map((change) => ({
    name: `${service}.${field} = ${JSON.stringify(change).slice(0, 80)}`,
    service,
    change,
    where: `service "${service}", field "${field}"`,
    fix,
  }));

const PATH_FIX = /absolute, normalised path/;

/** Two machines, Ollama on the GPU box: the base every homelab:hosts row changes one thing of. */
const TWO_HOSTS = {
  main: { lanAddress: "192.0.2.10", lanHostname: "nixos.local" },
  gpu: { lanAddress: "192.0.2.11", lanHostname: "gpu.local" },
};
const hostsRow = (name: string, config: Record<string, unknown>, where: string, fix: RegExp): Row => ({
  name,
  config: {
    "homelab:lanAddress": null,
    "homelab:lanHostname": null,
    "homelab:hosts": TWO_HOSTS,
    "homelab:placement": { ollama: "gpu" },
    ...config,
  },
  where,
  fix,
});
const withHost = (fields: Record<string, unknown>) => ({ ...TWO_HOSTS, gpu: { ...TWO_HOSTS.gpu, ...fields } });
const SEPARATE = /separate directories, none inside another/;

const ROWS: Row[] = [
  // Numbers: whole, decimal, in range.
  ...cfg(
    "sshPort",
    ["1e21", "0x16", "65536", "0", "-1", "22.0", "022", " 22", "twenty-two", "+22"],
    /whole number from 1 to 65535/,
  ),
  ...cfg("keepGenerations", ["0", "101", "1e2", "0x10", "3.5"], /whole number from 1 to 100/),
  ...cfg("healthTimeoutSeconds", ["0", "3601", "1e21", "0x16", "Infinity", "NaN"], /whole number from 1 to 3600/),
  // Addresses and names that reach ssh, nginx and URLs.
  ...cfg(
    "lanAddress",
    ["192.168.001.010", "010.0.0.1", "192.0.2.300", "192.0.2", "::1", "192.0.2.10\n", "nixos.local", ""],
    /IPv4 address in plain decimal/,
  ),
  ...cfg(
    "sshHost",
    [
      "-oProxyCommand=touch /tmp/pwned",
      "host name",
      "host;rm -rf /",
      "$(reboot)",
      "192.168.01.1",
      "a..b",
      "-p22",
      "nixos.local\n-oX",
    ],
    /hostname such as nixos\.local, or an IPv4 or IPv6 address/,
  ),
  ...cfg("sshUser", ["-oProxyCommand=x", "root user", "Root", "", "a".repeat(40)], /login name/),
  ...cfg(
    "sshHostKey",
    [
      "AAAAC3NzaC1lZDI1NTE5",
      "ssh-ed25519",
      "nixos.local ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
      "ssh-ed25519 AAAA\nssh-rsa BBBB",
    ],
    /ssh-keyscan/,
  ),
  ...cfg("timeZone", ["Mars/Olympus", "../../etc/passwd", "Europe/Madrid\n", "UTC; rm", ""], /IANA zone name/),
  ...cfg(
    "domain",
    ["javiersc", "exa mple.com", "example.com.", "-bad.com", `${"a".repeat(64)}.com`, "Example.com"],
    /domain such as example\.com/,
  ),
  ...cfg("lanHostname", ["nix_os.local", "nixos", "nixos.local\nserver {"], /name such as nixos\.local/),
  ...cfg("routePattern", ["home", "{name}-{name}", "{name}_home", "{name}.home", "{NAME}-home"], /\{name\}-home/),
  ...cfg("edge", ["aws", "Cloudflare"], /one of: cloudflare, none/),
  ...cfg("credentialsSource", ["vault", ""], /one of: 1password, config/),
  ...cfg(
    "cloudflareAccountId",
    ["abc", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcdeg", "0"],
    /domain's Overview page, "API" section/,
  ),
  ...cfg("cloudflareZoneId", ["zone", "0123456789abcdef0123456789abcdef0"], /domain's Overview page, "API" section/),
  ...cfg(
    "tunnelName",
    ["tunnel name", "-tunnel", "t".repeat(65), "tünnel"],
    /letters, digits, dots, underscores or hyphens/,
  ),
  ...cfg("pagesProject", ["Docs", "docs_site", "-docs", "d".repeat(59)], /pages\.dev/),
  ...cfg("opVault", ["Home/lab", " Homelab", "Homelab\n", 'Home"lab'], /letters, digits, spaces/),
  ...cfg("generatedCredentialsItem", ["item/with/slash", "x\u0000"], /letters, digits, spaces/),
  ...cfg(
    "cloudflareCredentialRef",
    ["Homelab/Cloudflare/api-token", "op://Homelab"],
    /op:\/\/<vault>\/<item>\/<field>/,
  ),
  ...cfg("accessTeamName", ["Java Team", "team.name"], /lowercase DNS label/),
  ...cfg(
    "accessEmails",
    [["not-an-email"], ["owner@localhost"], "owner@javiersc.com", ["owner@javiersc.com", "owner@javiersc.com"]],
    /email addresses/,
  ),
  {
    name: "homelab:accessEmails = []",
    config: { "homelab:accessEmails": [] },
    where: "homelab:accessEmails:",
    fix: /at least one email/,
  },
  ...cfg("services", [["portal", "Dash"], ["portal", "portal"], "portal"], /list of catalog ids/),
  {
    name: "homelab:services names no catalog id",
    config: { "homelab:services": ["portal", "dashboard", "plex"] },
    where: "homelab:services:",
    fix: /remove it from homelab:services/,
  },
  ...cfg("backupBucket", ["b2-bucket", "ab", "bucket_name"], /6-50 letters, digits or hyphens/),
  ...cfg("deploy", ["yes", "1"], /true or false/),
  ...cfg("detectDrift", ["no"], /true or false/),
  ...cfg("tunnelCredentialGeneration", ["2 3", ""], /short label/),
  // Hosts: every field as strict as the single-host key it mirrors.
  ...["192.168.001.010", "192.0.2", "nixos.local", ""].map((v) =>
    hostsRow(
      `homelab:hosts.gpu.lanAddress = ${JSON.stringify(v)}`,
      { "homelab:hosts": withHost({ lanAddress: v }) },
      "homelab:hosts.gpu.lanAddress:",
      /IPv4 address in plain decimal/,
    ),
  ),
  ...["-oProxyCommand=touch /tmp/pwned", "host;rm -rf /", "$(reboot)"].map((v) =>
    hostsRow(
      `homelab:hosts.gpu.sshHost = ${JSON.stringify(v)}`,
      { "homelab:hosts": withHost({ sshHost: v }) },
      "homelab:hosts.gpu.sshHost:",
      /hostname such as nixos\.local/,
    ),
  ),
  ...["0", "65536", "22.0", "twenty-two"].map((v) =>
    hostsRow(
      `homelab:hosts.gpu.sshPort = ${JSON.stringify(v)}`,
      { "homelab:hosts": withHost({ sshPort: v }) },
      "homelab:hosts.gpu.sshPort:",
      /whole number from 1 to 65535/,
    ),
  ),
  ...["-oProxyCommand=x", "Root"].map((v) =>
    hostsRow(
      `homelab:hosts.gpu.sshUser = ${JSON.stringify(v)}`,
      { "homelab:hosts": withHost({ sshUser: v }) },
      "homelab:hosts.gpu.sshUser:",
      /login name/,
    ),
  ),
  ...["ssh-ed25519", "ssh-ed25519 AAAA\nssh-rsa BBBB"].map((v) =>
    hostsRow(
      `homelab:hosts.gpu.sshHostKey = ${JSON.stringify(v)}`,
      { "homelab:hosts": withHost({ sshHostKey: v }) },
      "homelab:hosts.gpu.sshHostKey:",
      /ssh-keyscan/,
    ),
  ),
  ...["nix_os.local", "gpu"].map((v) =>
    hostsRow(
      `homelab:hosts.gpu.lanHostname = ${JSON.stringify(v)}`,
      { "homelab:hosts": withHost({ lanHostname: v }) },
      "homelab:hosts.gpu.lanHostname:",
      /name such as nixos\.local/,
    ),
  ),
  ...["cloudflareApiToken", "gpu-key", "sshPrivateKey_gpu"].map((v) =>
    hostsRow(
      `homelab:hosts.gpu.sshKeyConfig = ${JSON.stringify(v)}`,
      { "homelab:hosts": withHost({ sshKeyConfig: v }) },
      "homelab:hosts.gpu.sshKeyConfig:",
      /sshPrivateKeyGpu/,
    ),
  ),
  hostsRow(
    "a host field that does not exist",
    { "homelab:hosts": withHost({ address: "192.0.2.11" }) },
    "homelab:hosts.gpu.address: is not a host field",
    /use only lanAddress, lanHostname/,
  ),
  hostsRow(
    "a host without its LAN address",
    { "homelab:hosts": { ...TWO_HOSTS, gpu: { sshHost: "gpu.local" } } },
    "homelab:hosts.gpu.lanAddress: missing",
    /IPv4 address in plain decimal/,
  ),
  hostsRow(
    "a host name that is not a DNS label",
    { "homelab:hosts": { ...TWO_HOSTS, GPU_Box: { lanAddress: "192.0.2.12" } } },
    "homelab:hosts.GPU_Box:",
    /lowercase letters, digits and inner hyphens/,
  ),
  hostsRow(
    "a host given a scalar",
    { "homelab:hosts": { ...TWO_HOSTS, nas: "192.0.2.12" } },
    "homelab:hosts.nas:",
    /as a map with at least lanAddress/,
  ),
  hostsRow("homelab:hosts given a list", { "homelab:hosts": ["main", "gpu"] }, "homelab:hosts:", /map from host name/),
  hostsRow(
    "homelab:hosts empty",
    { "homelab:hosts": {}, "homelab:placement": null },
    "homelab:hosts:",
    /at least one host/,
  ),
  hostsRow(
    "two hosts with one LAN address",
    { "homelab:hosts": withHost({ lanAddress: "192.0.2.10" }) },
    "homelab:hosts.gpu.lanAddress:",
    /its own lanAddress/,
  ),
  hostsRow(
    "a single-host key beside homelab:hosts",
    { "homelab:lanAddress": "192.0.2.10" },
    "homelab:lanAddress: is set beside homelab:hosts",
    /homelab:hosts\.<host>\.lanAddress/,
  ),
  hostsRow(
    "a login key no host names",
    { "homelab:sshPrivateKeyNas": { secure: "v1:x" } },
    "homelab:sshPrivateKeyNas: no host names",
    /sshKeyConfig to sshPrivateKeyNas/,
  ),
  // Placement: unknown hosts and services, co-location, ports per host, idle hosts.
  hostsRow(
    "a service placed on an unknown host",
    { "homelab:placement": { ollama: "nas" } },
    "homelab:placement.ollama:",
    /one of: main, gpu/,
  ),
  hostsRow(
    "an unknown service placed",
    { "homelab:placement": { ollama: "gpu", plex: "gpu" } },
    "homelab:placement.plex:",
    /remove it from homelab:placement/,
  ),
  hostsRow(
    "a pending service placed",
    { "homelab:placement": { ollama: "gpu", immich: "gpu" } },
    'service "immich", field "homelab:placement.immich"',
    /add it to homelab:services/,
  ),
  hostsRow(
    "the Pages site placed",
    { "homelab:placement": { ollama: "gpu", docs: "gpu" } },
    'service "docs", field "homelab:placement.docs"',
    /remove it from homelab:placement/,
  ),
  hostsRow(
    "the tunnel connector placed",
    { "homelab:placement": { ollama: "gpu", cloudflared: "gpu" } },
    'service "cloudflared", field "homelab:placement.cloudflared": the service runs on every host',
    /remove it from homelab:placement/,
  ),
  hostsRow(
    "Tailscale placed",
    { "homelab:placement": { ollama: "gpu", tailscale: "gpu" } },
    'service "tailscale", field "homelab:placement.tailscale": the service runs on every host with a service whose apps come over Tailscale',
    /remove it from homelab:placement/,
  ),
  hostsRow(
    "Mosquitto placed away from Home Assistant",
    { "homelab:placement": { ollama: "gpu", mosquitto: "gpu" } },
    'field "homelab:placement.mosquitto": "mosquitto" talks to "home-assistant"',
    /leave mosquitto out of it so it follows home-assistant/,
  ),
  hostsRow(
    "the Thread border router placed away from Home Assistant",
    { "homelab:placement": { ollama: "gpu", otbr: "gpu" } },
    'field "homelab:placement.otbr": "otbr" talks to "home-assistant"',
    /leave otbr out of it so it follows home-assistant/,
  ),
  hostsRow(
    "the dashboard placed away from the portal",
    { "homelab:placement": { ollama: "gpu", dashboard: "gpu" } },
    'the portal (nginx and the dashboard) runs on one host, but "dashboard" is on "gpu" and "portal" on "main"',
    /place both on one host/,
  ),
  {
    ...hostsRow(
      "two services on one port of one host",
      { "homelab:placement": { ollama: "gpu", sonarr: "gpu", radarr: "gpu" } },
      'service "radarr", field "port": port 8989 is already used by "sonarr" on the same host (gpu)',
      /another host with homelab:placement/,
    ),
    catalog: (c) => c.map((e) => (e.id === "radarr" ? { ...e, port: 8989 } : e)),
  } as Row,
  hostsRow(
    "a host that runs nothing",
    { "homelab:placement": null },
    'homelab:hosts.gpu: host "gpu" runs no service',
    /place a service on it/,
  ),
  hostsRow(
    "homelab:placement given a list",
    { "homelab:placement": ["ollama"] },
    "homelab:placement:",
    /map from catalog id/,
  ),
  {
    name: "homelab:placement without homelab:hosts",
    config: { "homelab:placement": { ollama: "main" } },
    where: "homelab:placement: places services on hosts",
    fix: /declare the machines under homelab:hosts/,
  },
  // Rollout.
  hostsRow(
    "a rollout naming an unknown host",
    { "homelab:rollout": ["gpu", "nas"] },
    "homelab:rollout:",
    /list only hosts of homelab:hosts \(main, gpu\)/,
  ),
  hostsRow(
    "a rollout naming a host twice",
    { "homelab:rollout": ["gpu", "gpu"] },
    "homelab:rollout:",
    /list of host names/,
  ),
  {
    name: "homelab:rollout without homelab:hosts",
    config: { "homelab:rollout": ["main"] },
    where: "homelab:rollout: orders hosts",
    fix: /declare the machines under homelab:hosts/,
  },
  // Host directories.
  ...cfg(
    "bundleDir",
    [
      "/",
      "/etc",
      "/etc/nixos",
      "/var/lib",
      "/nix/store/abc-homelab",
      "relative/dir",
      "/etc/nixos/homelab/",
      "/etc//nixos/homelab",
      "/etc/nixos/../homelab",
      "/home",
      "/usr",
      "/boot",
      "/root",
      "/run",
      "/srv/my dir",
      "/srv/$(reboot)",
    ],
    PATH_FIX,
  ),
  ...cfg("credentialsDir", ["/var", "/nix", "./secrets"], PATH_FIX),
  {
    name: "credentialsDir inside bundleDir",
    config: { "homelab:credentialsDir": "/etc/nixos/homelab/secrets" },
    where: "homelab:credentialsDir:",
    fix: /\/var\/lib\/homelab or \/var\/lib\/homelab-<name>/,
  },
  {
    name: "credentialsDir inside stateDir",
    config: { "homelab:credentialsDir": "/var/lib/homelab/state/secrets" },
    where: "homelab:credentialsDir:",
    fix: SEPARATE,
  },
  {
    name: "stateDir equal to credentialsDir",
    config: { "homelab:stateDir": "/var/lib/homelab/secrets" },
    where: "homelab:stateDir:",
    fix: SEPARATE,
  },
  {
    name: "stateDir holding credentialsDir",
    config: { "homelab:stateDir": "/var/lib/homelab" },
    where: "homelab:credentialsDir:",
    fix: SEPARATE,
  },
  // Renamed, unknown and mistyped keys.
  ...[
    ["secretsDir", "credentialsDir"],
    ["cloudflareApiTokenRef", "cloudflareCredentialRef"],
    ["generatedSecretsItem", "generatedCredentialsItem"],
    ["secretsSource", "credentialsSource"],
    ["tunnelSecretGeneration", "tunnelCredentialGeneration"],
    ["onePasswordVault", "opVault"],
  ].map(
    ([old, renamed]): Row => ({
      name: `old key homelab:${old}`,
      config: { [`homelab:${old}`]: "x" },
      where: `homelab:${old}: was renamed to homelab:${renamed}`,
      fix: new RegExp(`rename it to homelab:${renamed}`),
    }),
  ),
  {
    name: "misspelt key",
    config: { "homelab:lanAdress": "192.0.2.10" },
    where: "homelab:lanAdress:",
    fix: /rename it to homelab:lanAddress/,
  },
  {
    name: "secret key given a list",
    config: { "homelab:sshPrivateKey": ["a"] },
    where: "homelab:sshPrivateKey:",
    fix: /pulumi config set --secret homelab:sshPrivateKey/,
  },
  {
    name: "required key missing",
    config: { "homelab:domain": null },
    where: "homelab:domain:",
    fix: /pulumi config set homelab:domain/,
  },
  {
    name: "a string key given a map",
    config: { "homelab:domain": { nested: "map" } },
    where: "homelab:domain:",
    fix: /domain such as example\.com/,
  },
  // Stack-file shapes.
  {
    name: "config is a list",
    file: "config:\n  - homelab:domain: javiersc.com\n",
    where: "config: config must be a map",
    fix: /without a leading "- "/,
  },
  {
    name: "config is a scalar",
    file: "config: javiersc.com\n",
    where: "config: config must be a map",
    fix: /homelab:<key>: <value>/,
  },
  {
    name: "the file is a list",
    file: "- config\n",
    where: "Pulumi.refusal.yaml: must be a map",
    fix: /"config:" followed by/,
  },
  {
    name: "the file is not YAML",
    file: "config: [\n",
    where: "Pulumi.refusal.yaml: is not valid YAML",
    fix: /fix the YAML syntax/,
  },
  {
    name: "a key appears twice",
    file: "config:\n  homelab:domain: a.com\n  homelab:domain: b.com\n",
    where: "Pulumi.refusal.yaml: is not valid YAML",
    fix: /fix the YAML syntax/,
  },
  {
    name: "a key without its namespace",
    file: stringify({ config: { ...PROD, domain: "javiersc.com" } }),
    where: "domain: config key without a namespace",
    fix: /write it as homelab:domain/,
  },
  {
    name: "an empty file",
    file: "",
    where: "homelab:domain: missing required",
    fix: /pulumi config set homelab:domain/,
  },
  {
    name: "a stack name that climbs out of the folder",
    stack: "../etc",
    where: "--stack:",
    fix: /letters, digits, hyphens/,
  },
  { name: "a stack name with a space", stack: "prod copy", where: "--stack:", fix: /letters, digits, hyphens/ },
  // Catalog entries: text that reaches nginx, JSON and YAML.
  ...entry(
    "radarr",
    "title",
    [
      { title: "Radarr\nserver { listen 80; }" },
      { title: "Radarr\r" },
      { title: "Radarr\u2028" },
      { title: "Radarr\u0000" },
    ],
    /one line, without control characters/,
  ),
  ...entry("radarr", "title", [{ title: "" }, { title: "   " }], /write a title/),
  ...entry("radarr", "title", [{ title: "R".repeat(65) }], /at most 64 characters/),
  ...entry("radarr", "title", [{ title: 42 }], /as a string/),
  ...entry(
    "radarr",
    "description",
    [
      { description: "Movies\n# injected" },
      { description: "tab\there" },
      { description: "bell\u0007" },
      { description: "\ud800 lone surrogate" },
    ],
    /one line, without control characters/,
  ),
  ...entry("radarr", "description", [{ description: "d".repeat(201) }], /at most 200 characters/),
  // Enums checked at run time.
  ...entry("radarr", "group", [{ group: "Movies" }], /Media & Entertainment/),
  ...entry("radarr", "status", [{ status: "live" }], /enabled, pending/),
  ...entry("radarr", "runsOn", [{ runsOn: "docker" }], /host, pages/),
  ...entry("radarr", "bind", [{ bind: "::" }, { bind: "0.0.0.0 " }], /0\.0\.0\.0, 127\.0\.0\.1/),
  ...entry(
    "radarr",
    "protection",
    [{ protection: "private" }, { protection: "PUBLIC" }, { protection: "" }],
    /access, public/,
  ),
  ...entry(
    "radarr",
    "port",
    [{ port: 65536 }, { port: 0 }, { port: 80.5 }, { port: "7878" }, { port: 1e21 }, { port: Number.NaN }],
    /whole number from 1 to 65535/,
  ),
  ...entry(
    "radarr",
    "route.name",
    [{ route: { name: "Radarr_UI" } }, { route: { name: 7 } }],
    /lowercase letters, digits and inner hyphens/,
  ),
  ...entry("radarr", "route", [{ route: "yes" }, { route: { name: "x", extra: 1 } }], /route: false/),
  ...entry("radarr", "nativeClients.via", [{ nativeClients: { via: "vpn", why: "x" } }], /tailscale, service-token/),
  ...entry(
    "radarr",
    "nativeClients.why",
    [{ nativeClients: { via: "tailscale", why: "a\nb" } }],
    /without control characters/,
  ),
  ...entry("radarr", "proxyTo", [{ proxyTo: "no-such" }, { proxyTo: "No Such" }], /existing entry's id/),
  ...entry(
    "radarr",
    "colocateWith",
    [{ colocateWith: "radarr" }, { colocateWith: "Home Assistant" }, { colocateWith: 3 }],
    /the id of the service this one talks to on 127\.0\.0\.1/,
  ),
  ...entry(
    "radarr",
    "everyHostWith",
    [{ everyHostWith: true }, { everyHostWith: "route" }, { everyHostWith: "tailnet" }],
    /routes, tailnet-clients/,
  ),
  ...entry(
    "radarr",
    "everyHostWith",
    [{ everyHostWith: "routes", colocateWith: "sonarr" }],
    /remove colocateWith or everyHostWith/,
  ),
  ...entry("radarr", "card", [{ card: "yes" }], /true or false/),
  ...entry(
    "radarr",
    "link",
    [
      { link: "javascript:alert(1)" },
      { link: "ftp://example.com/" },
      { link: "https://user:pw@example.com/" },
      { link: "https://example.com/a b" },
      { link: "not a url" },
      { link: "HTTPS://EXAMPLE.COM/" },
      { link: "https://example.com/\n" },
    ],
    /http:\/\/ or https:\/\/ URL/,
  ),
  ...entry(
    "radarr",
    "icon.file",
    [{ icon: { file: "../etc/passwd.svg" } }, { icon: { file: "Radarr.svg" } }],
    /\.svg file in assets\/icons/,
  ),
  ...entry(
    "radarr",
    "icon.simpleIcons",
    [{ icon: { simpleIcons: "Radarr" } }, { icon: { simpleIcons: "x\ny" } }],
    /slug such as jellyfin/,
  ),
  ...entry(
    "radarr",
    "icon.simpleIcons",
    [{ icon: { simpleIcons: "nosuchbrandanywhere" } }],
    /pick a slug from https:\/\/simpleicons\.org/,
  ),
  ...entry(
    "radarr",
    "icon.mdi",
    [{ icon: { mdi: "no-such-glyph-anywhere" } }],
    /pick a glyph from https:\/\/pictogrammers\.com/,
  ),
  ...entry(
    "radarr",
    "icon.mdi",
    [{ icon: { mdi: "backup restore" } }, { icon: { mdi: "../x" } }],
    /glyph name such as backup-restore/,
  ),
  ...entry(
    "radarr",
    "icon.color",
    [{ icon: { mdi: "radar", color: "red" } }, { icon: { simpleIcons: "radarr", color: "#12345" } }],
    /hex colour/,
  ),
  ...entry(
    "radarr",
    "icon",
    [
      { icon: { file: "a.svg", mdi: "b" } },
      { icon: "radarr.png" },
      { icon: { cdn: "radarr.png" } },
      { icon: { file: "a.svg", color: "#ffffff" } },
    ],
    /icon: \{ simpleIcons/,
  ),
  // Values that reach the deploy script's command line and systemd.
  ...entry(
    "radarr",
    "health.path",
    [
      { health: { kind: "http", path: "ping" } },
      { health: { kind: "http", path: "/ping; rm -rf /" } },
      { health: { kind: "http", path: "/$(reboot)" } },
      { health: { kind: "http", path: "/a b" } },
      { health: { kind: "http" } },
    ],
    /start it with \//,
  ),
  ...entry("radarr", "health.kind", [{ health: { kind: "udp" } }], /http, tcp, none/),
  ...entry(
    "radarr",
    "health.reason",
    [{ health: { kind: "none" } }, { health: { kind: "none", reason: "" } }],
    /health\.reason/,
  ),
  ...entry("radarr", "health.path", [{ health: { kind: "tcp", path: "/" } }], /a tcp check has kind/),
  ...entry("radarr", "health", [{ health: undefined }, { health: "http" }], /kind: "http", path: "\/"/),
  ...entry("radarr", "units", [{ units: "radarr.service" }], /units: \["<name>\.service"\]/),
  ...entry(
    "radarr",
    "units",
    [
      { units: ["-radarr.service"] },
      { units: ["radarr"] },
      { units: ["radarr.service; reboot"] },
      { units: [42] },
      { units: ["radarr service.service"] },
    ],
    /with its type, such as jellyfin\.service/,
  ),
  ...entry("radarr", "units", [{ units: ["radarr.service", "radarr.service"] }], /each unit once/),
  ...entry(
    "radarr",
    "backup.paths[0]",
    [
      { backup: { paths: ["/"] } },
      { backup: { paths: ["/var/lib"] } },
      { backup: { paths: ["var/lib/radarr"] } },
      { backup: { paths: ["/var/lib/radarr/"] } },
      { backup: { paths: ["/nix/store/x"] } },
      { backup: { paths: ["/var/lib/radarr/../hass"] } },
      { backup: { paths: ["/home"] } },
    ],
    /\/var\/lib\/<service>/,
  ),
  ...entry(
    "radarr",
    "backup.paths",
    [{ backup: { paths: ["/var/lib/homelab/secrets"] } }, { backup: { paths: ["/var/lib/homelab"] } }],
    /apart from homelab:credentialsDir/,
  ),
  ...entry("radarr", "backup.paths", [{ backup: { paths: ["/var/lib/sonarr"] } }], /its own backup directories/),
  ...entry(
    "radarr",
    "backup.paths[1]",
    [{ backup: { paths: ["/var/lib/radarr", "/var/lib/radarr/db"] } }],
    /not one inside another/,
  ),
  ...entry(
    "radarr",
    "backup.exclude[0]",
    [{ backup: { paths: ["/var/lib/radarr"], exclude: ["/var/lib/hass"] } }],
    /under one of backup\.paths/,
  ),
  ...entry(
    "radarr",
    "backup.exclude[0]",
    [{ backup: { paths: ["/var/lib/radarr"], exclude: ["logs"] } }],
    /\/var\/lib\/<service>/,
  ),
  ...entry("radarr", "backup", [{ backup: ["/var/lib/radarr"] }], /backup: \{ paths/),
  ...entry(
    "radarr",
    "secrets.group",
    [
      { secrets: [{ name: "api-key", ref: "op://Homelab/Radarr/key", group: "Radarr Group" }] },
      { secrets: [{ name: "api-key", ref: "op://Homelab/Radarr/key", group: "-g" }] },
      { secrets: [{ name: "api-key", ref: "op://Homelab/Radarr/key", group: "root;id" }] },
    ],
    /consuming service's group/,
  ),
  ...entry(
    "radarr",
    "secrets.name",
    [
      { secrets: [{ name: "API_KEY", ref: "op://Homelab/Radarr/key" }] },
      { secrets: [{ name: "../key", ref: "op://Homelab/Radarr/key" }] },
    ],
    /lowercase letters, digits and inner hyphens/,
  ),
  ...entry(
    "radarr",
    "secrets.ref",
    [{ secrets: [{ name: "api-key", ref: "nope" }] }, { secrets: [{ name: "api-key", ref: 7 }] }],
    /op:\/\/<vault>\/<item>/,
  ),
  ...entry(
    "radarr",
    "secrets",
    [{ secrets: "op://Homelab/Radarr/key" }, { secrets: ["op://Homelab/Radarr/key"] }],
    /\{ name, ref, group\? \}/,
  ),
  ...entry("radarr", "ports", [{ ports: [7878] }], /remove it, or use one of/),
  {
    name: "radarr.id = Radarr",
    service: "radarr",
    change: { id: "Radarr" },
    where: 'service "Radarr", field "id"',
    fix: /lowercase letters, digits and inner hyphens/,
  },
  {
    name: "a catalog entry that is not an object",
    catalog: (c) => [...c, "radarr"],
    where: 'catalog: entry "radarr" is not an object',
    fix: /write every entry/,
  },
];

/** Every file under `dir`, by relative path, with its bytes. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(d.parentPath, d.name);
    files.set(
      relative(dir, path),
      d.isFile() ? readFileSync(path).toString("base64") : `<${d.isDirectory() ? "dir" : "other"}>`,
    );
  }
  return files;
}

function catalogFor(row: Row): readonly ServiceEntry[] {
  if ("catalog" in row) return row.catalog(CATALOG) as ServiceEntry[];
  if ("service" in row)
    return CATALOG.map((e) => (e.id === row.service ? ({ ...e, ...row.change } as ServiceEntry) : e));
  return CATALOG;
}

function stackFileFor(row: Row): string {
  if ("file" in row) return row.file;
  const config: Record<string, unknown> = { ...PROD };
  if ("config" in row) {
    for (const [key, value] of Object.entries(row.config)) {
      if (value === null) delete config[key];
      else config[key] = value;
    }
  }
  return stringify({ config });
}

describe("refused before anything is written", () => {
  let root: string;
  let out: string;
  let before: Map<string, string>;
  let siblings: string[];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "refusals-"));
    writeFileSync(join(root, "Pulumi.refusal.yaml"), stringify({ config: PROD }));
    out = join(root, "out", "refusal");
    const stderr: string[] = [];
    const code = runPlan(["--stack", "refusal", "--out", out], {
      root,
      stdout: () => {},
      stderr: (t) => stderr.push(t),
    });
    expect(code, stderr.join("")).toBe(0);
    before = snapshot(out);
    siblings = readdirSync(join(root, "out"));
  });

  it("has at least 100 rows", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(100);
  });

  it.each(ROWS.map((r) => [r.name, r] as const))("%s", (_name, row) => {
    const stack = "stack" in row ? row.stack : "refusal";
    if (!("stack" in row)) writeFileSync(join(root, "Pulumi.refusal.yaml"), stackFileFor(row));
    const stderr: string[] = [];
    const stdout: string[] = [];
    const code = runPlan(["--stack", stack, "--out", out], {
      root,
      catalog: catalogFor(row),
      stdout: (t) => stdout.push(t),
      stderr: (t) => stderr.push(t),
    });
    const message = stderr.join("");

    expect(code, `accepted:\n${stdout.join("")}`).toBe(1);
    expect(message, "the message names the field").toContain(row.where);
    const line = message.split("\n").find((l) => l.includes(row.where)) ?? "";
    expect(line, "the field's line says how to fix it").toMatch(/ Fix: \S/);
    expect(line, "the fix is the one for this field").toMatch(row.fix);
    expect(message).toContain(`nothing was written to ${out}`);

    expect(snapshot(out), "the previous plan is byte-identical").toEqual(before);
    expect(readdirSync(join(root, "out")), "no staging folder is left beside it").toEqual(siblings);
  });
});

describe("the Cloudflare id placeholder", () => {
  const ZERO = "0".repeat(32);

  it("is quoted in the stack files, so the Pulumi CLI reads a string and not the integer 0", () => {
    for (const stack of ["prod", "staging"]) {
      const text = readFileSync(join(REPO, `Pulumi.${stack}.yaml`), "utf8");
      expect(text, stack).toContain(`homelab:cloudflareAccountId: "${ZERO}"`);
      expect(text, stack).toContain(`homelab:cloudflareZoneId: "${ZERO}"`);
    }
  });

  it("lets the offline plan run for prod with no credentials", () => {
    expect(loadStack("prod", PROD).lab.config.cloudflare?.accountId).toBe(ZERO);
  });

  it.each(["cloudflareAccountId", "cloudflareZoneId"])(
    "is refused by the Pulumi program for homelab:%s, saying where the real id is",
    (key) => {
      const raw = {
        ...PROD,
        "homelab:cloudflareAccountId": "0123456789abcdef0123456789abcdef",
        "homelab:cloudflareZoneId": "fedcba9876543210fedcba9876543210",
        [`homelab:${key}`]: ZERO,
      };
      let error: unknown;
      try {
        loadStack("prod", raw, CATALOG, "program");
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ValidationError);
      const problems = (error as ValidationError).problems;
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ field: `homelab:${key}`, message: "is still the all-zero placeholder" });
      expect(problems[0].fix).toContain(`the Cloudflare dashboard, the domain's Overview page, "API" section`);
      expect(problems[0].fix).toContain(`pulumi config set homelab:${key} <id> --stack prod`);
    },
  );

  it("is accepted by the program once both ids are real", () => {
    const raw = {
      ...PROD,
      "homelab:cloudflareAccountId": "0123456789abcdef0123456789abcdef",
      "homelab:cloudflareZoneId": "fedcba9876543210fedcba9876543210",
    };
    expect(loadStack("prod", raw, CATALOG, "program").lab.config.cloudflare?.zoneId).toBe(
      "fedcba9876543210fedcba9876543210",
    );
  });
});

describe("the --out folder", () => {
  const plan = (out: string) => {
    const stderr: string[] = [];
    const code = runPlan(["--stack", "prod", "--out", out], { stdout: () => {}, stderr: (t) => stderr.push(t) });
    return { code, message: stderr.join("") };
  };

  it("is not replaced when it holds other files, and keeps them", () => {
    const out = mkdtempSync(join(tmpdir(), "not-a-plan-"));
    writeFileSync(join(out, "notes.txt"), "keep me");
    mkdirSync(join(out, "nixos"));
    const before = snapshot(out);
    const { code, message } = plan(out);
    expect(code).toBe(1);
    expect(message).toContain("holds no previous plan (plan.json and hosts/)");
    expect(message).toContain("pass an empty or new folder with --out");
    expect(snapshot(out)).toEqual(before);
  });

  it("is not replaced when it is a file", () => {
    const file = join(mkdtempSync(join(tmpdir(), "plan-file-")), "out");
    writeFileSync(file, "a file");
    expect(plan(file).code).toBe(1);
    expect(statSync(file).isFile()).toBe(true);
    expect(readFileSync(file, "utf8")).toBe("a file");
  });

  it("is not replaced when it is a symbolic link", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-link-"));
    mkdirSync(join(dir, "target"));
    symlinkSync(join(dir, "target"), join(dir, "out"));
    expect(plan(join(dir, "out")).message).toContain("is a symbolic link");
    expect(readdirSync(join(dir, "target"))).toEqual([]);
  });

  it("is replaced when it holds a previous plan, or is empty or new", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-ok-"));
    expect(plan(join(dir, "new")).code).toBe(0);
    expect(plan(join(dir, "new")).code).toBe(0);
    mkdirSync(join(dir, "empty"));
    expect(plan(join(dir, "empty")).code).toBe(0);
    expect(existsSync(join(dir, "empty", "plan.json"))).toBe(true);
  });

  it("is replaced when it holds a previous plan of either layout: hosts/<name>/nixos/, or the nixos/ plans once wrote for one host", () => {
    const out = join(mkdtempSync(join(tmpdir(), "plan-hosts-")), "multihost");
    const run = () => runPlan(["--stack", "multihost", "--out", out], { stdout: () => {}, stderr: () => {} });
    expect(run()).toBe(0);
    expect(existsSync(join(out, "hosts", "gpu", "nixos", "generated", "homelab.json"))).toBe(true);
    expect(run(), "a second run replaces the first").toBe(0);
    expect(plan(out).code, "and the prod plan replaces it too").toBe(0);
    expect(existsSync(join(out, "hosts", "gpu")), "the other stack's hosts are gone").toBe(false);
    expect(existsSync(join(out, "hosts", "nixos", "nixos", "generated", "homelab.json"))).toBe(true);
    const old = join(mkdtempSync(join(tmpdir(), "plan-old-")), "prod");
    mkdirSync(join(old, "nixos"), { recursive: true });
    writeFileSync(join(old, "plan.json"), "{}");
    expect(plan(old).code, "a plan with the one-host nixos/ folder of earlier versions").toBe(0);
    expect(existsSync(join(old, "nixos")), "is replaced whole").toBe(false);
  });
});
