import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  symlinkSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostPaths } from "../../../components/host/commands";
import { findProgram, tier, type Tier } from "../../support/tiers";

/**
 * A throwaway NixOS stand-in: Debian's sshd on a free loopback port, with its
 * own host key and an authorized test key, in a temp dir. A ForceCommand
 * wrapper records every command that arrives over SSH and puts fake
 * `nixos-rebuild`, `systemctl` and `nix-env` first on PATH. The fakes log
 * their calls and keep system generations as symlinks under the temp dir, the
 * way /nix/var/nix/profiles does. All host paths point into the temp dir.
 */

export const SSHD = "/usr/sbin/sshd";

export function sshdTier(): Tier {
  const missing: string[] = [];
  if (!findProgram("sshd", [SSHD])) missing.push("sshd");
  for (const p of ["ssh", "ssh-keygen", "tar", "base64", "sha256sum", "flock", "groupadd", "curl"])
    if (!findProgram(p)) missing.push(p);
  if (process.getuid?.() !== 0) missing.push("root (sshd as a test host, chown of secret files)");
  return tier("sshd", missing);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Private key contents. */
  privateKey: string;
  /** Host key line `<type> <base64>` to pin. */
  hostKey: string;
}

/** Where startTestHost puts the fake host's bundle directory, below the fake host's root. */
const TEST_BUNDLE_DIR = "/etc/nixos/homelab";

/**
 * The root of the fake host's file system that `paths` were made under
 * (startTestHost keeps the host at <root>/host: <root>/host/etc/nixos/homelab,
 * <root>/host/var/lib/homelab/...), or undefined for a real host's paths. The
 * config schema checks the host directories below it (ConfigSource.hostRoot;
 * HOMELAB_TEST_HOST_ROOT for the Pulumi program).
 */
export function testHostRoot(paths: HostPaths): string | undefined {
  if (!paths.bundleDir.endsWith(TEST_BUNDLE_DIR)) return undefined;
  const root = paths.bundleDir.slice(0, -TEST_BUNDLE_DIR.length);
  return root === "" ? undefined : root;
}

