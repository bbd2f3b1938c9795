// The browser benchmark: Lantern in headless Chromium (WebGPU; SwiftShader where there is no GPU)
// and, with --wllama, wllama (llama.cpp in wasm) in the same Chromium: on the CPU with 1 and 2
// threads, and on WebGPU where its backend can run (it needs shader-f16; where the adapter lacks
// it the row says so). Same GGUF files, same prompt. Prints load time beside the time to fetch the
// file, time to first token (the prompt's forward pass), prefill and decode tokens/s: medians of
// --runs runs after one warm-up each (which compiles Lantern's pipelines), the engines' runs
// alternating; and the warm-up's own time to first token, the wait for a page's first message.
// Each engine runs in a browser of its own, whose peak memory (PSS summed over its processes,
// sampled during that engine's load and runs) is reported beside the browser's memory just before
// the load (after the previous model's unload).
// Not a test: it prints figures (a Markdown table, or --json).
//
//   node web/bench/run.mjs [--model FILE]… [--wllama] [--prompt-tokens 128] [--decode-tokens 32]
//                          [--runs 3] [--json]
//
// FILE names a file in the models cache (default: SmolLM2-135M-Instruct.Q4_1.gguf). Needs the
// package built (scripts/build-web.sh) and web/'s npm dependencies (wllama among them).
import { basename, dirname, join } from 'node:path';
import { ARGS, MODELS, ROOT, launch, median, servePage } from '../tests/harness.mjs';
import { PeakSampler, childrenOf, supported as memorySupported } from './memory.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const models = argv.flatMap((a, i) => (argv[i - 1] === '--model' ? [a] : []));
const promptTokens = Number(option('--prompt-tokens', 128));
const decodeTokens = Number(option('--decode-tokens', 32));
const runs = Number(option('--runs', 3));
const json = argv.includes('--json');
const log = (...a) => !json && console.error(...a);

const ENGINES = [{ name: 'lantern', page: 'bench/index.html' }];
if (argv.includes('--wllama')) {
  for (const threads of [1, 2]) ENGINES.push({ name: `wllama ${threads} thread${threads > 1 ? 's' : ''}`, page: 'bench/wllama.html', threads, gpu: false });
  ENGINES.push({ name: 'wllama WebGPU', page: 'bench/wllama.html', threads: 1, gpu: true });
}

