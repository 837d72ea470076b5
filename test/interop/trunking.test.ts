import { haveCommand } from '../helpers/sipp.js';
import { trunkingSuite } from '../helpers/trunking-suite.js';

/** Trunk calls through the B2BUA on the embedded store (SQLite). */
trunkingSuite({
  label: 'SQLite',
  skip: !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)',
  prepare: async () => null,
  cleanup: async () => {},
});
