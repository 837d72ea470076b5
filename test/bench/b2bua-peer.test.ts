/**
 * bench/b2bua with its peer for a moment: the outbound B2BUA and Kamailio +
 * rtpengine, 20 calls each. Every call must succeed, both must have
 * rewritten the offer's and the answer's SDP to their relay's ports (the
 * traced call), and the peer's CPU per call and its ratio must be there.
 * And its options: --help, and a mistyped option refused at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { peerMissing } from '../../bench/b2bua/kamailio-rtpengine.js';
import type { Comparison, Step } from '../../bench/b2bua/report.js';
import type { MediaCheck } from '../../bench/b2bua/media-check.js';
import { runScript, type ScriptResult } from '../helpers/run-script.js';

const runJs = join(dirname(fileURLToPath(import.meta.url)), '../../bench/b2bua/run.js');

function sippMissing(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d !== '');
  return dirs.some((d) => existsSync(join(d, 'sipp'))) ? undefined : 'sipp not installed (scripts/install-deps.sh)';
}

const run = (args: string[]): Promise<ScriptResult> => runScript(runJs, args, 29_000);

test(
  'outbound B2BUA beside Kamailio + rtpengine: calls succeed, both anchor the SDP, a ratio is printed',
  { skip: peerMissing() ?? sippMissing() ?? false, timeout: 30_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trunkline-test-b2bua-peer-'));
    try {
      const json = join(dir, 'out.json');
      const r = await run([
        '--modes',
        'outbound,kamailio-rtpengine',
        '--rates',
        '20',
        '--seconds',
        '1',
        '--warmup',
        '0',
        '--json',
        json,
      ]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const out = JSON.parse(readFileSync(json, 'utf8')) as {
        steps: Step[];
        checks: Record<string, MediaCheck>;
        verdicts: { proxy: Comparison; peer: Comparison };
      };
      assert.deepEqual(
        out.steps.map((s) => [s.mode, s.successful, s.failed]),
        [
          ['outbound', 20, 0],
          ['kamailio-rtpengine', 20, 0],
        ],
      );
      for (const mode of ['outbound', 'kamailio-rtpengine']) {
        const c = out.checks[mode]!;
        assert.equal(c.anchored, true, `${mode}: ${JSON.stringify(c)}`);
        assert.notEqual(c.offer.sent, c.offer.received);
        assert.notEqual(c.answer.sent, c.answer.received);
      }
      const peer = out.steps.find((s) => s.mode === 'kamailio-rtpengine')!;
      assert.ok(peer.cpuMsPerCall > 0, `peer CPU ${peer.cpuMsPerCall}`);
      assert.equal(out.verdicts.proxy.met, null, 'no proxy run: nothing to judge against it');
      assert.ok(typeof out.verdicts.peer.worst === 'number' && out.verdicts.peer.worst > 0);
      assert.match(r.stdout, /target: B2BUA <= 1\.50x Kamailio \+ rtpengine's summed CPU per call: (met|NOT met)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('--help prints the options; an unknown option or a missing value is an error before anything starts', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  for (const o of ['--rates', '--seconds', '--warmup', '--modes', '--media', '--node-args', '--json'])
    assert.match(help.stdout, new RegExp(`^  ${o} `, 'm'), `${o} in the usage`);
  const typo = await run(['--rate', '100']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option --rate\n/);
  const bare = await run(['--rates']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /--rates needs a value/);
});
