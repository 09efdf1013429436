#!/usr/bin/env bash
# homelab-deploy.sh: the host side of a homelab deploy.
#
# It ships inside the NixOS bundle (deploy/homelab-deploy.sh) and the Pulumi
# program (components/host/) runs it over SSH, so the script the tests run is
# the one the host runs. See docs/src/content/docs/operator/deploying.md, "What a deploy does on the host".
#
#   preflight  read-only: root login, the tools a deploy needs
#   push <dir> <hash>
#              keep an unpacked bundle as release <hash> once its hash checks
#              out, and its copy of this script as <state-dir>/bin/homelab-deploy.sh
#   secrets --service <id>
#              run from that copy: write one service's secret files, read
#              from stdin, into <secrets-dir>/<id>/; restart the units of
#              the ones whose content changed; no rebuild. A file its last run
#              wrote and it no longer declares goes at once, unless the live
#              release declares it: then once a release without it is live and
#              healthy. A file no deploy wrote is left alone
#   apply <hash>
#              build the system of release <hash> (a flake host before anything
#              changes; a channel host, whose configuration.nix imports the
#              bundle directory, once the link points at it, putting the link
#              back if the build fails), list the units the switch will stop,
#              start, restart and reload, then
#              link release <hash> as the bundle directory, nixos-rebuild switch,
#              health checks, and on failure roll back the system and the link to
#              what the apply journal recorded before it changed anything. An
#              apply that was killed is finished by the next one. The checks
#              and the secret files come from the release (generated/).
#              Once healthy, the secret files earlier deploys wrote that the
#              release does not declare are removed; nothing else is.
#              It runs in its own session, detached from the SSH connection, and
#              finishes (checks, rollback) even if that drops; the foreground
#              streams its log and returns its status while the connection lasts
#              Once the checks pass the apply commits nothing yet: it arms a
#              rollback on the host's own timer (systemd-run) and makes the
#              system before the boot default, and ends; `confirm` commits. A
#              switch that cut the deployer off (sshd, firewall, network) is
#              rolled back by the host --confirm-timeout seconds (default 120)
#              later; a reboot meanwhile boots the system before
#   confirm <hash>
#              sent by the deployer over a new SSH connection after apply: the
#              deployer can still reach the host, so record release <hash> as
#              live (records, boot default, cleanup) and disarm the rollback.
#              Idempotent; refuses any release but the one awaiting
#   rollback-unconfirmed <id>
#              run by the timer apply armed: roll back the apply <id> unless
#              it was confirmed meanwhile
#   journal-repair
#              for a damaged apply journal, which every other command refuses:
#              put the bundle link and the system profile back to what the
#              records say, then set the journal aside
#   observe    read-only: the state the program compares with what it declares
#
# The texts this script shares with the program (the secrets stream, the
# observe report, the bundle hash and the stage record) are defined once, in
# components/host/formats.ts; test/host/formats.test.ts runs its samples
# through both.
#
# push, secrets and apply take --record <base64>: what the program declared for
# the stage (a hash of its inputs and the drift it repaired). It is kept only
# once the stage succeeds, and observe reports it back, so an in-sync host
# gives the program the inputs the stack's state already holds.
#
# A flake host's apply takes --flake <path>#<attr> and --flake-input <name>:
# its own flake is built and switched with that input overridden by the
# release (--override-input <name> path:<release>), never by editing its lock.
#
# Every subcommand takes --bundle-dir, --secrets-dir and --state-dir. The system
# profile is /nix/var/nix/profiles/system unless HOMELAB_SYSTEM_PROFILE says
# otherwise (the test host sets it).
set -euo pipefail
umask 022

PROG=homelab-deploy
PROFILE=${HOMELAB_SYSTEM_PROFILE:-/nix/var/nix/profiles/system}
BUNDLE_DIR=""
SECRETS_DIR=""
STATE_DIR=""
KEEP=10
TIMEOUT=120
CHECK_TIMEOUT=5
CONFIRM_TIMEOUT=120
POLL_SECONDS=2
RECORD=""
DETACHED=""
FLAKE=""
FLAKE_INPUT=homelab
SERVICE=""
CHECKS=()
SECRET_FILES=()
ARGS=()
# Generated into every release by the program (components/host/commands.ts,
# deployLists): the release's health checks and its secret files.
# Where a release keeps this script, and where the push keeps a copy of the
# newest one for the secrets commands (both relative to the state directory
# and the release: see install_script).
RELEASE_SCRIPT=deploy/homelab-deploy.sh
SCRIPT_COPY=bin/homelab-deploy.sh
CHECKS_FILE=generated/health-checks.tsv
SECRET_FILES_FILE=generated/secret-files.list
TAKEOVER_FILE=generated/takeover.tsv
FAILED=()

die() {
  echo "$PROG: $*" >&2
  exit 1
}

log() {
  echo "$PROG: $*"
}

usage() {
  die "usage: homelab-deploy.sh preflight|push|secrets|apply|confirm|rollback-unconfirmed|journal-repair|observe --bundle-dir DIR --secrets-dir DIR --state-dir DIR [args]"
}

valid_hash() {
  [[ $1 =~ ^[0-9a-f]{64}$ ]] || die "\"$1\" is not a bundle hash"
}

# The first line of a state file, or "-" when there is none.
read_state() {
  local file="$STATE_DIR/$1"
  if [[ -r $file ]]; then
    head -n 1 -- "$file"
  else
    echo -
  fi
}

# Replace a state file atomically: write a temporary file, then rename it.
write_state() {
  local target="$STATE_DIR/$1" tmp
  mkdir -p -- "${target%/*}"
  tmp=$(mktemp -- "${target%/*}/.${target##*/}.XXXXXX")
  printf '%s\n' "$2" >"$tmp"
  mv -f -T -- "$tmp" "$target"
}

