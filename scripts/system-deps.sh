#!/usr/bin/env bash
# Installs the system packages the tests and benchmarks need, when missing.
# Usage: scripts/system-deps.sh test|bench
set -euo pipefail

want=("$@")
missing=()

have_postgres() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

need_command() {  # need_command COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}

need_library() {  # need_library SONAME PACKAGE
  ldconfig -p 2>/dev/null | grep -q "$1" || missing+=("$2")
}

for need in "${want[@]}"; do
  case "$need" in
    test)
      have_postgres || missing+=(postgresql)
      # A real Secret Service keyring on a private session bus.
      need_command dbus-run-session dbus
      need_command gnome-keyring-daemon gnome-keyring
      need_command secret-tool libsecret-tools
      # A virtual screen and a way to photograph it.
      need_command Xvfb xvfb
      need_command xauth xauth
      need_command import imagemagick
      # Qt's X11 platform plugin, for the desktop app's screenshots.
      need_library libxcb-cursor.so.0 libxcb-cursor0
      need_library libxcb-icccm.so.4 libxcb-icccm4
      need_library libxcb-keysyms.so.1 libxcb-keysyms1
      # Debian packages of the app are built and installed in CI; the
      # one-file binary carries its packages in an ELF section (objcopy).
      need_command fakeroot fakeroot
      need_command objcopy binutils
      need_command readelf binutils
      ;;
    bench)
      need_command rclone rclone
      ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]} (install them with apt-get, as root)" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
