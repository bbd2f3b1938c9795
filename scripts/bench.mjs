// `make bench`: Lantern against its peers on this machine, in one run, on the same GGUF files.
//
// - natively: `lantern bench` (wgpu on this machine's adapter) and llama.cpp's `llama-bench`
//   (built by scripts/build-llama-cpp.sh from llama-cpp-python's source package), runs
//   alternating between the two, peak memory from getrusage;
// - in headless Chromium: Lantern through the npm package and wllama with 1 and 2 threads and on
//   WebGPU where its backend can run (web/bench/run.mjs, which alternates their runs itself).
//
// llama-bench's generation test runs at a depth of --prompt-tokens (`-d`), as Lantern and wllama
// decode after the prompt; its prompt test from an empty context. It reports no load time, so
// llama.cpp's is the wall time of a llama-bench process that loads the model and evaluates one
// token (process start included). Every figure is a median over --runs runs. Prints a Markdown
// table and writes it, with the JSON of every run, to --out (default bench-results/). Not a test:
// it reports what it measured.
//
//   node scripts/bench.mjs [--runs 3] [--prompt-tokens 128] [--decode-tokens 64] [--no-browser]
//                          [--out DIR] [--model FILE]…
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { MODELS, NATIVE_ENV, ROOT, median } from '../web/tests/harness.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const runs = Number(option('--runs', 3));
const promptTokens = Number(option('--prompt-tokens', 128));
const decodeTokens = Number(option('--decode-tokens', 64));
const out = resolve(option('--out', join(ROOT, 'bench-results')));
const models = argv.flatMap((a, i) => (argv[i - 1] === '--model' ? [a] : []));
const files = (models.length ? models : ['SmolLM2-135M-Instruct.Q4_1.gguf', 'gemma-3-270m-q4_k_m.gguf']).map((m) =>
  m.includes('/') ? m : join(MODELS, m),
);
const log = (...a) => console.error(...a);

