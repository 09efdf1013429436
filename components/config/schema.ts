/**
 * The stack config: everything that differs between environments. Values live
 * in `Pulumi.<stack>.yaml` under the `homelab:` namespace. This module parses
 * them from a plain key/value map, so the offline plan (which reads the YAML
 * file) and the Pulumi program (which reads the engine's config) share one
 * set of rules and defaults.
 */

import {
  CLOUDFLARE_ID,
  HOST_KEY,
  POSIX_NAME,
  PLACEHOLDER_CLOUDFLARE_ID,
  RANGES,
  containsPath,
  forbiddenCharacter,
  hasLeadingZeroOctet,
  hostDirProblem,
  isDnsLabel,
  isEmail,
  isHostname,
  isIPv4,
  isSshHost,
  isTimeZone,
  numericHostProblem,
  OVERLAP_YEARS,
  PAGES_PROJECT_NAME,
  PEM_PRIVATE_KEY,
  utcTimeProblem,
  wholeNumber,
  type HostDirKind,
} from "../catalog/rules";
import { opReferenceError } from "../catalog/opref";
import { DOCS_CONFIG_KEYS, parseDocsConfig, type DocsConfig, type FilledDocs } from "./docs";
import {
  DEFAULT_SSH_KEY_CONFIG,
  HOST_FIELDS,
  HOST_SSH_KEY_NAME,
  MAX_HOSTS,
  SINGLE_HOST_KEYS,
  singleHostName,
  type HostConfig,
  type NixosFlake,
} from "./hosts";
import { defaultValue, keySummary, option, type Check, type CheckContext, type ConfigField, type KeySpec } from "./key";

export const CONFIG_NAMESPACE = "homelab";

export type EdgeKind = "cloudflare" | "none";
export type SecretsSource = "1password" | "config";

/**
 * The typed stack config. A field filled from a key names it (`homelab:…`);
 * that key's record in CONFIG_KEYS holds its default, which is not repeated
 * here. `option()` makes the compiler check every record's target against
 * this interface, and test/spine/config-keys.test.ts that every field is
 * filled by a record or by parseStackConfig's cross-key code.
 */
export interface StackConfig {
  /** The stack name: prod, staging, ci. */
  stack: string;
  /** Zone that holds every public route (`homelab:domain`). @example "javiersc.com" */
  domain: string;
  /** First DNS label of a route; `{name}` is the route name (`homelab:routePattern`). */
  routePattern: string;
  /** The host's LAN address; the toggle's Local mode links point here. */
  lanAddress: string;
  /** The host's mDNS name (`homelab:lanHostname`). */
  lanHostname: string;
  /** Time zone of the host; the Transmission schedule follows it (`homelab:timeZone`). */
  timeZone: string;
  /** Ids of the catalog's enabled services this stack runs (`homelab:services`); undefined runs every enabled service. */
  services?: string[];
  /** `cloudflare` publishes routes through a tunnel; `none` is a LAN/Tailscale-only home lab. */
  edge: EdgeKind;
  /** The edge's account, zone and Access facts; present only with edge cloudflare. */
  cloudflare?: {
    accountId: string;
    zoneId: string;
    /** `homelab:tunnelName`. */
    tunnelName: string;
    /** `homelab:pagesProject`. */
    pagesProject: string;
    /** Emails the Access allow policy lets in. */
    accessEmails: string[];
    /** Zero Trust team name (`<team>.cloudflareaccess.com`); cloudflared checks Access JWTs against it. */
    teamName: string;
  };
  /** How the program reaches the host. */
  ssh: {
    /** `homelab:sshHost`. */
    host: string;
    /** `homelab:sshPort`. */
    port: number;
    /** `homelab:sshUser`. */
    user: string;
    /** The host's public key line (`ssh-ed25519 AAAA…`); a deploy refuses to run without it. */
    hostKey?: string;
  };
  /** Where the host keeps things. Overridable so the test host can run unprivileged. */
  paths: {
    /** `homelab:bundleDir`. */
    bundleDir: string;
    /** `homelab:credentialsDir`: the key was renamed from secretsDir (RENAMED_KEYS says why), the field was not. */
    secretsDir: string;
    /** `homelab:stateDir`. */
    stateDir: string;
  };
  /** Whether `pulumi up` pushes to the host and rebuilds (`homelab:deploy`). */
  deploy: boolean;
  /** Whether every preview and up reads the host (read-only) to show drift (`homelab:detectDrift`). */
  detectDrift: boolean;
  /** NixOS system generations kept after a successful switch (`homelab:keepGenerations`). */
  keepGenerations: number;
  /** Seconds every health check has to pass after a switch (`homelab:healthTimeoutSeconds`). */
  healthTimeoutSeconds: number;
  /**
   * Seconds the host waits after a healthy switch for the deployer to confirm it over a new SSH connection before it rolls back by itself (`homelab:confirmTimeoutSeconds`).
   * Optional in the type so hand-built configs stay valid; parseStackConfig always fills it.
   */
  confirmTimeoutSeconds?: number;
  /**
   * Backblaze B2 bucket that restic backs up to, as `b2:<bucket>:homelab` (`homelab:backupBucket`).
   * Optional in the type so hand-built configs stay valid; parseStackConfig always fills it.
   */
  backupBucket?: string;
  secrets: {
    /** `homelab:credentialsSource`. */
    source: SecretsSource;
    /** Vault that replaces the catalog references' vault (`homelab:opVault`). */
    vault: string;
    /** 1Password item the generated secrets are written back to; unset means no write-back (`homelab:generatedCredentialsItem`). */
    generatedItem?: string;
  };
  /**
   * 1Password reference of the Cloudflare API token (`homelab:cloudflareCredentialRef`).
   * Optional in the type so hand-built configs stay valid; parseStackConfig always fills it.
   */
  cloudflareApiTokenRef?: string;
  /** Bump to rotate the tunnel secret and the connector token (`homelab:tunnelCredentialGeneration`). */
  tunnelSecretGeneration: string;
  /** Version of the API clients' Access service-token keys; bump to rotate them (`homelab:apiClientKeyVersion`). */
  apiClientKeyVersion: number;
  /** After a rotation, until when the previous key is still accepted (RFC 3339, UTC). Unset: it stops at once (`homelab:apiClientKeyOverlapUntil`). */
  apiClientKeyOverlapUntil?: string;
  /**
   * Every machine of the stack, first = the default host. Without
   * `homelab:hosts` it is the one host of the single-host keys, and
   * `lanAddress`, `lanHostname` and `ssh` above are always the first host's.
   * Optional in the type so hand-built configs stay valid; use `stackHosts`.
   */
  hosts?: HostConfig[];
  /** Whether the stack set `homelab:hosts`; names and rendering of a one-host stack stay as they were without it. */
  hostsDeclared?: boolean;
  /** Service id to host name (`homelab:placement`); unlisted services go to the first host or follow their `colocateWith`. */
  placement?: Record<string, string>;
  /** Host names deployed in this order before the others (`homelab:rollout`); the first is the canary. */
  rollout?: string[];
  /**
   * Cloudflare objects made by hand that the program takes over
   * (`homelab:adopt`, written by `npm run adopt`): the resource name the
   * preview shows, e.g. `jellyfin-dns`, to the id Pulumi's import takes.
   * Checked against the stack's declared resources in components/adopt/declared.ts.
   */
  adopt?: Record<string, string>;
  /**
   * The docs site: how Pages gets it, what its pages show (components/config/docs.ts).
   * Optional in the type so hand-built configs stay valid; parseStackConfig always fills it.
   */
  docs?: DocsConfig;
}

