#!/usr/bin/env bash
# Install the GoGrid coordinator on a systemd host (run as root from a checkout or release):
#   /opt/gogrid/app    this checkout/release (copied; needs Bun at /usr/local/bin/bun)
#   /opt/gogrid/data   data (CA in pki/, SQLite when no Postgres), owned by gogrid, mode 0700
#   /etc/gogrid/coordinator.toml
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$src/installers/coordinator"
command -v bun >/dev/null || [ -x /usr/local/bin/bun ] || { echo "install Bun to /usr/local/bin/bun first" >&2; exit 1; }
[ -x /usr/local/bin/bun ] || ln -sf "$(command -v bun)" /usr/local/bin/bun

id gogrid >/dev/null 2>&1 || useradd --system --home-dir /opt/gogrid/data --shell /usr/sbin/nologin gogrid
install -d -m 0755 /opt/gogrid
install -d -m 0700 -o gogrid -g gogrid /opt/gogrid/data
install -d -m 0750 -o root -g gogrid /etc/gogrid
if [ "$src" != /opt/gogrid/app ]; then
  rm -rf /opt/gogrid/app.new
  mkdir -p /opt/gogrid/app.new
  (cd "$src" && tar --exclude=./dist --exclude=./.git --exclude=./bench-models -cf - .) | tar -xf - -C /opt/gogrid/app.new
  rm -rf /opt/gogrid/app.old
  [ -d /opt/gogrid/app ] && mv /opt/gogrid/app /opt/gogrid/app.old
  mv /opt/gogrid/app.new /opt/gogrid/app
fi
(cd /opt/gogrid/app && /usr/local/bin/bun install --frozen-lockfile --production --ignore-scripts)
[ -f /etc/gogrid/coordinator.toml ] || install -m 0640 -o root -g gogrid "$here/coordinator.toml" /etc/gogrid/coordinator.toml
install -m 0644 "$here/gogrid-coordinator.service" /etc/systemd/system/gogrid-coordinator.service
install -m 0755 "$here/gogrid-admin" /usr/local/bin/gogrid-admin
systemctl daemon-reload
systemctl enable gogrid-coordinator.service
echo "Edit /etc/gogrid/coordinator.toml (pki.server_names!), optionally run postgres-setup.sh, then:"
echo "  systemctl start gogrid-coordinator && journalctl -u gogrid-coordinator -f"
echo "Firewall: nft -f $here/nftables-gogrid.nft"
