#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring: the real
# Secret Service that keytar uses on Linux. The keyring's data and its runtime folder (the
# daemon's control socket, else ~/.cache/keyring-*) live in one temporary folder that is removed
# when the command ends, also when it fails or is stopped.
set -euo pipefail
keyring_home="$(mktemp -d "${TMPDIR:-/tmp}/dta-keyring-XXXXXX")"
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="${XDG_DATA_HOME_FOR_KEYRING:-$keyring_home/data}"
export XDG_RUNTIME_DIR="$keyring_home/run"
mkdir -p "$XDG_DATA_HOME"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
# Not exec: this shell stays to remove the folder. A stop is passed on to the session, whose
# command (the test runner) then ends its tests so their own clean-up runs.
dbus-run-session -- bash -c '
  eval "$(printf %s "${DTA_KEYRING_PASSWORD:-dta-test}" | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  exec "$@"' bash "$@" &
session=$!
trap 'kill -TERM "$session" 2>/dev/null || true' TERM INT
status=0
wait "$session" || status=$?
# A signal interrupts the first wait; wait again for the session to finish its clean-up.
if kill -0 "$session" 2>/dev/null; then wait "$session" || status=$?; fi
exit "$status"
