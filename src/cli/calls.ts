/**
 * `trunkline calls [--json]`: the live calls of the running server (asked
 * over its control socket in the data directory); with no server running,
 * there are none. `trunkline calls hangup CALL-SID` ends one. A node of a
 * cluster answers for every live node: the calls show their node, and a
 * call of another node is hung up by that node.
 */
import type { Command } from 'commander';
import type { LiveCall } from '../b2bua/b2bua.js';
import { controlRequest, NoServerError } from '../control/control-client.js';
import { controlSocketPath } from '../control/protocol.js';
import { fail, loadConfigOrExit, withConfigOption } from './common.js';
import { isoTime, printList, say } from './output.js';

export function registerCalls(program: Command): void {
  const calls = withConfigOption(
    program
      .command('calls')
      .description('live calls of the running server (none when it is not running); `calls hangup CALL-SID` ends one')
      .option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    const config = await loadConfigOrExit(cmd);
    let list: LiveCall[] = [];
    try {
      list = (await controlRequest(controlSocketPath(config.data), { cmd: 'calls' })) as LiveCall[];
    } catch (err) {
      if (!(err instanceof NoServerError)) fail(err instanceof Error ? err.message : String(err));
    }
    const now = Date.now();
    const node: Array<[string, (c: LiveCall) => string | null]> =
      config.cluster === undefined ? [] : [['node', (c) => c.node]];
    printList(
      list,
      opts.json,
      (c) => ({ ...c, startAt: isoTime(c.startAt), answerAt: c.answerAt === null ? null : isoTime(c.answerAt) }),
      [
        ['call', (c) => c.callSid],
        ...node,
        ['direction', (c) => c.direction],
        ['trunk', (c) => c.trunk],
        ['carrier', (c) => c.carrier],
        ['from', (c) => c.from],
        ['to', (c) => c.to],
        ['state', (c) => c.state],
        ['seconds', (c) => Math.round((now - c.startAt) / 1000)],
      ],
    );
  });
  withConfigOption(
    calls
      .command('hangup')
      .description('end a live call (BYE to both sides)')
      .argument('<call-sid>', 'the X-Call-Sid of the call'),
  ).action(async (sid: string, _opts: unknown, cmd: Command) => {
    const config = await loadConfigOrExit(cmd);
    try {
      const ok = await controlRequest(controlSocketPath(config.data), { cmd: 'hangup', callSid: sid });
      if (ok !== true) fail(`unknown call ${sid}`);
      say(`hung up ${sid}`);
    } catch (err) {
      if (err instanceof NoServerError) fail(`unknown call ${sid} (no running server)`);
      throw err;
    }
  });
}
