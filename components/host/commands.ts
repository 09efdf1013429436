import { createHash, createHmac } from "node:crypto";
import type { ResolvedService } from "../catalog/resolve";
import type { NixosFlake } from "../config/hosts";
import {
  HEALTH_PATH,
  HOST_KEY,
  POSIX_NAME,
  RANGES,
  UNIT_NAME,
  containsPath,
  hostPathProblem,
  isSshHost,
} from "../catalog/rules";
import { DEPLOY_SCRIPT_PATH, HEALTH_CHECKS_PATH, SCRIPT_COPY_PATH, SECRET_FILES_PATH } from "./bundle";
import { SECRETS_STREAM, formatLine } from "./formats";

/**
 * Every string the NixosHost component sends to the host, built by pure
 * functions: the unit tests check them, and the SSH tests run exactly these
 * against a real sshd. The component only wires them into remote.Command.
 *
 * The logic itself lives in nixos/deploy/homelab-deploy.sh, which ships in the
 * bundle; these commands call it. Two of them (preflight and observe) send the
 * declared script on stdin instead, so they work before the first push and
 * never depend on a copy on the host that may have been edited.
 */

/** Where the host keeps things; see `StackConfig.paths`. */
export interface HostPaths {
  /** Where the NixOS bundle is linked; `/etc/nixos/configuration.nix` imports it. @example "/etc/nixos/homelab" */
  bundleDir: string;
  /** Root-owned directory of the secret files, outside the Nix store. @example "/var/lib/homelab/secrets" */
  secretsDir: string;
  /** Releases, the deploy lock and the record of the last deploy. @example "/var/lib/homelab/state" */
  stateDir: string;
}

/** A check that proves a service is up after a switch, run on the host against 127.0.0.1. */
export interface HostHealthCheck {
  /** Service id, named in the failure message. */
  id: string;
  /** `http`: a GET answers below 500. `tcp`: a connect succeeds. */
  kind: "http" | "tcp";
  /** Local port. */
  port: number;
  /** Request path of an `http` check. @default "/" */
  path?: string;
}

/** The parts of a ResolvedSecret the host needs to place the file. */
export interface SecretFileSpec {
  /** `<service>.<name>`. */
  key: string;
  /** Absolute path under the secrets directory. */
  path: string;
  /** Group that may read the file; `root` when only root may. */
  group: string;
  /** `0400`, or `0440` when the group reads it. */
  mode: "0400" | "0440";
  /** Units restarted when the value changes. */
  units: string[];
}

/** Quote a string for a POSIX shell: single quotes, with embedded ones escaped. */
export function shq(value: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const SAFE_ABSOLUTE = /^(\/[A-Za-z0-9._@+-]+)+$/;
const SERVICE_ID = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Throws unless every path passes the config schema's rule (absolute,
 * normalised, plain, no system directory) and none holds another: they end
 * up in shell commands and Nix imports. The schema refuses the same values
 * at plan time; this is the last check before they reach the host.
 */
export function validatePaths(paths: HostPaths): void {
  for (const [field, value] of Object.entries(paths) as [string, string][]) {
    const why = typeof value === "string" ? hostPathProblem(value) : "is not a string";
    if (why) throw new Error(`paths.${field} ${JSON.stringify(value)} ${why}`);
  }
  const entries = Object.entries(paths) as [string, string][];
  for (const [a, va] of entries) {
    for (const [b, vb] of entries) {
      if (a !== b && containsPath(va, vb)) {
        const where = a === "bundleDir" ? "inside the bundle directory" : `inside paths.${a}`;
        throw new Error(
          `paths.${b} "${vb}" must not be ${va === vb ? `the same directory as paths.${a}` : where} "${va}"`,
        );
      }
    }
  }
}

/**
 * Throws unless host, port and user are what the config schema allows: the
 * same rule again where they become ssh arguments, for callers that did not
 * come through the schema.
 */
