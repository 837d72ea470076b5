/**
 * Run by fast-prototypes.test.ts under `node --allow-natives-syntax`:
 *
 *   node --allow-natives-syntax fast-prototypes-child.js alone|server
 *
 * alone: a class extending String makes String.prototype a dictionary
 * (what the test relies on), and restoreFastPrototypes makes it fast again.
 * server: a whole server started in this process (its modules include the
 * redis client) leaves the primitives' prototypes fast. Prints one JSON
 * line: the prototypes' names and whether each has fast properties.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { restoreFastPrototypes } from '../../src/core/fast-prototypes.js';
import { startServer } from '../../src/server/index.js';
import { freePort } from '../helpers/ports.js';

// V8's own check, reachable only with --allow-natives-syntax.
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

const PROTOTYPES: Record<string, object> = {
  String: String.prototype,
  Number: Number.prototype,
  Boolean: Boolean.prototype,
  Symbol: Symbol.prototype,
  BigInt: BigInt.prototype,
};

function fastness(): Record<string, boolean> {
  return Object.fromEntries(Object.entries(PROTOTYPES).map(([k, v]) => [k, hasFastProperties(v)]));
}

export interface FastPrototypesReport {
  before?: Record<string, boolean>;
  after: Record<string, boolean>;
}

async function main(mode: string): Promise<FastPrototypesReport> {
  if (mode === 'alone') {
    class Tagged extends String {}
    class Counted extends Number {}
    void [Tagged, Counted];
    const before = fastness();
    restoreFastPrototypes();
    return { before, after: fastness() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'fast-prototypes-'));
  const sip = await freePort();
  const yaml = [
    `data: ${JSON.stringify(join(dir, 'data'))}`,
    `listen: [udp:127.0.0.1:${sip}]`,
    // Not the API's default port: another test or service may hold it.
    'api: {listen: "127.0.0.1:0"}',
  ].join('\n');
  const config = parseConfig(`${yaml}\n`, dir);
  const server = await startServer(config, createLogger('warn'));
  const after = fastness();
  await server.stop();
  return { after };
}

process.stdout.write(`${JSON.stringify(await main(process.argv[2] ?? 'alone'))}\n`);
