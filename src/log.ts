/**
 * The process logger: pino, JSON lines to stdout (one object per event, ISO
 * time), or human-readable lines through pino-pretty when stdout is a
 * terminal. Modules take a child: `log.child({ mod: 'transport' })`.
 */
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from './config/schema.js';

export type Logger = PinoLogger;
export type { LogLevel } from './config/schema.js';

export interface LoggerOptions {
  /** Where JSON lines go; stdout when absent. Tests pass a stream to read them back. */
  destination?: DestinationStream;
  /** Force pretty output on or off; default: pretty when stdout is a TTY and no destination is given. */
  pretty?: boolean;
}

export function createLogger(level: LogLevel | string = 'info', opts: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const usePretty = opts.pretty ?? (opts.destination === undefined && process.stdout.isTTY === true);
  if (usePretty) {
    const stream = pretty({
      colorize: opts.destination === undefined && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      sync: true,
      ...(opts.destination !== undefined && { destination: opts.destination }),
    });
    return pino(options, stream);
  }
  // Synchronous writes: lines are never lost at exit, and info-level logging is not per message.
  return pino(options, opts.destination ?? pino.destination({ dest: 1, sync: true }));
}
