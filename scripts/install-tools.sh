#!/usr/bin/env bash
# Installs the build and test tools Argus needs, only those missing or at the wrong version.
# Everything comes from crates.io, npm or Debian: nothing is downloaded from anywhere else.
#   scripts/install-tools.sh          build tools (what `scripts/run.sh` needs)
#   scripts/install-tools.sh --test   also Chromium and the end-to-end npm packages
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
TRUNK_VERSION=0.21.14
# The dependency guards scripts/test.sh runs.
CARGO_MACHETE_VERSION=0.9.2
CARGO_DENY_VERSION=0.20.2
# PgBouncer for the transaction-pooling test (scripts/replicas.sh --pgbouncer): Debian 12 has
# 1.18, which cannot keep sqlx's named prepared statements apart (1.21+ can); built from the
# source Debian ships for trixie, checked against this digest.
PGBOUNCER_VERSION=1.24.1
PGBOUNCER_SHA256=da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0
# Must equal the exact wasm-bindgen pinned in Cargo.toml (cargo-leptos does not check).
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)

log() { printf '[tools] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
export PATH="$HOME/.cargo/bin:$PATH"

with_test=0
[ "${1:-}" = "--test" ] && with_test=1

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes ~15 min on 2 cores)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Without --locked: its lockfile names a webpki-roots the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# npm packages: binaryen's wasm-opt (Debian's 108 breaks hydration) and Playwright.
if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -x end2end/node_modules/.bin/playwright ] \
   || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  log "installing end2end npm packages from the lockfile"
  (cd end2end && npm ci --no-audit --no-fund)
fi

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ "$with_test" = 1 ]; then
  # Trunk builds the client-side development bundle (Trunk.toml); CI checks that it builds.
  if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
    log "installing trunk $TRUNK_VERSION (takes ~8 min on 2 cores)"
    cargo install trunk --version "$TRUNK_VERSION" --locked \
      || cargo install trunk --version "$TRUNK_VERSION"
  fi
  if ! cargo machete --version 2>/dev/null | grep -q "$CARGO_MACHETE_VERSION"; then
    log "installing cargo-machete $CARGO_MACHETE_VERSION"
    cargo install cargo-machete --version "$CARGO_MACHETE_VERSION" --locked
  fi
  if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
    log "installing cargo-deny $CARGO_DENY_VERSION (takes ~6 min on 2 cores)"
    cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
  fi
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's chromium"
    apt_install chromium
  fi
  # The end-to-end tests run the README's Python snippet (standard library only).
  if ! command -v python3 >/dev/null; then
    log "installing python3"
    apt_install python3
  fi
  # The OpenTelemetry Python SDK with its OTLP/gRPC exporter (end2end/otel), from PyPI.
  venv="${ARGUS_OTEL_VENV:-$HOME/.cache/argus-otel-venv}"
  if [ ! -x "$venv/bin/python" ] || [ end2end/otel/requirements.txt -nt "$venv/.installed" ]; then
    log "installing the OpenTelemetry Python SDK into $venv"
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q --disable-pip-version-check -r end2end/otel/requirements.txt
    touch "$venv/.installed"
  fi
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    apt_install redis-server
  fi
  pgbouncer="${ARGUS_PGBOUNCER:-$HOME/.cache/argus-pgbouncer/pgbouncer}"
  if ! "$pgbouncer" --version 2>/dev/null | grep -q "PgBouncer $PGBOUNCER_VERSION"; then
    log "building PgBouncer $PGBOUNCER_VERSION from Debian's source (about a minute)"
    dpkg -s libevent-dev libssl-dev pkg-config make gcc >/dev/null 2>&1 \
      || apt_install libevent-dev libssl-dev pkg-config make gcc
    build=$(mktemp -d)
    tarball="pgbouncer_$PGBOUNCER_VERSION.orig.tar.gz"
    curl -fsSL -o "$build/$tarball" "https://deb.debian.org/debian/pool/main/p/pgbouncer/$tarball"
    echo "$PGBOUNCER_SHA256  $build/$tarball" | sha256sum -c --quiet
    tar -xzf "$build/$tarball" -C "$build"
    (cd "$build/pgbouncer-$PGBOUNCER_VERSION" && ./configure -q --without-cares --without-systemd \
      >/dev/null && make -s -j2 >/dev/null)
    mkdir -p "$(dirname "$pgbouncer")"
    cp "$build/pgbouncer-$PGBOUNCER_VERSION/pgbouncer" "$pgbouncer"
    rm -rf "$build"
  fi
fi
log "tools are ready"