/** Where the owner finds the real Cloudflare ids; said by every message that refuses one. */
export const CLOUDFLARE_ID_WHERE = 'the Cloudflare dashboard, the domain\'s Overview page, "API" section';

/** What the deploy's directories may be (HOST_DIR_ROOTS in components/catalog/rules.ts says why). */
const HOST_DIR_EXPECT: Record<HostDirKind, string> = {
  bundle:
    "an absolute, normalised path of a folder below /etc/nixos/, such as /etc/nixos/homelab, named with letters, digits, _ and - (the deploy moves what is there aside and links the release in its place)",
  persistent:
    "an absolute, normalised path in the home lab's own directory on persistent storage: /var/lib/homelab or /var/lib/homelab-<name>, or below it, such as /var/lib/homelab/state (not /tmp, /run, /var/tmp, /dev/shm, /home or another service's directory)",
};
const hostDir =
  (kind: HostDirKind): Check =>
  (v, ctx) => {
    const why = hostDirProblem(kind, v, ctx.hostRoot);
    return why ? `${show(v)} ${why}` : undefined;
  };

/** A key that takes a name: a hostname that does not end in a number (an IPv4 address, canonical or not, is refused). */
const hostName =
  (what: string): Check =>
  (v) => {
    const numeric = numericHostProblem(v, "name");
    if (numeric) return `${show(v)} ${numeric}`;
    return isHostname(v) ? undefined : `${show(v)} is not ${what}`;
  };

/** A Nix identifier, which a flake input's name must be. */
const FLAKE_INPUT = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

/** Why `v` is not `<absolute path>#<attribute>` of a host's flake, or undefined. */
function nixosFlakeProblem(v: string): string | undefined {
  const at = v.indexOf("#");
  if (at < 0)
    return `${show(v)} names no configuration: add #<attribute> of nixosConfigurations, e.g. /etc/nixos#nixos`;
  const path = v.slice(0, at);
  const attr = v.slice(at + 1);
  if (!path.startsWith("/"))
    return `${show(v)} is not an absolute path: the deploy runs on the host, from no particular directory`;
  if (
    !/^\/(?:[A-Za-z0-9._+-]+\/?)*$/.test(path) ||
    path.split("/").some((seg) => seg === "." || seg === "..") ||
    path.includes("//")
  ) {
    return `${show(v)} has a path that is not plain: use letters, digits and . _ + - between single slashes, no . or .. segments`;
  }
  if (!FLAKE_INPUT.test(attr))
    return `${show(v)} has ${show(attr)} after #, which is not a nixosConfigurations attribute name Nix accepts`;
  return undefined;
}

/** 1Password vault and item titles as they appear inside an op:// reference and in JSON. */
const OP_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?$/;
const OP_ITEM = /^[A-Za-z0-9](?:[A-Za-z0-9 ._:-]{0,62}[A-Za-z0-9._-])?$/;

