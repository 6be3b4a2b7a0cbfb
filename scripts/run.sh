#!/usr/bin/env bash
# Runs Argus: installs missing build tools, starts the local PostgreSQL (and Redis, when
# installed) if nothing answers at the configured URLs, builds the release, then serves —
# the server creates and migrates the database itself — and prints the URL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# The server reads .env itself; read it here too so the checks below use the same URLs.
if [ -f .env ]; then set -a; . ./.env; set +a; fi
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/argus}"

scripts/install-tools.sh

if ! pg_isready -q -d "$DATABASE_URL" 2>/dev/null; then
  echo "[run] nothing answers at DATABASE_URL: starting the local PostgreSQL" >&2
  scripts/services.sh postgres
fi
if [ -z "${REDIS_URL:-}" ]; then
  if command -v redis-server >/dev/null; then
    scripts/services.sh redis --no-install && export REDIS_URL="redis://127.0.0.1:6379"
  else
    echo "[run] Redis is not installed: Argus uses its in-process cache" >&2
  fi
elif ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
  scripts/services.sh redis --no-install || true
fi

cargo leptos build --release --split --precompress
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$PWD/target/site}"
# First start (no users yet): load the demo workspace (log in as demo@argus.local) — never in
# production, where the first person to sign up becomes the first owner instead.
if [ "${ARGUS_ENV:-development}" != "production" ]; then
  "$CARGO_TARGET_DIR/release/argus" demo --if-empty
fi
exec "$CARGO_TARGET_DIR/release/argus" serve "$@"
