/**
 * The benches that read options by name (bench/common/options.ts): --help
 * prints every option and exits 0; an unknown option, or a valued one left
 * without its value, exits 2 before anything starts. bench/b2bua's own
 * case is in b2bua-peer.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { runScript } from '../helpers/run-script.js';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '../../bench');

const BENCHES: Array<{ name: string; valued: string[]; flags: string[] }> = [
  { name: 'idle', valued: ['--warmup', '--seconds', '--only', '--baseline'], flags: ['--worker', '--json'] },
  {
    name: 'capacity',
    valued: ['--calls', '--rate', '--warmup', '--idle', '--nofile', '--json'],
    flags: ['--rtcp-mux'],
  },
];

for (const b of BENCHES) {
  test(`bench/${b.name}: --help lists its options; a typo or a missing value is refused at once`, async () => {
    const run = (args: string[]) => runScript(join(benchDir, b.name, 'run.js'), args, 10_000);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    for (const o of [...b.valued, ...b.flags])
      assert.match(help.stdout, new RegExp(`^  ${o} `, 'm'), `${o} in the usage`);
    const typo = await run(['--secs', '5']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, new RegExp(`^${b.name} bench: unknown option --secs\\n`));
    const bare = await run([b.flags[0]!, b.valued[0]!]);
    assert.equal(bare.code, 2, 'a flag then a valued option with nothing after it');
    assert.match(bare.stderr, new RegExp(`${b.valued[0]} needs a value`));
  });
}
