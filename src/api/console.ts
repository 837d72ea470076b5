/**
 * The web console: static files of web/ (plain ES modules, no build step)
 * served at / and /console/*. They hold no data: every figure comes from
 * /api/v1 with the token the user logs in with. Absent web/ (a package
 * built without it), the console is simply not served.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** web/ at the package root (dist/src/api/ is three levels down). */
export const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

const FILES: ReadonlyArray<[url: string, file: string, type: string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/console/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['/console/style.css', 'style.css', 'text/css; charset=utf-8'],
];

const HEADERS = {
  'Content-Security-Policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

/** Adds the console's routes; false when web/ is not there. */
export function registerConsole(app: FastifyInstance, dir = WEB_DIR): boolean {
  let files: Array<[string, Buffer, string]>;
  try {
    files = FILES.map(([url, file, type]) => [url, readFileSync(`${dir}${file}`), type]);
  } catch {
    return false;
  }
  for (const [url, body, type] of files) {
    app.get(url, async (_req, reply) => {
      reply.headers({ ...HEADERS, 'Content-Type': type });
      return body;
    });
  }
  return true;
}
