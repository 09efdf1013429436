import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";

/**
 * The NixOS bundle as the host receives it: a deterministic tar stream and a
 * content hash that the host can recompute with coreutils alone.
 *
 * The hash is the sha256 of the bundle's manifest, which is exactly what
 * `find . -type f | LC_ALL=C sort | xargs sha256sum` prints in the bundle
 * directory: one `<sha256>  <path>` line per file, sorted by path. So the
 * host checks a pushed bundle, and `observe` checks the deployed one, with
 * the same rule the program used to declare it.
 */

/** Where the host-side script sits inside the bundle. */
export const DEPLOY_SCRIPT_PATH = "deploy/homelab-deploy.sh";

/** Where, under the host's state directory, the push keeps the newest release's script for the secrets commands. */
export const SCRIPT_COPY_PATH = "bin/homelab-deploy.sh";

/** The release's health checks, generated (`deployLists`); the apply reads them from the release. */
export const HEALTH_CHECKS_PATH = "generated/health-checks.tsv";

/** The secret files the release declares, generated (`deployLists`); the apply reads them from the release. */
export const SECRET_FILES_PATH = "generated/secret-files.list";

/**
 * Bundle paths are plain relative paths: no `.`/`..` segments, no spaces or
 * shell metacharacters, no segment starting with `-`. sha256sum escapes unusual names, and the host's hash
 * must match the program's byte for byte.
 */
const SAFE_PATH = /^[A-Za-z0-9._@+][A-Za-z0-9._@+-]*(\/[A-Za-z0-9._@+][A-Za-z0-9._@+-]*)*$/;

export type BundleInput = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

/** The bundle's files sorted by path (byte order, like `LC_ALL=C sort`). */
export function bundleEntries(bundle: BundleInput): [string, string][] {
  const entries: [string, string][] =
    bundle instanceof Map
      ? [...(bundle as ReadonlyMap<string, string>).entries()]
      : Object.entries(bundle as Record<string, string>);
  for (const [path] of entries) {
    if (!SAFE_PATH.test(path) || path.split("/").some((s) => s === "." || s === "..")) {
      throw new Error(`bundle path "${path}" is not a plain relative path (letters, digits, . _ - + @ and /)`);
    }
  }
  return entries.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The `sha256sum` manifest of a bundle: `<sha256>  <path>\n` per file, sorted by path. */
export function bundleManifest(bundle: BundleInput): string {
  return bundleEntries(bundle)
    .map(([path, content]) => `${sha256Hex(Buffer.from(content, "utf8"))}  ${path}\n`)
    .join("");
}

/** The bundle's content hash: sha256 of its manifest. Names the release on the host. */
export function bundleHash(bundle: BundleInput): string {
  return sha256Hex(bundleManifest(bundle));
}

// --- ustar -----------------------------------------------------------------
// A minimal POSIX ustar writer: regular files only (tar creates the parent
// directories), mtime 0 and uid/gid 0 so the same bundle is the same bytes.
// https://www.gnu.org/software/tar/manual/html_node/Standard.html

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: "" };
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  throw new Error(`bundle path "${path}" is too long for a tar header`);
}

function header(path: string, size: number, mode: number): Buffer {
  const buf = Buffer.alloc(BLOCK, 0);
  const { name, prefix } = splitName(path);
  buf.write(name, 0, 100, "utf8");
  buf.write(octal(mode, 8), 100, 8, "ascii");
  buf.write(octal(0, 8), 108, 8, "ascii"); // uid
  buf.write(octal(0, 8), 116, 8, "ascii"); // gid
  buf.write(octal(size, 12), 124, 12, "ascii");
  buf.write(octal(0, 12), 136, 12, "ascii"); // mtime
  buf.write("        ", 148, 8, "ascii"); // checksum placeholder: eight spaces
  buf.write("0", 156, 1, "ascii"); // regular file
  buf.write("ustar\0", 257, 6, "ascii");
  buf.write("00", 263, 2, "ascii");
  buf.write("root", 265, 32, "ascii");
  buf.write("root", 297, 32, "ascii");
  buf.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return buf;
}

/** The bundle as a tar archive. Shell scripts get mode 0755, everything else 0644. */
export function bundleTar(bundle: BundleInput): Buffer {
  const parts: Buffer[] = [];
  for (const [path, content] of bundleEntries(bundle)) {
    const data = Buffer.from(content, "utf8");
    parts.push(header(path, data.length, path.endsWith(".sh") ? 0o755 : 0o644), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

/**
 * What the push command reads on stdin: the tar, gzip-compressed, then
 * base64-encoded on one line that ends with a newline (the host takes a
 * stream without it for a cut one). The remote.Command provider keeps stdin
 * in the stack's state in plaintext: the bundle holds no secret, and the
 * compression keeps that copy small (see the operator pages, "Deploying and drift").
 */
export function bundleStdin(bundle: BundleInput): string {
  // Level 9 and zlib's fixed header (no name, mtime 0): the same bundle is the same bytes.
  return `${gzipSync(bundleTar(bundle), { level: 9 }).toString("base64")}\n`;
}

/**
 * The release an apply's output says is live: the hash of its last "bundle
 * <hash> is live" or "is already live" line (homelab-deploy.sh's apply).
 */
export function liveBundleOf(applyLog: string): string | undefined {
  return [...applyLog.matchAll(/\bbundle ([0-9a-f]{64}) is (?:already )?live as system generation/g)].at(-1)?.[1];
}
