// Where a model file's bytes come from, as a `nextChunk()` the wasm loader pulls from: a URL
// (through the browser's Cache API, so a second load does not download), a Blob or File, or
// bytes in memory. Runs in the worker.

/** The Cache API bucket Lantern keeps model files in. */
export const CACHE_NAME = 'lantern-models-v1';
/** Chunks handed to wasm are at least this large (fetch delivers ~64 KiB pieces). */
const CHUNK_BYTES = 4 << 20;

/** Reads a ReadableStream in chunks of at least CHUNK_BYTES (the last may be smaller). */
function chunker(stream, isAborted) {
  const reader = stream.getReader();
  let pending = [];
  let pendingBytes = 0;
  let done = false;
  return async () => {
    while (!done && pendingBytes < CHUNK_BYTES) {
      if (isAborted()) {
        reader.cancel().catch(() => {});
        throw new DOMException('the load was aborted', 'AbortError');
      }
      const next = await reader.read();
      if (next.done) {
        done = true;
      } else {
        pending.push(next.value);
        pendingBytes += next.value.byteLength;
      }
    }
    if (pendingBytes === 0) return null;
    const chunk = pending.length === 1 ? pending[0] : new Uint8Array(pendingBytes);
    if (pending.length > 1) {
      let at = 0;
      for (const piece of pending) {
        chunk.set(piece, at);
        at += piece.byteLength;
      }
    }
    pending = [];
    pendingBytes = 0;
    return chunk;
  };
}

function quotaMessage(error) {
  return error?.name === 'QuotaExceededError'
    ? 'the browser refused to store the model (storage quota exceeded); it loaded, but the next load will download it again'
    : `the model could not be stored for next time: ${error?.message ?? error}`;
}

async function openCache() {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. an opaque origin, where the Cache API is unavailable
  }
}

/**
 * Opens `source` ({ url } | { blob } | { bytes }) for the wasm loader. Resolves to
 * { nextChunk, totalBytes, fromCache, succeeded(), failed() }; call one of the last two when the
 * load ends, so that a download is kept in the cache only when the model loaded from it.
 */
export async function openSource(source, options, { isAborted, onNote }) {
  const none = { fromCache: false, succeeded: async () => {}, failed: async () => {} };
  if (source.bytes) {
    const bytes = new Uint8Array(source.bytes);
    return { ...none, totalBytes: bytes.byteLength, nextChunk: chunker(new Blob([bytes]).stream(), isAborted) };
  }
  if (source.blob) {
    return { ...none, totalBytes: source.blob.size, nextChunk: chunker(source.blob.stream(), isAborted) };
  }
  const url = new URL(source.url, self.location.href).href;
  const cache = options.cache === false ? null : await openCache();
  const sha256 = options.sha256?.toLowerCase();
  if (cache) {
    const hit = await cache.match(url);
    // A stored copy serves only the same checksum (or any, when none is asked for); the loader
    // re-hashes it either way when a checksum is given.
    if (hit && (!sha256 || hit.headers.get('x-lantern-sha256') === sha256)) {
      const totalBytes = Number(hit.headers.get('content-length')) || null;
      return {
        totalBytes,
        fromCache: true,
        nextChunk: chunker(hit.body, isAborted),
        succeeded: async () => {},
        // A stored copy that fails to load (corrupt, truncated) is dropped, so the next load downloads.
        failed: async () => { await cache.delete(url); },
      };
    }
  }
  // Aborting the request on failure ends both branches of the tee below, so the cache write fails
  // (storing nothing) instead of downloading the rest of a file that was rejected.
  const download = new AbortController();
  let response;
  try {
    response = await fetch(url, { signal: download.signal });
  } catch (error) {
    throw new Error(`could not fetch ${url}: ${error.message}`);
  }
  if (!response.ok) throw new Error(`fetching ${url} failed: HTTP ${response.status} ${response.statusText}`);
  if (!response.body) throw new Error(`fetching ${url} gave no body`);
  const totalBytes = Number(response.headers.get('content-length')) || null;
  let body = response.body;
  let stored = Promise.resolve(false);
  if (cache) {
    // One download feeds both the GPU and the cache. The Cache API writes an entry whole or
    // not at all, so a quota error leaves nothing half-written.
    const [forLoader, forCache] = body.tee();
    body = forLoader;
    const headers = { 'content-type': 'application/octet-stream', 'x-lantern-sha256': sha256 ?? '' };
    if (totalBytes) headers['content-length'] = String(totalBytes);
    stored = cache.put(url, new Response(forCache, { headers })).then(
      () => true,
      (error) => {
        if (!download.signal.aborted) onNote(quotaMessage(error));
        return false;
      },
    );
  }
  return {
    totalBytes,
    fromCache: false,
    nextChunk: chunker(body, isAborted),
    succeeded: async () => { await stored; },
    failed: async () => {
      download.abort();
      // Stored already (the whole file arrived before the loader rejected it): drop it.
      if (await stored) await cache.delete(url);
    },
  };
}
