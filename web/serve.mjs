// Serves the built page (web/dist) on localhost, with the headers a WebGPU/wasm page wants
// (cross-origin isolation for threads, wasm MIME type) and model files from a local folder under
// /models/. Usage: node serve.mjs [--port N] [--models DIR]. Prints the URL it listens on.
// Tests mount more folders (`mounts: { '/pkg/': dir }`) and count requests (`onRequest`).
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml',
};

/** Starts the server; resolves to { server, url }. Port 0 picks a free port. */
export function serve({ port = 0, root, models, mounts = {}, onRequest } = {}) {
  const dist = resolve(root ?? join(fileURLToPath(new URL('.', import.meta.url)), 'dist'));
  const folders = Object.entries({ ...(models ? { '/models/': models } : {}), ...mounts });
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    onRequest?.(path);
    const mount = folders.find(([prefix]) => path.startsWith(prefix));
    const [base, rel] = mount ? [resolve(mount[1]), path.slice(mount[0].length)] : [dist, path === '/' ? 'index.html' : path];
    const file = normalize(join(base, rel));
    let stat;
    try {
      stat = statSync(file);
    } catch {
      stat = null;
    }
    if (!file.startsWith(base + sep) || !stat?.isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-cache',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${server.address().port}/` })));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const { url } = await serve({ port: Number(arg('--port') ?? 8080), models: arg('--models') });
  console.log(`Lantern is served at ${url}  (Ctrl-C stops it)`);
}
