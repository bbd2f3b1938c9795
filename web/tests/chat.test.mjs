// The chat page as a user drives it, in headless Chromium on SwiftShader's WebGPU: the default
// model loads (progress shown, page usable meanwhile), a reply streams in token by token and
// equals the native CLI's greedy reply, a generation stops mid-way and another starts, and a
// second visit loads the model from the browser's cache without downloading it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GENERATION_TIMEOUT, SMOLLM2, MODELS, launch, native, servePage } from './harness.mjs';

let server, url, requests, browser, context, page;
const errors = [];

before(async () => {
  ({ server, url, requests } = await servePage());
  browser = await launch();
  context = await browser.newContext();
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
});
after(async () => {
  await browser?.close();
  server?.close();
});

async function setSampling(settings) {
  if (!(await page.isVisible('#temperature'))) await page.click('#settings summary');
  for (const [id, value] of Object.entries(settings)) await page.fill(`#${id}`, String(value));
}

/** Sends `text` and resolves, once the reply is done, to its text, finish reason and the chunk
 *  counts seen while it streamed. `whileStreaming(count)` can act mid-way. */
async function send(text, whileStreaming) {
  const before = await page.locator('.message.assistant').count();
  await page.fill('#prompt', text);
  await page.click('#send');
  const reply = page.locator('.message.assistant').nth(before);
  const seen = new Set();
  for (;;) {
    const [state, chunks] = await Promise.all([reply.getAttribute('data-state'), reply.getAttribute('data-chunks')]);
    if (state === 'done') break;
    seen.add(Number(chunks));
    if (whileStreaming && (await whileStreaming(Number(chunks)))) whileStreaming = null;
    await page.waitForTimeout(50);
  }
  return { text: await reply.textContent(), finish: await reply.getAttribute('data-finish'), seen: [...seen] };
}

test('the default model loads with progress while the page stays usable', { timeout: GENERATION_TIMEOUT }, async () => {
  await page.addInitScript(() => {
    // Every text the load status shows, to see progress before the end.
    window.loadTexts = [];
    new MutationObserver(() => window.loadTexts.push(document.querySelector('#load-status')?.textContent))
      .observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.goto(url);
  await page.waitForSelector('#load-status[data-state="loading"]', { timeout: 120_000 });
  // The main thread answers while the worker loads: typing works.
  await page.fill('#prompt', 'typed while loading');
  assert.equal(await page.inputValue('#prompt'), 'typed while loading');
  await page.waitForSelector('#load-status[data-state="ready"], #load-status[data-state="error"]', { timeout: 300_000 });
  assert.equal(await page.getAttribute('#load-status', 'data-state'), 'ready', await page.textContent('#load-status'));
  const texts = await page.evaluate(() => window.loadTexts);
  assert.ok(texts.some((t) => /Loading: \d+ MiB of 94 MiB downloaded, \d+ MiB on the GPU/.test(t ?? '')), texts.join('\n'));
  assert.match(await page.textContent('#model-info'), /llama, 30 layers/);
  assert.equal(requests.get(`/models/${SMOLLM2}`), 1);
});

test('a greedy reply streams token by token and equals the native CLI reply', { timeout: GENERATION_TIMEOUT }, async () => {
  const question = 'What is the capital of France?';
  await setSampling({ temperature: 0, 'max-tokens': 24 });
  const reply = await send(question);
  assert.ok(reply.seen.filter((n) => n > 0).length >= 3, `chunk counts seen while streaming: ${reply.seen}`);
  assert.match(reply.text, /Paris/);
  const expected = native(['chat', '--model', `${MODELS}/${SMOLLM2}`, '--temperature', '0', '--max-tokens', '24'], `${question}\n`);
  assert.equal(reply.text.trim(), expected.trim());
  assert.match(await page.textContent('#ttft'), /^\d+ ms$/);
  assert.match(await page.textContent('#tps'), /^\d+\.\d$/);
});

test('stop ends a generation mid-way and the next one runs', { timeout: GENERATION_TIMEOUT }, async () => {
  await page.click('#clear');
  await setSampling({ temperature: 0.7, 'max-tokens': 200, seed: 7 });
  const stopped = await send('Write a long story about a dragon who learns to fly.', async (chunks) => {
    if (chunks < 3) return false;
    await page.click('#stop');
    return true;
  });
  assert.equal(stopped.finish, 'abort');
  assert.ok(stopped.text.length > 0);
  await setSampling({ 'max-tokens': 8 });
  const next = await send('Say hello.');
  assert.match(next.finish, /^(stop|length)$/);
  assert.ok(next.text.trim().length > 0, 'the next reply has text');
});

test('a second visit loads the model from the browser cache', { timeout: GENERATION_TIMEOUT }, async () => {
  await page.reload();
  await page.waitForSelector('#load-status[data-state="ready"], #load-status[data-state="error"]', { timeout: 300_000 });
  assert.equal(await page.getAttribute('#load-status', 'data-state'), 'ready', await page.textContent('#load-status'));
  const texts = await page.evaluate(() => window.loadTexts);
  assert.ok(texts.some((t) => /from the browser cache/.test(t ?? '')), texts.join('\n'));
  assert.equal(requests.get(`/models/${SMOLLM2}`), 1, 'downloaded once');
  assert.deepEqual(errors, []);
});
