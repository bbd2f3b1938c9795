# Lantern — the two commands: `make demo` and `make test`. Both install what is missing first
# (scripts/setup.sh; instant when everything is there).
.PHONY: setup test test-native test-browser test-page demo web models fmt lint bench bench-browser

setup:
	@bash scripts/setup.sh

## make test: native unit + GPU tests, browser kernel tests in headless Chromium, page tests.
test: setup
	@bash scripts/test.sh

test-native: setup
	@bash scripts/test.sh native

test-browser: setup
	@bash scripts/test.sh browser

test-page: setup
	@bash scripts/test.sh page

## make demo: fetch the default model, build the wasm package and the page, serve on localhost.
demo: setup
	@bash scripts/demo.sh

web: setup
	@bash scripts/build-web.sh

## make bench: Lantern against llama.cpp natively and against wllama in headless Chromium, same
## files, medians, runs alternating; writes bench-results/bench.{md,json}. BENCH_ARGS as below.
bench: setup
	@python3 models/fetch.py --all
	@cargo build --release -p lantern-cli
	@bash scripts/build-web.sh
	@node scripts/bench.mjs $(BENCH_ARGS)

## make bench-browser: Lantern and wllama (1 and 2 threads, and WebGPU where it can run) in headless
## Chromium on the cached models
## (load, time to first token, prefill and decode tokens/s; medians, runs alternating, ratios).
## BENCH_ARGS passes options, e.g. "--runs 5 --json".
bench-browser: setup
	@python3 models/fetch.py --all
	@bash scripts/build-web.sh
	@node web/bench/run.mjs --wllama --model SmolLM2-135M-Instruct.Q4_1.gguf --model gemma-3-270m-q4_k_m.gguf $(BENCH_ARGS)

## make models: fetch every model in models/manifest.json into the cache (large downloads).
models:
	@python3 models/fetch.py --all

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