/** A value quoted for an error message: escapes visible, long ones cut. */
export function show(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

const text =
  (test: (v: string) => boolean, what: string): Check =>
  (v) =>
    test(v) ? undefined : `${show(v)} is not ${what}`;

/**
 * Every key the program understands, each declared once by `option()`: its
 * kind, default, doc, the StackConfig field it fills and its checks. Anything
 * else under `homelab:` is an error.
 */
const KEYS = {
  domain: option({
    kind: "string",
    target: "domain",
    required: true,
    doc: "zone of every public route, e.g. javiersc.com",
    check: hostName("a domain"),
    expect: "a lowercase domain such as example.com",
  }),
  routePattern: option({
    kind: "string",
    target: "routePattern",
    default: "{name}-home",
    doc: "first label of a route, with {name}",
    check: (v: string) =>
      /^[a-z0-9-]*\{name\}[a-z0-9-]*$/.test(v)
        ? undefined
        : `${show(v)} must hold {name} once, with only lowercase letters, digits and hyphens around it, or every route would get the same or an invalid hostname`,
    expect: "something like {name}-home",
  }),
  lanAddress: option({
    kind: "string",
    target: "lanAddress",
    required: true,
    doc: "the host's LAN IPv4 address",
    check: (v: string) =>
      hasLeadingZeroOctet(v)
        ? `${show(v)} has an octet with a leading zero, which some tools read as octal`
        : isIPv4(v)
          ? undefined
          : `${show(v)} is not an IPv4 address`,
    expect: "the host's IPv4 address in plain decimal, e.g. 192.168.1.10",
  }),
  lanHostname: option({
    kind: "string",
    target: "lanHostname",
    default: "nixos.local",
    doc: "the host's mDNS name",
    check: hostName("a hostname"),
    expect: "a lowercase name such as nixos.local",
  }),
  timeZone: option({
    kind: "string",
    target: "timeZone",
    default: "UTC",
    doc: "IANA time zone of the host",
    check: text(isTimeZone, "an IANA time zone"),
    expect: "an IANA zone name such as Europe/Madrid or UTC",
  }),
  services: option({
    kind: "string[]",
    target: "services",
    unsetMeans: "all",
    doc: "enabled catalog ids this stack runs",
    check: text(isDnsLabel, "a catalog id"),
    expect: "a list of catalog ids",
  }),
  // No field: it only allows the empty homelab:services that the cross-key rules otherwise refuse.
  removeAllServices: option({
    kind: "boolean",
    default: false,
    doc: "with homelab:services empty: the deploy removes every service and its secrets from the host, on purpose",
  }),
  edge: option({
    kind: "string",
    target: "edge",
    default: "cloudflare",
    doc: "cloudflare or none",
    oneOf: ["cloudflare", "none"],
  }),
  cloudflareAccountId: option({
    kind: "string",
    target: "cloudflare.accountId",
    doc: "Cloudflare account id (edge: cloudflare)",
    check: text((v) => CLOUDFLARE_ID.test(v), "32 lowercase hex characters"),
    expect: `the account id: ${CLOUDFLARE_ID_WHERE}`,
  }),
  cloudflareZoneId: option({
    kind: "string",
    target: "cloudflare.zoneId",
    doc: "Cloudflare zone id of the domain (edge: cloudflare)",
    check: text((v) => CLOUDFLARE_ID.test(v), "32 lowercase hex characters"),
    expect: `the zone id: ${CLOUDFLARE_ID_WHERE}`,
  }),
  cloudflareApiToken: option({
    kind: "string",
    secret: true,
    doc: "Cloudflare API token, when not read from 1Password",
  }),
  cloudflareCredentialRef: option({
    kind: "string",
    target: "cloudflareApiTokenRef",
    default: "op://Homelab/Cloudflare/api-token",
    doc: "1Password reference of the Cloudflare API token",
    check: (v: string) => {
      const err = opReferenceError(v);
      return err ? `${show(v)} is not a 1Password reference: ${err}` : undefined;
    },
    expect: "op://<vault>/<item>/<field>",
    maxLength: 512,
  }),
  tunnelName: option({
    kind: "string",
    target: "cloudflare.tunnelName",
    default: (stack: string) => `homelab-${stack}`,
    doc: "tunnel name",
    check: text((v) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v), "a tunnel name"),
    expect: "1-64 letters, digits, dots, underscores or hyphens",
  }),
  tunnelCredentialGeneration: option({
    kind: "string",
    target: "tunnelSecretGeneration",
    default: "1",
    doc: "bump to rotate the tunnel secret and token",
    check: text((v) => /^[A-Za-z0-9._-]{1,32}$/.test(v), "a generation label"),
    expect: "a short label such as 2",
  }),
  pagesProject: option({
    kind: "string",
    target: "cloudflare.pagesProject",
    default: (stack: string) => `homelab-docs-${stack}`,
    doc: "Pages project of the docs site",
    check: text((v) => PAGES_PROJECT_NAME.test(v), "a Pages project name"),
    expect: "1-58 lowercase letters, digits or inner hyphens (it becomes <project>.pages.dev)",
  }),
  accessEmails: option({
    kind: "string[]",
    target: "cloudflare.accessEmails",
    doc: "emails the Access policy allows (edge: cloudflare)",
    check: text(isEmail, "an email address"),
    expect: "a list of email addresses",
  }),
  accessTeamName: option({
    kind: "string",
    target: "cloudflare.teamName",
    doc: "Zero Trust team name, the <team> of <team>.cloudflareaccess.com (edge: cloudflare)",
    check: text(isDnsLabel, "a team name"),
    expect: "the <team> of <team>.cloudflareaccess.com, a lowercase DNS label",
  }),
  sshHost: option({
    kind: "string",
    target: "ssh.host",
    defaultFrom: "lanAddress",
    doc: "address the program connects to",
    check: (v: string) => {
      const numeric = numericHostProblem(v, "address");
      if (numeric) return `${show(v)} ${numeric}`;
      return isSshHost(v) ? undefined : `${show(v)} is not a hostname or IP address`;
    },
    expect:
      "a hostname such as nixos.local, or an IPv4 or IPv6 address (IPv4 as four numbers 0-255 in plain decimal, e.g. 192.168.1.10)",
  }),
  sshPort: option({ kind: "number", target: "ssh.port", default: 22, doc: "SSH port", range: RANGES.sshPort }),
  sshUser: option({
    kind: "string",
    target: "ssh.user",
    default: "root",
    doc: "SSH user",
    check: text((v) => POSIX_NAME.test(v), "a user name"),
    expect: "a login name such as root",
  }),
  sshHostKey: option({
    kind: "string",
    target: "ssh.hostKey",
    doc: "the host's public key line, pinned for every connection",
    check: text((v) => HOST_KEY.test(v), 'a public key line "<type> <base64>"'),
    expect: 'the host key as `ssh-keyscan -t ed25519 <host> | cut -d" " -f2-` prints it',
    maxLength: 16384,
  }),
  sshPrivateKey: option({ kind: "string", secret: true, doc: "private key the program logs in with" }),
  // No field of its own: with nixosFlakeInput it makes a host's `flake` (HostConfig), which the cross-key code builds.
  nixosFlake: option({
    kind: "string",
    doc: "a flake host's flake and configuration, e.g. /etc/nixos#nixos; unset for a host whose configuration.nix imports the bundle",
    check: (v: string) => nixosFlakeProblem(v),
    expect: "<absolute path of the host's flake>#<its nixosConfigurations attribute>, e.g. /etc/nixos#nixos",
    maxLength: 512,
  }),
  nixosFlakeInput: option({
    kind: "string",
    default: "homelab",
    doc: "with nixosFlake: the input of the host's flake that carries the bundle",
    check: text((v) => FLAKE_INPUT.test(v), "a flake input name Nix accepts"),
    expect: "a Nix identifier such as homelab: a letter or _, then letters, digits, _, ' or -",
    maxLength: 64,
  }),
  bundleDir: option({
    kind: "string",
    target: "paths.bundleDir",
    default: "/etc/nixos/homelab",
    doc: "where the NixOS bundle lands",
    check: hostDir("bundle"),
    expect: HOST_DIR_EXPECT.bundle,
  }),
  credentialsDir: option({
    kind: "string",
    target: "paths.secretsDir",
    default: "/var/lib/homelab/secrets",
    doc: "where secret files land",
    check: hostDir("persistent"),
    expect: HOST_DIR_EXPECT.persistent,
  }),
  stateDir: option({
    kind: "string",
    target: "paths.stateDir",
    default: "/var/lib/homelab/state",
    doc: "deploy bookkeeping on the host",
    check: hostDir("persistent"),
    expect: HOST_DIR_EXPECT.persistent,
  }),
  deploy: option({ kind: "boolean", target: "deploy", default: true, doc: "push to the host on pulumi up" }),
  detectDrift: option({
    kind: "boolean",
    target: "detectDrift",
    default: true,
    doc: "read the host over SSH on every preview to show drift",
  }),
  keepGenerations: option({
    kind: "number",
    target: "keepGenerations",
    default: 10,
    doc: "system generations to keep",
    range: RANGES.keepGenerations,
  }),
  healthTimeoutSeconds: option({
    kind: "number",
    target: "healthTimeoutSeconds",
    default: 120,
    doc: "seconds health checks have after a switch",
    range: RANGES.healthTimeoutSeconds,
  }),
  confirmTimeoutSeconds: option({
    kind: "number",
    target: "confirmTimeoutSeconds",
    default: 120,
    doc: "seconds the host waits after a healthy switch for the deployer to confirm it over a new SSH connection, else it rolls back by itself",
    range: RANGES.confirmTimeoutSeconds,
  }),
  credentialsSource: option({
    kind: "string",
    target: "secrets.source",
    default: "1password",
    doc: "1password or config",
    oneOf: ["1password", "config"],
  }),
  opVault: option({
    kind: "string",
    target: "secrets.vault",
    default: "Homelab",
    doc: "1Password vault that replaces the catalog's",
    check: (v: string) =>
      OP_NAME.test(v) && !opReferenceError(`op://${v}/item/field`) ? undefined : `${show(v)} is not a vault name`,
    expect: "1-64 letters, digits, spaces, dots, underscores or hyphens, starting and ending with a letter or digit",
  }),
  onePasswordToken: option({
    kind: "string",
    secret: true,
    doc: "1Password service-account token, when OP_SERVICE_ACCOUNT_TOKEN is unset",
  }),
  secretValues: option({
    kind: "string",
    secret: true,
    doc: "with credentialsSource config: JSON map of <service>.<secret> to value",
  }),
  generatedCredentialsItem: option({
    kind: "string",
    target: "secrets.generatedItem",
    doc: "1Password item that generated secrets are written back to",
    check: text((v) => OP_ITEM.test(v), "an item title"),
    expect: "1-64 letters, digits, spaces or . _ : -, starting and ending with a letter or digit",
  }),
  backupBucket: option({
    kind: "string",
    target: "backupBucket",
    default: defaultBackupBucket,
    doc: "Backblaze B2 bucket restic backs up to",
    check: text(isB2BucketName, "a valid Backblaze B2 bucket name"),
    expect: "6-50 letters, digits or hyphens (not starting with b2-)",
  }),
  apiClientKeyVersion: option({
    kind: "number",
    target: "apiClientKeyVersion",
    default: 1,
    doc: "version of the API clients' Access service-token keys; bump to rotate them",
    range: { min: 1, max: 1_000_000 },
  }),
  apiClientKeyOverlapUntil: option({
    kind: "string",
    target: "apiClientKeyOverlapUntil",
    doc: "after a rotation, until when the previous API client key still works, e.g. 2026-12-31T00:00:00Z",
    check: (v: string) => {
      const why = utcTimeProblem(v);
      return why ? `${show(v)} ${why}` : undefined;
    },
    // A fixed window, not one around today: the offline plan reads no clock, so the same stack file gives the same answer on every machine and every day.
    expect: `a real UTC time like 2026-12-31T00:00:00Z (YYYY-MM-DDTHH:MM:SSZ), a date on the calendar in ${OVERLAP_YEARS.min}-${OVERLAP_YEARS.max}; the current time for no overlap`,
  }),
  // hosts, placement and rollout are checked against one another, so parseHosts builds their fields.
  hosts: option({
    kind: "map",
    unsetMeans: "one host from the single-host keys",
    doc: `the stack's machines: host name to ${HOST_FIELDS.join(", ")}`,
    expect: `a map from host name to { ${HOST_FIELDS.map((f) => (f === "lanAddress" ? f : `${f}?`)).join(", ")} }`,
  }),
  placement: option({
    kind: "map",
    unsetMeans: "the first host of homelab:hosts",
    doc: "service id to the host name it runs on",
    expect: "a map from catalog id to a host name of homelab:hosts",
  }),
  rollout: option({
    kind: "string[]",
    doc: "host names deployed one after another before the rest; the first is the canary",
    check: text(isDnsLabel, "a host name"),
    expect: "a list of host names of homelab:hosts",
  }),
  adopt: option({
    kind: "map",
    target: "adopt",
    apply: adoptMap,
    doc: "Cloudflare objects made by hand that this stack takes over: resource name (e.g. jellyfin-dns) to import id; written by npm run adopt",
    expect:
      "a map from a resource name of the preview (prod-tunnel-cloudflared, jellyfin-dns, ...) to its import id, as npm run adopt writes it",
  }),
  ...DOCS_CONFIG_KEYS,
} satisfies Record<string, KeySpec>;

