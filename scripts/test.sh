#!/usr/bin/env bash
# Runs every test of Argus: formatting, clippy for the ssr and the hydrate builds, the unit and
# integration tests against the real PostgreSQL and Redis (a fresh database per test), the
# release build, the end-to-end tests in Chromium against that release build, and the attack
# probes (scripts/probe.sh) against it.
# Installs missing tools and starts PostgreSQL and Redis on loopback when they are not running.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

started=$SECONDS
step() {
  local name=$1; shift
  local t=$SECONDS
  printf '\n==> %s\n' "$name"
  "$@"
  printf '<== %s: %ss\n' "$name" "$((SECONDS - t))"
}

step "tools" scripts/install-tools.sh --test
step "target dir hygiene" scripts/prune-target.sh
step "services" scripts/services.sh

ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
ensure_db() {
  psql -q "$ADMIN_URL" -tc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1 \
    || psql -q "$ADMIN_URL" -c "CREATE DATABASE \"$1\""
}
# sqlx::test makes a fresh database per test from this one.
ensure_db argus_test
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/argus_test"
export REDIS_URL="redis://127.0.0.1:6379"

step "fmt" cargo fmt --all --check
# Dependencies: none unused (machete); licenses, sources and bans, duplicate versions reported
# (deny.toml). Advisories need the RustSec database from GitHub: checked when a copy is here.
step "unused dependencies" cargo machete
deny() {
  cargo deny --locked check --hide-inclusion-graph licenses bans sources
  if [ -d "$HOME/.cargo/advisory-db" ]; then
    cargo deny --locked check --disable-fetch advisories
  else
    echo "advisories: skipped (no local RustSec database; github.com is unreachable here)"
  fi
}
step "licenses, sources, duplicate versions" deny
step "clippy (ssr)" cargo clippy --locked --workspace --exclude frontend --all-targets -- -D warnings
step "clippy (hydrate)" cargo clippy --locked -p frontend --features hydrate \
  --target wasm32-unknown-unknown -- -D warnings
step "clippy (csr, the Trunk build)" cargo clippy --locked -p frontend --no-default-features \
  --features csr --target wasm32-unknown-unknown -- -D warnings
step "unit and integration tests" cargo test --locked --workspace --exclude frontend
# The read-replica tests on a primary and its streaming standby (pg_basebackup), on loopback.
step "read replica (a streaming standby on loopback)" scripts/read-replica.sh
step "release build (server + size-optimized, precompressed wasm)" cargo leptos build --release --split --precompress

e2e() {
  # A throwaway database: the server creates and migrates it at start.
  psql -q "$ADMIN_URL" -c 'DROP DATABASE IF EXISTS argus_e2e WITH (FORCE)'
  export ARGUS_BIN="$CARGO_TARGET_DIR/release/argus"
  export ARGUS_E2E_DATABASE_URL="postgres://postgres@127.0.0.1:5432/argus_e2e"
  export ARGUS_OTEL_PYTHON="${ARGUS_OTEL_VENV:-$HOME/.cache/argus-otel-venv}/bin/python"
  (cd end2end && npx playwright test)
}
step "end-to-end (Chromium, release build)" e2e
# The Dockerfile, docker-compose.yml and the systemd unit, as far as no container engine allows.
step "packaging" env ARGUS_BIN="$CARGO_TARGET_DIR/release/argus" scripts/check-packaging.sh
# Each attack of docs/SECURITY.md against the same release build, in production mode.
step "probes (attacks on the release build)" env ARGUS_PROBE_SKIP_BUILD=1 ARGUS_PROBE_RECORD=0 \
  scripts/probe.sh
# Three replicas on one PostgreSQL and Redis behind a round-robin proxy, one killed mid-ingest.
step "replicas (one killed mid-ingest)" env ARGUS_REPLICAS_SKIP_BUILD=1 scripts/replicas.sh
step "replicas on a Redis Cluster" env ARGUS_REPLICAS_SKIP_BUILD=1 scripts/replicas.sh --redis-cluster
step "replicas through PgBouncer (transaction pooling)" env ARGUS_REPLICAS_SKIP_BUILD=1 scripts/replicas.sh --pgbouncer
# The benchmarks with a short load: they must keep working (full runs: scripts/bench.sh).
step "benchmarks (short run)" env ARGUS_BENCH_SKIP_BUILD=1 ARGUS_BENCH_RECORD=0 \
  ARGUS_BENCH_SHORT=1 scripts/bench.sh
step "trunk build (client-side development bundle)" trunk build --release --offline

printf '\nall checks passed in %ss\n' "$((SECONDS - started))"