export function sshTargetCheck(host: string, port: number, user: string): void {
  if (typeof host !== "string" || !isSshHost(host))
    throw new Error(`ssh host ${JSON.stringify(host)} is not a hostname or IP address; set homelab:sshHost to one`);
  if (!Number.isSafeInteger(port) || port < RANGES.sshPort.min || port > RANGES.sshPort.max)
    throw new Error(`ssh port ${port} is not a whole number from 1 to 65535; fix homelab:sshPort`);
  if (typeof user !== "string" || !POSIX_NAME.test(user))
    throw new Error(`ssh user ${JSON.stringify(user)} is not a login name; fix homelab:sshUser`);
}

/** The command that pins a host key, for error messages. */
export function hostKeyFix(host: string, port: number): string {
  const p = port === 22 ? "" : ` -p ${port}`;
  return (
    `pulumi config set homelab:sshHostKey "$(ssh-keyscan -t ed25519${p} ${host} 2>/dev/null | cut -d' ' -f2-)"` +
    ` and compare its fingerprint with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` run on the host's console`
  );
}

/**
 * The pinned host key as `<type> <base64>`, the form the remote.Command
 * provider and a known_hosts line take. Throws, naming the config key and the
 * command that sets it, when it is missing or malformed: a deploy never trusts
 * a host key on first use.
 */
export function pinnedHostKey(hostKey: string | undefined, host: string, port: number): string {
  const line = (hostKey ?? "").trim();
  if (line === "") {
    throw new Error(
      `no pinned SSH host key for ${host}:${port}, so the deploy refuses to connect. Set homelab:sshHostKey: ${hostKeyFix(host, port)}`,
    );
  }
  if (!HOST_KEY.test(line)) {
    const hint = /^\S+ (ssh-|ecdsa-|sk-)/.test(line)
      ? " (it looks like a whole ssh-keyscan line: drop the leading host name)"
      : "";
    throw new Error(
      `homelab:sshHostKey is not a public key line "<type> <base64>"${hint}. Set it with: ${hostKeyFix(host, port)}`,
    );
  }
  const [type, key] = line.split(" ");
  return `${type} ${key}`;
}

/** Health checks of the enabled services: every service with a port and an http or tcp check. */
export function healthChecksFor(services: readonly ResolvedService[]): HostHealthCheck[] {
  const checks: HostHealthCheck[] = [];
  for (const s of services) {
    if (s.status !== "enabled" || s.port === null || s.host === null || s.health.kind === "none") continue;
    checks.push(
      s.health.kind === "http"
        ? { id: s.id, kind: "http", port: s.port, path: s.health.path }
        : { id: s.id, kind: "tcp", port: s.port },
    );
  }
  return checks;
}

/** One check's line in the release's health-checks file: id, kind, port and path, tab-separated. */
export function checkLine(check: HostHealthCheck): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(check.id)) throw new Error(`health check id "${check.id}" must be a catalog id`);
  if (!Number.isInteger(check.port) || check.port < 1 || check.port > 65535)
    throw new Error(`health check of ${check.id}: port ${check.port} is not a TCP port`);
  if (check.kind === "tcp") return `${check.id}\ttcp\t${check.port}\t`;
  const path = check.path ?? "/";
  if (!HEALTH_PATH.test(path)) throw new Error(`health check of ${check.id}: path "${path}" is not a plain URL path`);
  return `${check.id}\thttp\t${check.port}\t${path}`;
}

/**
 * The two files the apply reads from the release it switches to: the health
 * checks and the secret files the release declares. They travel inside the
 * hashed bundle rather than on the apply's command line, which would grow by
 * one argument per service and pass the kernel's 128 KiB limit on a single
 * argument (MAX_ARG_STRLEN) at a few thousand services. Sorted, so the order
 * services are declared in changes nothing.
 */
