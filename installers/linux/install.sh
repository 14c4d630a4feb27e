#!/usr/bin/env bash
# GoGrid worker + tray installer for the .tar.gz release.
#   ./install.sh              install for this user (~/.local/bin, user unit, autostart entry)
#   ./install.sh --system     install for everyone (/usr/local/bin, needs sudo)
#   ./install.sh --uninstall  remove what this script installed (add --system for a system install)
#   ./install.sh --no-deps    do not install the tray's appindicator library
# Per-user data (~/.config/gogrid, ~/.local/share/gogrid, ~/.cache/gogrid) is never removed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode=user
action=install
deps=1
for arg in "$@"; do
  case "$arg" in
    --system) mode=system ;;
    --user) mode=user ;;
    --uninstall) action=uninstall ;;
    --no-deps) deps=0 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
as_root() { "${sudo_cmd[@]}" "$@"; }

if [ "$mode" = system ]; then
  bindir=/usr/local/bin
  unitdir=/etc/systemd/user
  appdir=/usr/local/share/applications
  icondir=/usr/local/share/icons/hicolor/64x64/apps
  autostartdir=/etc/xdg/autostart
  run=as_root
else
  bindir="$HOME/.local/bin"
  unitdir="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
  appdir="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
  icondir="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/64x64/apps"
  autostartdir="${XDG_CONFIG_HOME:-$HOME/.config}/autostart"
  run=""
fi

do_run() { if [ -n "$run" ]; then "$run" "$@"; else "$@"; fi; }

install_deps() {
  # The tray needs an AppIndicator library; the worker needs only libc.
  if command -v apt-get >/dev/null 2>&1; then
    as_root apt-get install -y libayatana-appindicator3-1 || as_root apt-get install -y libappindicator3-1 || true
  elif command -v dnf >/dev/null 2>&1; then
    as_root dnf install -y libayatana-appindicator-gtk3 || true
  elif command -v yum >/dev/null 2>&1; then
    as_root yum install -y libayatana-appindicator-gtk3 || true
  elif command -v zypper >/dev/null 2>&1; then
    as_root zypper --non-interactive install libayatana-appindicator3-1 || true
  else
    echo "No known package manager: install libayatana-appindicator3 yourself for the tray icon." >&2
  fi
}

user_systemctl() {
  if command -v systemctl >/dev/null 2>&1; then
    if [ "$mode" = system ]; then
      as_root systemctl --global "$@" || true
    else
      systemctl --user "$@" || true
    fi
  fi
}

if [ "$action" = uninstall ]; then
  user_systemctl disable --now gogrid-worker.service
  if [ "$mode" = system ]; then
    as_root systemctl --global disable gogrid-worker.service 2>/dev/null || true
  fi
  do_run rm -f "$bindir/gogrid-worker" "$bindir/gogrid-tray" "$unitdir/gogrid-worker.service" \
    "$appdir/gogrid.desktop" "$autostartdir/gogrid-tray.desktop" "$icondir/gogrid.png"
  if [ "$mode" = user ] && command -v systemctl >/dev/null 2>&1; then systemctl --user daemon-reload || true; fi
  echo "GoGrid removed. Your data in ~/.config/gogrid and ~/.local/share/gogrid was kept."
  exit 0
fi

if [ "$deps" = 1 ]; then install_deps; fi

do_run mkdir -p "$bindir" "$unitdir" "$appdir" "$icondir" "$autostartdir"
do_run install -m 0755 "$here/gogrid-worker" "$bindir/gogrid-worker"
# gogrid-tray is the worker binary under another name
do_run ln -sf gogrid-worker "$bindir/gogrid-tray"
do_run install -m 0644 "$here/gogrid.png" "$icondir/gogrid.png"

render() { sed "s#@BINDIR@#$bindir#g" "$1"; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
render "$here/gogrid-worker.service" >"$tmp/gogrid-worker.service"
render "$here/gogrid.desktop" >"$tmp/gogrid.desktop"
render "$here/gogrid-tray.desktop" >"$tmp/gogrid-tray.desktop"
do_run install -m 0644 "$tmp/gogrid-worker.service" "$unitdir/gogrid-worker.service"
do_run install -m 0644 "$tmp/gogrid.desktop" "$appdir/gogrid.desktop"
do_run install -m 0644 "$tmp/gogrid-tray.desktop" "$autostartdir/gogrid-tray.desktop"

if [ "$mode" = system ]; then
  user_systemctl enable gogrid-worker.service
  echo "Installed for all users; the worker starts at each user's next login."
  echo "Start it now (as your user): systemctl --user daemon-reload && systemctl --user start gogrid-worker.service"
else
  if command -v systemctl >/dev/null 2>&1; then systemctl --user daemon-reload || true; fi
  user_systemctl enable --now gogrid-worker.service
  case ":$PATH:" in *":$bindir:"*) ;; *) echo "Note: add $bindir to your PATH." ;; esac
  echo "Installed. The worker runs as a user service; the tray starts at login."
fi
echo "Enrol with: gogrid-worker enroll --token <token> --server <url>"
