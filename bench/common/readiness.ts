/**
 * Is the server (or SIPp) up: an OPTIONS answered over UDP, a port bound.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { probeOptions } from '../../test/helpers/kamailio.js';
import type { Child } from './children.js';
import { sleep, type Transport } from './sipp.js';

/**
 * Sends OPTIONS (Max-Forwards 0, so that a proxy answers it itself instead
 * of relaying it) until any SIP response comes back; returns its status line.
 */
export function waitForOptions(port: number, server: Child, timeoutMs: number): Promise<string> {
  return probeOptions(port, {
    gone: () =>
      server.exited
        ? `${server.name} exited before answering OPTIONS (${server.describeExit()}):\n${server.logTail()}`
        : null,
    timeoutMs,
    who: server.name,
    tail: () => server.logTail(),
  });
}

/** True when something is bound to the port (our own bind fails with EADDRINUSE). */
async function portTaken(port: number, transport: Transport): Promise<boolean> {
  if (transport === 'udp') {
    return new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(true));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
  }
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

export async function waitForBind(port: number, transport: Transport, who: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portTaken(port, transport))) {
    if (who.exited) throw new Error(`${who.name} exited at start (${who.describeExit()}):\n${who.logTail()}`);
    if (Date.now() > deadline)
      throw new Error(`${who.name} did not bind ${transport}:127.0.0.1:${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}