export function deployLists(
  checks: readonly HostHealthCheck[],
  secretFiles: readonly string[],
  paths: HostPaths,
): Map<string, string> {
  const header = (what: string) =>
    `# Generated by the homelab program (deployLists in components/host/commands.ts) from the catalog: ${what}.\n` +
    "# Regenerated by npm start and pulumi up; do not edit. homelab-deploy.sh apply reads it.\n";
  const lines = [...checks]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.port - b.port))
    .map((c) => `${checkLine(c)}\n`)
    .join("");
  const files = [...secretFiles]
    .sort()
    .map((file) => {
      if (!file.startsWith(`${paths.secretsDir}/`) || !SAFE_ABSOLUTE.test(file) || file.split("/").includes("..")) {
        throw new Error(`secret file "${file}" is not under paths.secretsDir "${paths.secretsDir}"`);
      }
      return `${file}\n`;
    })
    .join("");
  return new Map([
    [HEALTH_CHECKS_PATH, `${header("the health checks, id<TAB>kind<TAB>port<TAB>path")}${lines}`],
    [SECRET_FILES_PATH, `${header("the secret files the release declares, one path a line")}${files}`],
  ]);
}

/** Where a release lists its services' units, ports and state, for the first deploy's takeover report. */
export const TAKEOVER_PATH = "generated/takeover.tsv";

/** One catalog service as the takeover report looks for it on a host that already runs it. */
export interface TakeoverEntry {
  id: string;
  units: readonly string[];
  port: number | null;
  /** Its state on the host: the catalog's backup paths. */
  paths: readonly string[];
}

/**
 * `generated/takeover.tsv`: id, units, port and state paths of each service
 * of the release. The first apply to a host reads it before it builds, to
 * report what already runs there (homelab-deploy.sh report_takeover).
 */
export function takeoverList(entries: readonly TakeoverEntry[]): Map<string, string> {
  const header =
    "# Generated by the homelab program (takeoverList in components/host/commands.ts) from the catalog:\n" +
    "# id<TAB>units<TAB>port<TAB>state paths. The first apply reports which already run; do not edit.\n";
  const field = (values: readonly string[]) => (values.length > 0 ? values.join(" ") : "-");
  const lines = [...entries]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((e) => {
      for (const u of e.units)
        if (!UNIT_NAME.test(u)) throw new Error(`service ${e.id}: unit "${u}" is not a unit name`);
      for (const p of e.paths)
        if (!SAFE_ABSOLUTE.test(p)) throw new Error(`service ${e.id}: state path "${p}" is not a plain absolute path`);
      return `${e.id}\t${field(e.units)}\t${e.port ?? "-"}\t${field(e.paths)}\n`;
    })
    .join("");
  return new Map([[TAKEOVER_PATH, `${header}${lines}`]]);
}

function pathArgs(paths: HostPaths): string {
  return `--bundle-dir ${shq(paths.bundleDir)} --secrets-dir ${shq(paths.secretsDir)} --state-dir ${shq(paths.stateDir)}`;
}

/** The script inside a pushed release; stable for as long as the bundle is. */
export function releaseScript(paths: HostPaths, hash: string): string {
  return `${paths.stateDir}/releases/${hash}/${DEPLOY_SCRIPT_PATH}`;
}

/**
 * Read-only check that runs before anything changes: the host answers with
 * the pinned key, the login is root, and the tools a deploy needs are there.
 * stdin: the declared deploy script.
 */
export function preflightCommand(paths: HostPaths): string {
  return `bash -s -- preflight ${pathArgs(paths)}`;
}

/**
 * Read-only report of the host's state (bundle hash, secret file hashes,
 * generations, failed units). stdin: the declared deploy script.
 */
export function observeCommand(paths: HostPaths): string {
  return `bash -s -- observe ${pathArgs(paths)}`;
}

function recordArg(record: string | undefined): string {
  if (record === undefined) return "";
  if (!/^[A-Za-z0-9+/=]*$/.test(record)) throw new Error("a stage record must be base64");
  return ` --record ${record}`;
}

