/**
 * `trunkline reload`: makes the running server re-read its config and TLS
 * files (the same as SIGHUP, or POST /api/v1/reload). The server is found by
 * the pid file in the data directory of the same config; without a running
 * server this is one line on stderr and exit 1.
 */
import type { Command } from 'commander';
import { runningServerPid } from '../api/pidfile.js';
import { withConfigOption } from './common.js';
import { say } from './output.js';
import { loadConfigOrExit } from './common.js';
import { orFail } from './store.js';

export function registerReload(program: Command): void {
  withConfigOption(
    program.command('reload').description('make the running server reload its config and TLS files (sends it SIGHUP)'),
  ).action(async (_opts: unknown, cmd: Command) => {
    const config = await loadConfigOrExit(cmd);
    await orFail(() => {
      const pid = runningServerPid(config.data);
      process.kill(pid, 'SIGHUP');
      say(`reload requested from server ${pid} (its log tells the outcome)`);
    });
  });
}