const files = (models.length ? models : ['SmolLM2-135M-Instruct.Q4_1.gguf']).map((m) => (m.includes('/') ? m : join(MODELS, m)));
const mounts = {
  '/pkg/': join(ROOT, 'pkg'),
  '/bench/': join(ROOT, 'web', 'bench'),
  '/wllama/': join(ROOT, 'web', 'node_modules', '@wllama', 'wllama'),
};
for (const f of files) mounts[`/files/${basename(f)}/`] = dirname(f);
const { server, url } = await servePage(mounts);
const pages = [];
const results = [];
try {
  for (const engine of ENGINES) {
    // The browser is a child of this process: the one child that is new after the launch.
    const before = new Set(childrenOf(process.pid));
    const browser = await launch(ARGS);
    const root = childrenOf(process.pid).find((pid) => !before.has(pid));
    const memory = memorySupported && root ? new PeakSampler(root) : null;
    const page = await browser.newPage();
    await page.goto(`${url}${engine.page}`);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    const { adapter, browserAdapter, missing } = await page.evaluate((gpu) => window.bench.open(gpu), engine.gpu);
    const chromium = browser.version();
    pages.push({ ...engine, browser, page, memory, chromium, adapter: adapter.name || browserAdapter, missing });
    log(`Chromium ${chromium}: ${engine.name} on ${adapter.name || browserAdapter}${missing ? ` (not run: ${missing})` : ''}`);
  }
  const running = pages.filter((p) => !p.missing);
  const lanternPage = running.find((p) => p.name === 'lantern');
  // Every call runs under the engine's memory sampler (when there is one).
  const call = (p, fn, ...args) => {
    const work = () => p.page.evaluate(([fn, args]) => window.bench[fn](...args), [fn, args]);
    return p.memory ? p.memory.during(work) : work();
  };
  for (const file of files) {
    const path = `/files/${basename(file)}/${basename(file)}`;
    const context = promptTokens + decodeTokens + 8;
    log(`${basename(file)}: fetching, loading, warming up…`);
    const fetchMs = await call(pages[0], 'fetchMs', path);
    const loads = new Map();
    const before = new Map();
    for (const p of running) {
      await call(p, 'unload');
      before.set(p, p.memory?.reset());
      loads.set(p, await call(p, 'load', path, context, p.threads, p.gpu));
    }
    const prompt = await call(pages[0], 'promptOf', promptTokens);
    // The warm-up is each engine's first generation: Lantern's compiles its pipelines there (in
    // a browser they are created as they are first recorded), so its time to first token is what
    // a user's first message waits.
    const firsts = new Map();
    for (const p of running) firsts.set(p, await call(p, 'run', prompt, 2));
    const samples = new Map(running.map((p) => [p, []]));
    for (let r = 0; r < runs; r++) {
      for (const p of running) {
        const s = await call(p, 'run', prompt, decodeTokens);
        log(`  run ${r + 1}, ${p.name}: time to first token ${s.prefillMs.toFixed(0)} ms, decode ${((s.decodeSteps * 1e3) / s.decodeMs).toFixed(2)} tokens/s`);
        samples.get(p).push(s);
      }
    }
    // Lantern's per-token work, for its roofline columns (outside the memory sampler).
    const work = lanternPage && (await lanternPage.page.evaluate((n) => window.bench.work(n), samples.get(lanternPage)[0].promptTokens));
    for (const p of pages) {
      const row = { model: basename(file), engine: p.name, adapter: p.adapter, chromium: p.chromium };
      if (p.missing) {
        results.push({ ...row, not_run: p.missing });
        continue;
      }
      const runsOf = samples.get(p);
      const load = loads.get(p);
      const decode = runsOf.map((s) => (s.decodeSteps * 1e3) / s.decodeMs);
      results.push({
        ...row,
        backend: load.backend,
        fetch_ms: fetchMs,
        load_ms: load.loadMs,
        load_over_fetch: load.loadMs / fetchMs,
        prompt_tokens: runsOf[0].promptTokens,
        time_to_first_token_ms: median(runsOf.map((s) => s.prefillMs)),
        first_time_to_first_token_ms: firsts.get(p).prefillMs,
        prefill_tokens_per_second: median(runsOf.map((s) => (s.promptTokens * 1e3) / s.prefillMs)),
        decode_steps: runsOf[0].decodeSteps,
        decode_tokens_per_second: median(decode),
        decode_tokens_per_second_runs: decode,
        peak_memory_bytes: p.memory?.peak,
        memory_before_load_bytes: before.get(p),
        ...(p.name === 'lantern' ? { work } : {}),
      });
    }
  }
  // The rooflines Lantern's rows are set against: measured once, after every run and outside
  // the memory sampler (the probe's buffer would count in the peak otherwise).
  if (lanternPage) {
    log("Lantern: measuring the adapter's rooflines…");
    const dispatches = results.find((r) => r.work)?.work.decodeDispatches ?? 256;
    const rooflines = await lanternPage.page.evaluate((n) => window.bench.rooflines(n), dispatches);
    for (const r of results.filter((r) => r.work)) {
      const { promptMultiplyAdds, decodeBytesPerToken, decodeDispatches } = r.work;
      r.rooflines = rooflines;
      r.decode_fraction_of_roofline = (r.decode_tokens_per_second * decodeBytesPerToken) / 1e9 / rooflines.bandwidthGbPerSecond;
      r.prefill_gflops = (2 * promptMultiplyAdds * r.prefill_tokens_per_second) / r.prompt_tokens / 1e9;
      r.prefill_fraction_of_matmul_peak = r.prefill_gflops / rooflines.matmulPeakGflops;
      r.decode_dispatches_per_token = decodeDispatches;
      r.dispatch_microseconds = rooflines.dispatchMicroseconds;
      r.decode_dispatch_share = (decodeDispatches * rooflines.dispatchMicroseconds * r.decode_tokens_per_second) / 1e6;
    }
  }
} finally {
  for (const p of pages) await p.browser.close();
  server.close();
}
// Lantern over each peer, model by model.
for (const r of results) {
  const lantern = results.find((l) => l.model === r.model && l.engine === 'lantern');
  if (r.engine !== 'lantern' && lantern && !r.not_run) {
    r.lantern_over_this_decode = lantern.decode_tokens_per_second / r.decode_tokens_per_second;
    r.lantern_over_this_prefill = lantern.prefill_tokens_per_second / r.prefill_tokens_per_second;
  }
}
if (json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  const ratio = (x) => (x === undefined ? '' : `${x.toFixed(2)}×`);
  const mib = (b) => (b === undefined ? '—' : `${Math.round(b / 2 ** 20)} MiB`);
  const percent = (x) => (x === undefined ? '' : `${Math.round(x * 100)}%`);
  const rooflines = (r) =>
    r.rooflines
      ? `${percent(r.prefill_fraction_of_matmul_peak)} of ${r.rooflines.matmulPeakGflops.toFixed(1)} GFLOP/s | ${percent(r.decode_fraction_of_roofline)} of ${r.rooflines.bandwidthGbPerSecond.toFixed(1)} GB/s | ${r.decode_dispatches_per_token} × ${r.dispatch_microseconds.toFixed(0)} µs (${percent(r.decode_dispatch_share)})`
      : ' | | ';
  console.log('| model | engine | load (× fetch) | time to first token | prefill tok/s | decode tok/s | peak memory (before load) | prefill / matmul peak | decode / bandwidth roofline | dispatches per token × cost (share of decode) | Lantern / this, decode |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    if (r.not_run) {
      console.log(`| ${r.model} | ${r.engine} | not run: ${r.not_run} | | | | | | | | |`);
      continue;
    }
    console.log(`| ${r.model} | ${r.engine} | ${(r.load_ms / 1e3).toFixed(2)} s (${r.load_over_fetch.toFixed(2)}×) | ${(r.time_to_first_token_ms / 1e3).toFixed(1)} s (${r.prompt_tokens} tokens; first run ${(r.first_time_to_first_token_ms / 1e3).toFixed(1)} s) | ${r.prefill_tokens_per_second.toFixed(2)} | ${r.decode_tokens_per_second.toFixed(2)} | ${mib(r.peak_memory_bytes)} (${mib(r.memory_before_load_bytes)}) | ${rooflines(r)} | ${ratio(r.lantern_over_this_decode)} |`);
  }
}
