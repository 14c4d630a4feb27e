#!/usr/bin/env bash
# GoGrid for macOS from the .dmg or a folder holding GoGrid.app:
#   ./install.sh              copy GoGrid.app to /Applications, load the worker LaunchAgent for this user
#   ./install.sh --uninstall  unload the agent, remove the app; ~/Library/Application Support/GoGrid is kept
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
app=/Applications/GoGrid.app
label=ee.bx.gogrid.worker
agent="$HOME/Library/LaunchAgents/$label.plist"
uid="$(id -u)"

if [ "${1:-}" = "--uninstall" ]; then
  launchctl bootout "gui/$uid/$label" 2>/dev/null || true
  rm -f "$agent"
  osascript -e 'tell application "System Events" to delete login item "GoGrid"' 2>/dev/null || true
  pkill -x gogrid-tray 2>/dev/null || true
  rm -rf "$app"
  echo "GoGrid removed. Your data in ~/Library/Application Support/GoGrid was kept."
  exit 0
fi

src="$here/GoGrid.app"
[ -d "$src" ] || { echo "GoGrid.app not found next to install.sh" >&2; exit 1; }
launchctl bootout "gui/$uid/$label" 2>/dev/null || true
rm -rf "$app"
ditto "$src" "$app"
# Downloaded (not notarized) builds carry the quarantine flag; a signed, notarized release does not need this.
xattr -dr com.apple.quarantine "$app" 2>/dev/null || true

mkdir -p "$(dirname "$agent")"
sed -e "s#@WORKER@#$app/Contents/MacOS/gogrid-worker#" \
  -e '/<key>BundleProgram<\/key>/d' \
  "$app/Contents/Library/LaunchAgents/$label.plist" >"$agent"
launchctl bootstrap "gui/$uid" "$agent"
osascript -e "tell application \"System Events\" to make login item at end with properties {path:\"$app\", hidden:true}" >/dev/null 2>&1 || true
open "$app"
echo "GoGrid installed. Enrol with: $app/Contents/MacOS/gogrid-worker enroll --token <token> --server <url>"
