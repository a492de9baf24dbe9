#!/usr/bin/env bash
# Make sure Debian's chromium is present for the browser tests (never a downloaded browser).
set -euo pipefail
# Leaflet and jQuery from Debian: there is no CDN here, the browser tests serve them to folium's maps.
if command -v chromium >/dev/null 2>&1 && [ -f /usr/share/javascript/leaflet/leaflet.js ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium with apt-get…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core libjs-leaflet libjs-jquery >/dev/null
  exit 0
fi
echo "chromium or leaflet is missing: install them with 'sudo apt-get install chromium libjs-leaflet libjs-jquery'" >&2
exit 1
