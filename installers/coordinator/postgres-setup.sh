#!/usr/bin/env bash
# Create the gogrid role and database on the local PostgreSQL and point the coordinator at it.
#   sudo installers/coordinator/postgres-setup.sh [config file]   (default /etc/gogrid/coordinator.toml)
# Uses peer authentication over the Unix socket (role gogrid = system user gogrid); set
# GOGRID_DB_PASSWORD to also give the role a password and use TCP instead.
set -euo pipefail
config="${1:-/etc/gogrid/coordinator.toml}"
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
command -v psql >/dev/null || { echo "install PostgreSQL first (apt-get install postgresql)" >&2; exit 1; }

psql_pg() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname = 'gogrid'")" != "1" ]; then
  psql_pg -c "CREATE ROLE gogrid LOGIN"
fi
if [ -n "${GOGRID_DB_PASSWORD:-}" ]; then
  psql_pg -v pw="$GOGRID_DB_PASSWORD" <<'SQL'
ALTER ROLE gogrid PASSWORD :'pw';
SQL
fi
if [ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'gogrid'")" != "1" ]; then
  psql_pg -c "CREATE DATABASE gogrid OWNER gogrid"
fi

if [ -n "${GOGRID_DB_PASSWORD:-}" ]; then
  url="postgres://gogrid:${GOGRID_DB_PASSWORD}@127.0.0.1:5432/gogrid"
else
  url="postgres://gogrid@%2Fvar%2Frun%2Fpostgresql/gogrid"
fi
# Replace or add database.url in the [database] table.
tmp="$(mktemp)"
awk -v url="$url" '
  /^\[/ { if (indb && !done) { print "url = \"" url "\""; done = 1 } indb = ($0 == "[database]") }
  indb && /^#? *url *=/ { if (!done) { print "url = \"" url "\""; done = 1 } next }
  { print }
  END { if (!done) { if (!indb) print "\n[database]"; print "url = \"" url "\"" } }
' "$config" >"$tmp"
install -m 0640 -o root -g gogrid "$tmp" "$config"
rm -f "$tmp"
echo "database.url set in $config; restart: systemctl restart gogrid-coordinator"
