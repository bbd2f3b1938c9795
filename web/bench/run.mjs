// The browser benchmark: Lantern in headless Chromium (WebGPU; SwiftShader where there is no GPU)
// on the same GGUF files as `lantern bench`. Prints load time beside the time to fetch the file,
// time to first token (the prompt's forward pass), prefill and decode tokens/s: medians of
// --runs runs after one warm-up (which compiles every pipeline). Not a test: it prints figures.
//
//   node web/bench/run.mjs [--model FILE]… [--prompt-tokens 128] [--decode-tokens 32] [--runs 3] [--json]
//
// FILE names a file in the models cache (default: SmolLM2-135M-Instruct.Q4_1.gguf). Needs the
// package built (scripts/build-web.sh).
import { basename, dirname, join } from 'node:path';
import { ARGS, MODELS, ROOT, launch, servePage } from '../tests/harness.mjs';

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
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
const log = (...a) => !json && console.error(...a);

const files = (models.length ? models : ['SmolLM2-135M-Instruct.Q4_1.gguf']).map((m) => (m.includes('/') ? m : join(MODELS, m)));
const mounts = { '/pkg/': join(ROOT, 'pkg'), '/bench/': join(ROOT, 'web', 'bench') };
for (const f of files) mounts[`/files/${basename(f)}/`] = dirname(f);
const { server, url } = await servePage(mounts);
const browser = await launch(ARGS);
const results = [];
try {
  const page = await browser.newPage();
  await page.goto(`${url}bench/index.html`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  const { adapter, browserAdapter } = await page.evaluate(() => window.bench.open());
  const chromium = await browser.version();
  log(`Chromium ${chromium}, adapter ${adapter.name || browserAdapter} (${adapter.backend}, ${adapter.device_type})`);
  for (const file of files) {
    const path = `/files/${basename(file)}/${basename(file)}`;
    log(`${basename(file)}: fetching, loading, warming up…`);
    await page.evaluate(() => { window.prompt = undefined; });
    const fetchMs = await page.evaluate((p) => window.bench.fetchMs(p), path);
    const { loadMs, info } = await page.evaluate(([p, ctx]) => window.bench.load(p, ctx), [path, promptTokens + decodeTokens + 8]);
    await page.evaluate(([p, d]) => window.bench.run(p, d), [promptTokens, 2]);
    const samples = [];
    for (let r = 0; r < runs; r++) {
      const s = await page.evaluate(([p, d]) => window.bench.run(p, d), [promptTokens, decodeTokens]);
      log(`  run ${r + 1}: time to first token ${s.prefillMs.toFixed(0)} ms, decode ${(s.decodeSteps * 1e3 / s.decodeMs).toFixed(2)} tokens/s`);
      samples.push(s);
    }
    const decode = samples.map((s) => (s.decodeSteps * 1e3) / s.decodeMs);
    results.push({
      model: basename(file),
      adapter: adapter.name || browserAdapter,
      chromium,
      fetch_ms: fetchMs,
      load_ms: loadMs,
      load_over_fetch: loadMs / fetchMs,
      prompt_tokens: samples[0].promptTokens,
      time_to_first_token_ms: median(samples.map((s) => s.prefillMs)),
      prefill_tokens_per_second: median(samples.map((s) => (s.promptTokens * 1e3) / s.prefillMs)),
      decode_steps: samples[0].decodeSteps,
      decode_tokens_per_second: median(decode),
      decode_tokens_per_second_runs: decode,
      weight_bytes_per_decoded_token: info.decodeBytesPerToken,
    });
  }
} finally {
  await browser.close();
  server.close();
}
if (json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  console.log('| model | fetch | load (× fetch) | time to first token | prefill tok/s | decode tok/s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.model} | ${(r.fetch_ms / 1e3).toFixed(2)} s | ${(r.load_ms / 1e3).toFixed(2)} s (${r.load_over_fetch.toFixed(2)}×) | ${(r.time_to_first_token_ms / 1e3).toFixed(1)} s (${r.prompt_tokens} tokens) | ${r.prefill_tokens_per_second.toFixed(2)} | ${r.decode_tokens_per_second.toFixed(2)} |`);
  }
}
