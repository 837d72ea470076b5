import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { haveCommand } from '../helpers/sipp.js';
import { registrarSuite } from '../helpers/registrar-suite.js';

/** The registrar suite (test/helpers/registrar-suite.ts) on SQLite: a database file in a directory of the test's own. */
let dir = '';
registrarSuite({
  label: '',
  skip: !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)',
  async prepare() {
    dir = mkdtempSync(join(tmpdir(), 'registrar-interop-'));
    const file = join(dir, 'trunkline.db');
    return { database: `sqlite:${file}`, config: { kind: 'sqlite', file } };
  },
  async cleanup() {
    rmSync(dir, { recursive: true, force: true });
  },
});
