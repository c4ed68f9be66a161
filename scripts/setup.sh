#!/usr/bin/env bash
# Sets up MCC on Debian/Ubuntu: system packages, then a virtual environment in .venv with the
# pinned Python packages (constraints.txt). Idempotent; run it again after pulling.
#   bash scripts/setup.sh          what `mcc demo` needs (mosquitto, Python 3.11 venv)
#   bash scripts/setup.sh --test   also what the tests need (Chromium, PostgreSQL, a CJK font,
#                                  VictoriaMetrics, systemd-analyze, GStreamer's RTSP server)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(mosquitto mosquitto-clients python3-venv)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium postgresql fonts-wqy-microhei victoria-metrics systemd haproxy)  # systemd: systemd-analyze checks the unit; haproxy: a center's balancer
  # A real RTSP camera (tests/support/rtsp_server.py, run by the system python3 with gi):
  # GStreamer's RTSP server, appsrc/appsink (base), avidemux, jpegdec/jpegenc, rtpjpegpay (good).
  packages+=(python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
             gstreamer1.0-plugins-good)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python=$candidate; break
  fi
done
if [[ -z "$python" ]]; then
  echo "MCC needs Python 3.11 (python3.11 on PATH)" >&2
  exit 1
fi

[[ -x .venv/bin/python ]] || "$python" -m venv .venv
# pip and the build backend talk a lot; keep it in a log and show it only when the install fails.
log=.venv/pip-install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip && \
       .venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "pip install failed (log: $log)" >&2
  exit 1
fi
.venv/bin/python -c "import console, paho.mqtt, fastapi, sqlalchemy" # fail loudly if the install did not take
echo "setup done: .venv is ready"