# Replace a state file with a NUL-separated list, atomically.
write_list() {
  local name=$1 tmp
  shift
  mkdir -p -- "$STATE_DIR"
  tmp=$(mktemp -- "$STATE_DIR/.$name.XXXXXX")
  if (($#)); then printf '%s\0' "$@" >"$tmp"; fi
  mv -f -T -- "$tmp" "$STATE_DIR/$name"
}

# Point a symlink somewhere else in one rename(2): readers see the old target
# or the new one, never a missing link.
flip_link() {
  local target=$1 link=$2
  ln -sfn -- "$target" "$link.homelab-new"
  mv -f -T -- "$link.homelab-new" "$link"
}

# One push, apply or removal at a time. Observe and preflight never take the
# lock: they only read. `take_lock shared` is for the secrets commands: each
# writes only its own service's directory and records, so the engine's
# parallel secrets commands run side by side (one at a time per service,
# see cmd_secrets), while a push, an apply or a removal waits for all of
# them and they for it.
take_lock() {
  local mode=-x
  if [[ ${1:-} == shared ]]; then mode=-s; fi
  mkdir -p -- "$STATE_DIR"
  exec 9>>"$STATE_DIR/lock"
  flock "$mode" -w 900 9 || die "another deploy has held $STATE_DIR/lock for 15 minutes"
}

# The content hash of a bundle tree: sha256 of the `sha256sum` manifest of its
# files sorted by path, the same rule as bundleHash() in components/host/bundle.ts.
# The bundle hash: BUNDLE_HASH in components/host/formats.ts.
bundle_hash() {
  local dir=$1
  if [[ -n $(find "$dir/" -mindepth 1 ! -type f ! -type d -print -quit) ]]; then
    # A symlink or a device in the tree: not something the program declared.
    echo invalid
    return 0
  fi
  (cd -- "$dir" && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum --) | sha256sum | cut -d' ' -f1
}

# The system generation the profile points at, or "-".
generation() {
  local link
  link=$(readlink -- "$PROFILE" 2>/dev/null) || {
    echo -
    return 0
  }
  link=${link##*/}
  link=${link#system-}
  link=${link%-link}
  if [[ $link =~ ^[0-9]+$ ]]; then echo "$link"; else echo -; fi
}

# The release the bundle directory links to: a hash, "-" for none, or
# "?<target>" when it is not one of ours.
current_release() {
  local target
  target=$(readlink -- "$BUNDLE_DIR" 2>/dev/null) || {
    if [[ -e $BUNDLE_DIR ]]; then echo "?$BUNDLE_DIR"; else echo -; fi
    return 0
  }
  case $target in
  "$STATE_DIR"/releases/*) echo "${target##*/}" ;;
  *) echo "?$target" ;;
  esac
}

release_ok() {
  [[ -d $STATE_DIR/releases/$1 ]] && [[ $(bundle_hash "$STATE_DIR/releases/$1") == "$1" ]]
}

# Remove unpacked trees no release links to, and pushes abandoned an hour ago.
prune_store() {
  local link dir
  local -A used=()
  for link in "$STATE_DIR"/releases/*; do
    if [[ -L $link ]]; then used[$(readlink -- "$link")]=1; fi
  done
  for dir in "$STATE_DIR"/store/*; do
    [[ -e $dir ]] || continue
    [[ -n ${used[$dir]:-} ]] || rm -rf -- "$dir"
  done
  find "$STATE_DIR/store" -mindepth 1 -maxdepth 1 -name '.incoming.*' -mmin +60 -exec rm -rf -- {} +
}

# Keep the newest $KEEP releases, plus the live one and the one before it.
prune_releases() {
  local current previous link name i=0
  current=$(current_release)
  previous=$(read_state previous-release)
  while IFS= read -r link; do
    i=$((i + 1))
    name=${link##*/}
    if ((i > KEEP)) && [[ $name != "$current" && $name != "$previous" ]]; then
      rm -f -- "$link"
    fi
  done < <(find "$STATE_DIR/releases" -mindepth 1 -maxdepth 1 -type l -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)
  prune_store
}

cmd_preflight() {
  local missing=() tool
  for tool in bash tar gzip od base64 sha256sum find sort xargs mktemp readlink flock timeout getent stat sync setsid tail date df nixos-rebuild systemctl systemd-run nix-env; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || die "preflight: not found on the host: ${missing[*]}"
  [[ $(id -u) == 0 ]] || die "preflight: logged in as $(id -un), but a deploy writes $BUNDLE_DIR and $SECRETS_DIR and needs root (homelab:sshUser)"
  log "preflight: $(uname -n) answered with the pinned host key; system generation $(generation), applied bundle $(read_state applied-release)"
}

cmd_push() {
  (($# == 2)) || die "usage: push <incoming-dir> <hash>"
  local incoming=$1 hash=$2 got dest
  valid_hash "$hash"
  [[ -d $incoming && $incoming == "$STATE_DIR"/store/.incoming.* ]] || die "push: $incoming is not a staging directory under $STATE_DIR/store"
  got=$(bundle_hash "$incoming")
  if [[ $got != "$hash" ]]; then
    rm -rf -- "$incoming"
    die "push: the bundle arrived incomplete or altered (expected $hash, got $got); nothing on the host changed"
  fi
  take_lock
  mkdir -p -- "$STATE_DIR/releases"
  if release_ok "$hash"; then
    rm -rf -- "$incoming"
    install_script "$STATE_DIR/releases/$hash/$RELEASE_SCRIPT"
    log "push: release $hash is already on the host"
    return 0
  fi
  dest="$STATE_DIR/store/$hash.${incoming##*/.incoming.}"
  chmod 0755 -- "$incoming"
  mv -T -- "$incoming" "$dest"
  flip_link "$dest" "$STATE_DIR/releases/$hash"
  install_script "$STATE_DIR/releases/$hash/$RELEASE_SCRIPT"
  prune_store
  log "push: release $hash staged; nothing applied yet"
}

# Keep the pushed release's script where the secrets commands run it
# (secretsCommand in components/host/commands.ts). They name no release, so
# a bundle change leaves them alone; and they send only the secrets on
# stdin: sending this script along with each service's secrets cost its
# size again in the stack's state and on the wire for every service. A
# rename, so a secrets command already running keeps reading the copy it
# opened.
install_script() {
  local from=$1 dir="$STATE_DIR/${SCRIPT_COPY%/*}" tmp
  if [[ -L $dir || (-e $dir && ! -d $dir) ]]; then die "push: $dir is not a directory of its own; nothing installed. Move it away and run pulumi up again"; fi
  mkdir -p -- "$dir"
  chmod 0700 -- "$dir"
  tmp=$(mktemp -- "$dir/.${SCRIPT_COPY##*/}.XXXXXX")
  cat -- "$from" >"$tmp"
  chmod 0700 -- "$tmp"
  sync -- "$tmp"
  mv -f -T -- "$tmp" "$STATE_DIR/$SCRIPT_COPY"
}

# --- secrets ---------------------------------------------------------------

# Root writes, chowns and chmods under the secrets directory. A symlink there
# (the directory, a service's directory or a secret file) would send those
# writes wherever it points, say /etc, so the path must be made of real
# directories and regular files; anything else is refused before a byte is
# written. Absent is fine: it gets created.
refuse_unsafe_dir() {
  local d=$1
  if [[ -L $d ]]; then die "secrets: $d is a symbolic link; refusing to write secrets through it, nothing written. Replace it with a root-owned directory"; fi
  if [[ -e $d && ! -d $d ]]; then die "secrets: $d is not a directory; nothing written. Move it away"; fi
}

refuse_unsafe_file() {
  local key=$1 path=$2
  if [[ -L $path ]]; then die "secrets: $key: $path is a symbolic link; refusing to replace it, nothing written. Remove the link"; fi
  if [[ -e $path && ! -f $path ]]; then die "secrets: $key: $path is not a regular file; nothing written. Move it away"; fi
}

# Create a directory of the secrets path, root's and traversable only, and
# check again once it exists: mkdir -p is content with a link to a directory.
make_secret_dir() {
  local d=$1
  refuse_unsafe_dir "$d"
  mkdir -p -- "$d"
  [[ -d $d && ! -L $d ]] || die "secrets: $d is not a directory of its own; nothing written"
  chown -h root:root -- "$d"
  chmod 0711 -- "$d"
}

# Is the path a regular file reached through real directories only (the
# secrets directory and the service's directory)? The apply's chown, chmod
# and rm use it to leave anything else alone.
secret_path_safe() {
  local path=$1 dir=${1%/*}
  [[ ! -L $SECRETS_DIR && ! -L $dir && -d $dir && ! -L $path ]]
}

# Temporary files of the secrets command not yet renamed into place. The EXIT
# trap removes them, so a run that fails (or is killed) leaves none behind.
STAGED=()

# shellcheck disable=SC2317 # run by the EXIT trap, which shellcheck does not follow
remove_staged() {
  if ((${#STAGED[@]})); then rm -f -- "${STAGED[@]}"; fi
}

# The reason in a failed command's error output, for a message that names the
# file: "base64: write error: No space left on device" -> "no space left on device".
# The first line: later ones repeat the error without its reason ("base64:
# write error" again when it closes the file).
cause_of() {
  local m=${1%%$'\n'*}
  m=${m##*: }
  [[ -n $m ]] || m="an unknown error"
  echo "${m,}"
}

# Write one secret's value to a temporary file beside its target. The file
# gets its owner and mode before a byte of the value is written. Sets STAGED_AS
# to the temporary file, WROTE to "content", "meta" or "" (what renaming it
# would change) and EFFECTIVE to "<group> <mode>".
stage_secret() {
  local key=$1 path=$2 group=$3 mode=$4 units=$5 b64=$6
  local dir=${path%/*} eff_group=$3 eff_mode=$4 tmp err new_sum old_sum=- old_meta=-
  if ! getent group "$group" >/dev/null; then
    # The NixOS module that creates the group has not been switched to yet:
    # root-only until apply hands the file to the group.
    eff_group=root
    eff_mode=0400
    PENDING+=("$key"$'\t'"$path"$'\t'"$group"$'\t'"$mode"$'\t'"$units")
    log "secrets: group $group does not exist yet; $key stays root-only until the switch creates it"
  fi
  tmp=$(mktemp -- "$dir/.${path##*/}.XXXXXX" 2>&1) || die "secrets: $(cause_of "$tmp") creating a temporary file for $path; no file of $SERVICE was replaced"
  STAGED+=("$tmp")
  err=$({ chown -h "root:$eff_group" -- "$tmp" && chmod "$eff_mode" -- "$tmp" && printf '%s' "$b64" | base64 -d >"$tmp" && sync -- "$tmp"; } 2>&1) ||
    die "secrets: $(cause_of "$err") writing $path; no file of $SERVICE was replaced"
  new_sum=$(sha256sum <"$tmp" | cut -d' ' -f1)
  if [[ -f $path && ! -L $path ]]; then
    old_sum=$(sha256sum <"$path" | cut -d' ' -f1)
    old_meta=$(stat -c '%U:%G:%a' -- "$path")
  fi
  STAGED_AS=$tmp
  EFFECTIVE="$eff_group $eff_mode"
  if [[ $new_sum == "$old_sum" && $old_meta == "root:$eff_group:${eff_mode#0}" ]]; then
    WROTE=""
  elif [[ $new_sum != "$old_sum" ]]; then
    WROTE=content
  else
    WROTE=meta
  fi
}

# The files the live release declares (state file applied-secrets, written by
# a successful apply): a generation that may still run, or come back in a
# rollback, reads them.
applied_declares() {
  local file=$1 entry
  [[ -r $STATE_DIR/applied-secrets ]] || return 1
  while IFS= read -r -d '' entry; do
    [[ $entry == "$file" ]] && return 0
  done <"$STATE_DIR/applied-secrets"
  return 1
}

cmd_secrets() {
  (($# == 0)) || die "usage: secrets --service <id>, with the service's secrets on stdin"
  [[ $SERVICE =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "secrets: --service must name a catalog service"
  take_lock shared
  mkdir -p -- "$STATE_DIR/secrets.d"
  exec 8>>"$STATE_DIR/secrets.d/$SERVICE.lock"
  flock -w 900 8 || die "another secrets command of $SERVICE has held its lock for 15 minutes"
  if [[ -e $STATE_DIR/$JOURNAL ]]; then
    # The rollback runs in the apply, detached from SSH: a switch back can
    # drop this connection. The files written here are the declared ones either way.
    log "secrets: an earlier apply was interrupted ($STATE_DIR/$JOURNAL); the rebuild step of this deploy finishes it"
  fi
  local dir="$SECRETS_DIR/$SERVICE"
  local header kind a b c d e f ended=0 i
  local -a keys=() paths=() groups=() modes=() units=() values=()
  # The secrets stream: SECRETS_STREAM in components/host/formats.ts.
  IFS= read -r header || die "secrets: no input on stdin"
  [[ $header == "homelab-secrets v1" ]] || die "secrets: stdin is not a homelab-secrets v1 stream"
  while IFS=$'\t' read -r kind a b c d e f; do
    case $kind in
    secret)
      keys+=("$a")
      paths+=("$b")
      groups+=("$c")
      modes+=("$d")
      units+=("$e")
      values+=("$f")
      ;;
    end)
      [[ $a == "${#keys[@]}" ]] || die "secrets: the stream was cut (${#keys[@]} of $a secrets); nothing written"
      ended=1
      break
      ;;
    *) die "secrets: unexpected record in the stream; nothing written" ;;
    esac
  done
  ((ended)) || die "secrets: the stream was cut before its end; nothing written"

  # Check everything before writing anything. A service writes only its own
  # directory, so one service's run can never touch another's files.
  local -A declared=()
  for i in "${!keys[@]}"; do
    [[ ${keys[i]} =~ ^[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9.-]*$ && ${keys[i]} == "$SERVICE".* ]] || die "secrets: key ${keys[i]} does not belong to service $SERVICE"
    [[ ${paths[i]} == "$dir"/* && ${paths[i]#"$dir"/} != */* && ${paths[i]} != *..* ]] || die "secrets: ${keys[i]}: ${paths[i]} is not a file in $dir"
    [[ ${groups[i]} =~ ^[a-z_][a-z0-9_-]*$ ]] || die "secrets: ${keys[i]}: bad group ${groups[i]}"
    [[ ${modes[i]} == 0400 || ${modes[i]} == 0440 ]] || die "secrets: ${keys[i]}: mode ${modes[i]} is not 0400 or 0440"
    printf '%s' "${values[i]}" | base64 -d >/dev/null 2>&1 || die "secrets: ${keys[i]}: the value is not valid base64; nothing written"
    declared[${paths[i]}]=1
  done
  refuse_unsafe_dir "$SECRETS_DIR"
  refuse_unsafe_dir "$dir"
  for i in "${!keys[@]}"; do refuse_unsafe_file "${keys[i]}" "${paths[i]}"; done

  make_secret_dir "$SECRETS_DIR"
  make_secret_dir "$dir"

  local -a restart=() changed=() manifest=() unit_list=() staged=() wrote=() effective=()
  local WROTE EFFECTIVE STAGED_AS sum err
  PENDING=()
  # All or nothing: every value goes to a temporary file first, and only when
  # all of them are written do they replace the old files, each in one
  # rename within its directory. A failure before that (a full disk, a quota)
  # leaves every old file as it was.
  trap remove_staged EXIT
  trap 'exit 129' HUP INT TERM PIPE
  for i in "${!keys[@]}"; do
    stage_secret "${keys[i]}" "${paths[i]}" "${groups[i]}" "${modes[i]}" "${units[i]}" "${values[i]}"
    staged[i]=$STAGED_AS
    wrote[i]=$WROTE
    effective[i]=$EFFECTIVE
  done
  # The units a new value restarts, and those an earlier run of this service
  # replaced files for but did not get to restart (it failed or was cut off
  # after its renames): recorded before the first rename, so a run that stops
  # anywhere after it leaves the next run the restarts it owes. The next run
  # finds the files already up to date and would otherwise restart nothing.
  local owed="secrets.d/$SERVICE.restart" unit
  if [[ -f $STATE_DIR/$owed && ! -L $STATE_DIR/$owed ]]; then mapfile -t restart < <(grep -E '^[A-Za-z0-9@_.:-]+$' -- "$STATE_DIR/$owed"); fi
  for i in "${!keys[@]}"; do
    if [[ ${wrote[i]} == content ]]; then
      changed+=("${keys[i]}")
      if [[ ${units[i]} != - ]]; then
        IFS=, read -r -a unit_list <<<"${units[i]}"
        restart+=("${unit_list[@]}")
      fi
    fi
  done
  if ((${#changed[@]} > 0 && ${#restart[@]} > 0)); then write_state "$owed" "$(printf '%s\n' "${restart[@]}" | sort -u)"; fi
  for i in "${!keys[@]}"; do
    if [[ -z ${wrote[i]} ]]; then continue; fi
    err=$(mv -f -T -- "${staged[i]}" "${paths[i]}" 2>&1) || die "secrets: $(cause_of "$err") replacing ${paths[i]}"
  done
  remove_staged
  STAGED=()
  for i in "${!keys[@]}"; do
    if [[ ${wrote[i]} == meta ]]; then log "secrets: ${keys[i]}: owner or mode corrected to root:${effective[i]}"; fi
    sum=$(sha256sum <"${paths[i]}" | cut -d' ' -f1)
    manifest+=("${keys[i]}"$'\t'"$sum"$'\t'"${groups[i]}"$'\t'"${modes[i]}"$'\t'"${paths[i]}")
  done

  # What this service's last run wrote; read before the manifest is replaced.
  local -a previous=()
  local path
  if [[ -r $STATE_DIR/secrets.d/$SERVICE.manifest ]]; then
    while IFS=$'\t' read -r _ _ _ _ path; do
      if [[ -n $path ]]; then previous+=("$path"); fi
    done <"$STATE_DIR/secrets.d/$SERVICE.manifest"
  fi

  # What was written, for observe: hashes only, readable by root alone.
  mkdir -p -- "$STATE_DIR/secrets.d"
  chmod 0700 -- "$STATE_DIR/secrets.d"
  write_state "secrets.d/$SERVICE.manifest" "$(printf '%s\n' "${manifest[@]}")"
  write_state "secrets.d/$SERVICE.pending" "$(printf '%s\n' "${PENDING[@]}")"

  # A file this service's last run wrote that it no longer declares. If the
  # live release declares it, the running generation reads it, and so does
  # the one a failed switch rolls back to: it goes when a release that drops
  # it is live and healthy (cmd_apply). Otherwise nothing uses it: it goes now.
  # A file no deploy wrote (put there by hand) is not ours to remove; observe
  # reports it.
  local file
  for file in "${previous[@]}"; do
    [[ -z ${declared[$file]:-} && $file == "$dir"/* && ${file#"$dir"/} != */* ]] || continue
    [[ -f $file && ! -L $file ]] || continue
    if applied_declares "$file"; then
      log "secrets: $file is no longer declared; it is removed once a release without it is live and passes its health checks"
    else
      rm -f -- "$file"
      log "secrets: removed $file, which is no longer declared"
    fi
  done

  if ((${#changed[@]} == 0 && ${#restart[@]} == 0)); then
    rm -f -- "${STATE_DIR:?}/$owed"
    log "secrets: ${#keys[@]} files of $SERVICE already up to date; nothing restarted"
    return 0
  fi
  if ((${#changed[@]} > 0)); then
    log "secrets: new values for ${changed[*]}"
  else
    log "secrets: ${#keys[@]} files of $SERVICE already up to date; restarting what an earlier run wrote new values for and did not restart"
  fi
  local -a units_sorted=() failed=()
  mapfile -t units_sorted < <(printf '%s\n' "${restart[@]}" | sort -u)
  for unit in "${units_sorted[@]}"; do
    [[ -n $unit ]] || continue
    # Only a running unit holds the old values. One that is stopped, or not
    # there yet (a new service: the rebuild after this step creates it), reads
    # the new files when it starts; try-restart would fail on the latter
    # ("Unit … not found") and, owed, block that rebuild for good.
    if ! systemctl is-active --quiet -- "$unit"; then
      log "secrets: $unit is not running; it reads the new files when it starts"
      continue
    fi
    if systemctl try-restart -- "$unit"; then log "secrets: restarted $unit"; else failed+=("$unit"); fi
  done
  if ((${#failed[@]} > 0)); then
    write_state "$owed" "$(printf '%s\n' "${failed[@]}")"
    die "secrets: files written, but restarting ${failed[*]} failed; the next run of this command restarts them"
  fi
  rm -f -- "${STATE_DIR:?}/$owed"
}

# Once release <hash> is live and healthy: remove the secret files an earlier
# deploy wrote (a service's manifest) or the release before declared
# (applied-secrets) that this release does not declare (generated/secret-files.list), then
# record the files it declares. No generation that may use a removed file can
# come back now. A file no deploy wrote is left alone, wherever it is: it may
# be someone's, and observe reports it.
remove_undeclared() {
  local file manifest service left key sum group mode path units
  local -A keep=() written=() removed=()
  local -a lines=()
  for file in "${SECRET_FILES[@]}"; do keep[$file]=1; done
  for manifest in "$STATE_DIR"/secrets.d/*.manifest; do
    [[ -r $manifest ]] || continue
    while IFS=$'\t' read -r _ _ _ _ path; do
      if [[ -n $path ]]; then written[$path]=1; fi
    done <"$manifest"
  done
  # Read before it is replaced with this release's list below.
  if [[ -r $STATE_DIR/applied-secrets ]]; then
    while IFS= read -r -d '' file; do written[$file]=1; done <"$STATE_DIR/applied-secrets"
  fi
  while IFS= read -r file; do
    [[ -n $file && -z ${keep[$file]:-} && $file == "$SECRETS_DIR"/*/* && $file != *..* ]] || continue
    if [[ ! -e $file && ! -L $file ]]; then
      removed[$file]=1
    elif [[ -f $file ]] && secret_path_safe "$file"; then
      rm -f -- "$file"
      removed[$file]=1
      log "secrets: removed $file, which is no longer declared"
      # Its service's directory, once nothing is left in it.
      rmdir -- "${file%/*}" 2>/dev/null || true
    else
      log "warning: $file is no longer declared, but it is not a regular file in a real directory; left in place"
    fi
  done < <(printf '%s\n' "${!written[@]}" | LC_ALL=C sort)
  write_list applied-secrets "${SECRET_FILES[@]}"
  # Forget the removed files; a service with none left loses its records.
  for manifest in "$STATE_DIR"/secrets.d/*.manifest; do
    [[ -e $manifest ]] || continue
    service=${manifest##*/}
    service=${service%.manifest}
    lines=()
    left=0
    while IFS=$'\t' read -r key sum group mode path; do
      [[ -n $key ]] || continue
      if [[ -n ${removed[$path]:-} ]]; then continue; fi
      lines+=("$key"$'\t'"$sum"$'\t'"$group"$'\t'"$mode"$'\t'"$path")
      left=$((left + 1))
    done <"$manifest"
    if ((left == 0)); then
      rm -f -- "$manifest" "$STATE_DIR/secrets.d/$service.pending" "$STATE_DIR/secrets.d/$service.restart" "$STATE_DIR/record.secrets.$service"
      continue
    fi
    write_state "secrets.d/$service.manifest" "$(printf '%s\n' "${lines[@]}")"
    [[ -r $STATE_DIR/secrets.d/$service.pending ]] || continue
    lines=()
    while IFS=$'\t' read -r key path group mode units; do
      [[ -n $key && -z ${removed[$path]:-} ]] || continue
      lines+=("$key"$'\t'"$path"$'\t'"$group"$'\t'"$mode"$'\t'"$units")
    done <"$STATE_DIR/secrets.d/$service.pending"
    write_state "secrets.d/$service.pending" "$(printf '%s\n' "${lines[@]}")"
  done
}

# After a switch, hand the files whose group did not exist yet to that group,
# and restart their consumers, which could not read them until now.
finish_pending() {
  local file key path group mode units unit
  local -a left=() restart=() unit_list=()
  for file in "$STATE_DIR"/secrets.d/*.pending; do
    [[ -s $file ]] || continue
    left=()
    while IFS=$'\t' read -r key path group mode units; do
      [[ -n $key ]] || continue
      if [[ -f $path ]] && secret_path_safe "$path" && getent group "$group" >/dev/null; then
        chown -h "root:$group" -- "$path"
        chmod "$mode" -- "$path"
        log "secrets: $key is now readable by group $group"
        if [[ $units != - ]]; then
          IFS=, read -r -a unit_list <<<"$units"
          restart+=("${unit_list[@]}")
        fi
      else
        left+=("$key"$'\t'"$path"$'\t'"$group"$'\t'"$mode"$'\t'"$units")
      fi
    done <"$file"
    file=${file#"$STATE_DIR"/}
    write_state "$file" "$(printf '%s\n' "${left[@]}")"
  done
  while IFS= read -r unit; do
    [[ -n $unit ]] || continue
    # restart, not try-restart: the unit may have failed to start without the file.
    systemctl restart -- "$unit" || log "warning: restarting $unit failed"
  done < <(printf '%s\n' "${restart[@]}" | sort -u)
}

# --- apply -----------------------------------------------------------------

check_one() {
  local kind=$1 port=$2 path=$3 code
  case $kind in
  tcp)
    # shellcheck disable=SC2016 # $1 expands in the inner shell
    timeout "$CHECK_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null
    ;;
  http)
    if command -v curl >/dev/null 2>&1; then
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$CHECK_TIMEOUT" "http://127.0.0.1:$port$path" 2>/dev/null || true)
    else
      # curl is not part of a minimal NixOS system; bash can speak enough HTTP.
      # shellcheck disable=SC2016 # $1 and $2 expand in the inner shell
      code=$(timeout "$CHECK_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3; read -r _ c _ <&3; printf %s "$c"' _ "$port" "$path" 2>/dev/null || true)
    fi
    [[ $code =~ ^[1-4][0-9][0-9]$ ]]
    ;;
  *) return 1 ;;
  esac
}

# The release's health checks and secret files, from two generated files in
# the release itself (hashed with it), not from the command line: at a few
# thousand services one argument list would pass the kernel's limit of
# 128 KiB per argument (MAX_ARG_STRLEN, E2BIG), and the command would grow
# with every service. Checked line by line before anything changes.
load_release_lists() {
  local dir=$1 id kind port path file n=0
  CHECKS=()
  SECRET_FILES=()
  [[ -f $dir/$CHECKS_FILE && -f $dir/$SECRET_FILES_FILE ]] || die "apply: release ${dir##*/} has no $CHECKS_FILE or $SECRET_FILES_FILE; it was built by an older program. Run pulumi up again with this one"
  while IFS=$'\t' read -r id kind port path; do
    n=$((n + 1))
    [[ -z $id || $id == \#* ]] && continue
    [[ $id =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "apply: $CHECKS_FILE line $n: \"$id\" is not a service id"
    if ! [[ $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then die "apply: $CHECKS_FILE line $n: $id: port \"$port\" is not a TCP port"; fi
    case $kind in
    tcp) [[ -z $path ]] || die "apply: $CHECKS_FILE line $n: $id: a tcp check has no path" ;;
    http) [[ $path =~ ^/[A-Za-z0-9/._~%?=\&:+-]{0,255}$ ]] || die "apply: $CHECKS_FILE line $n: $id: \"$path\" is not a plain URL path" ;;
    *) die "apply: $CHECKS_FILE line $n: $id: kind \"$kind\" is not http or tcp" ;;
    esac
    CHECKS+=("$id"$'\t'"$kind"$'\t'"$port"$'\t'"$path")
  done <"$dir/$CHECKS_FILE"
  n=0
  while IFS= read -r file; do
    n=$((n + 1))
    [[ -z $file || $file == \#* ]] && continue
    [[ $file == "$SECRETS_DIR"/*/* && $file != *..* && $file =~ ^(/[A-Za-z0-9._@+-]+)+$ ]] || die "apply: $SECRET_FILES_FILE line $n: $file is not a service's file under $SECRETS_DIR"
    SECRET_FILES+=("$file")
  done <"$dir/$SECRET_FILES_FILE"
}

# Every check must pass in one round before the deadline. FAILED names the
# ones that did not pass in the last round.
run_health() {
  local deadline=$((SECONDS + TIMEOUT)) spec id kind port path
  FAILED=()
  if ((${#CHECKS[@]} == 0)); then
    log "health: no checks declared"
    return 0
  fi
  while :; do
    FAILED=()
    for spec in "${CHECKS[@]}"; do
      IFS=$'\t' read -r id kind port path <<<"$spec"
      check_one "$kind" "$port" "${path:-/}" || FAILED+=("$id ($kind 127.0.0.1:$port${path})")
    done
    step health
    if ((${#FAILED[@]} == 0)); then
      log "health: all ${#CHECKS[@]} checks pass"
      return 0
    fi
    ((SECONDS < deadline)) || return 1
    sleep "$POLL_SECONDS"
  done
}

failed_list() {
  local out="" item
  for item in "${FAILED[@]}"; do out+="${out:+, }$item"; done
  echo "$out"
}

# --- apply journal ------------------------------------------------------------
#
# An apply changes three things that must agree: the bundle link, the system
# profile and the records (applied-release, deployed-generation). Before the
# first of them changes, the apply writes what it is about to do and what to
# return to into the journal, durably. It goes only once the apply has
# finished, healthy or rolled back. So an apply killed anywhere in between (a
# power cut, the OOM killer, SIGKILL) leaves the journal behind, and the next
# apply, which holds the same lock, first finishes what it left: a rollback
# to the recorded state, or, once the checks had passed, the records. Reading
# the state afresh instead would take a half-applied release for the one to
# return to.
#
# The system to return to is kept as a store path as well as a generation
# number: a switch to an identical configuration makes no new generation, so
# "the generation before" is not always the one that ran before.

# The file, one "<key>\t<value>" per line:
#   version 1, target <hash>, phase started|switching|awaiting|committed,
#   previous-release, previous-link (or -), backup (or -),
#   previous-generation, previous-system (a store path, or -),
#   newest-generation (the highest generation number before this apply),
#   previous-applied, previous-deployed (the records before this apply),
#   confirm-id (12 hex digits, naming the rollback timer),
#   confirm-deadline (seconds since the epoch the timer fires at, or -),
#   boot-id (the kernel's boot id when the wait began, or -)
# A journal of an older script has no confirm-* or boot-id lines: they read as "-".
JOURNAL=apply-journal
JOURNAL_KEYS=(version target phase previous-release previous-link backup previous-generation previous-system newest-generation previous-applied previous-deployed confirm-id confirm-deadline boot-id)
JOURNAL_OPTIONAL=(confirm-id confirm-deadline boot-id)
declare -A J=()

# For the fault tests only: stop dead at a named step boundary, the way a
# power cut or the OOM killer would (SIGKILL: no trap runs). It acts only when
# HOMELAB_TEST_KILL_AT names the step and HOMELAB_SYSTEM_PROFILE is set; only
# the test host sets either (its SSH wrapper, from a steering file), so on a
# real host this is a comparison that never matches.
step() {
  if [[ -n ${HOMELAB_TEST_KILL_AT:-} && -n ${HOMELAB_SYSTEM_PROFILE:-} && $HOMELAB_TEST_KILL_AT == "$1" ]]; then
    kill -KILL "$$"
  fi
}

# Write the journal from J: a temporary file, flushed, renamed over the old
# one, and the directory flushed, so after a crash it is the old or the new.
write_journal() {
  local tmp key
  tmp=$(mktemp -- "$STATE_DIR/.$JOURNAL.XXXXXX")
  for key in "${JOURNAL_KEYS[@]}"; do
    printf '%s\t%s\n' "$key" "${J[$key]:--}"
  done >"$tmp"
  sync -- "$tmp"
  mv -f -T -- "$tmp" "$STATE_DIR/$JOURNAL"
  sync -- "$STATE_DIR"
}

# Load the journal into J and check every value before any is acted on; sets
# JOURNAL_PROBLEM to what is wrong with it, empty when it is sound. A damaged
# journal (a disk error, an edit by hand, a truncated write of some other
# tool) cannot say what to return to, so nothing acts on it: the deploy
# commands refuse with the recovery command (refuse_damaged_journal).
load_journal() {
  local key value n=0 hash='^[0-9a-f]{64}$' gen='^(-|[0-9]+)$' abs='^(-|/[^[:cntrl:]]*)$'
  J=()
  JOURNAL_PROBLEM=""
  if [[ ! -f $STATE_DIR/$JOURNAL || -L $STATE_DIR/$JOURNAL ]]; then
    JOURNAL_PROBLEM="it is not a regular file"
    return 0
  fi
  while IFS= read -r key || [[ -n $key ]]; do
    n=$((n + 1))
    [[ -n $key ]] || continue
    if [[ $key != *$'\t'* ]]; then
      JOURNAL_PROBLEM="line $n is not <key><TAB><value>"
      return 0
    fi
    value=${key#*$'\t'}
    key=${key%%$'\t'*}
    J[$key]=$value
  done <"$STATE_DIR/$JOURNAL" || true
  for key in "${JOURNAL_OPTIONAL[@]}"; do J[$key]=${J[$key]:--}; done
  for key in "${JOURNAL_KEYS[@]}"; do
    if [[ -z ${J[$key]:-} ]]; then
      JOURNAL_PROBLEM="it has no $key"
      return 0
    fi
  done
  if [[ ${J[version]} != 1 ]]; then JOURNAL_PROBLEM="its version is not 1"
  elif ! [[ ${J[target]} =~ $hash ]]; then JOURNAL_PROBLEM="its target is not a bundle hash"
  elif ! [[ ${J[phase]} =~ ^(started|switching|awaiting|committed)$ ]]; then JOURNAL_PROBLEM="its phase is not started, switching, awaiting or committed"
  elif ! [[ ${J[previous-release]} == - || ${J[previous-release]} =~ $hash || ${J[previous-release]} == \?* ]]; then JOURNAL_PROBLEM="its previous-release is not a bundle hash"
  elif ! [[ ${J[previous-applied]} == - || ${J[previous-applied]} =~ $hash ]]; then JOURNAL_PROBLEM="its previous-applied is not a bundle hash"
  elif ! [[ ${J[previous-link]} =~ $abs && ${J[backup]} =~ $abs && ${J[previous-system]} =~ $abs ]]; then JOURNAL_PROBLEM="previous-link, backup or previous-system is not an absolute path"
  elif ! [[ ${J[previous-generation]} =~ $gen && ${J[newest-generation]} =~ $gen && ${J[previous-deployed]} =~ $gen ]]; then JOURNAL_PROBLEM="a generation number is not a number"
  elif ! [[ ${J[confirm-id]} =~ ^(-|[0-9a-f]{12})$ && ${J[confirm-deadline]} =~ $gen && ${J[boot-id]} =~ ^[0-9a-f-]+$ ]]; then JOURNAL_PROBLEM="confirm-id, confirm-deadline or boot-id is malformed"
  fi
  return 0
}

# The exact command that repairs a damaged journal, for messages.
repair_command() {
  printf 'bash %q journal-repair --bundle-dir %q --secrets-dir %q --state-dir %q' "$STATE_DIR/$SCRIPT_COPY" "$BUNDLE_DIR" "$SECRETS_DIR" "$STATE_DIR"
}

refuse_damaged_journal() {
  die "$1: the apply journal $STATE_DIR/$JOURNAL is damaged ($JOURNAL_PROBLEM), so it cannot say what an interrupted apply changed or what to return to; nothing was changed. On the host run: $(repair_command)   It checks the bundle link and the system profile against the records (applied-release, deployed-generation), puts back what differs and sets the journal aside; then run pulumi up again"
}

# Load the journal into J; false when there is none. A damaged one is refused.
read_journal() {
  [[ -e $STATE_DIR/$JOURNAL || -L $STATE_DIR/$JOURNAL ]] || { J=(); return 1; }
  load_journal
  [[ -z $JOURNAL_PROBLEM ]] || refuse_damaged_journal "${1:-apply}"
}

remove_journal() {
  rm -f -- "$STATE_DIR/$JOURNAL"
  sync -- "$STATE_DIR"
}

# The store path the system profile resolves to, or "-".
system_path() {
  readlink -f -- "$PROFILE" 2>/dev/null || echo -
}

# A record back to what it was; "-" means there was none.
restore_state() {
  if [[ $2 == - ]]; then rm -f -- "$STATE_DIR/$1"; else write_state "$1" "$2"; fi
}

# No earlier homelab bundle (no link, no directory moved aside): nothing of
# ours to go back to.
first_deploy() {
  [[ ${J[previous-link]} == - && ${J[backup]} == - ]]
}

# The highest system generation number, or "-".
newest_generation() {
  local link n newest=-
  for link in "$PROFILE"-*-link; do
    n=${link#"$PROFILE"-}
    n=${n%-link}
    [[ $n =~ ^[0-9]+$ ]] || continue
    if [[ $newest == - ]] || ((n > newest)); then newest=$n; fi
  done
  echo "$newest"
}

# Delete the system generations newer than $1 other than the live one: the
# ones the failed or interrupted switch made. $1 is the newest generation
# from before the apply, so one made by hand earlier (the host may have been
# rolled back below it) is left alone.
delete_generations_after() {
  local keep=$1 live link n
  local -a doomed=()
  live=$(generation)
  for link in "$PROFILE"-*-link; do
    n=${link#"$PROFILE"-}
    n=${n%-link}
    [[ $n =~ ^[0-9]+$ ]] || continue
    if ((n > keep)) && [[ $n != "$live" ]]; then doomed+=("$n"); fi
  done
  if ((${#doomed[@]})); then
    nix-env -p "$PROFILE" --delete-generations "${doomed[@]}" >/dev/null || log "warning: could not delete system generations ${doomed[*]}"
  fi
}

# Put back the system, the bundle link and the records the journal names.
# Each part checks before it acts, so a restore that is itself cut short is
# finished by the next one. Sets RESTORE_FAILED when the system could not be
# switched back.
restore_from_journal() {
  local prev_sys=${J[previous-system]} prev_gen=${J[previous-generation]} link
  RESTORE_FAILED=""
  if [[ $prev_sys != - ]]; then
    if [[ $(system_path) != "$prev_sys" ]]; then
      # The same generation number when it still holds that system, so the
      # numbers read as before; otherwise a new generation of the store path.
      if [[ $prev_gen != - && $(readlink -f -- "$PROFILE-$prev_gen-link" 2>/dev/null) == "$prev_sys" ]]; then
        nix-env -p "$PROFILE" --switch-generation "$prev_gen" >/dev/null || RESTORE_FAILED=1
      else
        nix-env -p "$PROFILE" --set "$prev_sys" >/dev/null || RESTORE_FAILED=1
      fi
      J[phase]=switching
    fi
    # Activate it again only if a switch began: otherwise it never stopped running.
    if [[ -z $RESTORE_FAILED && ${J[phase]} != started ]]; then
      "$prev_sys/bin/switch-to-configuration" switch || RESTORE_FAILED=1
    fi
    step rollback-system
    if [[ -z $RESTORE_FAILED && ${J[newest-generation]} != - ]]; then delete_generations_after "${J[newest-generation]}"; fi
  fi
  if [[ ${J[previous-link]} != - ]]; then
    link=$(readlink -- "$BUNDLE_DIR" 2>/dev/null || true)
    [[ $link == "${J[previous-link]}" ]] || flip_link "${J[previous-link]}" "$BUNDLE_DIR"
  elif [[ ${J[backup]} != - ]]; then
    if [[ -e ${J[backup]} ]]; then
      if [[ -L $BUNDLE_DIR ]]; then rm -f -- "$BUNDLE_DIR"; fi
      [[ -e $BUNDLE_DIR ]] || mv -T -- "${J[backup]}" "$BUNDLE_DIR"
    fi
  elif [[ $(current_release) == "${J[target]}" ]]; then
    # Nothing was there before: the apply that follows links it again, as a
    # first deploy, so a failure then keeps what it switched to.
    rm -f -- "$BUNDLE_DIR"
  fi
  step rollback-link
  restore_state previous-release "${J[previous-release]}"
  restore_state applied-release "${J[previous-applied]}"
  restore_state deployed-generation "${J[previous-deployed]}"
}

# The records of a healthy apply; the journal's phase says it got that far.
commit_records() {
  write_state applied-release "${J[target]}"
  write_state deployed-generation "$(generation)"
  rm -f -- "$STATE_DIR/unconfirmed-rollback"
}

# Run first by every apply, under the lock: finish an apply that was killed,
# or one the deployer never confirmed (the timer that would roll it back is
# disarmed first: this run rolls it back now).
recover_interrupted() {
  read_journal "${1:-apply}" || return 0
  local target=${J[target]}
  disarm_rollback
  case ${J[phase]} in
  committed)
    commit_records
    step recovered
    remove_journal
    log "apply: an earlier apply of $target was interrupted after its health checks passed; recorded it as live (system generation $(generation))"
    ;;
  awaiting)
    restore_from_journal
    if [[ -n $RESTORE_FAILED ]]; then
      die "apply: an earlier apply of $target was never confirmed by the deployer, and switching back to ${J[previous-system]} failed; nothing else was changed. On the host run: nix-env -p $PROFILE --set ${J[previous-system]} && ${J[previous-system]}/bin/switch-to-configuration switch, then pulumi up again (it finishes the rollback from $STATE_DIR/$JOURNAL)"
    fi
    step recovered
    remove_journal
    log "apply: an earlier apply of $target passed its checks but was not confirmed by the deployer over a new SSH connection; rolled back to release ${J[previous-release]} and system generation $(generation) as its journal recorded"
    ;;
  *)
    restore_from_journal
    if [[ -n $RESTORE_FAILED ]]; then
      die "apply: an earlier apply of $target was interrupted, and switching back to ${J[previous-system]} failed; nothing else was changed. On the host run: nix-env -p $PROFILE --set ${J[previous-system]} && ${J[previous-system]}/bin/switch-to-configuration switch, then pulumi up again (it finishes the rollback from $STATE_DIR/$JOURNAL)"
    fi
    step recovered
    remove_journal
    if first_deploy; then
      log "apply: an earlier apply of $target, the first deploy to this host, was interrupted before it finished; put the host back as it was before it (no bundle link, system generation $(generation)) as its journal recorded"
    else
      log "apply: an earlier apply of $target was interrupted before it finished; rolled back to release ${J[previous-release]} and system generation $(generation) as its journal recorded"
    fi
    ;;
  esac
}

# The first deploy to a host that may already run the catalog's services by
# hand: which of the release's units are active, which of its ports are
# bound and by what, and where each service's state is. Read-only.
report_takeover() {
  local release=$1 id units port paths unit p bound n=0
  [[ -f $release/$TAKEOVER_FILE ]] || return 0
  log "apply: first deploy to this host; what of the release already runs here (the switch takes it over):"
  while IFS=$'\t' read -r id units port paths; do
    n=$((n + 1))
    [[ -z $id || $id == \#* ]] && continue
    if ! [[ $id =~ ^[a-z0-9][a-z0-9-]*$ && $units =~ ^[A-Za-z0-9@._:\ -]+$ && $port =~ ^(-|[1-9][0-9]{0,4})$ && $paths =~ ^(-|[A-Za-z0-9._@+/\ -]+)$ ]]; then
      log "warning: $TAKEOVER_FILE line $n is not id, units, port and paths; skipped"
      continue
    fi
    local -a running=() states=()
    if [[ $units != - ]]; then
      for unit in $units; do
        if systemctl is-active --quiet -- "$unit" 2>/dev/null; then running+=("$unit"); fi
      done
    fi
    bound=-
    if [[ $port != - ]]; then
      if command -v ss >/dev/null 2>&1; then
        bound=$(ss -Htlnp "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\("[^"]*"\).*/\1/p' | sort -u | tr '\n' ' ' || true)
        bound=${bound% }
        [[ -n $bound ]] || bound=free
      else
        bound="unknown (no ss)"
      fi
    fi
    if [[ $paths != - ]]; then
      for p in $paths; do
        if [[ -e $p ]]; then states+=("$p ($(stat -c '%U:%G' -- "$p" 2>/dev/null || echo '?'))"); else states+=("$p (absent)"); fi
      done
    fi
    printf '  | %s: running %s; port %s%s; state %s\n' "$id" "${running[*]:-none}" "${port}" "$([[ $port == - ]] || echo " ($bound)")" "${states[*]:--}"
  done <"$release/$TAKEOVER_FILE"
}

# Before the first deploy changes a host that backs up with restic by hand
# (services.restic.backups: restic-backups-<name>.service), one snapshot of
# what it backs up, so the takeover can be undone from the repository.
snapshot_before_takeover() {
  local units unit
  # A pattern that matches nothing exits 1 (systemd 246 and later): no units, not an error.
  units=$(systemctl list-unit-files --no-legend --plain 'restic-backups-*.service' 2>/dev/null | awk '{print $1}' || true)
  [[ -n $units ]] || return 0
  for unit in $units; do
    [[ $unit =~ ^restic-backups-[A-Za-z0-9@._:-]+\.service$ ]] || continue
    log "apply: first deploy to a host that backs up with restic: running $unit for a snapshot before anything changes"
    systemctl start --wait -- "$unit" || die "apply: the snapshot before the first deploy failed ($unit; journalctl -u $unit says why); nothing was changed. Fix the backup, or run it by hand, then pulumi up again"
  done
}

# nixos-rebuild for this host: a flake host's own flake with the release as
# its bundle input, a channel host's configuration.nix as it stands.
rebuild_args() {
  local action=$1 release=$2
  REBUILD=(nixos-rebuild "$action")
  if [[ -n $FLAKE ]]; then REBUILD+=(--flake "$FLAKE" --override-input "$FLAKE_INPUT" "path:$release"); fi
}

# Build the system of a release without activating it; BUILT is its store
# path. On failure the output of nixos-rebuild (the options and files it
# names) is in BUILD_LOG.
BUILT=""
BUILD_LOG=""
build_system() {
  local release=$1 dir=$STATE_DIR/build
  mkdir -p -- "$dir"
  BUILD_LOG=$dir/build.log
  rm -f -- "$dir/result"
  rebuild_args build "$release"
  local started
  started=$(date +%s%N)
  log "apply: building the system of release ${release##*/} (${REBUILD[*]})"
  (cd -- "$dir" && "${REBUILD[@]}") >"$BUILD_LOG" 2>&1 || return 1
  BUILT=$(readlink -f -- "$dir/result") || return 1
  [[ -x $BUILT/bin/switch-to-configuration ]] || { echo "the build made $BUILT, which has no bin/switch-to-configuration" >>"$BUILD_LOG"; return 1; }
  log "apply: built $BUILT in $((($(date +%s%N) - started) / 1000000)) ms"
}

# The build's failure in nixos-rebuild's own words: its last lines.
build_failure() {
  tail -n 40 -- "$BUILD_LOG" | sed 's/^/  | /'
}

# What activating the built system will do to the running units, as
# switch-to-configuration dry-activate says it (would stop/start/restart/reload).
report_activation() {
  local out
  if out=$("$BUILT/bin/switch-to-configuration" dry-activate 2>&1); then
    log "apply: the switch will change these units (switch-to-configuration dry-activate):"
    if [[ -n $out ]]; then printf '%s\n' "$out" | sed 's/^/  | /'; else echo "  | (no unit changes)"; fi
  else
    log "warning: switch-to-configuration dry-activate failed, so the units the switch will touch are not known:"
    printf '%s\n' "$out" | sed 's/^/  | /'
  fi
}

cmd_apply() {
  (($# == 1)) || die "usage: apply <hash>"
  local hash=$1 gen_before cur applied deployed prev_link="" backup=""
  valid_hash "$hash"
  # The detached process holds the lock: a deploy started after a dropped
  # connection waits until this apply has finished or rolled back.
  take_lock
  if [[ -n $DETACHED ]]; then prune_apply_logs; fi
  if resume_awaiting "$hash"; then return 0; fi
  recover_interrupted
  release_ok "$hash" || die "apply: release $hash is missing on the host or its files were changed; run pulumi up again so the push re-sends it"
  load_release_lists "$STATE_DIR/releases/$hash"
  gen_before=$(generation)
  cur=$(current_release)
  applied=$(read_state applied-release)
  deployed=$(read_state deployed-generation)

  if [[ $cur == "$hash" && $applied == "$hash" && $deployed == "$gen_before" ]]; then
    log "apply: bundle $hash is already live as system generation $gen_before; no rebuild"
    finish_pending
    run_health || die "health checks failed: $(failed_list); nothing was changed, so nothing was rolled back"
    remove_undeclared
    return 0
  fi

  if [[ $applied == - && ! -L $BUNDLE_DIR ]]; then
    report_takeover "$STATE_DIR/releases/$hash"
    snapshot_before_takeover
  fi

  # A flake host builds the release as its input before anything changes.
  if [[ -n $FLAKE ]]; then
    build_system "$STATE_DIR/releases/$hash" ||
      die "apply: building release $hash with $FLAKE failed; nothing on the host was changed (no link, no switch). nixos-rebuild said:
$(build_failure)"
    report_activation
  fi

  # Remember what to return to, durably, before anything changes.
  if [[ -L $BUNDLE_DIR ]]; then
    prev_link=$(readlink -- "$BUNDLE_DIR")
    [[ $prev_link != *[$'\t\n']* ]] || die "apply: $BUNDLE_DIR links to a name with a tab or newline; point it somewhere plain or remove it"
  elif [[ -e $BUNDLE_DIR ]]; then
    backup="$BUNDLE_DIR.pre-homelab"
    [[ ! -e $backup ]] || die "apply: $BUNDLE_DIR is a plain directory and $backup already exists; move one of them away"
  fi
  J=([version]=1 [target]=$hash [phase]=started [previous-release]=$cur [previous-link]=${prev_link:--} [backup]=${backup:--}
    [previous-generation]=$gen_before [previous-system]=$(system_path) [newest-generation]=$(newest_generation) [previous-applied]=$applied [previous-deployed]=$deployed
    [confirm-id]=- [confirm-deadline]=- [boot-id]=-)
  # Named before anything changes, so whatever finds this journal can disarm the timer.
  J[confirm-id]=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  write_journal
  step journal
  if [[ -n $backup ]]; then
    mv -T -- "$BUNDLE_DIR" "$backup"
    log "apply: moved the existing $BUNDLE_DIR to $backup"
  fi
  write_state previous-release "$cur"
  mkdir -p -- "${BUNDLE_DIR%/*}"
  flip_link "$STATE_DIR/releases/$hash" "$BUNDLE_DIR"
  log "apply: $BUNDLE_DIR now links release $hash (was $cur)"
  step linked
  # A channel host's configuration.nix reads the bundle through the link.
  if [[ -z $FLAKE ]]; then
    if ! build_system "$STATE_DIR/releases/$hash"; then
      restore_from_journal
      remove_journal
      die "apply: building release $hash failed, so nothing was switched and $BUNDLE_DIR was put back as it was. nixos-rebuild said:
$(build_failure)"
    fi
    report_activation
  fi
  step built
  J[phase]=switching
  write_journal

  log "apply: nixos-rebuild switch from generation $gen_before"
  rebuild_args switch "$STATE_DIR/releases/$hash"
  if ! "${REBUILD[@]}"; then
    roll_back "nixos-rebuild switch failed"
  fi
  step switched
  finish_pending
  if ! run_health; then
    roll_back "health checks failed after ${TIMEOUT}s: $(failed_list)"
  fi
  step healthy

  await_confirmation
}

# Once the release is recorded as live: a rollback no longer brings back a
# generation that uses the secrets this bundle dropped, so they go, with the
# generations and releases beyond the ones kept.
finish_commit() {
  remove_undeclared
  step cleaned
  nix-env --delete-generations "+$KEEP" -p "$PROFILE" >/dev/null || log "warning: could not delete system generations beyond the last $KEEP"
  prune_releases
  log "apply: bundle ${J[target]} is live as system generation $(generation); keeping the last $KEEP generations"
}

# --- confirmed activation ------------------------------------------------------
#
# The health checks run on the host, so a release that breaks sshd, the
# firewall or the network passes them and would lock the deployer out of a
# headless box. So the apply commits nothing: it arms a rollback on the host's
# own timer, makes the system before the boot default, and ends. The deployer
# then opens a new SSH connection and runs `confirm`, which commits. Without
# it, the timer rolls back (system, link, records), whether or not anyone is
# still there; a reboot meanwhile starts the system before, and the next apply
# finishes the rollback from the journal (phase awaiting).

rollback_unit() {
  echo "homelab-confirm-$1"
}

# The kernel's id of this boot: a wait that began in another boot was cut by
# a reboot, which started the system before. The test host points it at a
# file of its own (HOMELAB_BOOT_ID_FILE), as it does the profile.
boot_id() {
  local id
  id=$(tr -d '\n' <"${HOMELAB_BOOT_ID_FILE:-/proc/sys/kernel/random/boot_id}" 2>/dev/null) || true
  [[ $id =~ ^[0-9a-f-]+$ ]] && echo "$id" || echo -
}

# An apply of the release that already waits for confirmation, in the same
# boot: an earlier rebuild got that far and then lost its connection (the
# switch restarted the network, say), so Pulumi never ran the confirm. This
# rebuild came over a new connection, so the deployer can reach the host:
# check again and wait again, rather than roll back and switch again, which
# would cut the same connection the same way. Sets cur for roll_back.
resume_awaiting() {
  local hash=$1
  read_journal || return 1
  [[ ${J[phase]} == awaiting && ${J[target]} == "$hash" && ${J[boot-id]} != - && ${J[boot-id]} == "$(boot_id)" && $(current_release) == "$hash" ]] || return 1
  # shellcheck disable=SC2034 # read by roll_back
  cur=${J[previous-release]}
  log "apply: release $hash already passed its health checks and waits for confirmation (the rebuild that switched to it lost its connection); checking it again"
  load_release_lists "$STATE_DIR/releases/$hash"
  if ! run_health; then
    disarm_rollback
    roll_back "health checks failed after ${TIMEOUT}s: $(failed_list)"
  fi
  disarm_rollback
  J[confirm-id]=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  J[phase]=switching
  write_journal
  await_confirmation
  return 0
}

arm_rollback() {
  local unit bash_path out
  unit=$(rollback_unit "${J[confirm-id]}")
  bash_path=$(command -v bash)
  # A transient unit: no generation defines it, so the rollback's own switch
  # never stops it halfway; and it runs without the SSH session.
  out=$(systemd-run --unit="$unit" --description="homelab: roll back release ${J[target]} unless the deployer confirms it" \
    --on-active="${CONFIRM_TIMEOUT}s" --timer-property=AccuracySec=1s --collect \
    --setenv=PATH="$PATH" ${HOMELAB_SYSTEM_PROFILE:+--setenv=HOMELAB_SYSTEM_PROFILE="$HOMELAB_SYSTEM_PROFILE"} \
    -- "$bash_path" "$STATE_DIR/releases/${J[target]}/$RELEASE_SCRIPT" rollback-unconfirmed \
    --bundle-dir "$BUNDLE_DIR" --secrets-dir "$SECRETS_DIR" --state-dir "$STATE_DIR" "${J[confirm-id]}" 2>&1) || {
    printf '%s\n' "$out" | sed 's/^/  | /' >&2
    return 1
  }
}

disarm_rollback() {
  [[ ${J[confirm-id]:--} != - ]] || return 0
  systemctl stop -- "$(rollback_unit "${J[confirm-id]}").timer" >/dev/null 2>&1 || true
}

# Make a system the one the next boot starts (nixos-rebuild boot does the
# same). A warning only: the timer still rolls back.
boot_default() {
  [[ $1 != - && -x $1/bin/switch-to-configuration ]] || return 0
  "$1/bin/switch-to-configuration" boot >/dev/null 2>&1 || log "warning: could not make $1 the boot default (switch-to-configuration boot failed)"
}

await_confirmation() {
  local deadline
  if ! arm_rollback; then
    roll_back "could not arm the rollback timer (systemd-run above), and without it a switch that cut the deployer off would stay"
  fi
  step armed
  deadline=$(($(date +%s) + CONFIRM_TIMEOUT))
  J[phase]=awaiting
  J[confirm-deadline]=$deadline
  J[boot-id]=$(boot_id)
  write_journal
  step awaiting
  boot_default "${J[previous-system]}"
  log "apply: release ${J[target]} passed its health checks as system generation $(generation); waiting ${CONFIRM_TIMEOUT}s (until $(date -u -d "@$deadline" +%H:%M:%SZ)) for the deployer to confirm it over a new SSH connection. Without that the host rolls back by itself to release ${J[previous-release]} (system, bundle link and records)"
}

cmd_confirm() {
  (($# == 1)) || die "usage: confirm <hash>"
  local hash=$1 applied rolled
  valid_hash "$hash"
  take_lock
  if read_journal confirm; then
    [[ ${J[target]} == "$hash" ]] || die "confirm: the host is waiting to confirm release ${J[target]}, not $hash; nothing confirmed. Run pulumi up again"
    case ${J[phase]} in
    awaiting | committed) ;;
    *) die "confirm: the apply of release $hash did not get as far as its health checks (journal phase ${J[phase]}); nothing to confirm. The next pulumi up finishes or rolls it back" ;;
    esac
    disarm_rollback
    J[phase]=committed
    write_journal
    step committed
    boot_default "$(system_path)"
    commit_records
    step recorded
    remove_journal
    step finished
    log "confirm: the deployer reached the host over a new SSH connection after the switch; release $hash confirmed"
    load_release_lists "$STATE_DIR/releases/$hash"
    finish_commit
    return 0
  fi
  applied=$(read_state applied-release)
  if [[ $applied == "$hash" && $(current_release) == "$hash" ]]; then
    log "confirm: bundle $hash is already live as system generation $(generation); it was confirmed before, nothing to do"
    return 0
  fi
  rolled=$(read_state unconfirmed-rollback)
  if [[ ${rolled%% *} == "$hash" ]]; then
    die "confirm: too late: no confirmation of release $hash arrived in time, so the host rolled it back by itself at ${rolled#* } to release $applied. Look at what the release changes in sshd, the firewall or the network, then run pulumi up again"
  fi
  die "confirm: release $hash is not waiting for confirmation on this host (the live release is $applied); nothing confirmed. Run pulumi up again"
}

# The timer's side: roll back the apply <id> unless it was confirmed.
cmd_rollback_unconfirmed() {
  if (($# != 1)) || ! [[ $1 =~ ^[0-9a-f]{12}$ ]]; then die "usage: rollback-unconfirmed <id>"; fi
  take_lock
  if ! read_journal rollback-unconfirmed || [[ ${J[confirm-id]} != "$1" ]]; then
    log "rollback-unconfirmed: the apply this timer was armed for has finished (confirmed or rolled back); nothing to do"
    return 0
  fi
  if [[ ${J[phase]} != committed ]]; then
    write_state unconfirmed-rollback "${J[target]} $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    log "rollback-unconfirmed: no confirmation of release ${J[target]} arrived by $(date -u -d "@${J[confirm-deadline]/-/0}" +%H:%M:%SZ); rolling back"
  fi
  recover_interrupted rollback-unconfirmed
}

# --- journal-repair ------------------------------------------------------------
#
# A damaged journal cannot say what to return to, so the one thing to trust
# is the records a healthy apply writes last: applied-release and
# deployed-generation. Put the bundle link and the system profile back where
# they say, then keep the journal aside (apply-journal.damaged-<time>) for
# whoever looks into it. From there the next apply starts as from any
# committed deploy. A sound journal is finished as the next apply would.
cmd_journal_repair() {
  (($# == 0)) || die "usage: journal-repair"
  local applied deployed cur gen aside
  take_lock
  if [[ ! -e $STATE_DIR/$JOURNAL && ! -L $STATE_DIR/$JOURNAL ]]; then
    log "journal-repair: there is no apply journal on this host; nothing to repair"
    return 0
  fi
  load_journal
  if [[ -z $JOURNAL_PROBLEM ]]; then
    log "journal-repair: the journal is sound; finishing it as the next apply would"
    recover_interrupted journal-repair
    return 0
  fi
  log "journal-repair: the journal is damaged ($JOURNAL_PROBLEM); checking the host against its records"
  applied=$(read_state applied-release)
  deployed=$(read_state deployed-generation)
  cur=$(current_release)
  if [[ $applied == - ]]; then
    log "journal-repair: no release is recorded as applied (the first deploy never finished): $BUNDLE_DIR stays as it is ($cur), and the next apply is a first deploy"
  elif [[ $cur == "$applied" ]]; then
    log "journal-repair: $BUNDLE_DIR links release $applied, as recorded"
  else
    [[ -L $STATE_DIR/releases/$applied && -d $STATE_DIR/releases/$applied ]] ||
      die "journal-repair: the records say release $applied is live, but it is no longer on the host, so $BUNDLE_DIR ($cur) cannot be put back; nothing changed. Point $BUNDLE_DIR at the configuration that should run, remove $STATE_DIR/applied-release and $STATE_DIR/$JOURNAL, and run pulumi up (a first deploy again)"
    [[ -L $BUNDLE_DIR || ! -e $BUNDLE_DIR ]] || die "journal-repair: $BUNDLE_DIR is a plain directory, not a link a deploy made; nothing changed. Move it away and run this again"
    flip_link "$STATE_DIR/releases/$applied" "$BUNDLE_DIR"
    log "journal-repair: $BUNDLE_DIR linked release $cur; put back to release $applied, as recorded"
  fi
  gen=$(generation)
  if [[ $deployed == - || $gen == "$deployed" ]]; then
    log "journal-repair: the system profile is on generation $gen (recorded: $deployed)"
  else
    [[ -e $PROFILE-$deployed-link ]] ||
      die "journal-repair: the records say system generation $deployed is live, but it is gone (the profile is on $gen); nothing changed. Switch to the system that should run (nixos-rebuild switch --rollback, or nix-env -p $PROFILE --switch-generation <n> and its switch-to-configuration switch), remove $STATE_DIR/deployed-generation, and run this again"
    nix-env -p "$PROFILE" --switch-generation "$deployed" >/dev/null || die "journal-repair: nix-env could not switch $PROFILE to generation $deployed; nothing else changed"
    "$PROFILE/bin/switch-to-configuration" switch || die "journal-repair: activating system generation $deployed failed; the profile is on it now. Look at journalctl -b, then run this again"
    log "journal-repair: the system profile was on generation $gen; switched back to generation $deployed, as recorded"
  fi
  aside="$STATE_DIR/$JOURNAL.damaged-$(date -u +%Y%m%dT%H%M%SZ)"
  mv -f -T -- "$STATE_DIR/$JOURNAL" "$aside"
  sync -- "$STATE_DIR"
  log "journal-repair: the host matches its records (release $applied, system generation $(generation)); the damaged journal is kept as $aside. Run pulumi up"
}

# Return to the system, the bundle link and the records from before this
# apply (the journal), then fail. Uses cmd_apply's locals hash and cur.
roll_back() {
  local reason=$1
  if first_deploy; then
    # Rolling back would leave /etc/nixos/configuration.nix importing a
    # bundle that is gone, or a system it no longer describes. Keep the
    # config and the running system in agreement instead: the new release
    # stays linked and running, unrecorded, so the next pulumi up applies it again.
    remove_journal
    die "$reason. This was the first deploy to this host, so there is no earlier homelab configuration to go back to: $BUNDLE_DIR stays linked to release $hash, system generation $(generation) is what runs, and the release is not recorded as applied. Look at the failing services on the host (systemctl --failed; journalctl -b -u <unit>), fix them in the catalog or the NixOS modules, and run pulumi up again"
  fi
  restore_from_journal
  if [[ -n $RESTORE_FAILED ]]; then
    die "$reason; ROLLBACK FAILED: switching back to ${J[previous-system]} failed and the host is on system generation $(generation). On the host run: nix-env -p $PROFILE --set ${J[previous-system]} && ${J[previous-system]}/bin/switch-to-configuration switch; the next pulumi up tries the rollback again from $STATE_DIR/$JOURNAL"
  fi
  step rolled-back
  remove_journal
  die "$reason; rolled back to system generation $(generation) and bundle $cur"
}

# Keep what the program declared for a stage that just succeeded.
save_record() {
  if [[ -n $RECORD ]]; then write_state "record.$1" "$RECORD"; fi
}

# --- detaching apply --------------------------------------------------------

# Where detached applies keep their output and exit status.
apply_log_dir() {
  echo "$STATE_DIR/apply-log"
}

# Start `apply` in a session of its own and follow it. The switch can take
# down the SSH connection that started it (network or tailscale restarted,
# sshd reloaded, a long build outliving a timeout); the apply must still run
# its health checks and its rollback. So the real work runs under setsid with
# stdin from /dev/null and its output in files under the state directory: no
# terminal to hang up, no pipe to break, nothing to read from the session.
# While the connection lasts, this foreground streams the two files to its
# stdout and stderr and returns the apply's exit status. The detached process
# takes the deploy lock itself, so a deploy started after a dropped connection
# waits for it.
run_detached() {
  local self dir base pid status=0 out_tail err_tail
  self=${BASH_SOURCE[0]}
  [[ -f $self ]] || die "apply: run this script from its file (bash <release>/deploy/homelab-deploy.sh apply ...), not from stdin"
  dir=$(apply_log_dir)
  mkdir -p -- "$dir"
  chmod 0700 -- "$dir"
  base="$dir/$(date -u +%Y%m%dT%H%M%SZ).$$"
  : >"$base.out"
  : >"$base.err"
  # -w: should setsid have to fork, it still hands back the apply's exit status.
  setsid -w bash "$self" apply --detached "$base" "$@" </dev/null >>"$base.out" 2>>"$base.err" &
  pid=$!
  log "apply: running as process $pid in its own session, so a dropped connection does not stop it; output in $base.out and $base.err, exit status in $base.status"
  tail -n +1 -s 0.2 --pid="$pid" -f -- "$base.out" &
  out_tail=$!
  tail -n +1 -s 0.2 --pid="$pid" -f -- "$base.err" >&2 &
  err_tail=$!
  # tail sees the apply gone only once it is reaped: wait for it first.
  wait "$pid" || status=$?
  wait "$out_tail" "$err_tail" || true
  if [[ ! -e $base.status ]]; then
    echo "$PROG: apply: process $pid ended without finishing (exit status $status: killed?); whatever it changed is undone or finished by the next deploy from its journal, $STATE_DIR/$JOURNAL. Run pulumi up again" >&2
  fi
  return "$status"
}

# In the detached apply: record the exit status next to the output, whatever
# ends it (success, die, a failed command under errexit).
# shellcheck disable=SC2317 # run by the EXIT trap, which shellcheck does not follow
detached_exit() {
  local status=$?
  printf '%s\n' "$status" >"$DETACHED.status.tmp" && mv -f -T -- "$DETACHED.status.tmp" "$DETACHED.status"
}

# Keep the output of the last 20 detached applies.
prune_apply_logs() {
  local out
  while IFS= read -r out; do
    rm -f -- "${out%.out}".{out,err,status}
  done < <(find "$(apply_log_dir)" -maxdepth 1 -type f -name '*.out' -printf '%T@ %p\n' | sort -rn | tail -n +21 | cut -d' ' -f2-)
}

# --- observe ---------------------------------------------------------------

# The observe report: OBSERVE_REPORT in components/host/formats.ts.
cmd_observe() {
  local link file sum meta line stage
  printf 'homelab-observe v1\n'
  if [[ -L $BUNDLE_DIR ]]; then
    link=$(readlink -- "$BUNDLE_DIR")
  elif [[ -e $BUNDLE_DIR ]]; then
    link="?directory"
  else
    link=-
  fi
  printf 'bundle-link\t%s\n' "$link"
  printf 'bundle-release\t%s\n' "$(current_release)"
  if [[ -d $BUNDLE_DIR ]]; then
    printf 'bundle-hash\t%s\n' "$(bundle_hash "$BUNDLE_DIR")"
  else
    printf 'bundle-hash\t-\n'
  fi
  if [[ -f $STATE_DIR/$SCRIPT_COPY && ! -L $STATE_DIR/$SCRIPT_COPY ]]; then
    printf 'script-hash\t%s\n' "$(sha256sum <"$STATE_DIR/$SCRIPT_COPY" | cut -d' ' -f1)"
  else
    printf 'script-hash\t-\n'
  fi
  printf 'applied-release\t%s\n' "$(read_state applied-release)"
  if [[ -e $STATE_DIR/$JOURNAL || -L $STATE_DIR/$JOURNAL ]]; then
    # An apply that was killed or awaits confirmation; reported only: the
    # next apply finishes it. A damaged one blocks every apply until the
    # repair command runs, and observe says so with that command.
    load_journal
    if [[ -n $JOURNAL_PROBLEM ]]; then
      printf 'journal-damaged\t%s\t%s\n' "$JOURNAL_PROBLEM" "$(repair_command)"
    else
      printf 'journal\t%s\t%s\t%s\t%s\n' "${J[target]}" "${J[phase]}" "${J[previous-release]}" "${J[confirm-deadline]}"
    fi
  fi
  if [[ -r $STATE_DIR/unconfirmed-rollback ]]; then
    printf 'unconfirmed-rollback\t%s\n' "$(read_state unconfirmed-rollback | tr ' ' '\t')"
  fi
  printf 'deployed-generation\t%s\n' "$(read_state deployed-generation)"
  printf 'generation\t%s\n' "$(generation)"
  for file in "$STATE_DIR"/secrets.d/*.manifest; do
    [[ -r $file ]] || continue
    while IFS= read -r line; do
      if [[ -n $line ]]; then printf 'manifest\t%s\n' "$line"; fi
    done <"$file"
  done
  for file in "$STATE_DIR"/secrets.d/*.pending; do
    [[ -r $file ]] || continue
    while IFS= read -r line; do
      if [[ -n $line ]]; then printf 'pending\t%s\n' "$line"; fi
    done <"$file"
  done
  if [[ -s $STATE_DIR/applied-secrets ]]; then
    while IFS= read -r -d '' line; do
      printf 'applied-secret\t%s\n' "$line"
    done <"$STATE_DIR/applied-secrets"
  fi
  if [[ -d $SECRETS_DIR ]]; then
    while IFS= read -r -d '' file; do
      # The hash of the file, never its content.
      sum=$(sha256sum <"$file" 2>/dev/null | cut -d' ' -f1) || sum=unreadable
      meta=$(stat -c '%U	%G	%a' -- "$file")
      printf 'file\t%s\t%s\t%s\n' "${sum:-unreadable}" "$meta" "$file"
    done < <(find "$SECRETS_DIR" -mindepth 1 ! -type d -print0 | sort -z)
  fi
  for file in "$STATE_DIR"/record.*; do
    [[ -r $file ]] || continue
    stage=${file##*/record.}
    printf 'record\t%s\t%s\n' "$stage" "$(read_state "record.$stage")"
  done
  systemctl list-units --state=failed --plain --no-legend --no-pager 2>/dev/null | while read -r line _; do
    if [[ -n $line ]]; then printf 'failed-unit\t%s\n' "$line"; fi
  done
  printf 'end\n'
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  local -a raw=("$@")
  while (($#)); do
    case $1 in
    --bundle-dir) BUNDLE_DIR=${2:?--bundle-dir needs a value} && shift 2 ;;
    --secrets-dir) SECRETS_DIR=${2:?--secrets-dir needs a value} && shift 2 ;;
    --state-dir) STATE_DIR=${2:?--state-dir needs a value} && shift 2 ;;
    --keep) KEEP=${2:?--keep needs a value} && shift 2 ;;
    --timeout) TIMEOUT=${2:?--timeout needs a value} && shift 2 ;;
    --confirm-timeout) CONFIRM_TIMEOUT=${2:?--confirm-timeout needs a value} && shift 2 ;;
    --service) SERVICE=${2:?--service needs a value} && shift 2 ;;
    --record) RECORD=${2:?--record needs a value} && shift 2 ;;
    --detached) DETACHED=${2:?--detached needs a value} && shift 2 ;;
    --flake) FLAKE=${2:?--flake needs a value} && shift 2 ;;
    --flake-input) FLAKE_INPUT=${2:?--flake-input needs a value} && shift 2 ;;
    -*) die "unknown option $1" ;;
    *) ARGS+=("$1") && shift ;;
    esac
  done
  [[ -n $BUNDLE_DIR && -n $SECRETS_DIR && -n $STATE_DIR ]] || usage
  [[ $KEEP =~ ^[1-9][0-9]*$ ]] || die "--keep must be a whole number of at least 1"
  [[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a whole number of seconds"
  [[ $CONFIRM_TIMEOUT =~ ^[1-9][0-9]{0,5}$ ]] || die "--confirm-timeout must be a whole number of seconds"
  [[ $RECORD =~ ^[A-Za-z0-9+/=]*$ ]] || die "--record must be base64"
  [[ -z $FLAKE || $FLAKE =~ ^/[A-Za-z0-9._+/-]*#[A-Za-z_][A-Za-z0-9_\'-]*$ ]] || die "--flake must be <absolute path>#<attribute>"
  [[ $FLAKE_INPUT =~ ^[A-Za-z_][A-Za-z0-9_\'-]*$ ]] || die "--flake-input must be a flake input name"
  if [[ -n $DETACHED ]]; then
    # Internal: set by run_detached for the process it starts.
    [[ $cmd == apply && $DETACHED == "$(apply_log_dir)"/* && $DETACHED != *..* ]] || die "--detached is internal to apply"
  fi
  case $cmd in
  # Read from the script on stdin (bash -s): keep children off that stdin.
  preflight) cmd_preflight </dev/null ;;
  observe) cmd_observe </dev/null ;;
  # Not `cmd && save_record`: errexit is off inside the left side of &&.
  push)
    cmd_push "${ARGS[@]}"
    save_record push
    ;;
  # Run from the push's copy of this script; stdin is the service's secrets stream.
  secrets)
    cmd_secrets "${ARGS[@]}"
    save_record "secrets.$SERVICE"
    ;;
  apply)
    ((${#ARGS[@]} == 1)) || die "usage: apply <hash>"
    valid_hash "${ARGS[0]}"
    if [[ -z $DETACHED ]]; then
      run_detached "${raw[@]}"
      return
    fi
    trap detached_exit EXIT
    # No terminal and no pipe to lose, but be as sure as nohup.
    trap '' HUP
    # The record is kept by the confirm: until then nothing is committed.
    cmd_apply "${ARGS[@]}"
    ;;
  # From the deployer, over a new SSH connection after the apply.
  confirm)
    cmd_confirm "${ARGS[@]}" </dev/null
    save_record rebuild
    ;;
  rollback-unconfirmed) cmd_rollback_unconfirmed "${ARGS[@]}" </dev/null ;;
  journal-repair) cmd_journal_repair "${ARGS[@]}" </dev/null ;;
  *) usage ;;
  esac
}

# One line, parsed whole before it runs: when the script arrives on stdin,
# nothing after the stream it reads can ever run as commands.
main "$@"; exit