export interface TestHost {
  root: string;
  port: number;
  /** The host's real public key, `<type> <base64>`. */
  hostKey: string;
  /** The authorized client key (private). */
  clientKey: string;
  paths: HostPaths;
  /** The fake system profile symlink. */
  profile: string;
  target(): SshTarget;
  /** Commands that arrived over SSH, oldest first. */
  sshLog(): string[];
  /** Calls the fakes recorded (`nixos-rebuild switch`, `systemctl try-restart -- x`, ...). */
  hostLog(): string[];
  /**
   * Files that steer the fakes: build-fails (nixos-rebuild's error text for
   * build), dry-activate (what switch-to-configuration dry-activate prints),
   * unit-files (units systemctl list-unit-files shows), start-fails,
   * switch-fails, switch-delay (seconds),
   * switch-killed (the switch's process group is SIGKILLed once the profile
   * moved), activation-fails, failed-units, missing-units, restart-fails; and kill-at
   * (<step>: homelab-deploy.sh SIGKILLs itself at that step boundary).
   */
  control(name: string, content?: string): void;
  clearControl(name: string): void;
  /** Current fake system generation, or null. */
  generation(): number | null;
  /** The store path the system profile resolves to. */
  systemPath(): string;
  /** The generation numbers whose links exist, ascending. */
  generations(): number[];
  /** The system the next boot starts (switch-to-configuration boot or switch last set it), or null. */
  bootDefault(): string | null;
  /** Units of the timers systemd-run armed that have not fired or been stopped. */
  pendingTimers(): string[];
  /**
   * What a reboot does to what a deploy relies on: every pending transient
   * timer is gone without firing, and the kernel's boot id is new. (The
   * system the reboot starts is bootDefault(); the fake profile stays put.)
   */
  reboot(): void;
  /** Output of a transient unit (log/<unit>.log), "" before it ran. */
  unitLog(unit: string): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export { freePort };

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = connect(port, "127.0.0.1");
      sock.once("connect", () => {
        sock.destroy();
        resolve();
      });
      sock.once("error", () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

const RECORDER = (root: string) => `#!/bin/bash
# Records each command that arrives over SSH, then runs it the way sshd would.
# control/ssh-refused: the host takes no new connection (a switch broke sshd,
# the firewall or the network); ssh fails as it would then, with status 255.
if [[ -e "${root}/control/ssh-refused" ]]; then echo "kex_exchange_identification: read: Connection reset by peer" >&2; exit 255; fi
printf '%s' "$SSH_ORIGINAL_COMMAND" | base64 -w0 >>"${root}/log/ssh.log"
echo >>"${root}/log/ssh.log"
export PATH="${root}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export HOMELAB_SYSTEM_PROFILE="${root}/host/nix/var/nix/profiles/system"
export FAKE_ROOT="${root}"
export FAKE_BUNDLE_DIR="${root}/host/etc/nixos/homelab"
# The kernel's boot id, which reboot() changes.
export HOMELAB_BOOT_ID_FILE="${root}/host/boot_id"
# Fault tests: homelab-deploy.sh stops dead (SIGKILL) at the step boundary
# this names; the detached apply inherits it through setsid.
if [[ -s "${root}/control/kill-at" ]]; then export HOMELAB_TEST_KILL_AT="$(cat "${root}/control/kill-at")"; fi
exec bash -c "$SSH_ORIGINAL_COMMAND"
`;

const FAKE_NIXOS_REBUILD = `#!/bin/bash
# Fake nixos-rebuild, modelled on the real one: "builds" the bundle into a
# store path named by its content (an identical configuration is the same
# path). build leaves ./result pointing at it; switch sets the system
# profile to it with nix-env --set (which makes no new generation when the
# newest one already holds that path), then runs the path's
# bin/switch-to-configuration switch, which activates it. A channel host's
# bundle is the bundle directory; a flake host's (--flake <ref>
# --override-input <input> path:<release>) is the release the input names.
set -euo pipefail
R=\${FAKE_ROOT:?}
echo "nixos-rebuild $*" >>"$R/log/host.log"
profiles=$R/host/nix/var/nix/profiles
mkdir -p "$profiles" "$R/host/nix/store"
gens() { find "$profiles" -maxdepth 1 -name 'system-*-link' -printf '%f\\n' | sed 's/^system-\\([0-9]*\\)-link$/\\1/' | sort -n; }
cur=$(readlink "$profiles/system" 2>/dev/null || echo system-0-link); cur=\${cur#system-}; cur=\${cur%-link}
action=""; flake=""; bundle=\${FAKE_BUNDLE_DIR:?}; rollback=""
while (($#)); do case $1 in
  --flake) flake=$2; shift 2 ;;
  --override-input) [[ $3 == path:* ]] || { echo "error: input '$3' is not a path: reference" >&2; exit 1; }; bundle=\${3#path:}; shift 3 ;;
  --rollback) rollback=1; shift ;;
  build|switch|dry-build|dry-activate) action=$1; shift ;;
  *) echo "fake nixos-rebuild: unsupported arguments: $*" >&2; exit 2 ;;
esac; done
if [[ -n $flake && ! -f \${flake%%#*}/flake.nix ]]; then echo "error: path '\${flake%%#*}' does not contain a 'flake.nix'" >&2; exit 1; fi
# The system of the bundle, "built" into the store.
build() {
  # An evaluation or build error, in nixos-rebuild's words (the test writes them).
  if [[ -e $R/control/build-fails ]]; then cat "$R/control/build-fails" >&2; exit 1; fi
  [[ -d $bundle ]] || { echo "error: $bundle does not exist" >&2; exit 1; }
  sum=$(cd "$bundle/" && find -L . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum -- | sha256sum | cut -c1-32)
  out=$R/host/nix/store/$sum-nixos-system
  if [[ ! -d $out ]]; then
    mkdir -p "$out.tmp"; cp -rL "$bundle/." "$out.tmp/"
    mkdir -p "$out.tmp/bin"; cp "$R/fake/switch-to-configuration" "$out.tmp/bin/switch-to-configuration"
    mv -T "$out.tmp" "$out"
  fi
}
case $action$rollback in
build)
  build
  ln -sfn "$out" result
  ;;
dry-build) build ;;
dry-activate)
  build
  "$out/bin/switch-to-configuration" dry-activate
  ;;
switch)
  if [[ -e $R/control/switch-fails ]]; then echo "error: builder for '/nix/store/fake-nixos-system.drv' failed with exit code 1" >&2; exit 1; fi
  # A long switch: the test drops the SSH connection meanwhile.
  if [[ -s $R/control/switch-delay ]]; then echo "building the system configuration..."; sleep "$(cat "$R/control/switch-delay")"; fi
  build
  nix-env -p "$profiles/system" --set "$out" >/dev/null
  # A crash in the middle of the switch (power, OOM): the profile has moved,
  # nothing is activated, and the whole process group dies with no trap run.
  if [[ -e $R/control/switch-killed ]]; then kill -KILL 0; fi
  FAKE_NEW_SYSTEM=1 "$out/bin/switch-to-configuration" switch
  ;;
switch1)
  prev=$(gens | awk -v c="$cur" '$1 < c' | tail -n 1)
  [[ -n $prev ]] || { echo "error: no generation older than $cur" >&2; exit 1; }
  nix-env -p "$profiles/system" --switch-generation "$prev" >/dev/null
  "$profiles/system/bin/switch-to-configuration" switch
  ;;
*) echo "fake nixos-rebuild: unsupported action $action" >&2; exit 2 ;;
esac
`;

const FAKE_SWITCH_TO_CONFIGURATION = `#!/bin/bash
# Fake <system>/bin/switch-to-configuration: activates the system it belongs
# to. It creates the groups the bundle's fake-host/groups lists (as NixOS
# users/groups would). control/activation-fails makes activating a system
# nixos-rebuild switch just built fail (units fail); activating an earlier
# one, as a rollback does, still works.
set -euo pipefail
R=\${FAKE_ROOT:?}
self=$(cd -- "$(dirname -- "$0")/.." && pwd)
echo "switch-to-configuration $* (\${self##*/})" >>"$R/log/host.log"
# What activating would do, as NixOS prints it; the test says which units.
if [[ $1 == dry-activate ]]; then
  [[ -f $R/control/dry-activate ]] && cat "$R/control/dry-activate"
  exit 0
fi
# boot: what the next boot starts (host/boot-default); switch sets it too.
echo "$self" >"$R/host/boot-default"
[[ $1 == boot ]] && exit 0
# control/switch-breaks-ssh: activating a system nixos-rebuild switch just
# built cuts off new SSH connections; activating an earlier one (a rollback)
# brings them back.
if [[ -e $R/control/switch-breaks-ssh ]]; then
  if [[ -n \${FAKE_NEW_SYSTEM:-} ]]; then : >"$R/control/ssh-refused"; else rm -f "$R/control/ssh-refused"; fi
fi
if [[ -f $self/fake-host/groups ]]; then
  while read -r g; do [[ -n $g ]] && groupadd -f "$g"; done <"$self/fake-host/groups"
fi
gen=$(readlink "$R/host/nix/var/nix/profiles/system"); gen=\${gen#system-}; gen=\${gen%-link}
echo "activating the configuration... (fake generation $gen)"
if [[ -n \${FAKE_NEW_SYSTEM:-} && -e $R/control/activation-fails ]]; then echo "warning: the following units failed: broken.service" >&2; exit 4; fi
exit 0
`;

const FAKE_NIX_ENV = `#!/bin/bash
# Fake nix-env on -p <profile>: --set <path> (a new generation, unless the
# newest one already holds that path), --switch-generation <n>,
# --delete-generations (+N or numbers) and --list-generations.
set -euo pipefail
R=\${FAKE_ROOT:?}
echo "nix-env $*" >>"$R/log/host.log"
profile=""; op=""; arg=""; specs=()
while (($#)); do case $1 in
  -p|--profile) profile=$2; shift 2 ;;
  --delete-generations) op=delete; shift ;;
  --list-generations) op=list; shift ;;
  --set) op=set; arg=$2; shift 2 ;;
  -G|--switch-generation) op=switch; arg=$2; shift 2 ;;
  *) specs+=("$1"); shift ;;
esac; done
dir=$(dirname "$profile"); base=$(basename "$profile")
cur=$(readlink "$profile" 2>/dev/null || echo "$base-0-link"); cur=\${cur#"$base"-}; cur=\${cur%-link}
all=$(find "$dir" -maxdepth 1 -name "$base-*-link" -printf '%f\\n' | sed "s/^$base-\\([0-9]*\\)-link$/\\1/" | sort -n)
case $op in
list) echo "$all" ;;
set)
  [[ -d $arg ]] || { echo "error: path '$arg' is not valid" >&2; exit 1; }
  last=$(echo "$all" | tail -n 1)
  if [[ -n $last && $(readlink -f "$dir/$base-$last-link") == "$(readlink -f "$arg")" ]]; then next=$last; else next=$(( \${last:-0} + 1 )); ln -sfn "$arg" "$dir/$base-$next-link"; fi
  ln -sfn "$base-$next-link" "$profile.tmp" && mv -T "$profile.tmp" "$profile"
  echo "switching profile from version $cur to $next" ;;
switch)
  [[ -e $dir/$base-$arg-link ]] || { echo "error: generation $arg does not exist" >&2; exit 1; }
  ln -sfn "$base-$arg-link" "$profile.tmp" && mv -T "$profile.tmp" "$profile"
  echo "switching profile from version $cur to $arg" ;;
delete)
  for spec in "\${specs[@]}"; do
    if [[ $spec == +* ]]; then del=$(echo "$all" | head -n -"\${spec#+}"); else del=$spec; fi
    for g in $del; do [[ $g == "$cur" ]] && continue; rm -f "$dir/$base-$g-link"; echo "removing profile version $g"; done
  done ;;
*) echo "fake nix-env: unsupported" >&2; exit 2 ;;
esac
`;

const FAKE_SYSTEMCTL = `#!/bin/bash
# Fake systemctl: logs every call; failed units come from control/failed-units.
# Units listed in control/missing-units have no unit file, as a service's are
# before the switch that adds it: systemd answers is-active with 4 and refuses
# try-restart with "Unit … not found" (exit 5). Every other unit is running.
R=\${FAKE_ROOT:?}
echo "systemctl $*" >>"$R/log/host.log"
unit=\${*: -1}
missing() { [[ -f $R/control/missing-units ]] && grep -qxF -- "$unit" "$R/control/missing-units"; }
case $1 in
list-unit-files)
  # Units the host defined by hand, e.g. its own restic backups (control/unit-files).
  # A pattern that matches nothing exits 1, as systemd 246 and later do.
  [[ -s $R/control/unit-files ]] || exit 1
  sed 's/$/ enabled enabled/' "$R/control/unit-files"
  ;;
start)
  [[ -e $R/control/start-fails ]] && exit 1 ;;
list-units)
  if [[ -f $R/control/failed-units ]]; then
    while read -r u; do [[ -n $u ]] && echo "$u loaded failed failed Fake unit"; done <"$R/control/failed-units"
  fi ;;
is-active) missing && exit 4 ;;
stop)
  # A timer systemd-run armed and that has not fired: it never will.
  if [[ $unit == *.timer && -f $R/run/$unit ]]; then
    pid=$(cat "$R/run/$unit"); rm -f "$R/run/$unit"; kill -- "-$pid" 2>/dev/null || true
  fi ;;
try-restart|restart)
  if missing; then echo "Failed to $1 $unit: Unit $unit not found." >&2; exit 5; fi
  [[ -e $R/control/restart-fails ]] && exit 1 ;;
esac
exit 0
`;

const FAKE_SYSTEMD_RUN = `#!/bin/bash
# Fake systemd-run --unit=<u> --on-active=<n>s [--setenv=K=V]... -- <cmd>:
# a transient timer, as a process of its own session that sleeps <n> seconds
# and then runs <cmd> with only the --setenv variables set, output in
# log/<u>.log, and none of the caller's other open files (the deploy lock:
# systemd starts a unit with nothing of the caller's). run/<u>.timer holds its process id until it fires;
# systemctl stop <u>.timer kills it first. A reboot drops them all (dropTimers).
set -euo pipefail
R=\${FAKE_ROOT:?}
echo "systemd-run $*" >>"$R/log/host.log"
unit=""; delay=""; envs=()
while (($#)); do case $1 in
  --unit=*) unit=\${1#--unit=}; shift ;;
  --on-active=*) delay=\${1#--on-active=}; delay=\${delay%s}; shift ;;
  --setenv=*) envs+=("\${1#--setenv=}"); shift ;;
  --) shift; break ;;
  -*) shift ;;
  *) break ;;
esac; done
[[ -n $unit && -n $delay && $# -gt 0 ]] || { echo "fake systemd-run: needs --unit, --on-active and a command" >&2; exit 1; }
if [[ -e $R/control/systemd-run-fails ]]; then echo "Failed to start transient timer unit: Access denied" >&2; exit 1; fi
mkdir -p "$R/run"
if [[ -e $R/run/$unit.timer ]]; then echo "Failed to start transient timer unit: Unit $unit.timer was already loaded" >&2; exit 1; fi
# shellcheck disable=SC2016
setsid bash -c 'sleep "$1"; t=$2; shift 2; [[ -e $t ]] || exit 0; rm -f "$t"; exec env -i "$@"' _ "$delay" "$R/run/$unit.timer" "\${envs[@]}" FAKE_ROOT="$R" "$@" </dev/null >>"$R/log/$unit.log" 2>&1 8>&- 9>&- &
echo $! >"$R/run/$unit.timer"
echo "Running timer as unit: $unit.timer"
`;

function ssh(args: string[], opts: { input?: string }): string {
  return execFileSync(args[0], args.slice(1), { input: opts.input, encoding: "utf8" });
}

export async function startTestHost(): Promise<TestHost> {
  const root = mkdtempSync(join(tmpdir(), "homelab-host-"));
  for (const d of [
    "bin",
    "fake",
    "log",
    "control",
    "sshd",
    "host/etc/nixos",
    "host/var/lib/homelab",
    "host/nix/var/nix/profiles",
    "host/nix/store",
  ]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  writeFileSync(join(root, "log/ssh.log"), "");
  writeFileSync(join(root, "log/host.log"), "");
  writeFileSync(join(root, "host/boot_id"), `${randomUUID()}\n`);
  // A NixOS host is never without a system generation: the one it was installed with.
  writeFileSync(join(root, "fake/switch-to-configuration"), FAKE_SWITCH_TO_CONFIGURATION, { mode: 0o755 });
  mkdirSync(join(root, "host/nix/store/system-1/bin"), { recursive: true });
  writeFileSync(join(root, "host/nix/store/system-1/bin/switch-to-configuration"), FAKE_SWITCH_TO_CONFIGURATION, {
    mode: 0o755,
  });
  symlinkSync(join(root, "host/nix/store/system-1"), join(root, "host/nix/var/nix/profiles/system-1-link"));
  symlinkSync("system-1-link", join(root, "host/nix/var/nix/profiles/system"));
  writeFileSync(join(root, "bin/nixos-rebuild"), FAKE_NIXOS_REBUILD, { mode: 0o755 });
  writeFileSync(join(root, "bin/nix-env"), FAKE_NIX_ENV, { mode: 0o755 });
  writeFileSync(join(root, "bin/systemctl"), FAKE_SYSTEMCTL, { mode: 0o755 });
  writeFileSync(join(root, "bin/systemd-run"), FAKE_SYSTEMD_RUN, { mode: 0o755 });
  mkdirSync(join(root, "run"), { recursive: true });
  writeFileSync(join(root, "sshd/record-command"), RECORDER(root), { mode: 0o755 });

  const sshdDir = join(root, "sshd");
  ssh(
    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test-host", "-f", join(sshdDir, "ssh_host_ed25519_key")],
    {},
  );
  ssh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test-client", "-f", join(sshdDir, "client_key")], {});
  writeFileSync(join(sshdDir, "authorized_keys"), readFileSync(join(sshdDir, "client_key.pub")));
  const hostKey = readFileSync(join(sshdDir, "ssh_host_ed25519_key.pub"), "utf8")
    .trim()
    .split(" ")
    .slice(0, 2)
    .join(" ");

  // sshd refuses to start without its privilege separation directory. It is
  // machine-wide: another test run's sshd, or the machine's own, may be using
  // it, so it is created when missing and never removed.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

  const port = await freePort();
  const config = join(sshdDir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(sshdDir, "ssh_host_ed25519_key")}`,
      `PidFile ${join(sshdDir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(sshdDir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "MaxStartups 100",
      "MaxSessions 50",
      `ForceCommand ${join(sshdDir, "record-command")}`,
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(SSHD, ["-f", config, "-D", "-e"], { stdio: ["ignore", "ignore", "pipe"] });
  let sshdErr = "";
  child.stderr?.on("data", (d) => (sshdErr += String(d)));
  try {
    await waitForPort(port, 10_000);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${(err as Error).message}: ${sshdErr}`);
  }

  const paths: HostPaths = {
    bundleDir: join(root, "host", TEST_BUNDLE_DIR),
    secretsDir: join(root, "host/var/lib/homelab/secrets"),
    stateDir: join(root, "host/var/lib/homelab/state"),
  };
  const profile = join(root, "host/nix/var/nix/profiles/system");
  const readLines = (file: string) =>
    readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "");

  return {
    root,
    port,
    hostKey,
    clientKey: readFileSync(join(sshdDir, "client_key"), "utf8"),
    paths,
    profile,
    target: () => ({
      host: "127.0.0.1",
      port,
      user: "root",
      privateKey: readFileSync(join(sshdDir, "client_key"), "utf8"),
      hostKey,
    }),
    sshLog: () => readLines(join(root, "log/ssh.log")).map((l) => Buffer.from(l, "base64").toString("utf8")),
    hostLog: () => readLines(join(root, "log/host.log")),
    control: (name, content = "") => writeFileSync(join(root, "control", name), content),
    clearControl: (name) => rmSync(join(root, "control", name), { force: true }),
    systemPath: () => realpathSync(profile),
    generations: () =>
      readdirSync(join(root, "host/nix/var/nix/profiles"))
        .map((f) => /^system-(\d+)-link$/.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b),
    bootDefault: () =>
      existsSync(join(root, "host/boot-default")) ? readFileSync(join(root, "host/boot-default"), "utf8").trim() : null,
    pendingTimers: () =>
      readdirSync(join(root, "run"))
        .filter((f) => f.endsWith(".timer"))
        .map((f) => f.slice(0, -".timer".length)),
    reboot: () => {
      dropTimers(root);
      writeFileSync(join(root, "host/boot_id"), `${randomUUID()}\n`);
    },
    unitLog: (unit) =>
      existsSync(join(root, `log/${unit}.log`)) ? readFileSync(join(root, `log/${unit}.log`), "utf8") : "",
    generation: () => {
      try {
        const m = /^system-(\d+)-link$/.exec(readlinkSync(profile));
        return m ? Number(m[1]) : null;
      } catch {
        return null;
      }
    },
    stop: async () => {
      dropTimers(root);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Kill every pending fake timer of the host at `root` (each runs in a process group of its own). */
function dropTimers(root: string): void {
  const dir = join(root, "run");
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".timer"))) {
    const pid = Number(readFileSync(join(dir, f), "utf8").trim());
    rmSync(join(dir, f), { force: true });
    try {
      if (pid > 0) process.kill(-pid, "SIGKILL");
    } catch {
      /* it had fired and ended */
    }
  }
}

/**
 * Run one command over real ssh, pinning the given host key: the way the
 * remote.Command provider would run a captured `create` with its `stdin`.
 * `cutStdinAt` writes only that many bytes of stdin and then kills ssh, like a
 * dropped connection in the middle of a push. `killWhen` is polled while the
 * command runs; once it returns true, ssh is killed, like a connection that
 * drops in the middle of a switch.
 */
export interface SshRunOptions {
  cutStdinAt?: number;
  killWhen?: () => boolean;
  timeoutMs?: number;
}

export function runOverSsh(
  target: SshTarget,
  command: string,
  stdin?: string,
  opts: SshRunOptions = {},
): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "homelab-ssh-"));
  const knownHosts = join(dir, "known_hosts");
  const key = join(dir, "id");
  writeFileSync(knownHosts, `[${target.host}]:${target.port} ${target.hostKey}\n`, { mode: 0o600 });
  writeFileSync(key, target.privateKey.endsWith("\n") ? target.privateKey : `${target.privateKey}\n`, { mode: 0o600 });
  const args = [
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "LogLevel=ERROR",
    "-i",
    key,
    "-p",
    String(target.port),
    "-l",
    target.user,
    target.host,
    "--",
    command,
  ];
  return new Promise((resolve) => {
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += String(d)));
    child.stderr.on("data", (d) => (stderr += String(d)));
    child.stdin.on("error", () => undefined);
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 90_000);
    const killWhen = opts.killWhen;
    const poll = killWhen
      ? setInterval(() => {
          if (killWhen()) child.kill("SIGKILL");
        }, 50)
      : undefined;
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: code ?? (signal ? 255 : 1), stdout, stderr });
    });
    if (opts.cutStdinAt !== undefined && stdin !== undefined) {
      child.stdin.write(stdin.slice(0, opts.cutStdinAt));
      // Let the bytes reach the host, then drop the connection without closing stdin.
      setTimeout(() => child.kill("SIGKILL"), 500);
    } else {
      child.stdin.end(stdin ?? "");
    }
  });
}

/** A listing of everything under a directory: type, owner, mode, mtime, content hash, link target. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    const st = lstatSync(p);
    let detail = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs}`;
    if (st.isSymbolicLink()) detail += ` -> ${readlinkSync(p)}`;
    else if (st.isFile()) detail += ` ${createHash("sha256").update(readFileSync(p)).digest("hex")}`;
    out.set(p, detail);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  };
  walk(dir);
  return out;
}

/** Owner, group and octal mode of a file, as `stat -c '%U:%G:%a'` prints them. */
export function ownership(path: string): string {
  return execFileSync("stat", ["-c", "%U:%G:%a", path], { encoding: "utf8" }).trim();
}

export function groupExists(name: string): boolean {
  try {
    execFileSync("getent", ["group", name]);
    return true;
  } catch {
    return false;
  }
}
