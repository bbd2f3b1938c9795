// What the page tests share: Debian's Chromium with WebGPU (SwiftShader here), the page and the
// models served from the cache, and the native CLI that browser output is compared with.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../serve.mjs';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const MODELS = join(process.env.LANTERN_CACHE ?? join(homedir(), '.cache', 'lantern'), 'models');
export const SMOLLM2 = 'SmolLM2-135M-Instruct.Q4_1.gguf';
/** SwiftShader runs the kernels on the CPU: the first prompt compiles every pipeline (a minute). */
export const GENERATION_TIMEOUT = 600_000;

/** Starts Chromium. playwright-core is imported here, not above, so that scripts/bench.mjs, which
 * takes this module's paths, runs where no browser or node_modules are installed (--no-browser). */
export async function launch(args = ARGS) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/** Serves the page, the models and `mounts`; `requests` counts the paths asked for. */
export async function servePage(mounts = {}) {
  const requests = new Map();
  const { server, url } = await serve({
    port: 0,
    models: MODELS,
    mounts,
    onRequest: (path) => requests.set(path, (requests.get(path) ?? 0) + 1),
  });
  return { server, url, requests };
}

/** The middle value (the lower of the two middle ones for an even count). */
export const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];

/** The environment native GPU programs run with: Mesa wants a private runtime directory. */
export const NATIVE_ENV = {
  ...process.env,
  XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? join(homedir(), '.cache', 'lantern', 'xdg-runtime'),
};

/** The native CLI (built by scripts/test.sh before the page suite). */
function cli() {
  const candidates = [process.env.LANTERN_CLI, join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'lantern')];
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) throw new Error(`the native CLI is not built (tried ${candidates.filter(Boolean).join(', ')}): run scripts/test.sh page`);
  return found;
}

/** Runs `lantern …args` natively (wgpu on this machine's Vulkan adapter) and returns stdout. */
export function native(args, input = '') {
  return execFileSync(cli(), args, {
    input,
    encoding: 'utf8',
    env: NATIVE_ENV,
    timeout: 600_000,
    maxBuffer: 64 << 20,
  });
}
