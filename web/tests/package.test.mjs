// The npm package (pkg/) imported by a plain page with no bundler, driven through its API in
// headless Chromium: greedy tokens equal the native CLI's, the OpenAI-shaped chat streams, seeds
// repeat, AbortSignal stops, and bad input (truncated, corrupt, not a model, missing, a full
// cache quota, a lost device) gives clear errors after which loading works again; a model's
// per-token work and the device's rooflines come back as the native counts have them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readSync, closeSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERATION_TIMEOUT, MODELS, ROOT, SMOLLM2, launch, native, servePage } from './harness.mjs';

const SMOLLM2_SHA256 = 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53';
let server, url, browser, context, page;

before(async () => {
  // Bad files: the model cut in half, and the model with one byte changed in its last tensor.
  const bad = mkdtempSync(join(tmpdir(), 'lantern-bad-'));
  const file = join(MODELS, SMOLLM2);
  const half = Buffer.alloc(40 << 20);
  const fd = openSync(file, 'r');
  readSync(fd, half, 0, half.length, 0);
  closeSync(fd);
  writeFileSync(join(bad, 'truncated.gguf'), half);
  copyFileSync(file, join(bad, 'corrupt.gguf'));
  const cfd = openSync(join(bad, 'corrupt.gguf'), 'r+');
  const { writeSync, fstatSync } = await import('node:fs');
  writeSync(cfd, Buffer.from([0x5a]), 0, 1, fstatSync(cfd).size - 1000);
  closeSync(cfd);
  ({ server, url } = await servePage({ '/pkg/': join(ROOT, 'pkg'), '/plain/': join(ROOT, 'web', 'tests', 'fixtures'), '/bad/': bad }));
  browser = await launch();
  context = await browser.newContext();
  page = await context.newPage();
  await page.goto(`${url}plain/plain-page.html`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  await page.evaluate(async (sha256) => {
    window.engine = await window.lantern.Lantern.create();
    window.model = await window.engine.loadText('/models/SmolLM2-135M-Instruct.Q4_1.gguf', { sha256 });
  }, SMOLLM2_SHA256);
});
after(async () => {
  await browser?.close();
  server?.close();
});

/** Loads `path` in the page and resolves to the error message, or 'loaded'. */
function loadError(path, options = {}) {
  return page.evaluate(async ({ path, options }) => {
    try {
      const m = await window.engine.loadText(path, options);
      await m.unload();
      return 'loaded';
    } catch (e) {
      return `${e.constructor.name}: ${e.message}`;
    }
  }, { path, options });
}

test('greedy generation in the browser equals the native CLI, token for token', { timeout: GENERATION_TIMEOUT }, async () => {
  const prompt = 'The capital of France is';
  const browserRun = await page.evaluate(async (prompt) => {
    const stream = window.model.generate(prompt, { temperature: 0, maxTokens: 12 });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return { chunks, result: await stream.result };
  }, prompt);
  const nativeRun = JSON.parse(native(['generate', '--model', join(MODELS, SMOLLM2), '--prompt', prompt, '--temperature', '0', '--max-tokens', '12', '--json']));
  assert.deepEqual(browserRun.result.tokens, nativeRun.ids);
  assert.equal(browserRun.result.text, nativeRun.text);
  assert.match(browserRun.result.text, /^ Paris/);
  assert.equal(browserRun.chunks.map((c) => c.text).join(''), browserRun.result.text);
  assert.equal(browserRun.result.finishReason, 'length');
  assert.equal(browserRun.result.generatedTokens, 12);
});

test('the same seed gives the same sampled text; an AbortSignal stops between tokens', { timeout: GENERATION_TIMEOUT }, async () => {
  const runs = await page.evaluate(async () => {
    const options = { temperature: 1.0, topK: 40, seed: 1234, maxTokens: 6 };
    const a = await window.model.generate('Once upon a time', options).result;
    const b = await window.model.generate('Once upon a time', options).result;
    const controller = new AbortController();
    const stream = window.model.generate('Once upon a time', { ...options, maxTokens: 100, signal: controller.signal });
    let seen = 0;
    for await (const chunk of stream) if (chunk.token !== null && ++seen === 2) controller.abort();
    return { a, b, aborted: await stream.result };
  });
  assert.deepEqual(runs.a.tokens, runs.b.tokens);
  assert.equal(runs.aborted.finishReason, 'abort');
  assert.ok(runs.aborted.generatedTokens >= 2 && runs.aborted.generatedTokens < 100, `${runs.aborted.generatedTokens}`);
});

test('chat.completions.create streams OpenAI-shaped chunks', { timeout: GENERATION_TIMEOUT }, async () => {
  const { chunks, whole } = await page.evaluate(async () => {
    const request = { messages: [{ role: 'user', content: 'What is the capital of France?' }], temperature: 0, max_tokens: 4 };
    const chunks = [];
    for await (const chunk of await window.model.chat.completions.create({ ...request, stream: true })) chunks.push(chunk);
    const whole = await window.model.chat.completions.create(request);
    return { chunks, whole };
  });
  assert.equal(chunks[0].object, 'chat.completion.chunk');
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const last = chunks.at(-1);
  assert.equal(last.choices[0].finish_reason, 'length');
  assert.equal(last.usage.completion_tokens, 4);
  const streamed = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
  assert.match(streamed, /capital/);
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.content, streamed);
  assert.equal(whole.usage.prompt_tokens, last.usage.prompt_tokens);
});

