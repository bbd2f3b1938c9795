#!/usr/bin/env bash
# Builds llama.cpp's `llama-bench` natively, from the source PyPI's llama-cpp-python source package
# carries (vendor/llama.cpp): the native peer `make bench` compares Lantern with. The archive comes
# from the package index with its sha256 checked (models/fetch.py's download_sdist), or from
# $LLAMA_CPP_SDIST where set (a copy brought to a machine without network); cmake, when
# missing, from PyPI into a virtual environment in the cache. Installs into
# $LANTERN_CACHE/llama.cpp/<version>/ and prints the binary's path; a second run only prints it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${LANTERN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lantern}
VERSION=0.3.36
DEST="$CACHE/llama.cpp/$VERSION"
BIN="$DEST/llama-bench"
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi

say() { echo "build-llama-cpp: $*" >&2; }
mkdir -p "$DEST"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! command -v cmake >/dev/null; then
  venv="$CACHE/tools/cmake"
  if [[ ! -x "$venv/bin/cmake" ]]; then
    say "installing cmake from PyPI into $venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet cmake
  fi
  export PATH="$venv/bin:$PATH"
fi

if [[ -n "${LLAMA_CPP_SDIST:-}" ]]; then
  # A copy of the archive brought along, on a machine without network (scripts/device-bench.sh).
  archive=$LLAMA_CPP_SDIST
else
  archive=$(cd "$ROOT/models" && python3 -c "
import sys; from pathlib import Path; from fetch import download_sdist
print(download_sdist('llama-cpp-python==$VERSION', Path(sys.argv[1])))" "$work" | tail -n 1)
fi
say "unpacking $(basename "$archive")"
tar -xf "$archive" -C "$work"
src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"
# Native CPU code (the machine's own SIMD), no network, no GPU backends: the CPU engine as a
# user would build it on this machine. Without AMX, though: on one of this project's development
# machines (an Intel Xeon VM that reports AMX to -march=native) llama-bench died of SIGILL at
# `tilezero` in its AMX kernels, although a lone probe there could load a tile configuration and
# zero a tile. Decode's matrix-vector products do not use AMX; prompt processing might, so on a
# machine where those kernels work this understates llama.cpp's prefill.
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
say "building llama-bench (a few minutes on two cores)"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DCMAKE_C_FLAGS="$no_amx" -DCMAKE_CXX_FLAGS="$no_amx" \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$work/build" --target llama-bench -j "$(nproc)" >&2
cp "$work/build/bin/llama-bench" "$BIN"
echo "$BIN"
