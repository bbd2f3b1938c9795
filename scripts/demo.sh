#!/usr/bin/env bash
# make demo: fetches the default model, builds the wasm package and the page, and serves them on
# localhost (PORT, default 8080) with the URL printed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LANTERN_ROOT=$ROOT
# shellcheck disable=SC1091
source "${LANTERN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lantern}/env.sh"
cd "$ROOT"
python3 models/fetch.py --default
bash scripts/build-web.sh
exec node web/serve.mjs --port "${PORT:-8080}" --models "$LANTERN_CACHE/models"
