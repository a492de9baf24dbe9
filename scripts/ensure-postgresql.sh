#!/usr/bin/env bash
# The PostgreSQL event-store tests start a throwaway cluster of Debian's postgresql
# (initdb and pg_ctl from /usr/lib/postgresql/*/bin): install it with apt-get when
# missing and we are root. Otherwise say so in one line and carry on: those tests
# then skip with the reason (CI sets RECARGA_REQUIRE_POSTGRES=1 and fails instead).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql with apt-get (for the PostgreSQL event-store tests)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  # The package may start its own cluster on 5432; the tests never use it (theirs is on a free port).
  exit 0
fi
echo "note: postgresql missing and not root: the PostgreSQL event-store tests will skip ('sudo apt-get install postgresql')" >&2
exit 0
