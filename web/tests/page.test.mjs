// The built page (web/dist) in Debian's headless Chromium with WebGPU: the adapter shows, the
// kernel self-check passes in the browser, and without WebGPU the page says why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ARGS, launch, servePage } from './harness.mjs';

let server, url, browser;

before(async () => {
  ({ server, url } = await servePage());
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test('page shows the WebGPU adapter and passes its self-check', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}?autoload=0`);
  await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('#status', 'data-state'), 'ready', await page.textContent('#status'));
  assert.match(await page.textContent('#adapter'), /BrowserWebGpu/);
  await page.click('#selfcheck-details summary');
  await page.click('#run-selfcheck');
  await page.waitForSelector('#selfcheck[data-state="passed"], #selfcheck[data-state="failed"]', { timeout: 240_000 });
  assert.equal(await page.getAttribute('#selfcheck', 'data-state'), 'passed', await page.textContent('#selfcheck'));
  const rows = await page.locator('#selfcheck tbody tr.pass').count();
  // matmul ×3, softmax ×3, quant_matvec, quant_matmul and top_k, plus the two products in f16
  // where the adapter has shader-f16 (SwiftShader does not).
  const f16 = await page.evaluate(() =>
    [...document.querySelectorAll('#adapter dt')].find((dt) => dt.textContent === 'shader-f16')?.nextElementSibling?.textContent);
  assert.equal(rows, f16 === 'yes' ? 11 : 9, `shader-f16: ${f16}`);
  assert.deepEqual(errors, []);
});

test('without WebGPU the page says so instead of failing silently', async () => {
  const page = await browser.newPage();
  await page.addInitScript(() => { delete Object.getPrototypeOf(navigator).gpu; });
  await page.goto(url);
  await page.waitForSelector('#status[data-state="error"]', { timeout: 60_000 });
  assert.match(await page.textContent('#status'), /no WebGPU/);
  assert.equal(await page.isDisabled('#send'), true);
});

test('Chromium without --enable-unsafe-webgpu gets a message naming the flag', async () => {
  const plain = await launch(ARGS.filter((a) => a !== '--enable-unsafe-webgpu'));
  try {
    const page = await plain.newPage();
    await page.goto(url);
    await page.waitForSelector('#status[data-state="error"]', { timeout: 60_000 });
    assert.match(await page.textContent('#status'), /WebGPU.*--enable-unsafe-webgpu/s);
  } finally {
    await plain.close();
  }
});
