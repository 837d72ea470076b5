/**
 * `trunkline dialplan` and `--dial-plan` through the real CLI on SQLite:
 * a plan with its country's defaults and rules, `set` (rules replaced,
 * several in one value, `none`), `list`, `show` naming who uses it, and
 * errors as one line naming the option or the missing plan.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failed, ok, run, table } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'trunkline-dialplan-cli-'));
const config = join(dir, 'trunkline.yaml');
writeFileSync(config, `data: ${JSON.stringify(dir)}\n`);
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => run([...args, '--config', config]);

test('dialplan add/set/list/show/rm, --dial-plan on trunks and carriers, errors naming the option', async () => {
  // Commands side by side where they do not depend on each other.
  // (Each field's checks: test/trunking/dial-plan.test.ts; here the CLI's own forms.)
  const [noCountry, badRule, account, added] = await Promise.all([
    cli('dialplan', 'add', 'X'),
    cli('dialplan', 'add', 'X', '--country', '44', '--rule', '0800+44800'),
    cli('account', 'add', 'acme'),
    cli('dialplan', 'add', 'US', '--country', '1', '--rule', '^([2-9][0-9]{9})$=>+1$1'),
  ]);
  failed(noCountry, 'country: dialplan add needs --country CC', 'no --country');
  failed(badRule, /^rule: expected \[in:\|out:\]MATCH=>REPLACEMENT, got "0800\+44800"$/, '--rule without =>');
  ok(account, 'account add');
  assert.match(ok(added, 'add US'), /^added dial plan US \(country 1, emergency 911,112\)$/m);

  const [trunk, carrier] = await Promise.all([
    cli('trunk', 'add', 'pbx', '--account', 'acme', '--ip', '127.0.0.2', '--dial-plan', 'US'),
    cli('carrier', 'add', 'up', '--gateway', 'sip:127.0.0.5', '--dial-plan', 'XX'),
  ]);
  ok(trunk, 'trunk add');
  failed(carrier, 'unknown dial plan XX', 'carrier add');
  const set = await cli(
    'dialplan',
    'set',
    'US',
    '--format',
    'national',
    '--rule',
    '^([2-9][0-9]{9})$=>+1$1 out:1800=>800',
    '--json',
  );
  const shown = JSON.parse(ok(set, 'dialplan set')) as Record<string, unknown>;
  assert.deepEqual(
    [shown['format'], shown['rules'], shown['trunks'], shown['carriers'], shown['nationalPrefix']],
    ['national', ['^([2-9][0-9]{9})$=>+1$1', 'out:1800=>800'], ['pbx'], [], '1'],
  );

  const [list, explained, rmInUse] = await Promise.all([
    cli('dialplan', 'list'),
    cli('route', 'explain', '4155550100', '--from', 'pbx', '--json'),
    cli('dialplan', 'rm', 'US'),
  ]);
  const rows = table(ok(list, 'list'), [
    'NAME',
    'COUNTRY',
    'NATIONAL',
    'INTERNATIONAL',
    'FORMAT',
    'EMERGENCY',
    'RULES',
  ]);
  assert.deepEqual(rows, [['US', '1', '1', '011', 'national', '911,112', '2']]);
  // Explain reads by the plan: ten digits are a US number.
  const ex = JSON.parse(ok(explained, 'explain'));
  assert.deepEqual(
    [ex.number, ex.dialPlan, ex.refused],
    ['+14155550100', 'US', '404: No route (no route for +14155550100 (add one, or a default route +))'],
  );
  failed(rmInUse, 'dial plan US is used by trunk pbx (change them first)', 'rm in use');

  const [unset, noRules] = await Promise.all([
    cli('trunk', 'set', 'pbx', '--dial-plan', 'none'),
    cli('dialplan', 'set', 'US', '--rule', 'none'),
  ]);
  assert.match(ok(unset, 'trunk set none'), /^dialPlan\s+-$/m);
  assert.match(ok(noRules, 'rules none'), /^rules\s+-$/m);
  ok(await cli('dialplan', 'rm', 'US'), 'rm');
  failed(await cli('dialplan', 'show', 'US'), 'unknown dial plan US', 'show after rm');
});
