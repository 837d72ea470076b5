/**
 * `trunkline drain [--timeout S] [--json]`: the running server (found by
 * its control socket in the data directory, so the API need not be
 * reachable) stops taking new calls (503 + Retry-After, its OPTIONS answer
 * 503, /readyz 503), lets the calls up end by themselves, then exits 0.
 * At the timeout the calls still up are ended as at SIGTERM (BYE to both
 * legs, CDR "Server shutting down"). Asked again while draining, the new
 * timeout applies (none: wait for the calls). Returns at once; the server
 * exits by itself. Without a running server: one line on stderr, exit 1.
 */
import type { Command } from 'commander';
import { controlRequest, NoServerError } from '../control/control-client.js';
import { controlSocketPath } from '../control/protocol.js';
import { MAX_DRAIN_TIMEOUT_S, type DrainStatus } from '../core/drain.js';
import { EXIT_CONFIG, fail, loadConfigOrExit, withConfigOption } from './common.js';
import { printJson, plural, say } from './output.js';

/** `--timeout S`: whole seconds from 0 to a day; else a usage error (exit 2) naming the option. */
function timeoutOption(value: string | undefined): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  const n = /^[0-9]{1,6}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 0 && n <= MAX_DRAIN_TIMEOUT_S))
    fail(
      `--timeout: expected whole seconds from 0 to ${MAX_DRAIN_TIMEOUT_S}, got ${JSON.stringify(value)}`,
      EXIT_CONFIG,
    );
  return n;
}

export function registerDrain(program: Command): void {
  withConfigOption(
    program
      .command('drain')
      .description(
        'make the running server stop taking calls (503), let those up end, then exit; --timeout S ends them after S seconds',
      )
      .option('--timeout <seconds>', 'end the calls still up after this many seconds (BYE both legs), then exit')
      .option('--json', 'print the answer as JSON'),
  ).action(async (opts: { timeout?: string; json?: boolean }, cmd: Command) => {
    const timeout = timeoutOption(opts.timeout);
    const config = await loadConfigOrExit(cmd);
    let status: DrainStatus;
    try {
      status = (await controlRequest(controlSocketPath(config.data), { cmd: 'drain', timeout })) as DrainStatus;
    } catch (err) {
      if (err instanceof NoServerError) fail(`no running server (no control socket in ${config.data})`);
      fail(err instanceof Error ? err.message : String(err));
    }
    if (opts.json === true) {
      printJson(status);
      return;
    }
    const calls = plural(status.calls, 'call');
    if (status.state === 'stopping') say(`stopping: ${calls} up`);
    else if (status.deadline === null) say(`draining: ${calls} up; the server exits once they end`);
    else say(`draining: ${calls} up; the server exits once they end, at the latest at ${status.deadline}`);
  });
}
