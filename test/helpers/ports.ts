import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeLock } from './machine-locks.js';

/**
 * Ports for tests are drawn at random below the kernel's ephemeral range
 * (32768-60999 on Linux), so a port handed to a test is not also handed to
 * some process's outgoing socket a moment later (SIPp, a TCP client), which
 * is what happens to ports found by binding port 0.
 *
 * Test files run in parallel processes, and a port that is free when one
 * process checks it may be checked free by another before either binds it:
 * then two SIPp UASes share a port, and one test's INVITE is answered by the
 * other test's scenario. So every port handed out is also claimed on the
 * machine: a lock per port in CLAIMS_DIR (machine-locks.ts), kept until the
 * claiming process exits.
 */
const LOW = 20000;
const HIGH = 32000;
export const CLAIMS_DIR = join(tmpdir(), 'trunkline-test-ports');
const handedOut = new Set<number>();

/** Claims `port` for this process on the machine; false when another live process holds it. */
export function claimPort(port: number): boolean {
  return takeLock(CLAIMS_DIR, String(port));
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, host, () => sock.close(() => resolve(true)));
  });
}

/** A port that is free for both UDP and TCP on the given loopback address right now, and claimed by no other test process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (!claimPort(port)) continue;
    handedOut.add(port);
    if ((await tcpFree(port, host)) && (await udpFree(port, host))) return port;
  }
  throw new Error(`no free port found in ${LOW}-${HIGH} after 200 attempts`);
}