/**
 * Unpack the bundle from stdin (base64 of a gzip-compressed tar) into a fresh
 * directory under the state directory, check its content hash, and only then
 * hand it to the script it contains, which keeps it as release <hash>.
 *
 * The check is here, in the bootstrap, and not in the uploaded script: this
 * command comes from the program (and sits in Pulumi state), the upload does
 * not, and a script must not vouch for itself. It computes the same manifest
 * hash as `bundleHash()` (sha256 of `sha256sum` over the files sorted by
 * path), with coreutils only, and refuses a tree with anything but regular
 * files and directories before a byte of it is unpacked. Every refused upload
 * (nothing on stdin, not base64, cut off, not a gzip'd tar, altered) gets one
 * line saying what arrived; the trap removes what was staged, so nothing the
 * host uses is touched.
 */
export function pushCommand(paths: HostPaths, hash: string, record?: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`"${hash}" is not a bundle hash`);
  const body = [
    "set -euo pipefail",
    "umask 022",
    `state=${shq(paths.stateDir)}`,
    `expected=${hash}`,
    'refuse() { echo "homelab-deploy: push refused: $1; nothing on the host changed. Run pulumi up again to send the bundle again" >&2; exit 1; }',
    'mkdir -p -- "$state/store"',
    'incoming=$(mktemp -d -- "$state/store/.incoming.XXXXXXXX")',
    'trap \'rm -rf -- "$incoming" "$incoming.upload" "$incoming.tgz"\' EXIT',
    "trap 'exit 129' HUP INT TERM PIPE",
    // A full disk is named as one, with its file system, mount point and free space: the
    // tools' own words (a write error, a bad stream, "could not be unpacked") would send
    // whoever reads them after the wrong problem.
    'disk() { df -Pk -- "$state/store" 2>/dev/null | awk \'NR == 2 { printf "file system %s mounted on %s: %d KiB free of %d KiB", $1, $6, $4, $2 }\'; }',
    'full() { refuse "the disk that holds $state/store is full ($(disk)) $1. Free space there (nix-collect-garbage --delete-older-than 30d removes old system generations; du -sh $state/* shows what the deploy keeps)"; }',
    'nospace() { [[ $1 == *"No space left on device"* || $1 == *"Disk quota exceeded"* ]]; }',
    'err=$(cat 2>&1 >"$incoming.upload") || { if nospace "$err"; then full "while the bundle arrived"; fi; refuse "the bundle could not be stored on the host: ${err##*: }"; }',
    'size=$(stat -c %s -- "$incoming.upload")',
    '((size > 0)) || refuse "no bundle arrived, stdin was empty"',
    '[[ $(LC_ALL=C tr -d "A-Za-z0-9+/=\\n" <"$incoming.upload" | head -c 1 | wc -c) == 0 ]] || refuse "what arrived ($size bytes) is not a base64 bundle"',
    // The program ends the stream with a newline; without it the stream was cut.
    '[[ -z $(tail -c 1 -- "$incoming.upload") ]] || refuse "the bundle was cut off in transfer ($size bytes arrived, without the end of the stream)"',
    'err=$(base64 -d <"$incoming.upload" 2>&1 >"$incoming.tgz") || { if nospace "$err"; then full "while the bundle was decoded"; fi; refuse "what arrived ($size bytes) is not valid base64"; }',
    '[[ $(head -c 2 -- "$incoming.tgz" | od -An -tx1 | tr -d " \\n") == 1f8b ]] || refuse "what arrived ($size bytes) is base64 but not a gzip-compressed tar bundle"',
    'gzip -t <"$incoming.tgz" 2>/dev/null || refuse "the bundle was cut off in transfer (the compressed stream of $size bytes ends early or is damaged)"',
    'types=$(tar -t -v -z -f "$incoming.tgz" 2>/dev/null | cut -c1 | LC_ALL=C sort -u | tr -d "\\n") || refuse "what arrived ($size bytes) is not a tar archive"',
    '[[ $types =~ ^[-d]+$ ]] || refuse "the bundle holds entries other than regular files and directories (link or device)"',
    // Room for the unpacked tree (gzip -l: the size of the tar, a little more than its files), checked before a file is written.
    "need=$(gzip -l -- \"$incoming.tgz\" 2>/dev/null | awk 'NR == 2 { print int($2 / 1024) + 1 }') || true",
    "avail=$(df -Pk -- \"$state/store\" 2>/dev/null | awk 'NR == 2 { print $4 }') || true",
    'if [[ $need =~ ^[0-9]+$ && $avail =~ ^[0-9]+$ ]] && ((need > avail)); then full "for the unpacked bundle, which needs $need KiB"; fi',
    'err=$(tar -x -m -z --no-same-owner -f "$incoming.tgz" -C "$incoming" 2>&1) || { if nospace "$err"; then full "while the bundle was unpacked"; fi; refuse "the bundle could not be unpacked"; }',
    '[[ -z $(find "$incoming/" -mindepth 1 ! -type f ! -type d -print -quit) ]] || refuse "the bundle holds entries other than regular files and directories (link or device)"',
    'got=$(cd -- "$incoming" && find . -type f -printf \'%P\\0\' | LC_ALL=C sort -z | xargs -0 -r sha256sum -- | sha256sum | cut -d" " -f1)',
    '[[ $got == "$expected" ]] || refuse "the bundle arrived altered (content hash $got, the program declared $expected)"',
    `bash "$incoming/${DEPLOY_SCRIPT_PATH}" push ${pathArgs(paths)}${recordArg(record)} "$incoming" "$expected"`,
  ].join("\n");
  return `bash -c ${shq(body)}`;
}

