#!/usr/bin/env bash
# Installs the .deb in dist/ and uses the installed app as a person would:
# version, a local folder of sample files, a full sync, the artifact list,
# classify, the tray app offscreen, the agent's /health, then remove and purge
# the package and check that the person's store in their home is untouched.
# Needs root (dpkg). Usage: scripts/package-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

deb="$(ls -t dist/midst-desktop_*.deb 2>/dev/null | head -n 1)"
[ -n "$deb" ] || { echo "no .deb in dist/: run 'make deb' first" >&2; exit 1; }
app=/usr/bin/midst-desktop
work="$(mktemp -d -t midst-package-test-XXXXXX)"
# The installed app runs as a person's would: no --data-dir, so its store,
# settings and logs go to the default folders under this home.
home="$work/home"
data="$home/.local/share/midst-desktop"
mkdir -p "$home"
passed=0
failed=0

check() {  # check NAME COMMAND...: runs COMMAND, counts and reports it
  local name="$1"
  shift
  if "$@" >"$work/last.out" 2>"$work/last.err"; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAILED: $name" >&2
    sed 's/^/  | /' "$work/last.out" "$work/last.err" >&2
  fi
}

cleanup() {
  dpkg --purge midst-desktop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

person() {  # person COMMAND...: runs COMMAND with the test home and no overrides
  env -u MIDST_DATA_DIR -u MIDST_DATABASE_URL -u XDG_DATA_HOME -u XDG_CONFIG_HOME \
    -u XDG_STATE_HOME -u XDG_CACHE_HOME HOME="$home" "$@"
}

echo "installing $deb"
dpkg -i "$deb" >/dev/null

version_matches() {
  local want
  want="$(scripts/version.sh)"
  [ "$("$app" --version)" = "midst-desktop $want" ]
}
check "--version prints the version from pyproject.toml" version_matches

check "the .desktop file and icons are installed" test -f /usr/share/applications/midst-desktop.desktop \
  -a -f /usr/share/icons/hicolor/48x48/apps/midst-desktop.png \
  -a -f /usr/share/icons/hicolor/scalable/apps/midst-desktop.svg \
  -a -f /usr/share/metainfo/org.inmidst.midst_desktop.metainfo.xml \
  -a -f /usr/share/midst-desktop/autostart/midst-desktop.desktop

autostart_offered_not_forced() {
  # The package ships the entry for the app's "Start at login" setting to
  # copy; it installs nothing under /etc (no system-wide autostart).
  [ -z "$(ls /etc/xdg/autostart 2>/dev/null | grep -i midst || true)" ] &&
    [ -z "$(dpkg -L midst-desktop | grep '^/etc/' || true)" ]
}
check "autostart is offered, not forced (nothing in /etc/xdg/autostart)" autostart_offered_not_forced

bundle_carries() {
  # bundle_carries BINARY: the bundle's self-check (build/entry.py) finds this
  # platform's keyring backend through its entry point, certifi's CA file
  # and Drive v3's discovery document, which only show once a cloud
  # integration is used.
  MIDST_SELF_CHECK=1 "$1" >"$work/self-check.json" &&
    python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
want = {"keyring_backend", "ca_bundle", "drive_discovery"}
assert set(report) == want and all(v == "ok" for v in report.values()), report
' "$work/self-check.json"
}
check "the installed app carries the keyring backends, CA bundle and Drive discovery document" bundle_carries "$app"

python3 scripts/make_samples.py "$work/samples" >"$work/expected.tsv"

learns_from_reviews() {
  # learns_from_reviews BINARY: approving enough reviewed files fits the
  # learned model (scikit-learn, SciPy, NumPy in the binary), and classify
  # loads it and predicts with it.
  local binary="$1" reviews="$work/reviews" learned="$work/learned-$RANDOM"
  if [ ! -d "$reviews" ]; then
    mkdir -p "$reviews"
    for i in $(seq 1 12); do
      printf 'def scale_%d(values):\n    return [v * %d for v in values]\n' "$i" "$i" >"$reviews/scale_$i.py"
      printf 'Meeting notes, week %d\nWe agreed on the budget and the plan.\n' "$i" >"$reviews/notes_$i.txt"
    done
  fi
  "$binary" --data-dir "$learned" integrations add local "$reviews" >/dev/null &&
    "$binary" --data-dir "$learned" sync --type full >/dev/null &&
    "$binary" --data-dir "$learned" artifacts list --json --limit 100 >"$work/reviews.json" &&
    mapfile -t ids < <(python3 -c 'import json, sys; [print(a["id"]) for a in json.load(open(sys.argv[1]))]' "$work/reviews.json") &&
    [ "${#ids[@]}" -eq 24 ] &&
    "$binary" --data-dir "$learned" artifacts approve "${ids[@]}" >/dev/null &&
    grep -q "Learned model refitted on 24 reviewed artifacts" "$learned/logs/midst-desktop.log" &&
    [ -f "$learned/classifier/model.pickle" ] &&
    "$binary" --data-dir "$learned" classify "$reviews/notes_1.txt" --json >/dev/null &&
    ! grep -q "Discarding the learned model\|not refitted" "$learned/logs/midst-desktop.log"
}

one_file_runs() {
  # The one-file binary `make binary` leaves in dist/ is the same app packed
  # differently: it must start and classify too.
  [ "$(dist/midst-desktop --version)" = "midst-desktop $(scripts/version.sh)" ] &&
    dist/midst-desktop classify "$work/samples/sediments-paper.pdf" --json | grep -q '"academic_paper"'
}
if [ -x dist/midst-desktop ]; then
  check "the one-file binary runs and classifies a PDF" one_file_runs
  check "the one-file binary carries the keyring backends, CA bundle and Drive discovery document" bundle_carries dist/midst-desktop
  check "the one-file binary fits the learned model from reviews and uses it" learns_from_reviews dist/midst-desktop
fi

check "add a local folder of samples" person "$app" integrations add local "$work/samples" --json
check "a full sync succeeds" person "$app" sync --type full --json
check "the store is in the default data folder" test -f "$data/midst.db"

every_sample_typed() {
  person "$app" artifacts list --json >"$work/artifacts.json"
  python3 - "$work/artifacts.json" "$work/expected.tsv" <<'PY'
import json, sys
artifacts = {a["name"]: a for a in json.load(open(sys.argv[1]))}
problems = []
for line in open(sys.argv[2]):
    name, expected = line.rstrip("\n").split("\t")
    got = artifacts.get(name)
    if got is None:
        problems.append(f"{name}: no artifact")
    elif got["artifact_type"] != expected:
        problems.append(f"{name}: {got['artifact_type']} != {expected}")
pdf = artifacts.get("sediments-paper.pdf", {})
# A page count can only come from the bundled PDF library.
if (pdf.get("metadata") or {}).get("pages") != 1:
    problems.append(f"PDF metadata has no page count: {pdf.get('metadata')}")
png = artifacts.get("sunset-gradient.png", {})
# Image dimensions come from the bundled imaging library.
if (png.get("metadata") or {}).get("width") != 320:
    problems.append(f"PNG metadata has no width: {png.get('metadata')}")
if problems:
    sys.exit("; ".join(problems))
PY
}
check "artifacts list shows every sample with its type (native extractors bundled)" every_sample_typed

classify_pdf() {
  "$app" classify "$work/samples/sediments-paper.pdf" --json >"$work/classify.json"
  python3 -c '
import json, sys
result = json.load(open(sys.argv[1]))
assert result[0]["artifact_type"] == "academic_paper", result
' "$work/classify.json"
}
check "classify on a PDF" classify_pdf
check "the learned model is fitted from reviews and used" learns_from_reviews "$app"

tray_offscreen() {
  # The desktop app starts on Qt's offscreen platform, runs a few seconds and
  # quits cleanly on SIGTERM. The app looks for a display variable before it
  # loads Qt; the offscreen platform itself never reads it. With no tray host
  # it shows the review window, so the log names which one it showed.
  # Without --data-dir the log is in the default log folder under the home.
  local log="$home/.local/state/midst-desktop/log/midst-desktop.log"
  local before=0
  [ -f "$log" ] && before="$(wc -l <"$log")"
  DISPLAY="${DISPLAY:-:0}" QT_QPA_PLATFORM=offscreen \
    person timeout --preserve-status -s TERM 8 "$app"
  tail -n +"$((before + 1))" "$log" >"$work/tray.log"
  cat "$work/tray.log"
  grep -q "Desktop app started (tray " "$work/tray.log" &&
    grep -q "Desktop app stopped" "$work/tray.log" &&
    ! grep -q "Traceback\|\[ERROR\]\|\[CRITICAL\]" "$work/tray.log" &&
    [ ! -e "$home/.config/autostart/midst-desktop.desktop" ]
}
check "the tray app starts offscreen, quits cleanly and does not start itself at login" tray_offscreen

agent_health() {
  local port=38117
  person MIDST_ENDPOINT_PORT=$port "$app" agent --serve &
  local pid=$!
  local answer=""
  for _ in $(seq 1 50); do
    answer="$(python3 -c '
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2) as r:
    print(r.status, r.read().decode())
' "$port" 2>/dev/null)" && break
    sleep 0.2
  done
  kill -TERM "$pid"
  wait "$pid"
  echo "$answer"
  [[ "$answer" == 200* ]] && [[ "$answer" == *'"ok": true'* || "$answer" == *'"ok":true'* ]]
}
check "agent --serve answers /health" agent_health

