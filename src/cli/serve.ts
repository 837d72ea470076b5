/**
 * `trunkline serve [--config FILE]`: runs the server in the foreground.
 *
 *   SIGTERM, SIGINT  stop(): new calls 503, calls up ended (BYE, CDR), in-flight
 *                    transactions finish; then exit 0 (a second signal while
 *                    stopping exits 1 at once)
 *   drain            (`trunkline drain`, POST /api/v1/drain) the server stops
 *                    itself once its calls ended; then exit 0 as well
 *   SIGHUP           re-read the same config file and reload; on a bad config
 *                    the error is logged and the running config stays
 */
import type { Command } from 'commander';
import { ConfigError, loadConfig, type LoadConfigOptions, type TrunklineConfig } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import { checkOpenFileLimit } from '../core/open-files.js';
import { EXIT_CONFIG, EXIT_FAILURE, configOptionsOf, errorMessage, fail, withConfigOption } from './common.js';

// The server module is loaded by `serve` only, so management commands start fast.
type Server = Awaited<ReturnType<typeof import('../server/index.js').startServer>>;

export function registerServe(program: Command, version: string): void {
  withConfigOption(
    program
      .command('serve')
      .description('run the SIP server in the foreground, logging to stdout (SIGTERM stops, SIGHUP reloads)'),
  ).action(async (_opts: unknown, cmd: Command) => {
    await serve(configOptionsOf(cmd), version);
  });
}

export async function serve(loadOpts: LoadConfigOptions, version: string): Promise<void> {
  let config: TrunklineConfig;
  try {
    config = await loadConfig(loadOpts);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, EXIT_CONFIG);
    fail(`trunkline: cannot read config: ${errorMessage(err)}`, EXIT_CONFIG);
  }
  // SIGHUP re-reads the file found at start; with none, discovery runs again.
  const reloadOpts: LoadConfigOptions = config.source !== undefined ? { file: config.source } : loadOpts;

  const log = createLogger(config.log.level);
  log.info({ version, config: config.source ?? '(built-in defaults)' }, 'trunkline starting');
  // Media legs and connections are descriptors: a low hard limit caps the calls held before the port range does.
  checkOpenFileLimit(log, config.media.ports);

  let server: Server;
  try {
    const { startServer } = await import('../server/index.js');
    server = await startServer(config, log);
  } catch (err) {
    log.error({ err }, 'start failed');
    fail(`trunkline: cannot start: ${errorMessage(err)}`, err instanceof ConfigError ? EXIT_CONFIG : EXIT_FAILURE);
  }

  installSignals(server, log, reloadOpts, config);
}

function installSignals(server: Server, log: Logger, reloadOpts: LoadConfigOptions, initial: TrunklineConfig): void {
  let stopping = false;
  let current = initial;

  // However the stop came (a signal, the end of a drain), the process exits once it is done.
  void server.stopped.then((err) => {
    if (err !== undefined) {
      log.error({ err }, 'stop failed');
      process.exit(EXIT_FAILURE);
    }
    log.info('stopped');
    process.exit(0);
  });
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal while stopping: exiting now');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    // A failure is reported through server.stopped.
    server.stop().catch(() => undefined);
  };

  // Reloads run one at a time; a HUP during a reload queues exactly one more.
  let reloading: Promise<void> | undefined;
  let again = false;
  const reload = async (): Promise<void> => {
    do {
      again = false;
      let next: TrunklineConfig;
      try {
        next = await loadConfig(reloadOpts);
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'reload refused: keeping the running config');
        continue;
      }
      try {
        await server.reload(next);
        current = next;
        log.level = next.log.level;
        log.info({ config: next.source ?? '(built-in defaults)' }, 'config reloaded');
      } catch (err) {
        log.error({ err, config: current.source }, 'reload failed: keeping the running config');
      }
    } while (again && !stopping);
  };
  const hup = (): void => {
    if (stopping) return;
    if (reloading !== undefined) {
      again = true;
      return;
    }
    log.info('SIGHUP: reloading config');
    reloading = reload().finally(() => {
      reloading = undefined;
    });
  };

  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', hup);
}
