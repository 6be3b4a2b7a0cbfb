# Sourced by the scripts: shared defaults. Keeps the cargo target directory outside the clone
# so repeated runs (and CI on the same machine) build incrementally.
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/argus-target}"
# wasm-opt from npm binaryen 132 (end2end/node_modules): cargo-leptos uses the one on PATH.
ARGUS_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ARGUS_REPO/end2end/node_modules/.bin:$PATH"
