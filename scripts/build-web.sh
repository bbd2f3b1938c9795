#!/usr/bin/env bash
# Builds the wasm package into pkg/wasm (wasm-pack) and the page into web/dist (Vite).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LANTERN_ROOT=$ROOT
# shellcheck disable=SC1091
source "${LANTERN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lantern}/env.sh"
cd "$ROOT"
echo "=== building pkg/wasm (wasm-pack) and web/dist (Vite)"
if [[ -n "${LANTERN_WASM_TOOLCHAIN:-}" ]]; then export RUSTUP_TOOLCHAIN="$LANTERN_WASM_TOOLCHAIN"; fi
wasm-pack --log-level warn build crates/lantern-web --release --target web --no-pack \
  --out-dir "$ROOT/pkg/wasm" --out-name lantern_web
(cd web && npm run --silent build)
