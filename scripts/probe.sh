#!/usr/bin/env bash
# The probe suite: each attack of docs/SECURITY.md, bounded and on loopback, against the
# release build in production mode, asserting its defended outcome. Prints the table and (unless
# ARGUS_PROBE_RECORD=0) writes it into docs/SECURITY.md. CI runs it after the browser tests.
#   scripts/probe.sh                  every probe, PostgreSQL restarted mid-load when run as root
#   ARGUS_PROBE_SKIP_BUILD=1          use the release build already there
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/services.sh postgres redis >/dev/null

ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
# The server logs in as the documented unprivileged owner (no superuser); the probe reads the
# results as the superuser.
PROBE_OWNER=argus_probe_owner
export DATABASE_URL="postgres://$PROBE_OWNER@127.0.0.1:5432/argus_probe"
SUPER_URL="postgres://postgres@127.0.0.1:5432/argus_probe"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export ARGUS_LISTEN_ADDR="127.0.0.1:3198"
export ARGUS_GRPC_LISTEN="127.0.0.1:4398"
export ARGUS_ENV=production
export ARGUS_JWT_SECRET="probe-only-secret-0123456789-0123456789-abcdef"
export ARGUS_SIGNUP=open
export ARGUS_BODY_READ_TIMEOUT_SECS=3
export ARGUS_LOG="${ARGUS_LOG:-warn}"
export LEPTOS_SITE_ROOT="$PWD/target/site"
ARGUS="$CARGO_TARGET_DIR/release/argus"
BENCH="$CARGO_TARGET_DIR/release/argus-bench"

[ -x "$ARGUS" ] && [ "${ARGUS_PROBE_SKIP_BUILD:-0}" = 1 ] || cargo leptos build --release --split --precompress
cargo build --release --locked -p argus-bench

server_pid=
forget_counters() {
  redis-cli -u "$REDIS_URL" --scan --pattern 'ratelimit:*' | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
}
# The floods fill the rate-limit counters of 127.0.0.1 in the shared Redis: leave none behind
# for whatever runs next on this machine (the benchmarks log in from there too).
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  forget_counters || true
}
trap cleanup EXIT

psql -q "$ADMIN_URL" -c 'DROP DATABASE IF EXISTS argus_probe WITH (FORCE)'
psql -q "$ADMIN_URL" -tc "SELECT 1 FROM pg_roles WHERE rolname = '$PROBE_OWNER'" | grep -q 1 \
  || psql -q "$ADMIN_URL" -c "CREATE ROLE $PROBE_OWNER LOGIN CREATEROLE BYPASSRLS"
psql -q "$ADMIN_URL" -c "CREATE DATABASE argus_probe OWNER $PROBE_OWNER"
# Rate-limit counters of an earlier run would be shared through Redis: start clean.
forget_counters
"$ARGUS" serve &
server_pid=$!
for _ in $(seq 150); do
  curl -fsS "http://$ARGUS_LISTEN_ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

args=(probe --url "http://$ARGUS_LISTEN_ADDR" --grpc-addr "$ARGUS_GRPC_LISTEN" --server-pid "$server_pid"
  --database-url "$SUPER_URL")
[ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null && args+=(--restart-postgres)
[ "${ARGUS_PROBE_RECORD:-1}" = 1 ] && args+=(--markdown docs/SECURITY.md)
"$BENCH" "${args[@]}"
