/**
 * The stack config: everything that differs between environments. Values live
 * in `Pulumi.<stack>.yaml` under the `homelab:` namespace. This module parses
 * them from a plain key/value map, so the offline plan (which reads the YAML
 * file) and the Pulumi program (which reads the engine's config) share one
 * set of rules and defaults.
 */

import { DOCS_CONFIG_KEYS, parseDocsConfig, type DocsConfig } from "./docs";

export const CONFIG_NAMESPACE = "homelab";

export type EdgeKind = "cloudflare" | "none";
export type SecretsSource = "1password" | "config";

export interface StackConfig {
  /** The stack name: prod, staging, ci. */
  stack: string;
  /** Zone that holds every public route. @example "javiersc.com" */
  domain: string;
  /** First DNS label of a route; `{name}` is the route name. @default "{name}-home" */
  routePattern: string;
  /** The host's LAN address; the toggle's Local mode links point here. */
  lanAddress: string;
  /** The host's mDNS name. @default "nixos.local" */
  lanHostname: string;
  /** Time zone of the host; the Transmission schedule follows it. @default "UTC" */
  timeZone: string;
  /** Ids of the catalog's enabled services this stack runs. @default every enabled service */
  services?: string[];
  /** `cloudflare` publishes routes through a tunnel; `none` is a LAN/Tailscale-only home lab. */
  edge: EdgeKind;
  cloudflare?: {
    accountId: string;
    zoneId: string;
    /** @default "homelab-<stack>" */
    tunnelName: string;
    /** @default "homelab-docs-<stack>" */
    pagesProject: string;
    /** Emails the Access allow policy lets in. */
    accessEmails: string[];
    /** Zero Trust team name (`<team>.cloudflareaccess.com`); cloudflared checks Access JWTs against it. */
    teamName: string;
  };
  /** How the program reaches the host. */
  ssh: {
    /** @default lanAddress */
    host: string;
    /** @default 22 */
    port: number;
    /** @default "root" */
    user: string;
    /** The host's public key line (`ssh-ed25519 AAAA…`); a deploy refuses to run without it. */
    hostKey?: string;
  };
  /** Where the host keeps things. Overridable so the test host can run unprivileged. */
  paths: {
    /** @default "/etc/nixos/homelab" */
    bundleDir: string;
    /** @default "/var/lib/homelab/secrets" */
    secretsDir: string;
    /** @default "/var/lib/homelab/state" */
    stateDir: string;
  };
  /** Whether `pulumi up` pushes to the host and rebuilds. @default true */
  deploy: boolean;
  /** Whether every preview and up reads the host (read-only) to show drift. @default true */
  detectDrift: boolean;
  /** NixOS system generations kept after a successful switch. @default 10 */
  keepGenerations: number;
  /** Seconds every health check has to pass after a switch. @default 120 */
  healthTimeoutSeconds: number;
  /**
   * Backblaze B2 bucket that restic backs up to, as `b2:<bucket>:homelab`.
   * Optional in the type so hand-built configs stay valid; parseStackConfig always fills it.
   * @default "homelab-<stack>"
   */
  backupBucket?: string;
  secrets: {
    /** @default "1password" */
    source: SecretsSource;
    /** Vault that replaces the catalog references' vault. @default "Homelab" */
    vault: string;
    /** 1Password item the generated secrets are written back to; unset means no write-back. */
    generatedItem?: string;
  };
  /** 1Password reference of the Cloudflare API token. @default "op://Homelab/Cloudflare/api-token" */
  cloudflareApiTokenRef?: string;
  /** Bump to rotate the tunnel secret and the connector token. @default "1" */
  tunnelSecretGeneration: string;
  /** Version of the API clients' Access service-token keys; bump to rotate them. @default 1 */
  apiClientKeyVersion: number;
  /** After a rotation, until when the previous key is still accepted (RFC 3339, UTC). Unset: it stops at once. */
  apiClientKeyOverlapUntil?: string;
  /**
   * The docs site: how Pages gets it, what its pages show (components/config/docs.ts).
   * Optional in the type so hand-built configs stay valid; parseStackConfig always fills it.
   */
  docs?: DocsConfig;
}

