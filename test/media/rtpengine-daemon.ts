/**
 * rtpengine (Debian package rtpengine-daemon) as a real peer of the media
 * tests: started in the foreground in userspace mode (`--table=-1`, no
 * kernel module), on loopback, with its ng control port from
 * test/helpers/ports.ts and a media port range inside 40000-50000; ready
 * once it answers `ping`. Stopped by killing its process (by pid).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { NgClient } from '../../src/media/rtpengine.js';
import { mediaPortRange } from './helpers.js';

export function rtpengineBinary(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter((d) => d !== ''), '/usr/bin', '/usr/sbin'];
  for (const d of dirs) if (existsSync(join(d, 'rtpengine'))) return join(d, 'rtpengine');
  return null;
}

export function rtpengineSkipReason(): string | false {
  return rtpengineBinary() === null
    ? 'rtpengine not installed (Debian package rtpengine-daemon: scripts/install-deps.sh)'
    : false;
}

/**
 * rtpengine's command line on loopback in userspace (`--table=-1`), not
 * reading Debian's /etc/rtpengine/rtpengine.conf (its fixed CLI and HTTP
 * ports, 2224 and 2225, would make two rtpengines on one machine collide):
 * its ng port, its CLI port when given, its media ports, then `extra`.
 */
export function rtpengineArgs(o: {
  ngPort: number;
  cliPort?: number;
  ports: { min: number; max: number };
  logLevel: number;
  extra?: readonly string[];
}): string[] {
  return [
    '--config-file=none',
    '--foreground',
    '--log-stderr',
    `--log-level=${o.logLevel}`,
    '--table=-1',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${o.ngPort}`,
    ...(o.cliPort === undefined ? [] : [`--listen-cli=127.0.0.1:${o.cliPort}`]),
    `--port-min=${o.ports.min}`,
    `--port-max=${o.ports.max}`,
    ...(o.extra ?? []),
  ];
}

export interface RtpengineDaemon {
  ngPort: number;
  ports: { min: number; max: number };
  proc: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

export async function startRtpengine(extra: string[] = []): Promise<RtpengineDaemon> {
  const bin = rtpengineBinary();
  if (bin === null) throw new Error('rtpengine not installed');
  const ngPort = await freePort();
  const cliPort = await freePort();
  const ports = mediaPortRange(200);
  const args = rtpengineArgs({ ngPort, cliPort, ports, logLevel: 5, extra: ['--num-threads=1', ...extra] });
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
  };
  const ng = new NgClient('127.0.0.1', ngPort, 200, 1);
  try {
    for (let i = 0; i < 50; i++) {
      if (proc.exitCode !== null) throw new Error(`rtpengine exited (${proc.exitCode}): ${out.slice(-500)}`);
      const pong = await ng.command({ command: 'ping' }).catch(() => null);
      if (pong?.result === 'pong') return { ngPort, ports, proc, log: () => out, stop };
    }
    throw new Error(`rtpengine did not answer ping: ${out.slice(-500)}`);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    ng.close();
  }
}