/**
 * Write one service's secret files and restart the units of the ones whose
 * content changed. No rebuild. It runs the copy of the deploy script the
 * push keeps at `<stateDir>/bin/homelab-deploy.sh` (the newest pushed
 * release's), so stdin holds only the service's secrets (`secretsStdin`),
 * and the command names no release: a bundle change leaves every service's
 * secrets command as it is. A file its
 * last run wrote and it no longer declares goes at once, unless the live
 * release declares it: then the apply removes it once a release without it
 * has passed its health checks, so a rollback finds it in place. A file no
 * deploy wrote stays. The service's files are replaced all together or not at
 * all, and never through a symlink.
 */
export function secretsCommand(paths: HostPaths, service: string, record?: string): string {
  if (!SERVICE_ID.test(service)) throw new Error(`secrets command: "${service}" is not a catalog service id`);
  const script = `${paths.stateDir}/${SCRIPT_COPY_PATH}`;
  const body = [
    `script=${shq(script)}`,
    '[[ -f $script && ! -L $script ]] || { echo "homelab-deploy: secrets: $script is missing; the push stage installs it. Run pulumi up again: its drift check finds the script missing and pushes again" >&2; exit 1; }',
    `exec bash "$script" secrets --service ${service} ${pathArgs(paths)}${recordArg(record)}`,
  ].join("\n");
  return `bash -c ${shq(body)}`;
}

/**
 * What `pulumi destroy`, or dropping the service, runs for a service's
 * secrets command: remove the service's secret files and its records, so no
 * secret stays on a host Pulumi no longer manages. It acts only while the
 * host's record of the service's last secrets run is this command's own
 * `record`: when the command is replaced (a rotated value), Pulumi creates
 * the new one first and deletes the old one after, and the old one's delete
 * then finds the new record and leaves the new files alone. The engine runs
 * deletes of dropped resources only after every other step succeeded, and
 * never for a dependency of a failed one, so a failed rebuild that rolled
 * back keeps the files its generation reads.
 */
