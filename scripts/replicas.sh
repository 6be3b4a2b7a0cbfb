#!/usr/bin/env bash
# Three `argus serve` replicas on one PostgreSQL and one Redis, behind a round-robin proxy
# (argus-bench replicas), one killed with SIGKILL in the middle of an OTLP load: every span must
# be stored once and counted once (issue 20, point 1), and every replica's dashboard must count
# every trace. CI runs it after the probes three times: on one Redis; on a three-master Redis
# Cluster it starts on loopback (point 2); and through PgBouncer in transaction pooling mode
# (point 4: four server connections for the three replicas' 24 clients).
#   scripts/replicas.sh [--redis-cluster | --pgbouncer]
#   (ARGUS_REPLICAS_SKIP_BUILD=1: use the release builds already there)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/services.sh postgres redis >/dev/null

mode="${1:-}"
ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
DIRECT_URL="postgres://postgres@127.0.0.1:5432/argus_replicas"
export DATABASE_URL="$DIRECT_URL"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export ARGUS_JWT_SECRET="replicas-only-secret-0123456789-0123456789-abcdef"
export ARGUS_LOG="${ARGUS_LOG:-warn}"
export ARGUS_GRPC_LISTEN=off
export ARGUS_DB_MIN_CONNECTIONS=1 ARGUS_DB_MAX_CONNECTIONS=8
# Dashboards follow ingest within 200 ms (the check reads them right after the load).
export ARGUS_CACHE_INVALIDATION_MS=200
export LEPTOS_SITE_ROOT="$PWD/target/site"
ARGUS="${ARGUS_BIN:-$CARGO_TARGET_DIR/release/argus}"
BENCH="${ARGUS_BENCH_BIN:-$CARGO_TARGET_DIR/release/argus-bench}"
if [ "${ARGUS_REPLICAS_SKIP_BUILD:-0}" != 1 ] || [ ! -x "$ARGUS" ]; then
  cargo leptos build --release --split --precompress
fi
[ "${ARGUS_REPLICAS_SKIP_BUILD:-0}" = 1 ] && [ -x "$BENCH" ] || cargo build --release --locked -p argus-bench

pids=()
cluster_dir=""
pgb_dir=""
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$ADMIN_URL" -c 'DROP DATABASE IF EXISTS argus_replicas WITH (FORCE)' || true
  if [ -n "$cluster_dir" ]; then
    for f in "$cluster_dir"/*.pid; do kill "$(cat "$f")" 2>/dev/null || true; done
    rm -rf "$cluster_dir"
  fi
  if [ -n "$pgb_dir" ]; then
    [ -f "$pgb_dir/pgbouncer.pid" ] && kill "$(cat "$pgb_dir/pgbouncer.pid")" 2>/dev/null || true
    rm -rf "$pgb_dir"
    # The app role as the migrations leave it: no login, no role-level timeout.
    psql -q "$ADMIN_URL" -c "ALTER ROLE argus_app NOLOGIN" \
      -c "ALTER ROLE argus_app RESET statement_timeout" || true
  fi
}
trap cleanup EXIT

if [ "$mode" = --redis-cluster ]; then
  # Three masters on loopback (their bus ports are 10000 above), each in its own directory.
  cluster_dir=$(mktemp -d /tmp/argus-replicas-cluster.XXXXXX)
  nodes=()
  for port in 7291 7292 7293; do
    mkdir -p "$cluster_dir/$port"
    (cd "$cluster_dir/$port" && redis-server --port "$port" --bind 127.0.0.1 \
      --cluster-enabled yes --cluster-config-file nodes.conf --save "" --appendonly no \
      --daemonize yes --pidfile "$cluster_dir/$port.pid" --logfile "$cluster_dir/$port.log")
    nodes+=("127.0.0.1:$port")
  done
  for node in "${nodes[@]}"; do
    for _ in $(seq 50); do redis-cli -u "redis://$node" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 100); do
    redis-cli -u "redis://${nodes[0]}" cluster info | grep -q 'cluster_state:ok' && break
    sleep 0.1
  done
  REDIS_URL=$(printf 'redis://%s,' "${nodes[@]}")
  export REDIS_URL="${REDIS_URL%,}"
  echo "on a three-master Redis Cluster: $REDIS_URL"
fi

psql -q "$ADMIN_URL" -c 'DROP DATABASE IF EXISTS argus_replicas WITH (FORCE)'
"$ARGUS" migrate >/dev/null
out=$(printf 'replicas-password-123\n' | "$ARGUS" user create --email replicas@argus.local \
  --name Replicas --workspace Replicas)
workspace=$(sed -n 's/^workspace_id=//p' <<<"$out")
ARGUS_BENCH_API_KEY=$("$ARGUS" apikey create --workspace "$workspace" --name load --scopes ingest)
ARGUS_BENCH_READ_KEY=$("$ARGUS" apikey create --workspace "$workspace" --name read --scopes read)
export ARGUS_BENCH_API_KEY ARGUS_BENCH_READ_KEY

if [ "$mode" = --pgbouncer ]; then
  # PgBouncer >= 1.21 (named prepared statements tracked): scripts/install-tools.sh --test.
  pgbouncer="${ARGUS_PGBOUNCER:-$HOME/.cache/argus-pgbouncer/pgbouncer}"
  "$pgbouncer" --version >/dev/null || { echo "no PgBouncer at $pgbouncer: run scripts/install-tools.sh --test" >&2; exit 1; }
  pgb_dir=$(mktemp -d /tmp/argus-pgbouncer.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$pgb_dir"
  # Behind a transaction pooler the login role is the app role itself, with its own timeout.
  psql -q "$ADMIN_URL" -c "ALTER ROLE argus_app LOGIN" \
    -c "ALTER ROLE argus_app SET statement_timeout = '10s'"
  echo '"argus_app" ""' >"$pgb_dir/users.txt"
  cat >"$pgb_dir/pgbouncer.ini" <<EOF
[databases]
argus_replicas = host=127.0.0.1 port=5432 dbname=argus_replicas

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6439
unix_socket_dir =
auth_type = trust
auth_file = $pgb_dir/users.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
max_prepared_statements = 200
ignore_startup_parameters = extra_float_digits
logfile = $pgb_dir/pgbouncer.log
pidfile = $pgb_dir/pgbouncer.pid
EOF
  # Run by postgres when root (PgBouncer refuses root), which may not read root's home.
  cp "$pgbouncer" "$pgb_dir/pgbouncer"
  as_pg "$pgb_dir/pgbouncer" -d "$pgb_dir/pgbouncer.ini"
  for _ in $(seq 50); do
    psql -qAt "postgres://argus_app@127.0.0.1:6439/argus_replicas" -c 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  export DATABASE_URL="postgres://argus_app@127.0.0.1:6439/argus_replicas"
  export ARGUS_DATABASE_DIRECT_URL="$DIRECT_URL"
  echo "through PgBouncer $("$pgbouncer" --version | head -n 1 | cut -d' ' -f2) in transaction pooling mode (4 server connections)"
fi

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
"$BENCH" replicas --upstreams "${upstreams%,}" --kill-pid "${pids[1]}" --database-url "$DIRECT_URL"
if [ -n "$cluster_dir" ]; then
  # The replicas used the cluster (API key records, rate counters, cache generations).
  keys=0
  for node in "${nodes[@]}"; do keys=$((keys + $(redis-cli -u "redis://$node" dbsize))); done
  [ "$keys" -gt 0 ] || { echo "the replicas wrote nothing to the Redis Cluster" >&2; exit 1; }
  echo "the replicas kept $keys keys on the cluster's three masters"
fi