/** The records' exact types, for the compile-time checks in test/spine/config-keys.test.ts. */
export type ConfigRecords = typeof KEYS;

/** StackConfig fields that no record fills one to one: parseStackConfig's cross-key code builds them. */
export type FieldsBuiltByCode =
  | "stack"
  | "hosts"
  | "hostsDeclared"
  | "placement"
  | "rollout"
  | "docs.source.kind"
  | "docs.source.provider"
  | "docs.source.owner"
  | "docs.source.repo";

/** Every key the program understands, by name (KEYS holds each record's exact type for the compiler). */
export const CONFIG_KEYS: Readonly<Record<string, KeySpec>> = KEYS;

/**
 * Keys renamed because the Pulumi CLI refuses a plain `pulumi config set` of
 * a key whose name matches its secret pattern when the value looks random
 * (see test/spine/config-keys.test.ts for the rule and its source).
 */
export const RENAMED_KEYS: Readonly<Record<string, string>> = {
  secretsDir: "credentialsDir",
  cloudflareApiTokenRef: "cloudflareCredentialRef",
  generatedSecretsItem: "generatedCredentialsItem",
  secretsSource: "credentialsSource",
  tunnelSecretGeneration: "tunnelCredentialGeneration",
  onePasswordVault: "opVault",
};

/** The B2 bucket a stack backs up to when `homelab:backupBucket` is unset. */
export function defaultBackupBucket(stack: string): string {
  return `homelab-${stack}`;
}

/** B2 bucket names: 6 to 50 letters, digits and hyphens, not starting with "b2-". */
export function isB2BucketName(name: string): boolean {
  return /^[A-Za-z0-9-]{6,50}$/.test(name) && !name.toLowerCase().startsWith("b2-");
}

/** A config problem, phrased so the owner knows which key to touch and how. */
export interface ConfigProblem {
  key: string;
  message: string;
  fix: string;
}

export interface ParsedConfig {
  config?: StackConfig;
  problems: ConfigProblem[];
  /** Raw values of secret keys, kept apart from the typed config. */
  secretKeys: Record<string, string>;
}

function closest(key: string): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const known of Object.keys(CONFIG_KEYS)) {
    const score = editDistance(key.toLowerCase(), known.toLowerCase());
    if (score < bestScore) {
      bestScore = score;
      best = known;
    }
  }
  return bestScore <= 3 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

/** What the config is read for: the offline plan, or the Pulumi program, which calls Cloudflare with the ids. */
export type ConfigUse = "plan" | "program";

