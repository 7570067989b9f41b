#!/usr/bin/env bash
# Builds dist/midst-desktop-<version>.dmg from dist/midst-desktop.app on macOS.
# The .app comes from `MIDST_ONEDIR=1 pyinstaller build/midst-desktop.spec`,
# which gives a bundle with LSUIElement set (a tray-only app, no Dock icon).
# Signing and notarization need an Apple Developer ID; see notarize.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

app="dist/midst-desktop.app"
[ -d "$app" ] || { echo "no $app: build it with PyInstaller first" >&2; exit 1; }
version="$(scripts/version.sh)"

/usr/libexec/PlistBuddy -c "Set :CFBundleShortVersionString $version" "$app/Contents/Info.plist" 2>/dev/null ||
  /usr/libexec/PlistBuddy -c "Add :CFBundleShortVersionString string $version" "$app/Contents/Info.plist"
/usr/libexec/PlistBuddy -c "Print :LSUIElement" "$app/Contents/Info.plist" | grep -q true

if [ -n "${MACOS_SIGNING_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp \
    --entitlements installer/macos/entitlements.plist \
    --sign "$MACOS_SIGNING_IDENTITY" "$app"
else
  # Editing Info.plist voids PyInstaller's ad-hoc signature, and Apple silicon
  # refuses to start code with no valid signature: sign it ad hoc again.
  codesign --force --deep --sign - "$app"
fi

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
out="dist/midst-desktop-$version.dmg"
rm -f "$out"
hdiutil create -volname "midst-desktop" -srcfolder "$staging" -ov -format UDZO "$out"

if [ -n "${MACOS_SIGNING_IDENTITY:-}" ]; then
  codesign --sign "$MACOS_SIGNING_IDENTITY" --timestamp "$out"
fi
echo "$out"
