/**
 * The web console: the Vite build of web/ (dist/web: index.html and
 * assets/) served at / and /console/assets/*. The files hold no data: every
 * figure comes from /api/v1 with the token the user logs in with. They are
 * read once at start; absent the build (a checkout where `npm run build` has
 * not run), the console is not served and registerConsole says why.
 *
 * CSP: everything from 'self' and nothing inline, as before. The one
 * addition is `style-src 'self'` spelled out, with no 'unsafe-inline': the
 * chart library (uPlot) sizes its elements through the CSSOM (el.style.x =),
 * which CSP does not govern, and Vite emits the CSS as a file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** dist/web at the package root (this file is dist/src/api/console.js). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
/** Where the assets are served; Vite's `base` (web/vite.config.ts) is the same. */
export const ASSET_PREFIX = '/console/assets/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

const HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};
const MAX_ASSETS = 200;

/** Adds the console's routes; null when served, else why not. */
export function registerConsole(app: FastifyInstance, dir = WEB_DIR): string | null {
  let index: Buffer;
  const assets = new Map<string, { body: Buffer; type: string }>();
  try {
    index = readFileSync(join(dir, 'index.html'));
    const assetDir = join(dir, 'assets');
    const names = readdirSync(assetDir);
    if (names.length > MAX_ASSETS)
      return `${assetDir} holds ${names.length} files (more than ${MAX_ASSETS}): not a console build`;
    for (const name of names) {
      const file = join(assetDir, name);
      if (!statSync(file).isFile()) continue;
      assets.set(name, { body: readFileSync(file), type: TYPES[extname(name)] ?? 'application/octet-stream' });
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `no console build in ${dir} (${code ?? String(err)}): run \`npm run build\``;
  }
  app.get('/', async (_req, reply) => {
    // The index names the current asset files: always revalidated.
    reply.headers({ ...HEADERS, 'Content-Type': TYPES['.html']!, 'Cache-Control': 'no-cache' });
    return index;
  });
  app.get(`${ASSET_PREFIX}:file`, async (req, reply) => {
    const a = assets.get((req.params as { file: string }).file);
    if (a === undefined) {
      reply.code(404);
      return { error: `no such path: GET ${req.url.split('?')[0]}` };
    }
    // Asset names carry a content hash: they never change under one name.
    reply.headers({ ...HEADERS, 'Content-Type': a.type, 'Cache-Control': 'public, max-age=31536000, immutable' });
    return a.body;
  });
  return null;
}
