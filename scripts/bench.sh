#!/usr/bin/env bash
# Runs the benchmarks and writes their figures into BENCHMARKS.md.
#   scripts/bench.sh            every benchmark
#   scripts/bench.sh ingest     only the ingest benchmark (or `evals`, `guardrails`, `dashboard`,
#                               `explorer`, `alerts`, `bundle`)
# Extra arguments after `--` go to the benchmark binary (e.g. `ingest -- --requests 10`).
# ARGUS_BENCH_SHORT=1 runs each with a small load (what CI does, to keep them working);
# ARGUS_BENCH_RECORD=0 prints the figures without writing BENCHMARKS.md;
# ARGUS_BENCH_SKIP_BUILD=1 uses the release build already there.
# Uses a throwaway database (argus_bench), a release build of the server on port 3199, and
# the local PostgreSQL and Redis (started here when they are not running).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

which=all
if [ $# -gt 0 ] && [ "$1" != "--" ]; then which=$1; shift; fi
[ "${1:-}" = "--" ] && shift

scripts/install-tools.sh
scripts/services.sh postgres redis >/dev/null

ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/argus_bench"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export ARGUS_LISTEN_ADDR="127.0.0.1:3199"
export ARGUS_LOG="${ARGUS_LOG:-warn}"
export LEPTOS_SITE_ROOT="$PWD/target/site"
ARGUS="$CARGO_TARGET_DIR/release/argus"
BENCH="$CARGO_TARGET_DIR/release/argus-bench"

[ -x "$ARGUS" ] && [ "${ARGUS_BENCH_SKIP_BUILD:-0}" = 1 ] || cargo leptos build --release --split --precompress
cargo build --release --locked -p argus-bench

server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

# Log-in counters of earlier runs (the probes' floods) live in the shared Redis: the benchmarks
# log in from the same address.
forget_counters() {
  redis-cli -u "$REDIS_URL" --scan --pattern 'ratelimit:*' | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null || true
}

start_server() {
  forget_counters
  psql -q "$ADMIN_URL" -c 'DROP DATABASE IF EXISTS argus_bench WITH (FORCE)'
  "$ARGUS" migrate >/dev/null
  # Experiments: SQL run on the fresh database before the server starts (e.g. an index change).
  [ -n "${ARGUS_BENCH_SQL:-}" ] && psql -q "$DATABASE_URL" -c "$ARGUS_BENCH_SQL"
  local out workspace
  out=$(printf 'bench-password-123\n' | "$ARGUS" user create --email bench@argus.local \
    --name Bench --workspace Bench)
  workspace=$(sed -n 's/^workspace_id=//p' <<<"$out")
  ARGUS_BENCH_API_KEY=$("$ARGUS" apikey create --workspace "$workspace" --name bench --scopes ingest)
  export ARGUS_BENCH_API_KEY
  "$ARGUS" serve &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fsS "http://$ARGUS_LISTEN_ADDR/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "[bench] the server did not start" >&2
  return 1
}

# The dashboard benchmark's database (kept between runs: generating 10 M traces takes minutes;
# short runs use another, so they never replace the full data set), migrated, and its
# workspace: sets DATABASE_URL and workspace.
dashboard_workspace() {
  db=argus_bench_dashboard
  [ "${ARGUS_BENCH_SHORT:-0}" = 1 ] && db=argus_bench_dashboard_short
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
  psql -q "$ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" \
    | grep -q 1 || psql -q "$ADMIN_URL" -c "CREATE DATABASE $db"
  "$ARGUS" migrate >/dev/null
  workspace=$(psql -q "$DATABASE_URL" -tAc "SELECT id FROM workspaces WHERE name = 'Bench dashboard' LIMIT 1")
  if [ -z "$workspace" ]; then
    out=$(printf 'bench-password-123\n' | "$ARGUS" user create --email bench@argus.local \
      --name Bench --workspace 'Bench dashboard')
    workspace=$(sed -n 's/^workspace_id=//p' <<<"$out")
  fi
}

if [ "$which" = all ] || [ "$which" = ingest ]; then
  echo "==> ingest benchmark" >&2
  start_server
  record=(--markdown BENCHMARKS.md)
  [ "${ARGUS_BENCH_RECORD:-1}" = 0 ] && record=()
  short=()
  [ "${ARGUS_BENCH_SHORT:-0}" = 1 ] && short=(--requests 3)
  "$BENCH" ingest --url "http://$ARGUS_LISTEN_ADDR" --server-pid "$server_pid" "${record[@]}" \
    "${short[@]}" "$@"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
fi

if [ "$which" = all ] || [ "$which" = evals ]; then
  echo "==> evaluations benchmark" >&2
  start_server
  ARGUS_BENCH_WORKSPACE=$(psql -q "$DATABASE_URL" -tAc "SELECT id FROM workspaces WHERE name = 'Bench' LIMIT 1")
  export ARGUS_BENCH_WORKSPACE
  record=(--markdown BENCHMARKS.md)
  [ "${ARGUS_BENCH_RECORD:-1}" = 0 ] && record=()
  short=()
  [ "${ARGUS_BENCH_SHORT:-0}" = 1 ] && short=(--requests 3 --latency-samples 10 --scores 100000 \
    --iterations 5)
  "$BENCH" evals --url "http://$ARGUS_LISTEN_ADDR" "${record[@]}" "${short[@]}" "$@"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
fi

if [ "$which" = all ] || [ "$which" = guardrails ]; then
  echo "==> guardrails benchmark" >&2
  start_server
  ARGUS_BENCH_WORKSPACE=$(psql -q "$DATABASE_URL" -tAc "SELECT id FROM workspaces WHERE name = 'Bench' LIMIT 1")
  export ARGUS_BENCH_WORKSPACE
  ARGUS_BENCH_GUARD_KEY=$("$ARGUS" apikey create --workspace "$ARGUS_BENCH_WORKSPACE" --name guard --scopes guardrail)
  export ARGUS_BENCH_GUARD_KEY
  record=(--markdown BENCHMARKS.md)
  [ "${ARGUS_BENCH_RECORD:-1}" = 0 ] && record=()
  short=()
  [ "${ARGUS_BENCH_SHORT:-0}" = 1 ] && short=(--iterations 200 --checks 20 --ingest-requests 2)
  "$BENCH" guardrails --url "http://$ARGUS_LISTEN_ADDR" "${record[@]}" "${short[@]}" "$@"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
fi

if [ "$which" = all ] || [ "$which" = dashboard ]; then
  echo "==> dashboard benchmark" >&2
  dashboard_workspace
  ARGUS_BENCH_API_KEY=$("$ARGUS" apikey create --workspace "$workspace" --name bench --scopes ingest)
  export ARGUS_BENCH_API_KEY
  forget_counters
  "$ARGUS" serve &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fsS "http://$ARGUS_LISTEN_ADDR/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  record=(--markdown BENCHMARKS.md)
  [ "${ARGUS_BENCH_RECORD:-1}" = 0 ] && record=()
  short=()
  [ "${ARGUS_BENCH_SHORT:-0}" = 1 ] && short=(--traces 100000 --iterations 5 --raw-iterations 1 \
    --clients 10 --seconds 2 --users 10 --refresh 1 --hit-seconds 4 --endpoint-iterations 1)
  "$BENCH" dashboard --workspace "$workspace" --url "http://$ARGUS_LISTEN_ADDR" "${record[@]}" \
    "${short[@]}" "$@"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
fi

if [ "$which" = all ] || [ "$which" = explorer ]; then
  echo "==> explorer benchmark" >&2
  # The dashboard benchmark's workspace (its traces generated there, or here if missing).
  dashboard_workspace
  record=(--markdown BENCHMARKS.md)
  [ "${ARGUS_BENCH_RECORD:-1}" = 0 ] && record=()
  short=()
  [ "${ARGUS_BENCH_SHORT:-0}" = 1 ] && short=(--traces 100000 --iterations 5 \
    --offset-iterations 2 --depths 0,1000,50000 --export-rows 20000)
  "$BENCH" explorer --workspace "$workspace" "${record[@]}" "${short[@]}" "$@"
fi

if [ "$which" = all ] || [ "$which" = alerts ]; then
  echo "==> alerts benchmark" >&2
  # The dashboard benchmark's workspace (its traces generated there, or here if missing); the
  # evaluator and the delivery workers run in the benchmark's process.
  dashboard_workspace
  record=(--markdown BENCHMARKS.md)
  [ "${ARGUS_BENCH_RECORD:-1}" = 0 ] && record=()
  short=()
  [ "${ARGUS_BENCH_SHORT:-0}" = 1 ] && short=(--traces 100000 --rules 50 --cycles 2 --samples 2 \
    --every 3)
  "$BENCH" alerts --workspace "$workspace" "${record[@]}" "${short[@]}" "$@"
fi

if [ "$which" = all ] || [ "$which" = bundle ]; then
  # What a browser downloads on a first and a second visit, and the time to interactive.
  echo "[bench] bundle: first and second visit of the home page in Chromium"
  # Its own throwaway database again (the dashboard benchmarks pointed DATABASE_URL elsewhere).
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/argus_bench"
  start_server
  record=(--markdown BENCHMARKS.md)
  [ "${ARGUS_BENCH_RECORD:-1}" = 0 ] && record=()
  short=()
  [ "${ARGUS_BENCH_SHORT:-0}" = 1 ] && short=(--visits 1)
  node end2end/bench/bundle.mjs --url "http://$ARGUS_LISTEN_ADDR" --email bench@argus.local \
    --password bench-password-123 "${record[@]}" "${short[@]}"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
fi