export function secretsDeleteCommand(paths: HostPaths, service: string, record: string): string {
  if (!SERVICE_ID.test(service)) throw new Error(`secrets delete command: "${service}" is not a catalog service id`);
  recordArg(record);
  const body = [
    "set -euo pipefail",
    `state=${shq(paths.stateDir)}`,
    `dir=${shq(`${paths.secretsDir}/${service}`)}`,
    `[[ -d $state ]] || { echo "homelab-deploy: nothing of ${service} to remove: no state directory"; exit 0; }`,
    'exec 9>>"$state/lock"',
    'flock -w 900 9 || { echo "homelab-deploy: another deploy has held $state/lock for 15 minutes" >&2; exit 1; }',
    `recorded=$(head -n 1 -- "$state/record.secrets.${service}" 2>/dev/null || true)`,
    `if [[ $recorded != ${shq(record)} ]]; then echo "homelab-deploy: ${service}'s secrets were written by a newer deploy; nothing removed"; exit 0; fi`,
    // rm -r never follows a symlink it meets, and a symlink in place of the directory goes as a link.
    'rm -rf -- "$dir"',
    `rm -f -- "$state/secrets.d/${service}.manifest" "$state/secrets.d/${service}.pending" "$state/secrets.d/${service}.restart" "$state/secrets.d/${service}.lock" "$state/record.secrets.${service}"`,
    `echo "homelab-deploy: removed the secret files of ${service}"`,
  ].join("\n");
  return `bash -c ${shq(body)}`;
}

export interface ApplyOptions {
  /** System generations kept after a healthy switch. */
  keepGenerations: number;
  /** Seconds the release's health checks have to pass. */
  healthTimeoutSeconds: number;
  /**
   * Seconds the host waits, once the checks pass, for the deployer's
   * confirmation over a new SSH connection (`confirmCommand`) before it rolls
   * back by itself. Unset: the apply commits as soon as the checks pass.
   */
  confirmTimeoutSeconds?: number;
  /** A flake host's flake and bundle input; undefined for a channel host. */
  flake?: NixosFlake;
}

/**
 * Switch to release <hash> (skipped when it is already the applied one and the
 * generation is the one the last deploy made), run the health checks, and roll
 * back the system and the bundle link when they fail, to what the apply's
 * journal recorded before it changed anything; an apply that was killed is
 * finished by the next one. On the host this runs in a session of its own, so
 * it finishes even if the SSH connection drops during the switch; its output
 * and exit status stay under `<stateDir>/apply-log/`.
 *
 * The health checks and the secret files the release declares come from the
 * release itself (`deployLists`), so the command has the same size for one
 * service or ten thousand.
 *
 * `record` (push, secrets, apply): the stage's StageRecord, base64, which the
 * host keeps once the stage succeeds; see `stageTriggers`.
 */
export function applyCommand(paths: HostPaths, hash: string, options: ApplyOptions, record?: string): string {
  const { keepGenerations, healthTimeoutSeconds, confirmTimeoutSeconds } = options;
  const numbers: [keyof typeof RANGES, number | undefined][] = [
    ["keepGenerations", keepGenerations],
    ["healthTimeoutSeconds", healthTimeoutSeconds],
    ["confirmTimeoutSeconds", confirmTimeoutSeconds],
  ];
  for (const [field, v] of numbers) {
    if (v === undefined && field === "confirmTimeoutSeconds") continue;
    checkRange(field, v);
  }
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`"${hash}" is not a bundle hash`);
  const flake = options.flake ? ` --flake ${shq(options.flake.ref)} --flake-input ${shq(options.flake.input)}` : "";
  const confirm = confirmTimeoutSeconds === undefined ? "" : ` --confirm-timeout ${confirmTimeoutSeconds}`;
  return `bash ${shq(releaseScript(paths, hash))} apply ${pathArgs(paths)} --keep ${keepGenerations} --timeout ${healthTimeoutSeconds}${confirm}${flake}${recordArg(record)} ${hash}`;
}

function checkRange(field: keyof typeof RANGES, v: number | undefined): void {
  const { min, max } = RANGES[field];
  if (v === undefined || !Number.isSafeInteger(v) || v < min || v > max)
    throw new Error(`${field} must be a whole number from ${min} to ${max}, got ${v}`);
}

/**
 * What the deployer runs on the host over a new SSH connection once the
 * apply has passed its checks: record release <hash> as live and disarm the
 * rollback the apply armed. Reaching the host at all is the point: a release
 * that broke sshd, the firewall or the network cannot be confirmed, and the
 * host rolls it back by itself. Idempotent (an already confirmed release
 * succeeds again), and it refuses any release but the one awaiting.
 * `record` is the rebuild stage's, kept once the release is confirmed.
 */
