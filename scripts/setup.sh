#!/usr/bin/env bash
# Installs what the agent, the service and the tests need on Debian/Ubuntu, then the
# npm dependencies. Idempotent: quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  nftables iptables iproute2          # the Linux firewall probes and the network-namespace tests
  cryptsetup-bin lvm2 util-linux      # lsblk / findmnt for the disk encryption probe
  gnome-keyring libsecret-1-dev libsecret-tools dbus-daemon dbus-user-session libglib2.0-bin  # the OS keystore (Secret Service), gdbus, and keytar's build
  chromium                            # the tray window's UI tests
  postgresql                          # the service's scaled-out database, for its tests
  desktop-file-utils libxml2-utils     # desktop-file-validate for the autostart entry; xmllint for the ADMX/ADML checks
  python3-gi                          # a stand-in StatusNotifierWatcher on a test session bus (tray availability)
  systemd nsis                        # systemd-analyze for the system agent's unit; makensis for the NSIS installer include
  swtpm swtpm-tools tpm2-tools openssl  # the device key in a TPM 2.0 (tpm2-tools), tested against swtpm, a real TPM simulator
  python3 make g++                    # node-gyp builds keytar and better-sqlite3
  python3-jwcrypto                    # an independent JOSE implementation the token conformance test checks our tokens with
  tinyproxy-bin                       # a real HTTP proxy for the agent's proxy tests (no service started)
  nginx                               # a real reverse proxy in front of dta-authz (auth_request) in its tests, run in the test's folder
  python3-jwt                         # PyJWT: docs/access-services.md's Python verifier is run against real tokens
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
