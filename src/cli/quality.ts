/**
 * `trunkline quality [--json]`: each carrier's and gateway's rolling ASR,
 * NER, ACD, PDD and MOS and whether it is demoted (src/trunking/quality.ts),
 * as the running server has them (asked over its control socket; with no
 * server running there are none). `serverQuality` is what `route explain`
 * shows of them.
 */
import type { Command } from 'commander';
import { controlRequest, NoServerError } from '../control/control-client.js';
import { controlSocketPath } from '../control/protocol.js';
import type { EntityQuality, QualitySnapshot } from '../trunking/quality.js';
import { errorMessage, fail, loadConfigOrExit, withConfigOption } from './common.js';
import { isoTime, printList } from './output.js';
import type { TrunklineConfig } from '../config/schema.js';

/** The running server's figures (the one of this config's data directory); null when no server runs. */
export async function serverQuality(config: TrunklineConfig): Promise<QualitySnapshot | null> {
  try {
    return (await controlRequest(controlSocketPath(config.data), { cmd: 'quality' })) as QualitySnapshot;
  } catch (err) {
    if (err instanceof NoServerError) return null;
    fail(errorMessage(err));
  }
}

export function registerQuality(program: Command): void {
  withConfigOption(
    program
      .command('quality')
      .description(
        "carriers' and gateways' rolling ASR, NER, ACD, PDD, MOS and demotions, as the running server has them",
      )
      .option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    const q = await serverQuality(await loadConfigOrExit(cmd));
    const rows = q === null ? [] : [...q.carriers, ...q.gateways];
    const dash = (v: number | null): string | number => v ?? '-';
    printList(
      rows,
      opts.json,
      ({ history: _h, ...r }: EntityQuality) => ({
        ...r,
        demotedUntil: r.demotedUntil === null ? null : isoTime(r.demotedUntil),
      }),
      [
        ['carrier', (r) => r.carrier],
        ['gateway', (r) => r.gateway ?? '*'],
        ['attempts', (r) => r.attempts],
        ['asr%', (r) => dash(r.asr)],
        ['ner%', (r) => dash(r.ner)],
        ['acd_s', (r) => dash(r.acd)],
        ['pdd_ms', (r) => dash(r.pdd)],
        ['mos', (r) => dash(r.mos)],
        ['demoted until', (r) => (r.demotedUntil === null ? '-' : isoTime(r.demotedUntil))],
        ['why', (r) => r.demotedFor ?? '-'],
      ],
    );
  });
}