export function confirmCommand(paths: HostPaths, hash: string, record?: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`"${hash}" is not a bundle hash`);
  return `bash ${shq(releaseScript(paths, hash))} confirm ${pathArgs(paths)}${recordArg(record)} ${hash}`;
}

/** The first line the confirming connection prints on the host: past it, a failure is the host's answer, not a connection that never came. */
const CONNECTED = "homelab-deploy: confirm: connected";

/** Where the deployer opens the confirming connection. */
export interface ConfirmTarget {
  host: string;
  port: number;
  user: string;
  /** Pinned host key, `<type> <base64>`. */
  hostKey: string;
}

/**
 * The deployer-side command (local.Command, POSIX sh) that confirms a switch:
 * a new ssh connection with the pinned host key only (a known_hosts file of
 * that one key, StrictHostKeyChecking=yes), running `confirmCommand`. The
 * private key arrives on stdin and lives in a 0700 temp dir for the call; it
 * never appears in argv or the environment. While the host does not answer,
 * it tries again for half the confirm timeout (a network restart takes a few
 * seconds); then it fails, saying the host could not be reached after the
 * switch and rolls back by itself.
 */
export function confirmLocalCommand(
  target: ConfirmTarget,
  remoteCommand: string,
  confirmTimeoutSeconds: number,
  hostName?: string,
): string {
  sshTargetCheck(target.host, target.port, target.user);
  checkRange("confirmTimeoutSeconds", confirmTimeoutSeconds);
  if (!HOST_KEY.test(target.hostKey)) throw new Error("the confirm needs the pinned host key <type> <base64>");
  const retry = Math.floor(confirmTimeoutSeconds / 2);
  const where = hostName === undefined ? "the host" : `host ${hostName}`;
  const unreachable =
    `homelab-deploy: confirm: ${where} (${target.user}@${target.host}:${target.port}) could not be reached over a new SSH connection after the switch, for ${retry}s ($why). ` +
    `Its health checks had passed, but without this confirmation it rolls back by itself within homelab:confirmTimeoutSeconds (${confirmTimeoutSeconds}s) of them: ` +
    `the system, the bundle link and the records go back to the release before. Look at what the release changes in sshd, the firewall or the network, then run pulumi up again`;
  const lines = [
    "set -u",
    'dir=$(mktemp -d "${TMPDIR:-/tmp}/homelab-confirm.XXXXXX") || exit 1',
    "trap 'rm -rf \"$dir\"' EXIT",
    "trap 'exit 129' HUP INT TERM",
    "umask 077",
    'cat >"$dir/id"',
    `printf '%s\\n' ${shq(`homelab-deploy-target ${target.hostKey}`)} >"$dir/known_hosts"`,
    `deadline=$(($(date +%s) + ${retry}))`,
    "while :; do",
    `  ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=homelab-deploy-target -o UpdateHostKeys=no -o IdentitiesOnly=yes -o IdentityAgent=none -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR -i "$dir/id" -p ${target.port} -l ${shq(target.user)} -- ${shq(target.host)} ${shq(`echo ${CONNECTED}; ${remoteCommand}`)} </dev/null >"$dir/out" 2>"$dir/err"`,
    "  rc=$?",
    // 255 without the marker is ssh's own failure (no connection, refused key): try again. With it, the host answered.
    `  if [ "$rc" -ne 255 ] || grep -qx ${shq(CONNECTED)} "$dir/out"; then`,
    `    grep -vx ${shq(CONNECTED)} "$dir/out"; cat "$dir/err" >&2`,
    `    if [ "$rc" -eq 255 ]; then echo ${shq(`homelab-deploy: confirm: the connection to ${where} dropped while it confirmed; run pulumi up again to confirm. Until then the host rolls back by itself within ${confirmTimeoutSeconds}s of its checks`)} >&2; exit 1; fi`,
    '    exit "$rc"',
    "  fi",
    '  [ "$(date +%s)" -lt "$deadline" ] || break',
    "  sleep 2",
    "done",
    `why=$(head -n 1 "$dir/err" | tr -d '\\r' | cut -c1-200)`,
    '[ -n "$why" ] || why="ssh exited with 255"',
    `echo "${unreachable.replace(/"/g, '\\"')}" >&2`,
    "exit 1",
  ];
  return lines.join("\n");
}

