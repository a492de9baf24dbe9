#!/usr/bin/env bash
# The multi-host tests (tests/multihost) need iproute2 (`ip netns`) and nftables (`nft`):
# install them with apt-get when missing and we are root. Otherwise say so in one line
# and carry on: those tests then skip with the reason.
set -euo pipefail
missing=()
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} with apt-get (for the multi-host tests)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "note: ${missing[*]} missing and not root: the multi-host tests will skip ('sudo apt-get install ${missing[*]}')" >&2
exit 0
