#!/usr/bin/env bash
# Keeps the shared CARGO_TARGET_DIR from filling the disk. Every rebuild of a test or binary
# leaves the previous executable behind in debug/deps (hundreds of MB each; 50 GB were found
# after a few weeks): keep the newest two of each name. When less than 15 GB is free, drop the
# debug incremental caches too (the next debug build takes a few minutes longer).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
deps="$CARGO_TARGET_DIR/debug/deps"
[ -d "$deps" ] || exit 0
before=$(df --output=avail -k "$CARGO_TARGET_DIR" | tail -1)
find "$deps" -maxdepth 1 -type f -regextype posix-extended -regex '.*/[A-Za-z0-9_]+-[0-9a-f]{16}' \
    -printf '%T@ %p\n' \
  | sort -rn \
  | awk '{ n = $2; sub(/.*\//, "", n); sub(/-[0-9a-f]+$/, "", n); if (++seen[n] > 2) print $2 }' \
  | while read -r old; do rm -f -- "$old" "$old.d"; done
if [ "$(df --output=avail -k "$CARGO_TARGET_DIR" | tail -1)" -lt $((15 * 1024 * 1024)) ]; then
  rm -rf "$CARGO_TARGET_DIR/debug/incremental"
fi
after=$(df --output=avail -k "$CARGO_TARGET_DIR" | tail -1)
echo "target dir: $(( (after - before) / 1024 )) MB freed, $(( after / 1024 / 1024 )) GB free"