type Kind = "string" | "number" | "boolean" | "string[]";

interface KeySpec {
  kind: Kind;
  doc: string;
  required?: boolean;
  /** Secret keys are read by the Pulumi program only; the offline plan never needs them. */
  secret?: boolean;
}

/** Every key the program understands. Anything else under `homelab:` is an error. */
export const CONFIG_KEYS: Record<string, KeySpec> = {
  domain: { kind: "string", required: true, doc: "zone of every public route, e.g. javiersc.com" },
  routePattern: { kind: "string", doc: "first label of a route, with {name}; default {name}-home" },
  lanAddress: { kind: "string", required: true, doc: "the host's LAN IPv4 address" },
  lanHostname: { kind: "string", doc: "the host's mDNS name; default nixos.local" },
  timeZone: { kind: "string", doc: "IANA time zone of the host; default UTC" },
  services: { kind: "string[]", doc: "enabled catalog ids this stack runs; default all" },
  edge: { kind: "string", doc: "cloudflare or none; default cloudflare" },
  cloudflareAccountId: { kind: "string", doc: "Cloudflare account id (edge: cloudflare)" },
  cloudflareZoneId: { kind: "string", doc: "Cloudflare zone id of the domain (edge: cloudflare)" },
  cloudflareApiToken: { kind: "string", secret: true, doc: "Cloudflare API token, when not read from 1Password" },
  cloudflareApiTokenRef: { kind: "string", doc: "1Password reference of the Cloudflare API token" },
  tunnelName: { kind: "string", doc: "tunnel name; default homelab-<stack>" },
  tunnelSecretGeneration: { kind: "string", doc: "bump to rotate the tunnel secret and token; default 1" },
  pagesProject: { kind: "string", doc: "Pages project of the docs site; default homelab-docs-<stack>" },
  accessEmails: { kind: "string[]", doc: "emails the Access policy allows (edge: cloudflare)" },
  accessTeamName: { kind: "string", doc: "Zero Trust team name, the <team> of <team>.cloudflareaccess.com (edge: cloudflare)" },
  sshHost: { kind: "string", doc: "address the program connects to; default lanAddress" },
  sshPort: { kind: "number", doc: "SSH port; default 22" },
  sshUser: { kind: "string", doc: "SSH user; default root" },
  sshHostKey: { kind: "string", doc: "the host's public key line, pinned for every connection" },
  sshPrivateKey: { kind: "string", secret: true, doc: "private key the program logs in with" },
  bundleDir: { kind: "string", doc: "where the NixOS bundle lands; default /etc/nixos/homelab" },
  secretsDir: { kind: "string", doc: "where secret files land; default /var/lib/homelab/secrets" },
  stateDir: { kind: "string", doc: "deploy bookkeeping on the host; default /var/lib/homelab/state" },
  deploy: { kind: "boolean", doc: "push to the host on pulumi up; default true" },
  detectDrift: { kind: "boolean", doc: "read the host over SSH on every preview to show drift; default true" },
  keepGenerations: { kind: "number", doc: "system generations to keep; default 10" },
  healthTimeoutSeconds: { kind: "number", doc: "seconds health checks have after a switch; default 120" },
  secretsSource: { kind: "string", doc: "1password or config; default 1password" },
  onePasswordVault: { kind: "string", doc: "vault that replaces the catalog's; default Homelab" },
  onePasswordToken: { kind: "string", secret: true, doc: "1Password service-account token, when OP_SERVICE_ACCOUNT_TOKEN is unset" },
  secretValues: { kind: "string", secret: true, doc: "with secretsSource config: JSON map of <service>.<secret> to value" },
  generatedSecretsItem: { kind: "string", doc: "1Password item that generated secrets are written back to" },
  backupBucket: { kind: "string", doc: "Backblaze B2 bucket restic backs up to; default homelab-<stack>" },
  apiClientKeyVersion: { kind: "number", doc: "version of the API clients' Access service-token keys; bump to rotate them; default 1" },
  apiClientKeyOverlapUntil: { kind: "string", doc: "after a rotation, until when the previous API client key still works, e.g. 2026-12-31T00:00:00Z" },
  ...DOCS_CONFIG_KEYS,
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

/**
 * Parse the `homelab:` keys of a stack. `raw` maps keys without the namespace
 * to their values: strings, numbers, booleans or arrays as YAML gives them, or
 * the JSON strings the Pulumi engine gives for structured values.
 */
export function parseStackConfig(stack: string, raw: Record<string, unknown>): ParsedConfig {
  const problems: ConfigProblem[] = [];
  const values: Record<string, unknown> = {};
  const secretKeys: Record<string, string> = {};
  const file = `Pulumi.${stack}.yaml`;

  for (const [key, value] of Object.entries(raw)) {
    const spec = CONFIG_KEYS[key];
    if (!spec) {
      const guess = closest(key);
      problems.push({
        key: `${CONFIG_NAMESPACE}:${key}`,
        message: "unknown stack config key",
        fix: guess
          ? `rename it to ${CONFIG_NAMESPACE}:${guess} in ${file}`
          : `remove it from ${file}; known keys are listed in components/config/schema.ts`,
      });
      continue;
    }
    // Secret keys hold `secure:` ciphertext in the stack file, as one value or,
    // set with --path, as a map; the program gets them decrypted as JSON text.
    const coerced = spec.secret && typeof value === "object" && value !== null ? JSON.stringify(value) : coerce(spec.kind, value);
    if (coerced === undefined) {
      problems.push({
        key: `${CONFIG_NAMESPACE}:${key}`,
        message: `expected a ${spec.kind}, got ${JSON.stringify(value)}`,
        fix: `set ${CONFIG_NAMESPACE}:${key} in ${file} to a ${spec.kind} (${spec.doc})`,
      });
      continue;
    }
    if (spec.secret) secretKeys[key] = String(coerced);
    else values[key] = coerced;
  }

  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    if (spec.required && values[key] === undefined && !problems.some((p) => p.key === `${CONFIG_NAMESPACE}:${key}`)) {
      problems.push({
        key: `${CONFIG_NAMESPACE}:${key}`,
        message: "missing required stack config key",
        fix: `pulumi config set ${CONFIG_NAMESPACE}:${key} <value> --stack ${stack} (${spec.doc})`,
      });
    }
  }

  const str = (k: string, d: string): string => (values[k] as string | undefined) ?? d;
  const num = (k: string, d: number): number => (values[k] as number | undefined) ?? d;

  const edge = str("edge", "cloudflare");
  if (edge !== "cloudflare" && edge !== "none") {
    problems.push({ key: "homelab:edge", message: `unknown edge "${edge}"`, fix: `set homelab:edge to cloudflare or none in ${file}` });
  }
  const source = str("secretsSource", "1password");
  if (source !== "1password" && source !== "config") {
    problems.push({
      key: "homelab:secretsSource",
      message: `unknown secrets source "${source}"`,
      fix: `set homelab:secretsSource to 1password or config in ${file}`,
    });
  }
  const routePattern = str("routePattern", "{name}-home");
  if (!routePattern.includes("{name}")) {
    problems.push({
      key: "homelab:routePattern",
      message: `"${routePattern}" has no {name} placeholder, so every route would get the same hostname`,
      fix: `set homelab:routePattern to something like {name}-home in ${file}`,
    });
  }

  let cloudflare: StackConfig["cloudflare"];
  if (edge === "cloudflare") {
    for (const key of ["cloudflareAccountId", "cloudflareZoneId", "accessEmails", "accessTeamName"]) {
      if (values[key] === undefined && !problems.some((p) => p.key === `homelab:${key}`)) {
        problems.push({
          key: `homelab:${key}`,
          message: "missing; the Cloudflare edge needs it",
          fix: `pulumi config set homelab:${key} <value> --stack ${stack} (${CONFIG_KEYS[key].doc}), or set homelab:edge to none for a LAN-only stack`,
        });
      }
    }
    cloudflare = {
      accountId: str("cloudflareAccountId", ""),
      zoneId: str("cloudflareZoneId", ""),
      tunnelName: str("tunnelName", `homelab-${stack}`),
      pagesProject: str("pagesProject", `homelab-docs-${stack}`),
      accessEmails: (values.accessEmails as string[] | undefined) ?? [],
      teamName: str("accessTeamName", ""),
    };
  }
  const overlap = values.apiClientKeyOverlapUntil;
  if (typeof overlap === "string" && (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(overlap) || Number.isNaN(Date.parse(overlap)))) {
    problems.push({
      key: "homelab:apiClientKeyOverlapUntil",
      message: `"${overlap}" is not a UTC timestamp`,
      fix: `set homelab:apiClientKeyOverlapUntil in ${file} to a time like 2026-12-31T00:00:00Z, or remove it`,
    });
  }
  for (const key of ["sshPort", "keepGenerations", "healthTimeoutSeconds", "apiClientKeyVersion"]) {
    const v = values[key];
    if (typeof v === "number" && (!Number.isInteger(v) || v < 1)) {
      problems.push({ key: `homelab:${key}`, message: `${v} is not a positive whole number`, fix: `set homelab:${key} in ${file} to a whole number of at least 1` });
    }
  }

  const backupBucket = str("backupBucket", defaultBackupBucket(stack));
  if (!isB2BucketName(backupBucket)) {
    problems.push({
      key: "homelab:backupBucket",
      message: `"${backupBucket}" is not a valid Backblaze B2 bucket name`,
      fix: `set homelab:backupBucket in ${file} to 6-50 letters, digits or hyphens (not starting with b2-)`,
    });
  }

  const docs = parseDocsConfig(stack, values, problems);

  if (problems.length > 0) return { problems, secretKeys };

  const lanAddress = str("lanAddress", "");
  return {
    problems,
    secretKeys,
    config: {
      stack,
      domain: str("domain", ""),
      routePattern,
      lanAddress,
      lanHostname: str("lanHostname", "nixos.local"),
      timeZone: str("timeZone", "UTC"),
      services: values.services as string[] | undefined,
      edge: edge as EdgeKind,
      cloudflare,
      ssh: {
        host: str("sshHost", lanAddress),
        port: num("sshPort", 22),
        user: str("sshUser", "root"),
        hostKey: values.sshHostKey as string | undefined,
      },
      paths: {
        bundleDir: str("bundleDir", "/etc/nixos/homelab"),
        secretsDir: str("secretsDir", "/var/lib/homelab/secrets"),
        stateDir: str("stateDir", "/var/lib/homelab/state"),
      },
      deploy: (values.deploy as boolean | undefined) ?? true,
      detectDrift: (values.detectDrift as boolean | undefined) ?? true,
      keepGenerations: num("keepGenerations", 10),
      healthTimeoutSeconds: num("healthTimeoutSeconds", 120),
      backupBucket,
      secrets: {
        source: source as SecretsSource,
        vault: str("onePasswordVault", "Homelab"),
        generatedItem: values.generatedSecretsItem as string | undefined,
      },
      cloudflareApiTokenRef: values.cloudflareApiTokenRef as string | undefined,
      tunnelSecretGeneration: str("tunnelSecretGeneration", "1"),
      apiClientKeyVersion: num("apiClientKeyVersion", 1),
      apiClientKeyOverlapUntil: values.apiClientKeyOverlapUntil as string | undefined,
      docs,
    },
  };
}

function coerce(kind: Kind, value: unknown): unknown {
  switch (kind) {
    case "string":
      return typeof value === "string" ? value : typeof value === "object" && value !== null && "secure" in value ? "[secure]" : undefined;
    case "number": {
      if (typeof value === "number") return value;
      if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
      return undefined;
    }
    case "boolean":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      return undefined;
    case "string[]": {
      let v = value;
      if (typeof v === "string") {
        try {
          v = JSON.parse(v);
        } catch {
          return undefined;
        }
      }
      return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : undefined;
    }
  }
}
