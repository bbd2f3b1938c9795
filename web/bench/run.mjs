// The browser benchmark: Lantern in headless Chromium (WebGPU; SwiftShader where there is no GPU)
// and, with --wllama, wllama (llama.cpp in wasm on the CPU) with 1 and 2 threads in the same
// Chromium, on the same GGUF files and the same prompt. Prints load time beside the time to
// fetch the file, time to first token (the prompt's forward pass), prefill and decode tokens/s:
// medians of --runs runs after one warm-up each (which compiles Lantern's pipelines), the
// engines' runs alternating. Not a test: it prints figures (a Markdown table, or --json).
//
//   node web/bench/run.mjs [--model FILE]… [--wllama] [--prompt-tokens 128] [--decode-tokens 32]
//                          [--runs 3] [--json]
//
// FILE names a file in the models cache (default: SmolLM2-135M-Instruct.Q4_1.gguf). Needs the
// package built (scripts/build-web.sh) and web/'s npm dependencies (wllama among them).
import { basename, dirname, join } from 'node:path';
import { ARGS, MODELS, ROOT, launch, median, servePage } from '../tests/harness.mjs';

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
  for (const threads of [1, 2]) ENGINES.push({ name: `wllama ${threads} thread${threads > 1 ? 's' : ''}`, page: 'bench/wllama.html', threads });
}

const files = (models.length ? models : ['SmolLM2-135M-Instruct.Q4_1.gguf']).map((m) => (m.includes('/') ? m : join(MODELS, m)));
const mounts = {
  '/pkg/': join(ROOT, 'pkg'),
  '/bench/': join(ROOT, 'web', 'bench'),
  '/wllama/': join(ROOT, 'web', 'node_modules', '@wllama', 'wllama'),
};
for (const f of files) mounts[`/files/${basename(f)}/`] = dirname(f);
const { server, url } = await servePage(mounts);
const browser = await launch(ARGS);
const results = [];
try {
  const chromium = await browser.version();
  const pages = [];
  for (const engine of ENGINES) {
    const page = await browser.newPage();
    await page.goto(`${url}${engine.page}`);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    const { adapter, browserAdapter } = await page.evaluate(() => window.bench.open());
    pages.push({ ...engine, page, adapter: adapter.name || browserAdapter });
    log(`Chromium ${chromium}: ${engine.name} on ${adapter.name || browserAdapter}`);
  }
  const call = (p, fn, ...args) => p.page.evaluate(([fn, args]) => window.bench[fn](...args), [fn, args]);
  for (const file of files) {
    const path = `/files/${basename(file)}/${basename(file)}`;
    const context = promptTokens + decodeTokens + 8;
    log(`${basename(file)}: fetching, loading, warming up…`);
    const fetchMs = await call(pages[0], 'fetchMs', path);
    const loads = [];
    for (const p of pages) loads.push(await call(p, 'load', path, context, p.threads));
    const prompt = await call(pages[0], 'promptOf', promptTokens);
    for (const p of pages) await call(p, 'run', prompt, 2);
    const samples = pages.map(() => []);
    for (let r = 0; r < runs; r++) {
      for (const [i, p] of pages.entries()) {
        const s = await call(p, 'run', prompt, decodeTokens);
        log(`  run ${r + 1}, ${p.name}: time to first token ${s.prefillMs.toFixed(0)} ms, decode ${((s.decodeSteps * 1e3) / s.decodeMs).toFixed(2)} tokens/s`);
        samples[i].push(s);
      }
    }
    for (const [i, p] of pages.entries()) {
      const decode = samples[i].map((s) => (s.decodeSteps * 1e3) / s.decodeMs);
      results.push({
        model: basename(file),
        engine: p.name,
        adapter: p.adapter,
        chromium,
        fetch_ms: fetchMs,
        load_ms: loads[i].loadMs,
        load_over_fetch: loads[i].loadMs / fetchMs,
        prompt_tokens: samples[i][0].promptTokens,
        time_to_first_token_ms: median(samples[i].map((s) => s.prefillMs)),
        prefill_tokens_per_second: median(samples[i].map((s) => (s.promptTokens * 1e3) / s.prefillMs)),
        decode_steps: samples[i][0].decodeSteps,
        decode_tokens_per_second: median(decode),
        decode_tokens_per_second_runs: decode,
      });
    }
  }
} finally {
  await browser.close();
  server.close();
}
// Lantern over each peer, model by model.
for (const r of results) {
  const lantern = results.find((l) => l.model === r.model && l.engine === 'lantern');
  if (r.engine !== 'lantern' && lantern) {
    r.lantern_over_this_decode = lantern.decode_tokens_per_second / r.decode_tokens_per_second;
    r.lantern_over_this_prefill = lantern.prefill_tokens_per_second / r.prefill_tokens_per_second;
  }
}
if (json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  const ratio = (x) => (x === undefined ? '' : `${x.toFixed(2)}×`);
  console.log('| model | engine | load (× fetch) | time to first token | prefill tok/s | decode tok/s | Lantern / this, decode |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.model} | ${r.engine} | ${(r.load_ms / 1e3).toFixed(2)} s (${r.load_over_fetch.toFixed(2)}×) | ${(r.time_to_first_token_ms / 1e3).toFixed(1)} s (${r.prompt_tokens} tokens) | ${r.prefill_tokens_per_second.toFixed(2)} | ${r.decode_tokens_per_second.toFixed(2)} | ${ratio(r.lantern_over_this_decode)} |`);
  }
}
