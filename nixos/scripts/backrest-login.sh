# Usage: backrest-login.sh CONFIG USER
#
# Puts Backrest's one login into its config file before each start: auth on,
# and USER with the bcrypt hash of the password systemd loaded as the
# credential ui-password. Backrest keeps users in config.json as
# auth.users[].passwordBcrypt, the base64 of the bcrypt hash
# (proto/v1/config.proto and internal/auth/auth.go upstream); without one it
# would hand its first visitor the setup form.
#
# The password travels only through stdin (htpasswd -i), never argv, the
# environment or the output; only its hash is written. Idempotent: a hash
# that still matches the password is kept, so the file changes only when the
# password does. Everything else in the file (repositories, plans, the
# instance name set in the UI) is kept as it is.
set -euo pipefail

config=$1
user=$2
password="${CREDENTIALS_DIRECTORY:?no credentials directory: run this from the unit, which loads ui-password with LoadCredential}/ui-password"

if [[ ! -s $password ]]; then
  echo "backrest-login: the ui-password credential is missing or empty; set the Backrest password in 1Password and deploy again" >&2
  exit 1
fi
# bcrypt reads only the first 72 bytes, and Go's bcrypt, which Backrest
# checks logins with, refuses longer passwords outright.
length=$(tr -d '\r\n' < "$password" | wc -c)
if ((length > 72)); then
  echo "backrest-login: the ui-password is ${length} bytes long; bcrypt takes at most 72, so shorten it in 1Password" >&2
  exit 1
fi

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -s $config ]]; then
  jq -e 'type == "object"' "$config" > /dev/null || {
    echo "backrest-login: $config is not a JSON object; fix or remove it, then restart backrest" >&2
    exit 1
  }
  cp "$config" "$work/config.json"
else
  echo '{}' > "$work/config.json"
fi
# Backrest refuses a config with content but no format version ("config
# version 0 is invalid", internal/config/migrations/migrations.go upstream),
# and one newer than it knows. A config it wrote itself carries its version;
# a first start gets 3, the format of Backrest 1.x before repo GUIDs, which
# every later release migrates forward as it would an upgraded install.
fresh_version=3

# Keep the current hash when the password still matches it: bcrypt salts
# every hash, so hashing again would rewrite the file on every start.
hash=""
current=$(jq -r --arg user "$user" '[.auth.users[]? | select(.name == $user) | .passwordBcrypt // empty][0] // empty' "$work/config.json")
if [[ -n $current ]] && decoded=$(printf '%s' "$current" | base64 -d 2> /dev/null) && [[ $decoded == \$2* ]]; then
  printf '%s:%s\n' "$user" "$decoded" > "$work/htpasswd"
  if htpasswd -v -i "$work/htpasswd" "$user" < "$password" 2> /dev/null; then
    hash=$current
  fi
fi
if [[ -z $hash ]]; then
  line=$(htpasswd -n -i -B -C 12 "$user" < "$password")
  hash=$(printf '%s' "${line#*:}" | tr -d '\r\n' | base64 -w0)
fi

# Only this user: a login added by hand in the UI does not outlive a start.
# shellcheck disable=SC2016 # $user and $hash are jq's variables, not the shell's.
auth='{disabled: false, users: [{name: $user, passwordBcrypt: $hash}]}'
if [[ -s $config ]] && jq -e --arg user "$user" --arg hash "$hash" ".auth == $auth" "$config" > /dev/null; then
  exit 0
fi
jq --arg user "$user" --arg hash "$hash" --argjson fresh "$fresh_version" \
  ".auth = $auth | if (.version // 0) == 0 then .version = \$fresh else . end" \
  "$work/config.json" > "$work/next.json"
# Renamed into place beside the original, so Backrest never reads half a file.
tmp=$(mktemp "$config.XXXXXX")
cat "$work/next.json" > "$tmp"
mv -f "$tmp" "$config"
echo "backrest-login: login for $user written to $config" >&2
