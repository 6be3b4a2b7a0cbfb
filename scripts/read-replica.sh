#!/usr/bin/env bash
# A PostgreSQL primary and its streaming read replica, made by pg_basebackup, on loopback in a
# temporary directory; runs the read-replica tests against them (issue 20, point 3) and removes
# both. CI runs it after the unit and integration tests.
#   scripts/read-replica.sh
# Ports: ARGUS_REPLICA_TEST_PORT (primary, default 5434) and the next one (the replica).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/services.sh redis >/dev/null

primary_port="${ARGUS_REPLICA_TEST_PORT:-5434}"
replica_port=$((primary_port + 1))
ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
bin="/usr/lib/postgresql/$ver/bin"
# PostgreSQL refuses to run as root: as root, the cluster is the postgres user's.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

dir=$(mktemp -d /tmp/argus-read-replica.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() {
  for node in replica primary; do
    [ -f "$dir/$node/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/$node" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

as_pg "$bin/initdb" -D "$dir/primary" -U postgres -A trust --no-sync >/dev/null
cat >>"$dir/primary/postgresql.conf" <<EOF
port = $primary_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 4
fsync = off
EOF
as_pg "$bin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null
# A primary that has crash-recovered (as a CI machine's may have) keeps a fixed, non-NULL
# pg_last_wal_replay_lsn() although it is not in recovery: crash and restart this one so the
# tests that name the primary as its own replica meet that case.
as_pg "$bin/pg_ctl" -D "$dir/primary" -m immediate stop >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null
as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/replica" -R \
  -X stream --checkpoint=fast --no-sync
echo "port = $replica_port" >>"$dir/replica/postgresql.conf"
as_pg "$bin/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" -w start >/dev/null
for _ in $(seq 100); do
  status=$(psql -qAt "postgres://postgres@127.0.0.1:$replica_port/postgres" \
    -c "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)
  [ "$status" = streaming ] && break
  sleep 0.1
done
[ "$status" = streaming ] || { echo "the replica is not streaming" >&2; cat "$dir/replica.log" >&2; exit 1; }
echo "primary on 127.0.0.1:$primary_port, streaming replica on 127.0.0.1:$replica_port"

DATABASE_URL="postgres://postgres@127.0.0.1:$primary_port/postgres" \
  ARGUS_TEST_READ_REPLICA="127.0.0.1:$replica_port" \
  cargo test --locked -q --workspace --exclude frontend --test read_replica -- --include-ignored
