#!/usr/bin/env bash
# Installs what the test tiers need on a fresh Debian machine: the real nginx,
# Chromium, sshd and nix-instantiate the tests drive, shellcheck and librsvg,
# and the Pulumi engine built from Go modules (cached after the first build).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(nginx-light chromium openssh-server openssh-client nix-bin shellcheck librsvg2-bin curl ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "installing Debian packages: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The engine is built to match the SDK versions in node_modules: run after npm ci.
if [[ -f test/engine/build.sh ]]; then
  [[ -d node_modules/@pulumi/pulumi ]] || { echo "run npm ci first: the engine build reads the SDK versions from node_modules" >&2; exit 1; }
  bash test/engine/build.sh >/dev/null
fi
