// The console's build: web/src (Preact, TypeScript) -> dist/web, served by
// src/api/console.ts at / and /console/assets/ (the `base` below).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web/', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // No inline data: URLs for assets: the CSP allows scripts and styles from 'self' only.
    assetsInlineLimit: 0,
    // A module preload polyfill would be an extra inline-free script; modern Chromium needs none.
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
});
