#!/usr/bin/env bash
# The web UI in a real browser: runs the quickstart with --serve, then drives headless
# Chromium (the Debian packages `chromium` and `chromium-driver`, through WebDriver with
# Python `selenium`) over every page: expected elements and numbers (cross-checked against
# the /v4 API), keyboard use, no console error, screenshots in target/ui-screenshots/.
#
#   apt-get install -y chromium chromium-driver   # once
#   scripts/ui_browser_test.sh                     # from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
for bin in "$CHROMIUM" "$CHROMEDRIVER"; do
  [ -x "$bin" ] || { echo "missing $bin (apt-get install -y chromium chromium-driver)" >&2; exit 2; }
done

VENV=target/venv-ui-browser
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "selenium>=4.20,<5"
fi

cargo build --quiet --all-features --example quickstart
OUT=target/ui-screenshots
mkdir -p "$OUT"
LOG="$OUT/quickstart.out"
QUICKSTART_SERVE=1 QUICKSTART_ADDR=127.0.0.1:0 target/debug/examples/quickstart >"$LOG" 2>&1 &
QS=$!
trap 'kill "$QS" 2>/dev/null || true; wait "$QS" 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  grep -q '^web UI: ' "$LOG" && break
  kill -0 "$QS" 2>/dev/null || { cat "$LOG"; echo "quickstart ended early" >&2; exit 1; }
  sleep 1
done
LINE=$(grep '^web UI: ' "$LOG") || { cat "$LOG"; echo "no UI URL printed" >&2; exit 1; }
URL=$(sed -E 's/^web UI: ([^ ]+).*/\1/' <<<"$LINE")
KEY=$(sed -E 's/.*API key: ([^;]+);.*/\1/' <<<"$LINE")
echo "quickstart serving the UI at $URL"

"$VENV/bin/python" scripts/ui_browser_test.py \
  --url "$URL" --key "$KEY" --quickstart-output "$LOG" --out "$OUT" \
  --chromium "$CHROMIUM" --chromedriver "$CHROMEDRIVER"