test('bad model files are clear errors, and a good load works after them', { timeout: GENERATION_TIMEOUT }, async () => {
  // The server says the file's length, so the header's tensor ranges are refused before any upload.
  assert.match(await loadError('/bad/truncated.gguf'), /^Error: .*data ends at byte \d+ but the file has 41943040 bytes/);
  assert.match(await loadError('/bad/corrupt.gguf', { sha256: SMOLLM2_SHA256, cache: false }), /^Error: .*SHA-256 is [0-9a-f]{64}, not the expected/);
  assert.match(await loadError('/plain/plain-page.html'), /^Error: .*(GGUF|magic)/i);
  assert.match(await loadError('/models/no-such-model.gguf'), /^Error: .*HTTP 404/);
  assert.match(await loadError('/models/SmolLM2-135M-Instruct.Q4_1.gguf', { maxContext: 64 }), /^loaded$/);
  const controller = await page.evaluate(async () => {
    const c = new AbortController();
    c.abort();
    try {
      await window.engine.loadText('/bad/corrupt.gguf', { signal: c.signal });
      return 'loaded';
    } catch (e) {
      return e.name;
    }
  });
  assert.equal(controller, 'AbortError');
});

test('a full storage quota is reported, and leaves nothing cached', { timeout: GENERATION_TIMEOUT }, async () => {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: url.replace(/\/$/, ''), quotaSize: 4 << 20 });
  try {
    const outcome = await page.evaluate(async () => {
      await window.lantern.clearModelCache();
      const notes = [];
      const m = await window.engine.loadText('/models/SmolLM2-135M-Instruct.Q4_1.gguf', { maxContext: 64, onProgress: (p) => p.note && notes.push(p.note) });
      await m.unload();
      const cache = await caches.open('lantern-models-v1');
      return { notes, cached: (await cache.keys()).length };
    });
    assert.match(outcome.notes.join('\n'), /storage quota exceeded/);
    assert.equal(outcome.cached, 0);
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: url.replace(/\/$/, '') });
  }
});

test('after the device is lost, generation fails clearly and a new load works', { timeout: GENERATION_TIMEOUT }, async () => {
  const outcome = await page.evaluate(async () => {
    await window.engine.destroyDevice();
    let failure = 'generated';
    try {
      await window.model.generate('Hello', { maxTokens: 2 }).result;
    } catch (e) {
      failure = e.message;
    }
    window.model = await window.engine.loadText('/models/SmolLM2-135M-Instruct.Q4_1.gguf', { maxContext: 64 });
    const after = await window.model.generate('The capital of France is', { temperature: 0, maxTokens: 2 }).result;
    return { failure, after: after.text };
  });
  assert.match(outcome.failure, /lost|destroyed/i);
  assert.match(outcome.after, /Paris/);
});

test("a model's per-token work and the device's rooflines, as a benchmark sets speeds against them", { timeout: GENERATION_TIMEOUT }, async () => {
  const { macs, info, rooflines } = await page.evaluate(async () => ({
    macs: await window.model.promptMultiplyAdds(4),
    info: window.model.info,
    rooflines: await window.engine.measureRooflines(window.model.info.decodeDispatches),
  }));
  // SmolLM2: 30 layers of 2·576² + 2·192·576 + 3·576·1536 multiply-adds per token, causal
  // attention over 1 + 2 + 3 + 4 keys (9 heads of 64), the tied output projection once.
  const layer = 2 * 576 * 576 + 2 * 192 * 576 + 3 * 576 * 1536;
  assert.equal(macs, 4 * 30 * layer + 30 * 2 * 9 * 64 * (1 + 2 + 3 + 4) + 49152 * 576);
  // Its Q4_1 matrices (20 bytes per 32 values) and Q8_0 output projection (34 per 32), repacked.
  const gguf = (30 * layer * 20) / 32 + (49152 * 576 * 34) / 32;
  assert.ok(info.decodeBytesPerToken >= gguf && info.decodeBytesPerToken <= 1.1 * gguf, `${info.decodeBytesPerToken}`);
  // At least 6 dispatches per layer (CPU adapters, whose products apply the norms and the
  // activation; 9 on GPUs), and the embedding, output norm and output projection.
  assert.ok(info.decodeDispatches >= 30 * 6 + 3, `${info.decodeDispatches}`);
  assert.ok(rooflines.bandwidthGbPerSecond > 0 && rooflines.matmulPeakGflops > 0, JSON.stringify(rooflines));
  assert.ok(rooflines.dispatchMicroseconds >= 0, JSON.stringify(rooflines));
  assert.ok(['Interleaved', 'Chunked'].includes(rooflines.probePattern), rooflines.probePattern);
  assert.ok(rooflines.probeBufferBytes > 0 && rooflines.probeBufferBytes <= 256 * 2 ** 20, `${rooflines.probeBufferBytes}`);
});
