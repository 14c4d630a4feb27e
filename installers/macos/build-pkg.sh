#!/usr/bin/env bash
# Build a signed, notarized GoGrid.pkg and a UDZO GoGrid.dmg on a macOS host (needs Xcode tools).
#   installers/macos/build-pkg.sh <path to GoGrid.app> <version> [out dir]
# Environment (all optional; unsigned when unset):
#   APP_SIGN_ID   "Developer ID Application: … (TEAMID)"   codesign identity for the binaries/app
#   PKG_SIGN_ID   "Developer ID Installer: … (TEAMID)"     productsign identity
#   NOTARY_PROFILE  a `xcrun notarytool store-credentials` profile name
set -euo pipefail
app="${1:?usage: build-pkg.sh <GoGrid.app> <version> [out]}"
version="${2:?version}"
out="${3:-$(pwd)}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

if [ -n "${APP_SIGN_ID:-}" ]; then
  # Bun binaries need the JIT entitlements to run under the hardened runtime.
  cat >"$work/entitlements.plist" <<'PLIST'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>com.apple.security.cs.allow-jit</key><true/>
  <key>com.apple.security.cs.allow-unsigned-executable-memory</key><true/>
  <key>com.apple.security.cs.disable-library-validation</key><true/>
</dict></plist>
PLIST
  for bin in "$app"/Contents/MacOS/*; do
    codesign --force --options runtime --timestamp --entitlements "$work/entitlements.plist" --sign "$APP_SIGN_ID" "$bin"
  done
  codesign --force --options runtime --timestamp --entitlements "$work/entitlements.plist" --sign "$APP_SIGN_ID" "$app"
  codesign --verify --deep --strict "$app"
fi

mkdir -p "$work/root/Applications" "$work/scripts"
ditto "$app" "$work/root/Applications/GoGrid.app"
cat >"$work/scripts/postinstall" <<'SH'
#!/bin/sh
# Load the worker agent for the logged-in console user.
user="$(stat -f %Su /dev/console)"
[ "$user" = "root" ] && exit 0
uid="$(id -u "$user")"
agent="/Users/$user/Library/LaunchAgents/ee.bx.gogrid.worker.plist"
mkdir -p "$(dirname "$agent")"
sed -e "s#@WORKER@#/Applications/GoGrid.app/Contents/MacOS/gogrid-worker#" -e '/<key>BundleProgram<\/key>/d' \
  /Applications/GoGrid.app/Contents/Library/LaunchAgents/ee.bx.gogrid.worker.plist >"$agent"
chown "$user" "$agent"
launchctl bootout "gui/$uid/ee.bx.gogrid.worker" 2>/dev/null || true
launchctl bootstrap "gui/$uid" "$agent" || true
exit 0
SH
chmod 755 "$work/scripts/postinstall"
pkgbuild --root "$work/root" --identifier ee.bx.gogrid --version "$version" --scripts "$work/scripts" \
  --install-location / "$work/GoGrid-component.pkg"
productbuild --package "$work/GoGrid-component.pkg" --identifier ee.bx.gogrid --version "$version" "$work/GoGrid-unsigned.pkg"
pkg="$out/GoGrid-$version.pkg"
if [ -n "${PKG_SIGN_ID:-}" ]; then
  productsign --sign "$PKG_SIGN_ID" "$work/GoGrid-unsigned.pkg" "$pkg"
else
  cp "$work/GoGrid-unsigned.pkg" "$pkg"
fi

mkdir -p "$work/dmg"
ditto "$app" "$work/dmg/GoGrid.app"
cp "$here/install.sh" "$work/dmg/install.sh"
ln -s /Applications "$work/dmg/Applications"
dmg="$out/GoGrid-$version.dmg"
rm -f "$dmg"
hdiutil create -volname GoGrid -srcfolder "$work/dmg" -format UDZO -ov "$dmg"
if [ -n "${APP_SIGN_ID:-}" ]; then codesign --sign "$APP_SIGN_ID" --timestamp "$dmg"; fi

if [ -n "${NOTARY_PROFILE:-}" ]; then
  for f in "$pkg" "$dmg"; do
    xcrun notarytool submit "$f" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$f"
  done
fi
echo "wrote $pkg and $dmg"
