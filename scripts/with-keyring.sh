#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring: the real
# Secret Service that keytar uses on Linux. The keyring lives in a temporary folder.
set -euo pipefail
export XDG_DATA_HOME="${XDG_DATA_HOME_FOR_KEYRING:-$(mktemp -d)}"
exec dbus-run-session -- bash -c '
  eval "$(printf %s "${DTA_KEYRING_PASSWORD:-dta-test}" | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  exec "$@"' bash "$@"