/** Where the raw values came from, beyond the values themselves. */
export interface ConfigSource {
  /**
   * Given when the values are the Pulumi engine's, decrypted: the keys it
   * holds as secrets (set with --secret). Without it the values are the stack
   * file's YAML, where a secret is `secure:` ciphertext. Keys as the caller's
   * `raw` names them: without the namespace for parseStackConfig, with it
   * for loadStack.
   */
  engineSecrets?: readonly string[];
  /**
   * The root of a test host's file system: the test host keeps a fake host
   * under a temporary directory, and its bundleDir, credentialsDir and
   * stateDir are checked as the paths below that root (hostDirProblem).
   * Never set for a real host.
   */
  hostRoot?: string;
}

/** `{ secure: "v1:..." }`: a value `pulumi config set --secret` wrote to the stack file. */
function isSecureValue(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === "secure" && typeof (value as { secure: unknown }).secure === "string";
}

/**
 * The first part of a stack-file value that is not `secure:` ciphertext, as a
 * `--path` suffix ("" for the value itself, `["mosquitto.password"]` for one
 * entry of a map set with --path), or undefined when all of it is encrypted.
 */
function plainPart(value: unknown, at = ""): string | undefined {
  if (isSecureValue(value)) return undefined;
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const found = plainPart(v, `${at}[${Array.isArray(value) ? k : JSON.stringify(k)}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return at;
}

/**
 * Where a plain (not `secure:`) value holds a PEM private key: "" for the
 * value itself, or the dotted path inside a map or list. The Pulumi engine
 * gives structured values as JSON text, which is searched as one string.
 */
export function plainPrivateKeys(value: unknown, at = ""): string[] {
  if (typeof value === "string") return PEM_PRIVATE_KEY.test(value) ? [at] : [];
  if (typeof value !== "object" || value === null || isSecureValue(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => plainPrivateKeys(v, at ? `${at}.${k}` : k));
}

/**
 * The fix for a private key written in plain text under any key of the stack
 * file: under one of ours it is in the wrong key (the login keys are the only
 * private keys the home lab takes); under a provider's, it is that key's value
 * and only needs to be a secret.
 */
export function plainPrivateKeyFix(key: string, stack: string): string {
  const rotate = "the key was readable by anyone with the file, so replace it if the file was ever committed or shared";
  if (key.startsWith(`${CONFIG_NAMESPACE}:`)) {
    return `remove it from Pulumi.${stack}.yaml; the home lab's login key belongs in ${CONFIG_NAMESPACE}:sshPrivateKey (or a host's ${CONFIG_NAMESPACE}:sshPrivateKey<Host>), set with pulumi config set --secret ${CONFIG_NAMESPACE}:sshPrivateKey < <key file> --stack ${stack}; ${rotate}`;
  }
  return `pulumi config set --secret ${key} < <key file> --stack ${stack}, which replaces the plain value in Pulumi.${stack}.yaml (if it is the home lab's login key, set ${CONFIG_NAMESPACE}:sshPrivateKey that way instead and remove ${key}); ${rotate}`;
}

/**
 * Parse the `homelab:` keys of a stack. `raw` maps keys without the namespace
 * to their values: strings, numbers, booleans or arrays as YAML gives them, or
 * the JSON strings the Pulumi engine gives for structured values (then
 * `from.engineSecrets` says which of them are secrets).
 */
export function parseStackConfig(
  stack: string,
  raw: Record<string, unknown>,
  use: ConfigUse = "plan",
  from: ConfigSource = {},
): ParsedConfig {
  const problems: ConfigProblem[] = [];
  const values: Record<string, unknown> = {};
  const secretKeys: Record<string, string> = {};
  const file = `Pulumi.${stack}.yaml`;
  const refuse = (key: string, message: string, fix: string) =>
    problems.push({ key: `${CONFIG_NAMESPACE}:${key}`, message, fix });
  const ctx: CheckContext = { hostRoot: from.hostRoot };
  const engineSecret = (key: string) => from.engineSecrets?.includes(key) ?? false;

  for (const [key, value] of Object.entries(raw)) {
    const spec = CONFIG_KEYS[key] ?? (HOST_SSH_KEY_NAME.test(key) ? HOST_LOGIN_KEY : undefined);
    if (!spec) {
      if (!engineSecret(key) && plainPrivateKeys(value).length > 0)
        refuse(key, "holds a private key in plain text", plainPrivateKeyFix(`${CONFIG_NAMESPACE}:${key}`, stack));
      const renamed = RENAMED_KEYS[key];
      const guess = renamed ?? closest(key);
      refuse(
        key,
        renamed ? `was renamed to ${CONFIG_NAMESPACE}:${renamed}` : "unknown stack config key",
        guess
          ? `rename it to ${CONFIG_NAMESPACE}:${guess} in ${file}`
          : `remove it from ${file}; known keys are listed in components/config/schema.ts`,
      );
      continue;
    }
    if (spec.secret) {
      // Secret keys hold `secure:` ciphertext in the stack file, as one value or,
      // set with --path, as a map; the program gets them decrypted as JSON text,
      // with the engine's list of the keys that are secrets. A secret in plain
      // text is readable by anyone with the file or its history: refused.
      const plain = from.engineSecrets ? (engineSecret(key) ? undefined : "") : plainPart(value);
      if (plain !== undefined) {
        const pem = plainPrivateKeys(value).length > 0 ? "; it is a private key" : "";
        const input = HOST_SSH_KEY_NAME.test(key) ? "< <key file>" : "<value>";
        refuse(
          key,
          `${plain ? `has ${plain} ` : "is "}written in plain text in ${file}, not as a Pulumi secret (secure: ciphertext)${pem}`,
          `pulumi config set --secret ${CONFIG_NAMESPACE}:${key} ${input} --stack ${stack}${
            plain && !Array.isArray(value)
              ? ` (or, for that entry alone, pulumi config set --secret --path '${CONFIG_NAMESPACE}:${key}${plain}' <value> --stack ${stack})`
              : ""
          }, which replaces the plain value in the file (${keySummary(spec)}); rotate the value if the file was ever committed or shared`,
        );
        continue;
      }
      if (typeof value === "string") secretKeys[key] = value;
      else if (typeof value === "object" && value !== null && !Array.isArray(value))
        secretKeys[key] = JSON.stringify(value);
      else
        refuse(
          key,
          `expected a secret string, got ${show(value)}`,
          `pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <value> --stack ${stack} (${keySummary(spec)})`,
        );
      continue;
    }
    // A private key pasted into any other key: refused before any message could quote it.
    const pem = engineSecret(key) ? [] : plainPrivateKeys(value);
    if (pem.length > 0) {
      for (const at of pem)
        refuse(
          at ? `${key}.${at}` : key,
          "holds a private key in plain text",
          plainPrivateKeyFix(`${CONFIG_NAMESPACE}:${key}`, stack),
        );
      continue;
    }
    const checked = checkValue(spec, value, ctx);
    if ("error" in checked) {
      refuse(
        key,
        checked.error,
        `set ${CONFIG_NAMESPACE}:${key} in ${file} to ${describe(spec)} (${keySummary(spec)})`,
      );
      continue;
    }
    values[key] = checked.value;
  }

  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    if (key === "lanAddress" && raw.hosts !== undefined) continue;
    if (spec.required && values[key] === undefined && !problems.some((p) => p.key === `${CONFIG_NAMESPACE}:${key}`)) {
      refuse(
        key,
        "missing required stack config key",
        `pulumi config set ${CONFIG_NAMESPACE}:${key} <value> --stack ${stack} (${keySummary(spec)})`,
      );
    }
  }

  // Each record fills its field with the key's value, or its default. The
  // cross-key rules below check and shape what one key alone cannot.
  const keys: KeyValues = { set: values, withDefaults: withDefaults(values, stack) };
  const filled = fillTargets(keys.withDefaults, { stack });

  // The edge's fields exist only with edge cloudflare, which needs its account, zone and Access keys.
  if (keys.withDefaults.edge === "cloudflare") {
    for (const key of ["cloudflareAccountId", "cloudflareZoneId", "accessEmails", "accessTeamName"]) {
      if (values[key] === undefined && !problems.some((p) => p.key === `${CONFIG_NAMESPACE}:${key}`)) {
        refuse(
          key,
          "missing; the Cloudflare edge needs it",
          `pulumi config set ${CONFIG_NAMESPACE}:${key} <value> --stack ${stack} (${keySummary(CONFIG_KEYS[key])}), or set ${CONFIG_NAMESPACE}:edge to none for a LAN-only stack`,
        );
      }
    }
    if ((values.accessEmails as string[] | undefined)?.length === 0) {
      refuse(
        "accessEmails",
        "is empty, so the Access policy would let nobody in",
        `list at least one email under ${CONFIG_NAMESPACE}:accessEmails in ${file}`,
      );
    }
    // The placeholder keeps `npm start` working without an account; the
    // program hands the ids to Cloudflare, where a zero id only fails late.
    if (use === "program") {
      for (const key of ["cloudflareAccountId", "cloudflareZoneId"]) {
        if (values[key] === PLACEHOLDER_CLOUDFLARE_ID) {
          refuse(
            key,
            "is still the all-zero placeholder",
            `copy the real id from ${CLOUDFLARE_ID_WHERE}, then pulumi config set ${CONFIG_NAMESPACE}:${key} <id> --stack ${stack}`,
          );
        }
      }
    }
  } else filled.cloudflare = undefined;

  const paths = filled.paths as StackConfig["paths"];
  const names = Object.keys(paths) as (keyof typeof paths)[];
  for (const a of names) {
    for (const b of names) {
      if (a === b || !containsPath(paths[a], paths[b])) continue;
      const ka = keyFilling(`paths.${a}`);
      const kb = keyFilling(`paths.${b}`);
      if (paths[a] === paths[b] && names.indexOf(a) > names.indexOf(b)) continue;
      refuse(
        kb,
        paths[a] === paths[b]
          ? `is the same directory as ${CONFIG_NAMESPACE}:${ka} (${paths[a]})`
          : `${show(paths[b])} is inside ${CONFIG_NAMESPACE}:${ka} (${paths[a]})`,
        `give ${CONFIG_NAMESPACE}:bundleDir, ${CONFIG_NAMESPACE}:credentialsDir and ${CONFIG_NAMESPACE}:stateDir separate directories, none inside another, in ${file}`,
      );
    }
  }

  const backupBucket = filled.backupBucket as string;
  if (values.backupBucket === undefined && !isB2BucketName(backupBucket)) {
    refuse(
      "backupBucket",
      `the default ${show(backupBucket)} is not a valid Backblaze B2 bucket name`,
      `set ${CONFIG_NAMESPACE}:backupBucket in ${file} to 6-50 letters, digits or hyphens (not starting with b2-)`,
    );
  }

  // An empty list strips every service and its secret files from the host at the next deploy: only on purpose.
  if ((values.services as string[] | undefined)?.length === 0 && values.removeAllServices !== true) {
    refuse(
      "services",
      "is empty, so the next deploy would remove every service and its secret files from the host",
      `list the services this stack runs under ${CONFIG_NAMESPACE}:services in ${file}, remove the key to run every enabled service, or set ${CONFIG_NAMESPACE}:removeAllServices true to empty the host on purpose`,
    );
  }

  // The provider refuses a rotated service token without the time its previous secret stops working.
  if (
    (values.apiClientKeyVersion as number | undefined) !== undefined &&
    (values.apiClientKeyVersion as number) > 1 &&
    raw.apiClientKeyOverlapUntil === undefined
  ) {
    refuse(
      "apiClientKeyOverlapUntil",
      `is unset, but homelab:apiClientKeyVersion ${values.apiClientKeyVersion as number} rotates the API client keys, and Cloudflare needs the time the previous keys stop working`,
      `pulumi config set ${CONFIG_NAMESPACE}:apiClientKeyOverlapUntil <UTC time, e.g. 2026-12-31T00:00:00Z; the current time for no overlap> --stack ${stack}`,
    );
  }

  if (values.nixosFlakeInput !== undefined && values.nixosFlake === undefined && raw.hosts === undefined) {
    refuse(
      "nixosFlakeInput",
      "names a flake input, but the stack sets no nixosFlake",
      `set ${CONFIG_NAMESPACE}:nixosFlake too (e.g. /etc/nixos#nixos), or remove ${CONFIG_NAMESPACE}:nixosFlakeInput from ${file}`,
    );
  }

  const docs = parseDocsConfig(stack, keys, filled.docs as FilledDocs, problems);
  const machines = parseHosts(stack, values, secretKeys, refuse, ctx);

  if (problems.length > 0) return { problems, secretKeys };

  const config = filled as unknown as StackConfig;
  // With homelab:hosts, the single-host fields are the first host's; without
  // it, the single-host keys make the stack's one host.
  const first = machines.hosts?.[0];
  if (first) {
    config.lanAddress = first.lanAddress;
    config.lanHostname = first.lanHostname;
    config.ssh = { ...first.ssh };
  }
  config.hosts = machines.hosts ?? [
    {
      name: singleHostName(config.lanHostname),
      lanAddress: config.lanAddress,
      lanHostname: config.lanHostname,
      ssh: { ...config.ssh },
      sshKeyConfig: DEFAULT_SSH_KEY_CONFIG,
      flake: flakeOf(keys.withDefaults.nixosFlake, keys.withDefaults.nixosFlakeInput),
    },
  ];
  config.hostsDeclared = machines.hosts !== undefined;
  config.placement = machines.placement;
  config.rollout = machines.rollout;
  config.docs = docs;
  return { problems, secretKeys, config };
}

