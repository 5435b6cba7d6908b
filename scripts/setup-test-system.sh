#!/usr/bin/env bash
# System packages the test suite uses, from Debian's archive: headless Chromium (the report's
# hostile-text test) and the MariaDB and PostgreSQL servers (forum-engine dump round trips).
# Idempotent: installs only what is missing. Needs root (as on CI); otherwise says what to install.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-test-system: please install these Debian packages (as root): ${need[*]}" >&2
  echo "setup-test-system: the tests that need them are skipped until then" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages' post-install scripts may start the servers; the tests start their own on loopback.
for svc in mariadb postgresql; do
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