const targetDir = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const lantern = join(targetDir, 'release', 'lantern');
if (!existsSync(lantern)) throw new Error(`${lantern} is missing: build it with cargo build --release -p lantern-cli (make bench does)`);
const llamaBench = execFileSync('bash', [join(ROOT, 'scripts', 'build-llama-cpp.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

// Runs argv[1:] and reports its peak resident memory (getrusage of the waited-for child, in KiB on
// Linux) on stderr's last line. Through python3 rather than GNU time, which a bare machine may
// lack (scripts/device-bench.sh runs this bench on one); python3 is wherever the bench runs.
const PEAK_RSS = [
  'import resource, subprocess, sys',
  'status = subprocess.call(sys.argv[1:])',
  'sys.stderr.write("peak_rss_kib %d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)',
  'sys.exit(status)',
].join('\n');

/** Runs a command: its stdout and peak resident memory in bytes. */
function measured(command, args) {
  const run = spawnSync('python3', ['-c', PEAK_RSS, command, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: NATIVE_ENV,
  });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${run.stderr}`);
  const kib = Number(/peak_rss_kib (\d+)\n$/.exec(run.stderr)?.[1] ?? NaN);
  return { stdout: run.stdout, peakBytes: kib * 1024 };
}

const rows = [];
const raw = { machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memory_bytes: totalmem() }, native: [], browser: null };
for (const file of files) {
  const model = basename(file);
  const samples = { lantern: [], llama: [] };
  for (let r = 0; r < runs; r++) {
    log(`${model}: run ${r + 1} of ${runs}, Lantern native`);
    const l = measured(lantern, ['bench', '--model', file, '--prompt-tokens', String(promptTokens), '--decode-tokens', String(decodeTokens), '--runs', '1', '--json']);
    const report = JSON.parse(l.stdout);
    // Lantern's own high-water mark before its roofline probes allocate (the process's whole
    // peak would count the bandwidth probe's 256 MiB buffer); the process peak where absent.
    samples.lantern.push({ ...report, peak_bytes: report.peak_rss_bytes_before_probes ?? l.peakBytes });
    log(`${model}: run ${r + 1} of ${runs}, llama.cpp`);
    const threads = String(cpus().length);
    // Depths 0 and promptTokens for both tests; the table takes prefill at 0, decode at promptTokens.
    const c = measured(llamaBench, ['-m', file, '-p', String(promptTokens), '-n', String(decodeTokens), '-d', `0,${promptTokens}`, '-r', '1', '-t', threads, '-o', 'json']);
    const started = performance.now();
    measured(llamaBench, ['-m', file, '-p', '1', '-n', '0', '-r', '1', '--no-warmup', '-t', threads, '-o', 'json']);
    samples.llama.push({ tests: JSON.parse(c.stdout), peak_bytes: c.peakBytes, load_ms: performance.now() - started });
  }
  raw.native.push({ model, ...samples });
  const l = samples.lantern;
  const test = (s, kind) => s.tests.find((t) => (kind === 'prefill' ? t.n_prompt > 0 && t.n_depth === 0 : t.n_gen > 0 && t.n_depth === promptTokens));
  const speed = (kind) => median(samples.llama.map((s) => test(s, kind).avg_ts));
  const lanternRow = {
    model,
    engine: `Lantern native (${l[0].adapter})`,
    load_ms: median(l.map((s) => s.load_ms)),
    prefill: median(l.map((s) => s.prefill_tokens_per_second)),
    decode: median(l.map((s) => s.decode_tokens_per_second)),
    peak_bytes: median(l.map((s) => s.peak_bytes)),
    roofline: median(l.map((s) => s.decode_fraction_of_roofline)),
    prefill_roofline: median(l.map((s) => s.prefill_fraction_of_matmul_peak)),
    dispatches: l[0].decode_dispatches_per_token,
    dispatch_us: median(l.map((s) => s.dispatch_microseconds)),
    dispatch_share: median(l.map((s) => s.decode_dispatch_share)),
  };
  const llamaRow = {
    model,
    engine: `llama.cpp ${basename(llamaBench)} (CPU, ${cpus().length} threads)`,
    load_ms: median(samples.llama.map((s) => s.load_ms)),
    prefill: speed('prefill'),
    decode: speed('decode'),
    peak_bytes: median(samples.llama.map((s) => s.peak_bytes)),
  };
  llamaRow.lantern_over_this = lanternRow.decode / llamaRow.decode;
  rows.push(lanternRow, llamaRow);
}

if (!argv.includes('--no-browser')) {
  log('browser: Lantern and wllama in headless Chromium');
  const args = [join(ROOT, 'web', 'bench', 'run.mjs'), '--wllama', '--json', '--runs', String(runs), '--prompt-tokens', String(promptTokens), '--decode-tokens', String(decodeTokens)];
  for (const f of files) args.push('--model', f);
  const browser = JSON.parse(execFileSync('node', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 }));
  raw.browser = browser;
  for (const b of browser) {
    rows.push({
      model: b.model,
      engine: b.engine === 'lantern' ? `Lantern in Chromium (${b.adapter})` : `${b.engine} in Chromium`,
      load_ms: b.load_ms,
      prefill: b.prefill_tokens_per_second,
      decode: b.decode_tokens_per_second,
      peak_bytes: b.peak_memory_bytes,
      before_load_bytes: b.memory_before_load_bytes,
      lantern_over_this: b.lantern_over_this_decode,
      not_run: b.not_run,
      roofline: b.decode_fraction_of_roofline,
      prefill_roofline: b.prefill_fraction_of_matmul_peak,
      dispatches: b.decode_dispatches_per_token,
      dispatch_us: b.dispatch_microseconds,
      dispatch_share: b.decode_dispatch_share,
    });
  }
}

const fmt = (x, d = 2) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
const mib = (b) => `${Math.round(b / 2 ** 20)} MiB`;
const percent = (x) => (x === undefined ? '—' : `${Math.round(x * 100)}%`);
const dispatches = (r) => (r.dispatches === undefined ? '' : `${r.dispatches} × ${fmt(r.dispatch_us, 0)} µs (${percent(r.dispatch_share)})`);
const memory = (r) => (r.peak_bytes ? `${mib(r.peak_bytes)}${r.before_load_bytes ? ` (${mib(r.before_load_bytes)} before load)` : ''}` : '—');
const table = [
  `| model | engine | load | prefill tok/s (${promptTokens}) | decode tok/s (${decodeTokens}) | peak memory | prefill / matmul peak | decode / bandwidth roofline | dispatches per token × cost (share of decode) | Lantern / this, decode |`,
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) =>
    r.not_run
      ? `| ${r.model} | ${r.engine} | not run: ${r.not_run} | | | | | | | |`
      : `| ${r.model} | ${r.engine} | ${r.load_ms === undefined ? '—' : `${fmt(r.load_ms / 1e3)} s`} | ${fmt(r.prefill)} | ${fmt(r.decode)} | ${memory(r)} | ${percent(r.prefill_roofline)} | ${percent(r.roofline)} | ${dispatches(r)} | ${r.lantern_over_this === undefined ? '' : `${fmt(r.lantern_over_this)}×`} |`,
  ),
].join('\n');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench.json'), JSON.stringify({ rows, raw, runs, prompt_tokens: promptTokens, decode_tokens: decodeTokens, date: new Date().toISOString() }, null, 2));
writeFileSync(join(out, 'bench.md'), `${table}\n`);
console.log(table);
log(`written: ${join(out, 'bench.md')}, ${join(out, 'bench.json')}`);
