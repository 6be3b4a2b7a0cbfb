#!/usr/bin/env bash
# Starts the local services Argus needs, on loopback, idempotently:
#   PostgreSQL 15 (Debian's cluster "15 main"), set up so that the default
#   DATABASE_URL postgres://postgres@127.0.0.1:5432/argus works, and Redis.
# Installs them from Debian when missing. Safe to run any number of times.
# Usage: scripts/services.sh [postgres] [redis] [--no-install]   (no service named: both)
set -euo pipefail

install=1
want_pg=0
want_redis=0
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    postgres) want_pg=1 ;;
    redis) want_redis=1 ;;
    *) echo "usage: $0 [postgres] [redis] [--no-install]" >&2; exit 2 ;;
  esac
done
if [ "$want_pg" = 0 ] && [ "$want_redis" = 0 ]; then want_pg=1; want_redis=1; fi
log() { printf '[services] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  [ "$install" = 1 ] || { log "missing $*; install it or run without --no-install"; return 1; }
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

start_postgres() {
  if pg_ready; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null || [ ! -d /etc/postgresql ]; then
    log "installing postgresql"
    apt_install postgresql
  fi
  local ver
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  # Local development cluster: trust connections from loopback only, so the
  # password-less default DATABASE_URL works. Never expose this cluster.
  if ! grep -q '^# argus: loopback trust' "$hba"; then
    log "configuring $hba for password-less loopback access"
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    as_root sed -i '1i # argus: loopback trust (local development cluster)' "$hba"
  fi
  log "starting postgresql $ver"
  as_root pg_ctlcluster "$ver" main start || as_root pg_ctlcluster "$ver" main restart
  for _ in $(seq 1 60); do pg_ready && return 0; sleep 0.5; done
  log "postgresql did not become ready; see /var/log/postgresql/"
  return 1
}

redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

start_redis() {
  if command -v redis-cli >/dev/null && redis_ready; then return 0; fi
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    apt_install redis-server
  fi
  log "starting redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 40); do redis_ready && return 0; sleep 0.25; done
  log "redis did not become ready"
  return 1
}

[ "$want_pg" = 1 ] && start_postgres
[ "$want_redis" = 1 ] && start_redis
exit 0
