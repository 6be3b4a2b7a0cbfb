#!/usr/bin/env bash
# Three `argus serve` replicas on one PostgreSQL and one Redis, behind a round-robin proxy
# (argus-bench replicas), one killed with SIGKILL in the middle of an OTLP load: every span must
# be stored once and counted once (issue 20, point 1). CI runs it after the probes.
#   scripts/replicas.sh    (ARGUS_REPLICAS_SKIP_BUILD=1: use the release builds already there)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/services.sh postgres redis >/dev/null

ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/argus_replicas"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export ARGUS_JWT_SECRET="replicas-only-secret-0123456789-0123456789-abcdef"
export ARGUS_LOG="${ARGUS_LOG:-warn}"
export ARGUS_GRPC_LISTEN=off
export ARGUS_DB_MIN_CONNECTIONS=1 ARGUS_DB_MAX_CONNECTIONS=8
export LEPTOS_SITE_ROOT="$PWD/target/site"
ARGUS="${ARGUS_BIN:-$CARGO_TARGET_DIR/release/argus}"
BENCH="${ARGUS_BENCH_BIN:-$CARGO_TARGET_DIR/release/argus-bench}"
if [ "${ARGUS_REPLICAS_SKIP_BUILD:-0}" != 1 ] || [ ! -x "$ARGUS" ]; then
  cargo leptos build --release --split --precompress
fi
[ "${ARGUS_REPLICAS_SKIP_BUILD:-0}" = 1 ] && [ -x "$BENCH" ] || cargo build --release --locked -p argus-bench

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$ADMIN_URL" -c 'DROP DATABASE IF EXISTS argus_replicas WITH (FORCE)' || true
}
trap cleanup EXIT

psql -q "$ADMIN_URL" -c 'DROP DATABASE IF EXISTS argus_replicas WITH (FORCE)'
"$ARGUS" migrate >/dev/null
out=$(printf 'replicas-password-123\n' | "$ARGUS" user create --email replicas@argus.local \
  --name Replicas --workspace Replicas)
workspace=$(sed -n 's/^workspace_id=//p' <<<"$out")
ARGUS_BENCH_API_KEY=$("$ARGUS" apikey create --workspace "$workspace" --name load --scopes ingest)
export ARGUS_BENCH_API_KEY

ports=(3281 3282 3283)
for port in "${ports[@]}"; do
  ARGUS_LISTEN_ADDR="127.0.0.1:$port" "$ARGUS" serve &
  pids+=($!)
done
for port in "${ports[@]}"; do
  for _ in $(seq 150); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "replica $port did not start" >&2; exit 1; }
done
upstreams=$(printf '127.0.0.1:%s,' "${ports[@]}")
"$BENCH" replicas --upstreams "${upstreams%,}" --kill-pid "${pids[1]}"
