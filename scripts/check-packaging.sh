#!/usr/bin/env bash
# Checks the packaging (Dockerfile, docker-compose.yml, deploy/) as far as a machine without a
# container engine allows, against the release build:
#   1. every setting the packaging passes is one the binary knows (`argus --help`);
#   2. what the Dockerfile copies out of the build exists after `cargo leptos build --release`;
#   3. the systemd unit passes `systemd-analyze verify`;
#   4. the binary started as the container starts it (the Dockerfile's ENV, ENTRYPOINT and
#      CMD; a throwaway database) answers the health check both files use, serves the site, and
#      stops cleanly on SIGTERM.
# Usage: scripts/check-packaging.sh   (ARGUS_BIN: the release binary; scripts/test.sh sets it)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
BIN="${ARGUS_BIN:-$CARGO_TARGET_DIR/release/argus}"
ADMIN_URL="${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
fail() { echo "packaging: $*" >&2; exit 1; }

# The ENV settings of the Dockerfile's runtime stage (from its last FROM), one NAME=value a line.
dockerfile_env() {
  sed -n "$(grep -n '^FROM ' Dockerfile | tail -1 | cut -d: -f1),\$p" Dockerfile \
    | awk '/^ENV /{on=1} on{print} on && !/\\$/{on=0}' \
    | sed -e 's/^ENV //' -e 's/\\$//' | tr -s ' ' '\n' | grep '='
}

# 1. Settings.
known=$("$BIN" --help | tr '\n' ' ' | grep -oE '\[env: +[A-Z_]+' | sed -E 's/\[env: +//' | sort -u)
known="$known LEPTOS_SITE_ROOT"
named=$( {
  dockerfile_env | cut -d= -f1
  sed -n '/^  argus:/,/^[a-z]/p' docker-compose.yml | sed -n 's/^      \([A-Z_]*\):.*/\1/p'
  grep -oE '^[A-Z_]+=' deploy/argus.env.example | tr -d '='
  sed -n 's/^Environment=\([A-Z_]*\)=.*/\1/p' deploy/argus.service
} | sort -u)
[ -n "$named" ] || fail "found no settings in the packaging files"
for v in $named; do
  grep -qx "$v" <<<"$(tr ' ' '\n' <<<"$known")" || fail "$v is set by the packaging but argus does not know it"
done
echo "packaging: $(wc -w <<<"$named") settings, all known to argus"

# 2. What the Dockerfile copies out of the build stage (its target dir is target/build there).
[ -x "$CARGO_TARGET_DIR/release/argus" ] || fail "no release binary"
[ -f "$CARGO_TARGET_DIR/release/hash.txt" ] || fail "no hash.txt beside the release binary"
ls target/site/pkg/argus.*.wasm >/dev/null 2>&1 || fail "no hashed wasm under target/site/pkg"
grep -q 'COPY --from=build /src/target/build/release/argus ' Dockerfile || fail "Dockerfile copies another binary path"

# 3. The systemd unit, pointed at this build (verify needs ExecStart's binary to exist).
if command -v systemd-analyze >/dev/null; then
  dir=$(mktemp -d)
  cp deploy/argus.env.example "$dir/argus.env"
  sed -e "s#/opt/argus/argus#$BIN#; s#/etc/argus/argus.env#$dir/argus.env#; s#^User=.*#User=root#; s#^Group=.*#Group=root#" \
    deploy/argus.service > "$dir/argus.service"
  out=$(systemd-analyze verify "$dir/argus.service" 2>&1 || true)
  # Outside a booted systemd (a container, CI) verify cannot reach the manager; syntax errors
  # and unknown settings still show as "Unknown key" / "Failed to parse".
  if grep -E 'Unknown (key|section)|Failed to parse|Invalid' <<<"$out"; then
    fail "deploy/argus.service: $out"
  fi
  rm -rf "$dir"
  echo "packaging: deploy/argus.service verified"
else
  echo "packaging: systemd-analyze missing, unit not verified"
fi

# 4. Start as the container does: the Dockerfile's ENV (listen addresses moved to free loopback
#    ports), its CMD, production mode, a throwaway database.
db=argus_packaging
psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
port=$((20000 + RANDOM % 20000))
envs=()
while IFS= read -r kv; do envs+=("$kv"); done < <(dockerfile_env)
logf=$(mktemp)
env "${envs[@]}" \
  LEPTOS_SITE_ROOT="$PWD/target/site" \
  ARGUS_LISTEN_ADDR="127.0.0.1:$port" ARGUS_GRPC_LISTEN="127.0.0.1:$((port + 1))" \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}" \
  ARGUS_JWT_SECRET="packaging-check-secret-0123456789-abcdef" \
  "$BIN" $(sed -n 's/^CMD \["\(.*\)"\]/\1/p' Dockerfile) >"$logf" 2>&1 &
pid=$!
ready=0
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
[ "$ready" = 1 ] || { cat "$logf" >&2; kill "$pid" 2>/dev/null || true; fail "the container's command did not become ready"; }
grep -q '"level":"INFO"' "$logf" || { cat "$logf" >&2; fail "ARGUS_LOG_FORMAT=json from the Dockerfile was not applied"; }
page=$(curl -fsS "http://127.0.0.1:$port/login")
asset=$(grep -oE '/pkg/argus\.[A-Za-z0-9_-]+\.wasm' <<<"$page" | head -1)
[ -n "$asset" ] || fail "the log-in page names no hashed wasm"
curl -fsS -o /dev/null "http://127.0.0.1:$port$asset" || fail "$asset is not served"
kill -TERM "$pid"
for _ in $(seq 1 90); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fail "argus did not stop within 45 s of SIGTERM"; fi
wait "$pid" || fail "argus exited with $? after SIGTERM"
psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
rm -f "$logf"
echo "packaging: the container's command served the site and stopped cleanly"
