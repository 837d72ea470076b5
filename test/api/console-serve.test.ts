/**
 * How the console's build is served (src/api/console.ts): the index at /
 * with a CSP that allows nothing inline and an index that needs nothing
 * inline, the hashed assets under /console/assets/ with their content
 * types, 404 for an unknown asset; a directory without a build is not
 * served and says why (the server runs on).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { ASSET_PREFIX, registerConsole, WEB_DIR } from '../../src/api/console.js';

test('the built console: index at / with a strict CSP, assets with content types, 404 for an unknown one', async () => {
  const app = Fastify();
  try {
    assert.equal(registerConsole(app), null, `a build in ${WEB_DIR} (npm run build)`);
    const index = await app.inject({ method: 'GET', url: '/' });
    assert.equal(index.statusCode, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    const csp = String(index.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /style-src 'self';/);
    assert.ok(!csp.includes('unsafe'), csp);
    // Nothing the CSP would block: no inline script or style, no style attribute.
    assert.doesNotMatch(index.body, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(index.body, /<style|\sstyle=/);
    const files = readdirSync(join(WEB_DIR, 'assets'));
    const js = files.find((f) => f.endsWith('.js'));
    const css = files.find((f) => f.endsWith('.css'));
    assert.ok(js !== undefined && css !== undefined, files.join(', '));
    assert.ok(index.body.includes(`${ASSET_PREFIX}${js}`) && index.body.includes(`${ASSET_PREFIX}${css}`));
    const j = await app.inject({ method: 'GET', url: `${ASSET_PREFIX}${js}` });
    assert.equal(j.statusCode, 200);
    assert.match(String(j.headers['content-type']), /^text\/javascript/);
    assert.match(String(j.headers['cache-control']), /immutable/);
    const c = await app.inject({ method: 'GET', url: `${ASSET_PREFIX}${css}` });
    assert.match(String(c.headers['content-type']), /^text\/css/);
    const none = await app.inject({ method: 'GET', url: `${ASSET_PREFIX}nothing.js` });
    assert.equal(none.statusCode, 404);
    assert.match(JSON.parse(none.body).error, /no such path/);
    assert.equal((await app.inject({ method: 'GET', url: `${ASSET_PREFIX}..%2Findex.html` })).statusCode, 404);
  } finally {
    await app.close();
  }
});

test('no build: the console is not served, with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'no-console-'));
  const app = Fastify();
  try {
    const why = registerConsole(app, dir);
    assert.match(String(why), /^no console build in .*\(ENOENT\): run `npm run build`$/);
    assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 404);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