/** The keys' values after the per-key step, for the cross-key rules: as the stack sets them, and with every record's default. */
export interface KeyValues {
  set: Record<string, unknown>;
  withDefaults: Record<string, unknown>;
}

/**
 * Each of `keys` with its value: the stack's, else its record's default for
 * this stack, else (defaultFrom) the value of the key it copies. A key with
 * none of these stays undefined.
 */
function withDefaults(
  set: Record<string, unknown>,
  stack: string,
  keys: readonly string[] = Object.keys(CONFIG_KEYS),
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...set };
  for (const key of keys) out[key] ??= defaultValue(CONFIG_KEYS[key], stack);
  for (const key of keys) {
    const from = CONFIG_KEYS[key].defaultFrom;
    if (from !== undefined) out[key] ??= out[from];
  }
  return out;
}

/** Puts each key's value (through its record's `apply`) at its record's target in `into`; keys without a target are the cross-key rules' to read. */
function fillTargets(value: Record<string, unknown>, into: Record<string, unknown>): Record<string, unknown> {
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    if (spec.target === undefined) continue;
    const path = spec.target.split(".");
    let at = into;
    for (const step of path.slice(0, -1)) {
      at[step] ??= {};
      at = at[step] as Record<string, unknown>;
    }
    at[path[path.length - 1]] = spec.apply ? (spec.apply as (v: unknown) => unknown)(value[key]) : value[key];
  }
  return into;
}