store_count() {  # the artifacts in the person's store, read without the app
  python3 -c '
import sqlite3, sys
store = sqlite3.connect(sys.argv[1])
print(store.execute("SELECT count(*) FROM artifacts").fetchone()[0])
store.close()
' "$data/midst.db"
}
samples_synced="$(store_count 2>/dev/null || echo none)"

nothing_of_the_package_left() {
  [ ! -e "$app" ] && [ ! -e /usr/lib/midst-desktop ] &&
    [ ! -e /usr/share/midst-desktop ] &&
    [ ! -e /usr/share/applications/midst-desktop.desktop ] &&
    [ ! -e /usr/share/metainfo/org.inmidst.midst_desktop.metainfo.xml ] &&
    [ -z "$(find /usr/share/icons/hicolor -name 'midst-desktop.*' 2>/dev/null)" ]
}

person_data_intact() {
  # Every synced artifact is still in the store, and the log is still there.
  [ -f "$data/midst.db" ] &&
    [ "$(store_count)" = "$samples_synced" ] &&
    [ "$samples_synced" -eq "$(wc -l <"$work/expected.tsv")" ] &&
    [ -f "$home/.local/state/midst-desktop/log/midst-desktop.log" ]
}

remove_keeps_data() {
  dpkg -r midst-desktop >/dev/null && nothing_of_the_package_left && person_data_intact
}
check "dpkg -r removes the app, icons, metainfo and menu entry, and keeps the person's data" remove_keeps_data

purge_keeps_data() {
  dpkg --purge midst-desktop >/dev/null || return 1
  local status
  status="$(dpkg-query -W -f '${Status}' midst-desktop 2>/dev/null || true)"
  [[ "$status" != *" installed" && "$status" != *config-files* ]] &&
    nothing_of_the_package_left && person_data_intact
}
check "dpkg --purge leaves nothing of the package and keeps the person's data" purge_keeps_data

echo "package-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
