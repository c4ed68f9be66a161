#!/usr/bin/env bash
# Opens the MCC wall full screen on a control-room display PC and keeps it open.
#   MCC_WALL_URL  https://<console>/pair?name=<wall name>: the first time it shows a code that an admin
#                 approves (admin page → Displays, or `mcc display approve CODE`); the wall's session then
#                 lives in this profile's HttpOnly cookie (http.wall_session_days), and /pair opens the wall.
# Chromium's flags: kiosk (full screen, no browser chrome), sound without a click (the wall's alarm
# sounds must play after a power cut or a reload, with nobody there to click), no crash bubble,
# no translate bar, no pinch zoom.
set -euo pipefail
: "${MCC_WALL_URL:?set MCC_WALL_URL to the kiosk URL of the wall}"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
profile="${XDG_STATE_HOME:-$HOME/.local/state}/mcc-wall-profile"
mkdir -p "$profile"
exec "$browser" --kiosk --user-data-dir="$profile" \
  --autoplay-policy=no-user-gesture-required \
  --noerrdialogs --disable-session-crashed-bubble --disable-infobars --disable-translate \
  --disable-pinch --overscroll-history-navigation=0 --check-for-update-interval=31536000 \
  "$MCC_WALL_URL"
