#!/usr/bin/env bash
# Installs the system packages the tests and benchmarks need, when missing.
# Usage: scripts/system-deps.sh test|bench
set -euo pipefail

want=("$@")
missing=()

have_postgres() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

for need in "${want[@]}"; do
  case "$need" in
    test)
      have_postgres || missing+=(postgresql)
      ;;
    bench)
      command -v rclone >/dev/null 2>&1 || missing+=(rclone)
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
