#!/usr/bin/env bash
# Keeps the shared CARGO_TARGET_DIR from filling the disk. Every rebuild leaves the previous
# artifacts behind in debug/deps: a test executable is ~0.8 GB and `libapp` ~1 GB, so a few
# days of work piled up 50 GB. Keep the newest executable of each name and the newest three
# libraries of each crate (feature and flag variants live side by side); when less than 30 GB
# is free, drop the debug incremental caches too (the next debug build takes longer).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
deps="$CARGO_TARGET_DIR/debug/deps"
[ -d "$deps" ] || exit 0
free_kb() { df --output=avail -k "$CARGO_TARGET_DIR" | tail -1; }
before=$(free_kb)
# $1: a find -regex for the files, $2: how many of each name to keep.
prune() {
  find "$deps" -maxdepth 1 -type f -regextype posix-extended -regex "$1" -printf '%T@ %p\n' \
    | sort -rn \
    | awk -v keep="$2" '{ n = $2; sub(/.*\//, "", n); sub(/-[0-9a-f]+(\.[a-z]+)?$/, "", n);
                          if (++seen[n] > keep) print $2 }' \
    | while read -r old; do
        case "$old" in
          *.rlib | *.rmeta) rm -f -- "$old" ;;
          *) rm -f -- "$old" "$old.d" ;;
        esac
      done
}
prune '.*/[A-Za-z0-9_]+-[0-9a-f]{16}' 1
prune '.*/lib[A-Za-z0-9_]+-[0-9a-f]{16}\.rlib' 3
prune '.*/lib[A-Za-z0-9_]+-[0-9a-f]{16}\.rmeta' 3
if [ "$(free_kb)" -lt $((30 * 1024 * 1024)) ]; then
  rm -rf "$CARGO_TARGET_DIR/debug/incremental"
fi
after=$(free_kb)
echo "target dir: $(( (after - before) / 1024 )) MB freed, $(( after / 1024 / 1024 )) GB free"
