import { isIPv6 } from "node:net";
import { posix } from "node:path";

/**
 * The allow-lists every value is checked against before it reaches a shell
 * command, an ssh argument, nginx, Nix, systemd, JSON or a URL. Pure
 * predicates only: the config schema, the catalog validation and the host
 * commands all call these, so a rule is written once and a value refused at
 * plan time is refused for the same reason at deploy time.
 */

/** Whole-number ranges; the README and the config docs quote the same bounds. */
export const RANGES = {
  port: { min: 1, max: 65535 },
  sshPort: { min: 1, max: 65535 },
  keepGenerations: { min: 1, max: 100 },
  healthTimeoutSeconds: { min: 1, max: 3600 },
} as const;

export type Range = { readonly min: number; readonly max: number };

/** Length limits of free text that lands in config files and the dashboard. */
export const TEXT_LIMITS = {
  title: 64,
  description: 200,
  reason: 200,
} as const;

/**
 * The first character that may not appear in text written to a config file,
 * described for an error message, or undefined. C0 and C1 controls and DEL
 * end or bend lines in nginx, YAML and shell; U+2028/U+2029 are line breaks to
 * JavaScript and YAML; a lone surrogate cannot be written as UTF-8 and would
 * come back as U+FFFD.
 */
export function forbiddenCharacter(value: string): string | undefined {
  const m = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udfff]/u.exec(value);
  if (!m) return undefined;
  const code = m[0].codePointAt(0) as number;
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isDnsLabel(label: string): boolean {
  return LABEL.test(label);
}

/** A hostname or domain: dot-separated labels, at most 253 characters, with at least two labels. */
export function isHostname(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.split(".");
  return labels.length >= 2 && labels.every(isDnsLabel);
}

/**
 * Dotted-quad IPv4 with no leading zeros: inet_aton and some shells read
 * `010` as octal 8, so `192.168.001.010` would not be the host it looks like.
 */
export function isIPv4(value: string): boolean {
  const octets = value.split(".");
  return octets.length === 4 && octets.every((o) => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255);
}

/** An IPv4 address written with a leading zero in some octet. */
export function hasLeadingZeroOctet(value: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(value) && value.split(".").some((o) => o.length > 1 && o.startsWith("0"));
}

/** What ssh may be pointed at: a hostname (one label or more), an IPv4 or an IPv6 address. Never starts with "-". */
export function isSshHost(value: string): boolean {
  if (isIPv4(value)) return true;
  if (/^[0-9.]+$/.test(value)) return false;
  if (isIPv6(value)) return true;
  return value.length <= 253 && value.split(".").every(isDnsLabel);
}

/** Login and group names as NixOS's users module accepts them. */
export const POSIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Request path of an HTTP health check: it is a shell argument and part of a URL. */
export const HEALTH_PATH = /^\/[A-Za-z0-9/._~%?=&:+-]{0,255}$/;

/**
 * A systemd unit name with its type suffix. No leading "-", so it can never
 * be read as an option of systemctl, and no characters a shell or the
 * secrets record (tab-separated, comma-joined units) would treat specially.
 */
export const UNIT_NAME =
  /^[A-Za-z0-9_][A-Za-z0-9@._:-]{0,200}\.(service|socket|target|timer|path|mount|automount|swap|slice|scope|device)$/;

/** The pinned host key as `ssh-keyscan | cut -d' ' -f2-` prints it. */
export const HOST_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\s][ -~]*)?$/;

/** Cloudflare account and zone ids: 32 lowercase hex characters. */
export const CLOUDFLARE_ID = /^[0-9a-f]{32}$/;

/** A Pages project name; it becomes `<project>.pages.dev`. */
export const PAGES_PROJECT_NAME = /^[a-z0-9]([a-z0-9-]{0,56}[a-z0-9])?$/;

