#!/usr/bin/env bash
# Installs what Lantern's build, tests and demo need on a Debian/Ubuntu machine with rustup Rust and
# Node.js. Every step checks first and is skipped when already done, so a second run takes a moment.
# Normal routes first (rustup, cargo install, npm); offline fallbacks from Debian's packages after.
# Writes $LANTERN_CACHE/env.sh, which scripts/test.sh and scripts/demo.sh source.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="${LANTERN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lantern}"
WASM_PACK_VERSION=0.15.1
T0=$(date +%s%N)
did_work=0

say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- prerequisites that setup cannot install for you --------------------------------------------
have cargo || die "cargo not found. Install Rust with rustup: https://rustup.rs (then open a new shell)."
have node && have npm || die "Node.js 20+ with npm not found. On Debian: apt-get install nodejs npm, or use nvm."
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 18 )) || die "Node.js $node_major is too old; Lantern's page and tests need 18 or newer."
have python3 || die "python3 not found (models/fetch.py uses it). On Debian: apt-get install python3 python3-pip."

# --- system packages: headless Chromium for browser tests, lavapipe for native GPU tests --------
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  did_work=1
  have apt-get || die "missing ${missing[*]} and no apt-get here: install Chromium, ChromeDriver and a Vulkan driver with your package manager."
  local sudo=()
  if [[ $(id -u) != 0 ]]; then
    sudo -n true 2>/dev/null || die "missing system packages; run: sudo apt-get install ${missing[*]}"
    sudo=(sudo -n)
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
apt_install chromium chromium-driver fonts-liberation mesa-vulkan-drivers libvulkan1

# --- cargo-nextest ---------------------------------------------------------------------------------
if ! cargo nextest --version >/dev/null 2>&1; then
  did_work=1; say "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# --- wasm32 target: rustup, or Debian's rustc-web with a std built once ------------------------------
# LANTERN_WASM_FALLBACK=1 forces the Debian route (to test it on a machine where rustup works).
WASM_TOOLCHAIN=""
if [[ "${LANTERN_WASM_FALLBACK:-0}" != 1 ]] && have rustup && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  :
elif [[ "${LANTERN_WASM_FALLBACK:-0}" != 1 ]] && have rustup && { say "adding the wasm32 target with rustup"; timeout 180 rustup target add wasm32-unknown-unknown; }; then
  did_work=1
else
  did_work=1
  say "wasm32 via Debian's rustc-web, with a std built locally (rustup could not add it, or LANTERN_WASM_FALLBACK=1)"
  WASM_TOOLCHAIN=web
  apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22
  sysroot=/usr/lib/rustlib/wasm32-unknown-unknown
  want=$(/usr/bin/rustc -vV | sha256sum | cut -d' ' -f1)
  if [[ "$(cat "$sysroot/.lantern-stamp" 2>/dev/null)" != "$want" ]]; then
    build=$(mktemp -d)
    mkdir -p "$build/src"
    printf '[package]\nname = "wasm-sysroot"\nversion = "0.0.0"\nedition = "2021"\n' > "$build/Cargo.toml"
    echo '#![no_std]' > "$build/src/lib.rs"
    # Debian's rust-src vendors std's dependencies (dlmalloc, …); point crates.io at them so this
    # builds offline.
    mkdir -p "$build/.cargo"
    printf '[source.crates-io]\nreplace-with = "std-vendor"\n[source.std-vendor]\ndirectory = "%s"\n' \
      /usr/lib/rustlib/src/rust/library/vendor > "$build/.cargo/config.toml"
    (cd "$build" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --release --offline \
       --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort,panic_unwind,proc_macro,test)
    rm -rf "$sysroot.new"; mkdir -p "$sysroot.new/lib"
    find "$build/target/wasm32-unknown-unknown/release/deps" -name 'lib*.rlib' ! -name 'libwasm_sysroot-*' \
      -exec cp {} "$sysroot.new/lib/" \;
    echo "$want" > "$sysroot.new/.lantern-stamp"
    rm -rf "$sysroot"; mv "$sysroot.new" "$sysroot"; rm -rf "$build"
  fi
  if have rustup; then rustup toolchain link web /usr; fi
fi

# --- wasm-bindgen-cli (exactly the crate version in Cargo.lock) and wasm-pack ----------------------
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")
[[ -n "$wbg_version" ]] || die "cannot find wasm-bindgen's version in Cargo.lock"
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wbg_version" ]]; then
  did_work=1; say "installing wasm-bindgen-cli $wbg_version"
  cargo install wasm-bindgen-cli --version "$wbg_version" --locked --force \
    || cargo install wasm-bindgen-cli --version "$wbg_version" --force
fi
if ! wasm-pack --version 2>/dev/null | grep -q "$WASM_PACK_VERSION"; then
  did_work=1; say "installing wasm-pack $WASM_PACK_VERSION"
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked --force \
    || cargo install wasm-pack --version "$WASM_PACK_VERSION" --force
fi

# --- the page's npm dependencies (Vite, TypeScript, playwright-core, binaryen's wasm-opt, wllama) ----
lock_hash=$(sha256sum "$ROOT/web/package-lock.json" | cut -d' ' -f1)
if [[ "$(cat "$ROOT/web/node_modules/.lantern-stamp" 2>/dev/null)" != "$lock_hash" ]]; then
  did_work=1; say "installing the page's npm packages"
  (cd "$ROOT/web" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" > "$ROOT/web/node_modules/.lantern-stamp"
fi

# --- environment for the build and test scripts ----------------------------------------------------
mkdir -p "$CACHE/xdg-runtime" && chmod 700 "$CACHE/xdg-runtime"
env_file="$CACHE/env.sh"
new_env=$(cat <<ENV
# Written by scripts/setup.sh; sourced by scripts/test.sh and scripts/demo.sh. One file serves
# every checkout on this machine, so paths inside a checkout come from LANTERN_ROOT (the scripts
# set it; by hand, source this from the repository root).
export LANTERN_CACHE="$CACHE"
export LANTERN_WASM_TOOLCHAIN="$WASM_TOOLCHAIN"
# npm binaryen's wasm-opt: Debian's is too old for current wasm-bindgen output, and wasm-pack
# would otherwise try to download one.
export PATH="\${LANTERN_ROOT:-\$PWD}/web/node_modules/.bin:\$HOME/.cargo/bin:\$PATH"
export CHROMEDRIVER=/usr/bin/chromedriver
# wasm-bindgen-test-runner adds --headless --no-sandbox; this file adds --enable-unsafe-webgpu.
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="\${LANTERN_ROOT:-\$PWD}/scripts/webdriver.json"
export WASM_BINDGEN_TEST_TIMEOUT=\${WASM_BINDGEN_TEST_TIMEOUT:-300}
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# Mesa complains without a private runtime directory.
export XDG_RUNTIME_DIR="\${XDG_RUNTIME_DIR:-$CACHE/xdg-runtime}"
ENV
)
if [[ "$(cat "$env_file" 2>/dev/null)" != "$new_env" ]]; then echo "$new_env" > "$env_file"; fi

ms=$(( ($(date +%s%N) - T0) / 1000000 ))
if ((did_work)); then say "done in $((ms / 1000)) s"; else say "everything already installed (checked in $ms ms)"; fi
