/**
 * Failed API logins against a real `trunkline serve` process over HTTP, each
 * client bound to its own loopback address (127.0.0.x stand for other
 * hosts): wrong tokens are logged and, at security.bruteForce.threshold,
 * ban the source in the one ban list; the banned source gets 403 even with
 * a good token while another source's good token still works; a request
 * without a token counts nothing; the API's own listen address and a
 * `security.trusted` address are never locked out; lifting the ban by hand
 * lets the source back in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { freePort } from '../helpers/ports.js';
import { CLI, startTrunkline } from '../helpers/server.js';
import { run } from '../helpers/sipp.js';
import { sleep } from '../helpers/wait.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: { error?: string } & Record<string, unknown>;
}

/** One HTTP request from `from` (the client socket's source address). */
function call(api: URL, from: string, method: string, path: string, token: string | null): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: api.hostname,
        port: Number(api.port),
        method,
        path,
        localAddress: from,
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          let json: Reply['json'] = {};
          try {
            json = JSON.parse(body) as Reply['json'];
          } catch {
            json = { error: body };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} from ${from}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Log lines (JSON) with the given msg. */
function lines(out: string, msg: string): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [];
  for (const l of out.split('\n')) {
    if (!l.includes(`"msg":"${msg}"`)) continue;
    try {
      found.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // not a JSON line
    }
  }
  return found;
}

test(
  'failed API logins are logged and ban the source after 3; other sources, the API address and trusted ones go on',
  { timeout: 60_000 },
  async () => {
    const sipPort = await freePort();
    const server = await startTrunkline(
      [
        `listen: [udp:127.0.0.2:${sipPort}]`,
        'security: {trusted: [127.0.0.11/32], bruteForce: {threshold: 3, window: 60, banSeconds: 300}}',
        '',
      ].join('\n'),
    );
    const out = (): string => server.output().slice(-6000);
    try {
      const at = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())?.[1];
      assert.ok(at, `the server logs where the API listens:\n${out()}`);
      const api = new URL(at);
      const made = await run(
        process.execPath,
        [CLI, 'token', 'add', 'ops', '--role', 'admin', '--config', server.configFile],
        15_000,
      );
      assert.equal(made.code, 0, made.stderr);
      const good = made.stdout.trim();
      const wrong = 'tl_0000000000000000000000000000000000000000000';

      // No token at all is not a failed login: five of them, then the good token, from one source.
      for (let i = 0; i < 5; i++)
        assert.equal((await call(api, '127.0.0.12', 'GET', '/api/v1/domains', null)).status, 401);
      assert.equal(
        (await call(api, '127.0.0.12', 'GET', '/api/v1/domains', good)).status,
        200,
        'requests without a token count nothing',
      );

      // A wrong token on a path that does not exist is one failure, not two: two of them do not ban.
      for (let i = 0; i < 2; i++)
        assert.equal((await call(api, '127.0.0.13', 'GET', '/api/v1/no-such-thing', wrong)).status, 401);
      assert.equal(
        (await call(api, '127.0.0.13', 'GET', '/api/v1/domains', good)).status,
        200,
        'two failures are below the threshold',
      );

      // Three wrong tokens (one a malformed header) from 127.0.0.9: each 401 and logged, the third bans.
      assert.equal((await call(api, '127.0.0.9', 'GET', '/api/v1/domains', wrong)).status, 401);
      assert.equal((await call(api, '127.0.0.9', 'GET', '/api/v1/accounts', wrong)).status, 401);
      assert.equal((await call(api, '127.0.0.9', 'GET', '/api/v1/domains', 'two words')).status, 401);
      const refused = await call(api, '127.0.0.9', 'GET', '/api/v1/domains', good);
      assert.equal(
        refused.status,
        403,
        `a banned source is refused even with a good token: ${JSON.stringify(refused.json)}`,
      );
      assert.match(
        refused.json.error ?? '',
        /^address 127\.0\.0\.9 is banned for \d+ s more \(brute force: 3 failed authentications from this address within 60 s\); trunkline ban rm 127\.0\.0\.9 lifts it$/,
      );
      const retry = Number(refused.headers['retry-after']);
      assert.ok(retry > 290 && retry <= 300, `Retry-After ${String(refused.headers['retry-after'])}`);
      const failedLines = lines(server.output(), 'API login failed').filter((l) => l['ip'] === '127.0.0.9');
      assert.deepEqual(
        failedLines.map((l) => l['reason']),
        ['invalid token', 'invalid token', 'malformed Authorization header'],
        out(),
      );
      assert.ok(!server.output().includes(wrong), 'the wrong token itself is never logged');
      assert.equal(lines(server.output(), 'ban added').filter((l) => l['ip'] === '127.0.0.9').length, 1, out());

      // Another source's good token still works, and sees the ban in the one ban list.
      const other = await call(api, '127.0.0.10', 'GET', '/api/v1/bans/127.0.0.9', good);
      assert.equal(other.status, 200, JSON.stringify(other.json));
      assert.equal(other.json['source'], 'brute-force');

      // Never locked out: the API's own address (127.0.0.1) and a security.trusted one; their failures are still logged.
      for (const from of ['127.0.0.1', '127.0.0.11']) {
        for (let i = 0; i < 5; i++)
          assert.equal((await call(api, from, 'GET', '/api/v1/domains', wrong)).status, 401, from);
        assert.equal(
          (await call(api, from, 'GET', '/api/v1/domains', good)).status,
          200,
          `${from} is never locked out`,
        );
        const logged = lines(server.output(), 'API login failed').filter((l) => l['ip'] === from);
        assert.ok(
          logged.length >= 1 && logged.every((l) => l['exempt'] === true),
          `${from}: ${JSON.stringify(logged)}`,
        );
      }
      assert.equal(lines(server.output(), 'ban added').length, 1, 'only 127.0.0.9 was banned');
      assert.equal(lines(server.output(), 'API login failed').filter((l) => l['ip'] === '127.0.0.13').length, 2);

      // Counted at /metrics: 2 + 3 + 5 + 5 failed logins, one refusal of the banned source.
      const metrics = await (await fetch(`${at}/metrics`)).text();
      assert.match(metrics, /^trunkline_api_login_failures_total 15$/m);
      assert.match(metrics, /^trunkline_api_banned_refusals_total 1$/m);

      // Lifted by hand (from another source): the server reads the store within a second or two, and 127.0.0.9 is back.
      assert.equal((await call(api, '127.0.0.10', 'DELETE', '/api/v1/bans/127.0.0.9', good)).status, 204);
      const deadline = Date.now() + 10_000;
      let back = 0;
      while (Date.now() < deadline) {
        back = (await call(api, '127.0.0.9', 'GET', '/api/v1/domains', good)).status;
        if (back === 200) break;
        await sleep(200);
      }
      assert.equal(back, 200, `after ban rm the source is let in again\n${out()}`);
    } finally {
      await server.stop();
    }
  },
);
