/**
 * `trunkline trace CALL-SID [--json] [--raw]`: the ladder of a live or
 * recent call, both legs, from the running server's trace ring buffer (the
 * last `capture.traceCalls` calls), asked over its control socket. `--json`
 * prints the messages as the API returns them; `--raw` adds each message's
 * text under the ladder.
 */
import type { Command } from 'commander';
import { controlRequest, NoServerError } from '../control/control-client.js';
import { controlSocketPath } from '../control/protocol.js';
import { renderLadder } from '../capture/ladder.js';
import type { TraceMessage } from '../capture/trace.js';
import { fail, loadConfigOrExit, withConfigOption } from './common.js';
import { printJson } from './output.js';

export function registerTrace(program: Command): void {
  withConfigOption(
    program
      .command('trace')
      .description('the ladder of a recent call, both legs (from the running server)')
      .argument('<call-sid>', 'the call sid (X-Call-Sid, `trunkline calls`, the CDR)')
      .option('--json', 'print the messages as a JSON array')
      .option('--raw', 'also print every message in full'),
  ).action(async (sid: string, opts: { json?: boolean; raw?: boolean }, cmd: Command) => {
    const config = await loadConfigOrExit(cmd);
    let messages: TraceMessage[] | null;
    try {
      messages = (await controlRequest(controlSocketPath(config.data), { cmd: 'trace', callSid: sid }, 10_000)) as
        TraceMessage[] | null;
    } catch (err) {
      if (err instanceof NoServerError)
        fail(`unknown call ${sid}: no running server (traces live in the server's memory)`);
      fail(err instanceof Error ? err.message : String(err));
    }
    if (messages === null)
      fail(`unknown call ${sid} (not among the last ${config.capture.traceCalls} calls kept for traces)`);
    if (opts.json === true) {
      printJson(messages);
      return;
    }
    process.stdout.write(renderLadder(messages, { title: `call ${sid}: ${messages.length} messages` }));
    if (opts.raw === true) {
      for (const m of messages)
        process.stdout.write(
          `\n--- ${m.time} leg ${m.leg} ${m.proto} ${m.src} -> ${m.dst}\n${m.raw.replace(/\r\n/g, '\n')}`,
        );
    }
  });
}