function validateSecretSpec(spec: SecretFileSpec, paths: HostPaths): void {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(spec.key)) throw new Error(`secret key "${spec.key}" must be <service>.<name>`);
  if (
    !spec.path.startsWith(`${paths.secretsDir}/`) ||
    !SAFE_ABSOLUTE.test(spec.path) ||
    spec.path.split("/").some((s) => s === "..")
  ) {
    throw new Error(`secret ${spec.key}: path "${spec.path}" is not under paths.secretsDir "${paths.secretsDir}"`);
  }
  if (!POSIX_NAME.test(spec.group)) throw new Error(`secret ${spec.key}: group "${spec.group}" is not a group name`);
  if (spec.mode !== "0400" && spec.mode !== "0440")
    throw new Error(`secret ${spec.key}: mode ${spec.mode} must be 0400 or 0440`);
  for (const unit of spec.units)
    if (!UNIT_NAME.test(unit)) throw new Error(`secret ${spec.key}: "${unit}" is not a systemd unit name`);
}

/** Secrets sorted by key, validated, with no duplicate key or path. */
export function sortedSecretSpecs<T extends SecretFileSpec>(secrets: readonly T[], paths: HostPaths): T[] {
  const sorted = [...secrets].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const seen = new Set<string>();
  for (const s of sorted) {
    validateSecretSpec(s, paths);
    if (seen.has(s.key) || seen.has(s.path)) throw new Error(`secret ${s.key} is declared twice`);
    seen.add(s.key).add(s.path);
  }
  return sorted;
}

/**
 * What a service's secrets command reads on stdin (SECRETS_STREAM in
 * formats.ts): a header, one line per secret with the value base64-encoded,
 * and an end line with the count, so a cut stream is refused before any file
 * is written. No script: the command runs the push's copy on the host, which
 * keeps the stack's state and the transfer to the secrets themselves.
 */
export function secretsStdin(secrets: readonly { spec: SecretFileSpec; value: string }[], paths: HostPaths): string {
  const sorted = sortedSecretSpecs(
    secrets.map((s) => ({ ...s.spec, value: s.value })),
    paths,
  );
  const lines = [SECRETS_STREAM.header];
  for (const s of sorted) {
    const units = [...s.units].sort().join(",") || "-";
    lines.push(
      formatLine(SECRETS_STREAM, "secret", {
        key: s.key,
        path: s.path,
        group: s.group,
        mode: s.mode,
        units,
        value: Buffer.from(s.value, "utf8").toString("base64"),
      }),
    );
  }
  lines.push(formatLine(SECRETS_STREAM, "end", { count: String(sorted.length) }));
  return `${lines.join("\n")}\n`;
}

/**
 * The key of the HMAC that stands for secret values in triggers. Derived from
 * the SSH private key, itself a secret: the hashes in the (plaintext) trigger
 * list change when a value changes, yet cannot be brute-forced from the state
 * by someone who does not hold the key.
 */
export function triggerKey(privateKey: string): Buffer {
  return createHash("sha256").update("homelab-secret-trigger\0").update(privateKey).digest();
}

/** One trigger entry per secret: key, a 64-bit HMAC of key and value, group and mode. */
export function secretTrigger(spec: SecretFileSpec, value: string, key: Buffer): string {
  const mac = createHmac("sha256", key).update(spec.key).update("\0").update(value).digest("hex").slice(0, 16);
  return `${spec.key} value=${mac} group=${spec.group} mode=${spec.mode}`;
}