/** The key whose record fills a field: "paths.secretsDir" is homelab:credentialsDir. */
function keyFilling(field: ConfigField): string {
  const key = Object.keys(CONFIG_KEYS).find((k) => CONFIG_KEYS[k].target === field);
  if (key === undefined) throw new Error(`no config key fills ${field}`);
  return key;
}

/** A flake host's flake, or undefined for a channel host; `input` has its record's default by now. */
function flakeOf(ref: unknown, input: unknown): NixosFlake | undefined {
  return typeof ref === "string" ? { ref, input: input as string } : undefined;
}

/** homelab:adopt with only string ids; every entry is checked against the declared resources once the catalog is resolved. */
function adoptMap(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === "string" ? v : JSON.stringify(v),
    ]),
  );
}

/** Any `sshPrivateKey<Suffix>` key: accepted as a secret when a host names it in sshKeyConfig. */
const HOST_LOGIN_KEY: KeySpec = {
  kind: "string",
  secret: true,
  doc: "a host's own login key, named by homelab:hosts.<name>.sshKeyConfig",
};

type Refuse = (key: string, message: string, fix: string) => void;

/**
 * `homelab:hosts`, `homelab:placement` and `homelab:rollout`, checked field
 * by field with the same rules as the single-host keys. Placement against
 * the catalog (unknown services, shared ports, co-location) is checked with
 * the catalog, in components/catalog/placement.ts.
 */
