import { defineConfig } from 'vite';

export default defineConfig({
  // The wasm package is linked from ../pkg; pre-bundling would break its `new URL(…wasm)` lookup.
  optimizeDeps: { exclude: ['lantern-ai'] },
  server: { fs: { allow: ['..'] } },
  build: { target: 'es2022' },
});
