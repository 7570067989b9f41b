#!/usr/bin/env bash
# Builds dist/midst-desktop_<version>_<arch>.deb. The package holds the folder
# build of the same spec (MIDST_ONEDIR=1), installed in /usr/lib/midst-desktop
# with /usr/bin/midst-desktop linking to it: the one-file binary unpacks itself
# on every start, which costs seconds; the folder build starts at once.
# Usage: installer/linux/build-deb.sh [PYTHON]
#   PYTHON has PyInstaller and PySide6 (which renders the icons).
set -euo pipefail
cd "$(dirname "$0")/../.."

python="${1:-.venv/bin/python}"
onedir=dist/onedir
# The same work folder as `make binary`: PyInstaller reuses its analysis.
MIDST_ONEDIR=1 "$python" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$onedir" --workpath build/work build/midst-desktop.spec
binary="$onedir/midst-desktop/midst-desktop"
[ -x "$binary" ] || { echo "no $binary: the folder build failed" >&2; exit 1; }

version="$(scripts/version.sh)"
arch="$(dpkg --print-architecture)"
root="$(mktemp -d -t midst-deb-XXXXXX)"
trap 'rm -rf "$root"' EXIT
pkg="$root/midst-desktop"

mkdir -p "$pkg/usr/lib" "$pkg/usr/bin"
cp -a "$onedir/midst-desktop" "$pkg/usr/lib/midst-desktop"
ln -s ../lib/midst-desktop/midst-desktop "$pkg/usr/bin/midst-desktop"
install -D -m 0644 resources/app/midst-desktop.desktop \
  "$pkg/usr/share/applications/midst-desktop.desktop"
install -D -m 0644 resources/app/org.inmidst.midst_desktop.metainfo.xml \
  "$pkg/usr/share/metainfo/org.inmidst.midst_desktop.metainfo.xml"
# Offered, not forced: the app's "Start at login" setting copies this entry
# into the person's ~/.config/autostart.
install -D -m 0644 resources/app/midst-desktop-autostart.desktop \
  "$pkg/usr/share/midst-desktop/autostart/midst-desktop.desktop"
install -D -m 0644 resources/app/midst-desktop.svg \
  "$pkg/usr/share/icons/hicolor/scalable/apps/midst-desktop.svg"
icons="$root/icons"
"$python" scripts/render_icon.py resources/app/midst-desktop.svg "$icons" 16 22 24 32 48 64 128 256 >/dev/null
for size_dir in "$icons"/*; do
  size="$(basename "$size_dir")"
  install -D -m 0644 "$size_dir/midst-desktop.png" \
    "$pkg/usr/share/icons/hicolor/${size}x${size}/apps/midst-desktop.png"
done
install -D -m 0644 LICENSE "$pkg/usr/share/doc/midst-desktop/copyright"

mkdir -p "$pkg/DEBIAN"
installed_kb="$(du -sk "$pkg/usr" | cut -f1)"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: midst-desktop
Version: $version
Architecture: $arch
Maintainer: midst-desktop maintainers <maintainers@midst-desktop.invalid>
Installed-Size: $installed_kb
Section: utils
Priority: optional
Depends: libc6, libglib2.0-0, libfontconfig1, libxkbcommon0, libdbus-1-3, libgl1, libegl1, libxcb1
Recommends: gnome-keyring | kwalletmanager, libxcb-cursor0
Homepage: https://midst-desktop.invalid/
Description: find, classify and review your creative and academic work
 A local-first desktop agent that finds the papers, writing, art,
 presentations, recordings, data sets and code kept in local folders,
 Google Drive and Dropbox, classifies each file, and lets the person review
 the results from the tray. Files stay where they are.
CONTROL
# Icon and menu caches are refreshed when the tools exist; the person's data
# under their home folder is never touched, on install or on removal.
for script in postinst postrm; do
  cat > "$pkg/DEBIAN/$script" <<'SCRIPT'
#!/bin/sh
set -e
if command -v gtk-update-icon-cache >/dev/null 2>&1; then
  gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
fi
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database -q /usr/share/applications || true
fi
exit 0
SCRIPT
  chmod 0755 "$pkg/DEBIAN/$script"
done

out="dist/midst-desktop_${version}_${arch}.deb"
fakeroot dpkg-deb --build --root-owner-group -Zgzip "$pkg" "$out" >/dev/null
echo "$out"
