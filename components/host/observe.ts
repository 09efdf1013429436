import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { observeCommand, pinnedHostKey, sshTargetCheck, type HostPaths } from "./commands";
import { parseObservation, type Observation } from "./drift";

/** How observeHost reaches the host: the same values the deploy's commands use. */
export interface ObserveConnection {
  host: string;
  /** @default 22 */
  port?: number;
  /** @default "root" */
  user?: string;
  /**
   * Private key in OpenSSH or PEM format. Written to a 0600 temp file for the
   * call, never put on a command line; the file goes when the call ends, and
   * also when SIGINT, SIGTERM or SIGHUP stops the program meanwhile.
   */
  privateKey: string;
  /** Pinned host key `<type> <base64>`; the connection is refused when the host presents another. */
  hostKey: string | undefined;
}

export interface ObserveRequest {
  /** Where the host keeps the bundle, the secrets and the deploy record. */
  paths: HostPaths;
  /** The declared homelab-deploy.sh; it runs from stdin, so a copy on the host is neither needed nor trusted. */
  script: string;
  /** Seconds for the whole call. @default 60 */
  timeoutSeconds?: number;
  /** ssh binary. @default "ssh" */
  ssh?: string;
}

/** The alias the pinned key is filed under, so the known_hosts line does not depend on host and port syntax. */
const HOST_ALIAS = "homelab-deploy-target";

/**
 * Read the host's state over SSH, read-only: one `homelab-deploy.sh observe`
 * run with the pinned host key (StrictHostKeyChecking=yes against a temporary
 * known_hosts file holding only that key). Never throws for the host: an
 * unreachable host, a refused key or a failing script gives
 * `{ reachable: false, error }`.
 */
export async function observeHost(connection: ObserveConnection, request: ObserveRequest): Promise<Observation> {
  const port = connection.port ?? 22;
  const user = connection.user ?? "root";
  let hostKey: string;
  try {
    sshTargetCheck(connection.host, port, user);
    hostKey = pinnedHostKey(connection.hostKey, connection.host, port);
  } catch (err) {
    return { reachable: false, error: (err as Error).message };
  }
  const dir = await mkdtemp(join(tmpdir(), "homelab-observe-"));
  holdKeyDir(dir);
  try {
    const knownHosts = join(dir, "known_hosts");
    const identity = join(dir, "id");
    await writeFile(knownHosts, `${HOST_ALIAS} ${hostKey}\n`, { mode: 0o600 });
    const key = connection.privateKey.endsWith("\n") ? connection.privateKey : `${connection.privateKey}\n`;
    await writeFile(identity, key, { mode: 0o600 });
    const args = [
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${knownHosts}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      `HostKeyAlias=${HOST_ALIAS}`,
      "-o",
      "UpdateHostKeys=no",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
      "-o",
      "ConnectTimeout=10",
      "-o",
      "LogLevel=ERROR",
      "-i",
      identity,
      "-p",
      String(port),
      "-l",
      user,
      // Options end before the first value that comes from config: with "--"
      // here, a host such as "-oProxyCommand=..." is a (refused) host name,
      // never an option, and ssh stops reading options after it too.
      "--",
      connection.host,
      observeCommand(request.paths),
    ];
    const result = await run(request.ssh ?? "ssh", args, request.script, (request.timeoutSeconds ?? 60) * 1000);
    if (result.code !== 0) {
      const detail = result.stderr.trim() || `ssh exited with ${result.code}`;
      const why = /host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(detail)
        ? hostKeyMismatch(detail, connection.host)
        : detail;
      return { reachable: false, error: why };
    }
    return parseObservation(result.stdout);
  } catch (err) {
    return { reachable: false, error: (err as Error).message };
  } finally {
    await rm(dir, { recursive: true, force: true });
    releaseKeyDir(dir);
  }
}

/**
 * ssh's refusal of the host's key, retold: its banner names the temporary
 * known_hosts file, already gone when anyone reads it, and a fix (ssh-keygen
 * -R) that does not apply to a pinned key. Only the offered key's fingerprint
 * is kept, with how to compare and re-pin.
 */
function hostKeyMismatch(sshError: string, host: string): string {
  const offered = /key sent by the remote host is\s+(SHA256:[A-Za-z0-9+/=]+)/.exec(sshError)?.[1];
  return (
    `the host's key does not match homelab:sshHostKey${offered ? ` (it offered ${offered})` : ""}. ` +
    `If the host was reinstalled or its key rotated, compare on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then re-pin it: ` +
    `pulumi config set homelab:sshHostKey "$(ssh-keyscan -t ed25519 ${host} | cut -d' ' -f2-)"; otherwise something else answers at that address`
  );
}

/**
 * Temp dirs that hold a copy of the SSH private key right now. A `finally`
 * does not run when the process is stopped by a signal (Ctrl-C during a
 * preview, a CI job cancelled), so while any exists, SIGINT, SIGTERM and
 * SIGHUP remove them first.
 */
const keyDirs = new Set<string>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function removeKeyDirs(): void {
  for (const d of keyDirs) rmSync(d, { recursive: true, force: true });
  keyDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeKeyDirs();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.removeListener("exit", removeKeyDirs);
  // With no other listener, Node would have ended the process: do what the
  // signal would have done without this handler. Otherwise leave it to them.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function holdKeyDir(dir: string): void {
  if (keyDirs.size === 0) {
    for (const s of SIGNALS) process.on(s, onSignal);
    process.on("exit", removeKeyDirs);
  }
  keyDirs.add(dir);
}

function releaseKeyDir(dir: string): void {
  keyDirs.delete(dir);
  if (keyDirs.size === 0) {
    // Listeners only while a key is on disk: otherwise the program's own signal handling is untouched.
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.removeListener("exit", removeKeyDirs);
  }
}

function run(
  cmd: string,
  args: string[],
  stdin: string,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      stderr += `\ntimed out after ${timeoutMs / 1000}s`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${cmd}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 255 : 1), stdout, stderr });
    });
    child.stdin.on("error", () => {
      /* the remote end closed early; the exit code says why */
    });
    child.stdin.end(stdin);
  });
}