function parseHosts(
  stack: string,
  values: Record<string, unknown>,
  secretKeys: Record<string, string>,
  refuse: Refuse,
  ctx: CheckContext,
): { hosts?: HostConfig[]; placement?: Record<string, string>; rollout?: string[] } {
  const file = `Pulumi.${stack}.yaml`;
  const named = new Set<string>([DEFAULT_SSH_KEY_CONFIG]);
  const raw = values.hosts as Record<string, unknown> | undefined;
  let hosts: HostConfig[] | undefined;
  if (raw !== undefined) {
    for (const key of SINGLE_HOST_KEYS) {
      if (values[key] !== undefined) {
        refuse(
          key,
          "is set beside homelab:hosts, which replaces it, so one of the two would be ignored",
          `move it into homelab:hosts.<host>.${key} in ${file} and remove ${CONFIG_NAMESPACE}:${key}`,
        );
      }
    }
    const names = Object.keys(raw);
    if (names.length === 0)
      refuse(
        "hosts",
        "is empty, so there is nowhere to deploy",
        `list at least one host under ${CONFIG_NAMESPACE}:hosts in ${file}, or remove the key to use ${CONFIG_NAMESPACE}:lanAddress`,
      );
    if (names.length > MAX_HOSTS)
      refuse(
        "hosts",
        `lists ${names.length} hosts, more than ${MAX_HOSTS}`,
        `split the machines across stacks of at most ${MAX_HOSTS} hosts`,
      );
    hosts = [];
    for (const name of names) {
      const where = `hosts.${name}`;
      if (!isDnsLabel(name)) {
        refuse(
          where,
          `${show(name)} is not a host name`,
          `name the host with lowercase letters, digits and inner hyphens, such as gpu, in ${file}`,
        );
        continue;
      }
      const fields = raw[name];
      if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
        refuse(
          where,
          `expected a map of connection facts, got ${show(fields)}`,
          `write ${CONFIG_NAMESPACE}:hosts.${name} as a map with at least lanAddress in ${file}`,
        );
        continue;
      }
      const got: Record<string, unknown> = {};
      for (const [field, value] of Object.entries(fields as Record<string, unknown>)) {
        if (!(HOST_FIELDS as readonly string[]).includes(field)) {
          refuse(
            `${where}.${field}`,
            "is not a host field",
            `use only ${HOST_FIELDS.join(", ")} under ${CONFIG_NAMESPACE}:hosts.${name}`,
          );
          continue;
        }
        if (field === "sshKeyConfig") {
          if (typeof value !== "string" || !HOST_SSH_KEY_NAME.test(value)) {
            refuse(
              `${where}.${field}`,
              `${show(value)} is not a login key name`,
              `name a secret key such as sshPrivateKey${name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase())} and set it with pulumi config set --secret ${CONFIG_NAMESPACE}:<that key> --stack ${stack}`,
            );
          } else got[field] = value;
          continue;
        }
        const spec = CONFIG_KEYS[field];
        const checked = checkValue(spec, value, ctx);
        if ("error" in checked)
          refuse(
            `${where}.${field}`,
            checked.error,
            `set ${CONFIG_NAMESPACE}:hosts.${name}.${field} in ${file} to ${describe(spec)} (${keySummary(spec)})`,
          );
        else got[field] = checked.value;
      }
      if (got.lanAddress === undefined) {
        if (!(fields as Record<string, unknown>).lanAddress)
          refuse(
            `${where}.lanAddress`,
            "missing; every host needs its LAN address",
            `set ${CONFIG_NAMESPACE}:hosts.${name}.lanAddress in ${file} to ${describe(CONFIG_KEYS.lanAddress)}`,
          );
        continue;
      }
      const sshKeyConfig = (got.sshKeyConfig as string | undefined) ?? DEFAULT_SSH_KEY_CONFIG;
      named.add(sshKeyConfig);
      // The host fields take the single-host keys' defaults, except the mDNS name, which follows the host's own name.
      const field = withDefaults({ lanHostname: `${name}.local`, ...got }, stack, SINGLE_HOST_KEYS);
      hosts.push({
        name,
        lanAddress: field.lanAddress as string,
        lanHostname: field.lanHostname as string,
        ssh: {
          host: field.sshHost as string,
          port: field.sshPort as number,
          user: field.sshUser as string,
          hostKey: field.sshHostKey as string | undefined,
        },
        sshKeyConfig,
        flake: flakeOf(field.nixosFlake, field.nixosFlakeInput),
      });
      if (got.nixosFlakeInput !== undefined && got.nixosFlake === undefined) {
        refuse(
          `${where}.nixosFlakeInput`,
          "names a flake input, but the host has no nixosFlake",
          `set ${CONFIG_NAMESPACE}:hosts.${name}.nixosFlake too, or remove nixosFlakeInput`,
        );
      }
    }
    const seen = new Map<string, string>();
    for (const h of hosts) {
      for (const [what, value] of [
        ["lanAddress", h.lanAddress],
        ["lanHostname", h.lanHostname],
        ["ssh target", `${h.ssh.host}:${h.ssh.port}`],
      ] as const) {
        const other = seen.get(`${what} ${value}`);
        if (other)
          refuse(
            `hosts.${h.name}.${what === "ssh target" ? "sshHost" : what}`,
            `${show(value)} is also the ${what} of host "${other}", so two hosts would be one machine`,
            `give each host of ${CONFIG_NAMESPACE}:hosts its own ${what} in ${file}`,
          );
        else seen.set(`${what} ${value}`, h.name);
      }
    }
  }
  for (const key of Object.keys(secretKeys)) {
    if (HOST_SSH_KEY_NAME.test(key) && !named.has(key)) {
      refuse(
        key,
        "no host names this login key",
        `set ${CONFIG_NAMESPACE}:hosts.<host>.sshKeyConfig to ${key}, or remove it from ${file}`,
      );
    }
  }
  const known = new Set((hosts ?? []).map((h) => h.name));
  const hostList = [...known].join(", ");

  let placement: Record<string, string> | undefined;
  if (values.placement !== undefined) {
    placement = {};
    if (hosts === undefined) {
      refuse(
        "placement",
        "places services on hosts, but the stack has one host",
        `declare the machines under ${CONFIG_NAMESPACE}:hosts in ${file}, or remove ${CONFIG_NAMESPACE}:placement`,
      );
    } else {
      for (const [id, host] of Object.entries(values.placement as Record<string, unknown>)) {
        if (!isDnsLabel(id))
          refuse(
            `placement.${id}`,
            `${show(id)} is not a catalog id`,
            `use service ids from components/catalog/services.ts as the keys of ${CONFIG_NAMESPACE}:placement`,
          );
        else if (typeof host !== "string" || !known.has(host)) {
          refuse(
            `placement.${id}`,
            `${show(host)} is not a host of ${CONFIG_NAMESPACE}:hosts`,
            `set it to one of: ${hostList}, or add the host under ${CONFIG_NAMESPACE}:hosts in ${file}`,
          );
        } else placement[id] = host;
      }
    }
  }

  const rollout = values.rollout as string[] | undefined;
  if (rollout !== undefined) {
    if (hosts === undefined)
      refuse(
        "rollout",
        "orders hosts, but the stack has one host",
        `declare the machines under ${CONFIG_NAMESPACE}:hosts in ${file}, or remove ${CONFIG_NAMESPACE}:rollout`,
      );
    else {
      for (const name of rollout) {
        if (!known.has(name))
          refuse(
            "rollout",
            `${show(name)} is not a host of ${CONFIG_NAMESPACE}:hosts`,
            `list only hosts of ${CONFIG_NAMESPACE}:hosts (${hostList}) in ${CONFIG_NAMESPACE}:rollout`,
          );
      }
    }
  }
  return { hosts, placement, rollout };
}

/** "a whole number from 1 to 65535", "one of: cloudflare, none", ...: what the fix asks for. */
function describe(spec: KeySpec): string {
  if (spec.range) return `a whole number from ${spec.range.min} to ${spec.range.max}`;
  if (spec.oneOf) return `one of: ${spec.oneOf.join(", ")}`;
  if (spec.kind === "boolean") return "true or false";
  return spec.expect ?? `a ${spec.kind}`;
}

/** Type, range, enum, length and character set of one non-secret value. */
function checkValue(spec: KeySpec, value: unknown, ctx: CheckContext): { value: unknown } | { error: string } {
  switch (spec.kind) {
    case "number":
      return wholeNumber(value, spec.range ?? { min: 1, max: Number.MAX_SAFE_INTEGER });
    case "boolean":
      if (typeof value === "boolean") return { value };
      if (value === "true" || value === "false") return { value: value === "true" };
      return { error: `expected true or false, got ${show(value)}` };
    case "string": {
      if (typeof value !== "string") return { error: `expected a string, got ${show(value)}` };
      const bad = stringProblem(spec, value, ctx);
      return bad ? { error: bad } : { value };
    }
    case "string[]": {
      let v = value;
      if (typeof v === "string") {
        try {
          v = JSON.parse(v);
        } catch {
          return { error: `expected a list of strings, got ${show(value)}` };
        }
      }
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
        return { error: `expected a list of strings, got ${show(value)}` };
      for (const item of v as string[]) {
        const bad = stringProblem(spec, item, ctx);
        if (bad) return { error: bad };
      }
      if (new Set(v).size !== v.length) return { error: `lists an entry twice: ${show(v)}` };
      return { value: v };
    }
    case "map": {
      let v = value;
      if (typeof v === "string") {
        try {
          v = JSON.parse(v);
        } catch {
          return { error: `expected a map, got ${show(value)}` };
        }
      }
      if (typeof v !== "object" || v === null || Array.isArray(v))
        return { error: `expected a map, got ${show(value)}` };
      return { value: v };
    }
  }
}

function stringProblem(spec: KeySpec, value: string, ctx: CheckContext): string | undefined {
  const bad = forbiddenCharacter(value);
  if (bad) return `${show(value)} contains the control character ${bad}`;
  const max = spec.maxLength ?? 253;
  if (value.length === 0) return "is empty";
  if (value.length > max) return `is ${value.length} characters long, more than ${max}`;
  if (spec.oneOf && !spec.oneOf.includes(value)) return `${show(value)} is not one of: ${spec.oneOf.join(", ")}`;
  return spec.check?.(value, ctx);
}
