#!/usr/bin/env bash
# Make sure Debian's mosquitto broker binary is present: install it with
# apt-get when missing and we are root; otherwise say in one line how.
set -euo pipefail
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's mosquitto with apt-get…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients >/dev/null
  # Debian's package may start its own system broker on 1883; ours run per company on their own ports.
  exit 0
fi
echo "mosquitto is missing: install it with 'sudo apt-get install mosquitto mosquitto-clients'" >&2
exit 1
