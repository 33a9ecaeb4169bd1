#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as real peers and clients:
# curl and dig, PostgreSQL, Redis and BIND servers, promtool, h2load,
# slowhttptest, wrk, HAProxy and NGINX, and Chromium for the dashboard tests.
# Runs apt-get only for what is missing.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

missing=()
have curl || missing+=(curl)
have dig || missing+=(dnsutils)
have named || missing+=(bind9)
have_postgres || missing+=(postgresql)
have redis-server || missing+=(redis-server)
have promtool || missing+=(prometheus)
have h2load || missing+=(nghttp2-client)
have slowhttptest || missing+=(slowhttptest)
have wrk || missing+=(wrk)
have haproxy || missing+=(haproxy)
have nginx || missing+=(nginx-light)
have openssl || missing+=(openssl)
have chromium || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "missing test programs (Debian packages: ${missing[*]}); install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing test programs: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