/** The domain a tunnel's routes are CNAMEs into: `<tunnel id>.cfargotunnel.com`. */
export const TUNNEL_CNAME_DOMAIN = "cfargotunnel.com";

/** What the stack files hold until the owner sets the real ids. */
export const PLACEHOLDER_CLOUDFLARE_ID = "0".repeat(32);

/** Pulumi stack names: letters, digits, hyphens, underscores and periods; they name files here. */
export const STACK_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;

/**
 * Whole number within a range, from a number or from the decimal text the
 * stack file and the engine give. `1e21`, `0x16`, `1.0`, `022` and `+5` are
 * refused: each parses as a number somewhere and as something else elsewhere.
 */
export function wholeNumber(value: unknown, range: Range): { value: number } | { error: string } {
  let n: number;
  if (typeof value === "number") {
    n = value;
  } else if (typeof value === "string" && /^(0|[1-9][0-9]{0,15})$/.test(value)) {
    n = Number(value);
  } else {
    return { error: `${JSON.stringify(value)} is not a whole number written in decimal digits` };
  }
  if (!Number.isSafeInteger(n)) return { error: `${JSON.stringify(value)} is not a whole number` };
  if (n < range.min || n > range.max) return { error: `${n} is outside ${range.min}..${range.max}` };
  return { value: n };
}

/**
 * Directories a home lab must never be given as its own: handing one of them
 * (or a parent of one) to the deploy would let it replace, or remove files
 * from, the system itself.
 */
export const SYSTEM_DIRS = ["/etc", "/etc/nixos", "/nix", "/var", "/var/lib", "/run", "/boot", "/home", "/root", "/usr"] as const;

const PLAIN_ABSOLUTE = /^(\/[A-Za-z0-9._@+-]+)+$/;

/** `a` is `b` or one of its ancestors. */
export function containsPath(a: string, b: string): boolean {
  return a === b || b.startsWith(`${a}/`);
}

/**
 * Why a host directory is refused, or undefined. It must be absolute and
 * normalised (no `.`, `..`, `//` or trailing slash), of plain segments (it
 * lands in shell commands and in Nix strings), not `/`, not a system directory
 * or an ancestor of one, and not in the Nix store.
 */
export function hostPathProblem(value: string): string | undefined {
  if (value.length > 200) return "is longer than 200 characters";
  if (!value.startsWith("/")) return "is not an absolute path";
  if (value === "/") return "is the root directory";
  if (posix.normalize(value) !== value || value.endsWith("/")) return "is not normalised (no ., .., // or trailing slash)";
  if (!PLAIN_ABSOLUTE.test(value) || value.split("/").some((s) => s === "." || s === "..")) {
    return "has characters other than letters, digits and . _ - + @ in its segments";
  }
  if (containsPath("/nix/store", value)) return "is in the Nix store, which is read-only and world-readable";
  const system = SYSTEM_DIRS.find((d) => containsPath(value, d));
  if (system) return value === system ? "is a system directory" : `contains the system directory ${system}`;
  return undefined;
}

/** An http(s) URL, written the way WHATWG URL writes it back, with no credentials in it. */
export function httpUrlProblem(value: string): string | undefined {
  if (value.length > 2048) return "is longer than 2048 characters";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `uses ${url.protocol}, only http: and https: are allowed`;
  if (url.username || url.password) return "carries a user name or password";
  if (url.href !== value) return `is not in normal form (it reads back as ${url.href})`;
  return undefined;
}

/** An IANA time zone that this Node.js (and so tzdata) knows, written in the zone database's characters. */
export function isTimeZone(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(value) || value.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** An email address for an Access policy: a plain local part at a hostname. */
export function isEmail(value: string): boolean {
  const at = value.lastIndexOf("@");
  return at > 0 && value.length <= 254 && /^[A-Za-z0-9._%+-]{1,64}$/.test(value.slice(0, at)) && isHostname(value.slice(at + 1).toLowerCase());
}
