#!/usr/bin/env bash
# Runs a command on a private D-Bus session bus with an unlocked gnome-keyring
# and a throwaway HOME, so tests meet a real Secret Service and never the
# developer's own keyring.
set -euo pipefail
HOME="$(mktemp -d -t midst-home-XXXXXX)"
export HOME
export MIDST_TEST_KEYRING_PASSWORD="midst-test-keyring"
exec dbus-run-session -- bash -c '
  printf "%s" "$MIDST_TEST_KEYRING_PASSWORD" |
    gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec "$@"
' with-keyring "$@"
