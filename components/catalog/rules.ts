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
  confirmTimeoutSeconds: { min: 10, max: 3600 },
} as const;

export type Range = { readonly min: number; readonly max: number };

/** Length limits of free text that lands in config files and the dashboard. */
export const TEXT_LIMITS = {
  title: 64,
  description: 200,
  reason: 200,
} as const;

/** The characters forbiddenCharacter() refuses; finding control characters is this pattern's purpose. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: it matches control characters on purpose, to refuse them.
export const UNWRITABLE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udfff]/u;

/**
 * The first character that may not appear in text written to a config file,
 * described for an error message, or undefined. C0 and C1 controls and DEL
 * end or bend lines in nginx, YAML and shell; U+2028/U+2029 are line breaks to
 * JavaScript and YAML; a lone surrogate cannot be written as UTF-8 and would
 * come back as U+FFFD.
 */
export function forbiddenCharacter(value: string): string | undefined {
  const m = UNWRITABLE_CHARACTER.exec(value);
  if (!m) return undefined;
  const code = m[0].codePointAt(0) as number;
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isDnsLabel(label: string): boolean {
  return LABEL.test(label);
}

/**
 * A hostname or domain: dot-separated labels, at most 253 characters, with at
 * least two labels, and not ending in a number (see endsInNumber): such a
 * name is read as an IPv4 address, never looked up.
 */
export function isHostname(name: string): boolean {
  if (name.length > 253 || endsInNumber(name)) return false;
  const labels = name.split(".");
  return labels.length >= 2 && labels.every(isDnsLabel);
}

/**
 * Whether a name's last label (a trailing dot aside) is a number: decimal
 * digits, or 0x and hex digits. The WHATWG URL parser (browsers, fetch) reads
 * such a host as an IPv4 address, and so does inet_aton (ssh, curl, glibc),
 * octal, hex and shortened forms included: `0x7f.1`, `127.1` and `0177.0.0.1`
 * are all 127.0.0.1, and `1.2.3.4.5` or `256.1.1.1` are no address at all.
 * So a value that ends in a number is an address or an error, never a name:
 * it must be a canonical IPv4 address (isIPv4), or it is refused.
 */
export function endsInNumber(name: string): boolean {
  const labels = name.split(".");
  if (labels.length > 1 && labels[labels.length - 1] === "") labels.pop();
  return /^(?:[0-9]+|0[xX][0-9A-Fa-f]*)$/.test(labels[labels.length - 1]);
}

/**
 * Why a value that ends in a number (and so is read as an IPv4 address) is
 * refused, or undefined for any other value. `name` says what the key takes:
 * a key that takes addresses accepts the canonical form; a key that takes
 * names refuses every address.
 */
export function numericHostProblem(value: string, takes: "name" | "address"): string | undefined {
  // An IPv6 address may end in dotted numbers (::ffff:192.0.2.1); it is checked as IPv6.
  if (value.includes(":") || !endsInNumber(value)) return undefined;
  if (isIPv4(value)) return takes === "address" ? undefined : "is an IPv4 address, and this key takes a name";
  return "ends in a number, so ssh, browsers and resolvers read it as an IPv4 address, but it is not one in canonical form: four numbers from 0 to 255 in plain decimal, without leading zeros";
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

/**
 * What ssh may be pointed at: a hostname (one label or more) that does not end
 * in a number, a canonical IPv4 or an IPv6 address. Never starts with "-".
 */
export function isSshHost(value: string): boolean {
  if (isIPv4(value) || isIPv6(value)) return true;
  if (endsInNumber(value)) return false;
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
export const SYSTEM_DIRS = [
  "/etc",
  "/etc/nixos",
  "/nix",
  "/var",
  "/var/lib",
  "/run",
  "/boot",
  "/home",
  "/root",
  "/usr",
] as const;

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
  if (posix.normalize(value) !== value || value.endsWith("/"))
    return "is not normalised (no ., .., // or trailing slash)";
  if (!PLAIN_ABSOLUTE.test(value) || value.split("/").some((s) => s === "." || s === "..")) {
    return "has characters other than letters, digits and . _ - + @ in its segments";
  }
  if (containsPath("/nix/store", value)) return "is in the Nix store, which is read-only and world-readable";
  const system = SYSTEM_DIRS.find((d) => containsPath(value, d));
  if (system) return value === system ? "is a system directory" : `contains the system directory ${system}`;
  return undefined;
}

/**
 * The allow-lists of the deploy's own directories on the host, beyond the
 * shape hostPathProblem checks. What homelab-deploy.sh does with each decides
 * where it may be:
 *
 * - bundleDir: the apply moves whatever is at the path aside (to
 *   `<path>.pre-homelab`) and puts a link to the release in its place, and a
 *   channel host's /etc/nixos/configuration.nix imports it. So it is a folder
 *   of the host's configuration directory, /etc/nixos/, named with letters,
 *   digits, _ and - only: a name with a dot could be configuration.nix,
 *   flake.nix, flake.lock or .git, which the apply would move aside. Anywhere
 *   else it could replace a directory the system runs on (/etc/pam.d,
 *   /var/lib/nixos, ...).
 * - stateDir and credentialsDir: the deploy chowns the credentials directory
 *   to root and sets it 0711, writes, renames and removes files in both, and
 *   the services read their secrets from there at every start, after a reboot
 *   too. Secrets are written by `pulumi up` only, never at boot, so a tmpfs
 *   (/run, /tmp, /dev/shm) would leave the services without them after a
 *   reboot; /tmp, /var/tmp and /home are shared with other users, and another
 *   service's /var/lib directory would be chowned away from it. So both live
 *   in a directory the home lab owns, on persistent storage:
 *   /var/lib/homelab or /var/lib/homelab-<name> (or _<name>), or below it.
 */
export const HOST_DIR_ROOTS = {
  bundle: "/etc/nixos/",
  persistent: "/var/lib/homelab",
} as const;

/** A folder name below /etc/nixos that cannot be a file of the configuration or a hidden folder. */
const CONFIG_FOLDER = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
/** /var/lib/homelab, /var/lib/homelab-staging, /var/lib/homelab_ci, and anything below one of them. */
const HOMELAB_VAR_LIB = /^\/var\/lib\/homelab(?:[-_][A-Za-z0-9_-]+)?(?:\/.+)?$/;

export type HostDirKind = keyof typeof HOST_DIR_ROOTS;

/**
 * Why a directory the deploy owns is refused, or undefined: the shape of
 * hostPathProblem, then the allow-list of its kind (HOST_DIR_ROOTS).
 * `hostRoot` is the root of a test host's file system (test/host/support/
 * testhost.ts keeps a fake host under a temporary directory): the path must
 * be inside it, and what follows the root is checked as the host's path.
 */
export function hostDirProblem(kind: HostDirKind, value: string, hostRoot?: string): string | undefined {
  const shape = hostPathProblem(value);
  if (shape) return shape;
  let path = value;
  if (hostRoot !== undefined) {
    if (hostPathProblem(hostRoot) !== undefined)
      return `cannot be checked: the test host's root ${JSON.stringify(hostRoot)} is not an absolute, normalised path`;
    if (!value.startsWith(`${hostRoot}/`)) return `is outside the test host's root ${hostRoot}`;
    path = value.slice(hostRoot.length);
  }
  if (kind === "bundle") {
    if (!path.startsWith(HOST_DIR_ROOTS.bundle)) {
      return "is outside /etc/nixos/: the deploy moves whatever is at this path aside and links the release in its place, so it must be a folder of the host's configuration directory";
    }
    const bad = path
      .slice(HOST_DIR_ROOTS.bundle.length)
      .split("/")
      .find((seg) => !CONFIG_FOLDER.test(seg));
    if (bad !== undefined) {
      return `has ${JSON.stringify(bad)} below /etc/nixos/, which is not a plain folder name (letters, digits, _ and -): a name with a dot could be configuration.nix, flake.lock or .git, which the deploy would move aside`;
    }
    return undefined;
  }
  if (!HOMELAB_VAR_LIB.test(path)) {
    return "is outside /var/lib/homelab: the deploy makes this directory root's and keeps files there that must outlive a reboot, so it must be the home lab's own directory on persistent storage, /var/lib/homelab or /var/lib/homelab-<name>, or below it (never /tmp, /run, /var/tmp, /dev/shm, /home or another service's /var/lib directory)";
  }
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
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return `uses ${url.protocol}, only http: and https: are allowed`;
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
  return (
    at > 0 &&
    value.length <= 254 &&
    /^[A-Za-z0-9._%+-]{1,64}$/.test(value.slice(0, at)) &&
    isHostname(value.slice(at + 1).toLowerCase())
  );
}

/**
 * Why `name` is not a branch name, or undefined. git check-ref-format's rules
 * (no `..`, no component starting with `.` or ending in `.lock`, no empty
 * component, not ending in `.`, no `@{`, no space, control character or any
 * of ~ ^ : ? * [ \\), narrowed to an allow-list of characters, letters,
 * digits and . _ - /, and not starting with - (git would read an option).
 */
export function gitBranchProblem(name: string): string | undefined {
  if (name.length > 200) return "is longer than 200 characters";
  if (!/^[A-Za-z0-9._/-]+$/.test(name))
    return "has a character other than letters, digits and . _ - / (git refuses spaces, control characters, ~ ^ : ? * [ \\ and @{ in a branch name)";
  if (name.startsWith("-")) return "starts with -, which git reads as an option";
  if (name === "HEAD") return "is HEAD, which is not a branch";
  if (name.includes("..")) return "contains .., which git refuses in a branch name";
  if (name.endsWith(".")) return "ends with ., which git refuses in a branch name";
  for (const part of name.split("/")) {
    if (part === "") return "has an empty component: it starts or ends with / or has //";
    if (part.startsWith(".")) return `has the component ${JSON.stringify(part)}, and git refuses one starting with .`;
    if (part.endsWith(".lock")) return `has the component ${JSON.stringify(part)}, and git refuses one ending in .lock`;
  }
  return undefined;
}

/**
 * Why `path` is not a folder inside a repository, given relative to its
 * root, or undefined: segments of letters, digits and . _ - between single
 * slashes, no `.` or `..` segment, no leading or trailing /.
 */
export function repoFolderProblem(path: string): string | undefined {
  if (path.length > 200) return "is longer than 200 characters";
  if (path.startsWith("/")) return "is an absolute path, not a folder relative to the repository's root";
  if (!/^[A-Za-z0-9._/-]+$/.test(path)) return "has a character other than letters, digits and . _ - /";
  for (const seg of path.split("/")) {
    if (seg === "") return "has an empty segment: it ends with / or has //";
    if (seg === "..") return "has a .. segment, so it may climb out of the repository";
    if (seg === ".") return "has a . segment; write the folder without it";
  }
  return undefined;
}

/** The years apiClientKeyOverlapUntil may fall in: a fixed window, so the offline plan never reads the clock. */
export const OVERLAP_YEARS = { min: 2020, max: 2099 } as const;

/**
 * Why `value` is not a UTC time `YYYY-MM-DDTHH:MM:SSZ` that is on the
 * calendar and in OVERLAP_YEARS, or undefined. Date.parse rolls an impossible
 * date over (2026-02-31 is read as 2026-03-03, 24:00:00 as the next day), so
 * the parsed time must print back as the same text.
 */
export function utcTimeProblem(value: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value)) return "is not a UTC time written as YYYY-MM-DDTHH:MM:SSZ";
  const ms = Date.parse(value);
  const back = Number.isNaN(ms) ? undefined : new Date(ms).toISOString().replace(/\.000Z$/, "Z");
  if (back !== value) return back ? `is not on the calendar (it would be read as ${back})` : "is not on the calendar";
  const year = Number(value.slice(0, 4));
  if (year < OVERLAP_YEARS.min || year > OVERLAP_YEARS.max)
    return `is in ${year}, outside ${OVERLAP_YEARS.min}-${OVERLAP_YEARS.max}`;
  return undefined;
}

/** The armour line of a PEM (or PGP) private key: RSA, EC, DSA, OPENSSH, ENCRYPTED, PKCS#8, ... */
export const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/;
