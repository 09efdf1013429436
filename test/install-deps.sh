#!/usr/bin/env bash
# Installs what the test tiers need on a fresh Debian machine: the real nginx,
# Chromium, sshd and nix-instantiate the tests drive, shellcheck, jq, librsvg
# and htpasswd (apache2-utils, for the Backrest login script).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(nginx-light chromium openssh-server openssh-client nix-bin shellcheck jq librsvg2-bin curl ca-certificates apache2-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "installing Debian packages: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
