/**
 * The CLI loads the command group a command names, and every group for
 * help, --version or a word it does not know (then commander names the
 * unknown command as before).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram, commandWord } from '../../src/cli/main.js';

test('commandWord: the first word that is not an option or the value of -c/--config', () => {
  assert.equal(commandWord(['trunk', 'add', 'pbx']), 'trunk');
  assert.equal(commandWord(['-c', 'x.yaml', 'trunk', 'list']), 'trunk');
  assert.equal(commandWord(['--config', 'x.yaml', 'domain', 'list']), 'domain');
  assert.equal(commandWord(['--version']), undefined);
  assert.equal(commandWord([]), undefined);
});

test('buildProgram: one group when named, all 24 otherwise', async () => {
  const all = (await buildProgram()).commands.map((c) => c.name());
  assert.equal(all.length, 24);
  for (const name of ['serve', 'trunk', 'carrier', 'rate', 'cdr', 'blocklist']) assert.ok(all.includes(name), name);
  assert.deepEqual(
    (await buildProgram('trunk')).commands.map((c) => c.name()),
    ['trunk'],
  );
  assert.deepEqual((await buildProgram('help')).commands.length, 24);
  assert.deepEqual((await buildProgram('nosuch')).commands.length, 24);
});
