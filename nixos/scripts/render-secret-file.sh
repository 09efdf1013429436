# Render a secret file that a packaged unit wants in a format of its own
# (an EnvironmentFile, Transmission's credentials JSON) from the plain
# secret files the deploy writes. Run by homelab-secrets-<name>.service
# (modules/runtime-secrets.nix) with the files passed as systemd
# credentials, so values never appear on a command line or in the store.
#
# Usage: render-secret-file env|json OUT NAME...
#   reads $CREDENTIALS_DIRECTORY/NAME for each NAME; one trailing newline
#   is dropped from each value.
#   env:  NAME="value" lines (systemd EnvironmentFile syntax)
#   json: {"NAME": "value", ...}
set -euo pipefail
umask 077

format="$1"
out="$2"
shift 2

if [ -z "${CREDENTIALS_DIRECTORY:-}" ]; then
  echo "render-secret-file: CREDENTIALS_DIRECTORY is unset; run it with LoadCredential=" >&2
  exit 1
fi

# jq programs, not shell: $ARGS is jq's.
# shellcheck disable=SC2016
case "$format" in
  env) filter='$ARGS.named | to_entries[] | "\(.key)=\(.value | rtrimstr("\n") | @json)"' ;;
  json) filter='$ARGS.named | map_values(rtrimstr("\n"))' ;;
  *)
    echo "render-secret-file: unknown format '$format' (env or json)" >&2
    exit 1
    ;;
esac

args=()
for name in "$@"; do
  args+=(--rawfile "$name" "$CREDENTIALS_DIRECTORY/$name")
done

# Write beside the target and rename, so a reader never sees half a file.
jq -n -r "${args[@]}" "$filter" >"$out.tmp"
mv -f "$out.tmp" "$out"
