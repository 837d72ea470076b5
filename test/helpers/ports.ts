import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * Ports for tests are drawn at random below the kernel's ephemeral range
 * (32768-60999 on Linux), so a port handed to a test is not also handed to
 * some process's outgoing socket a moment later (SIPp, a TCP client), which
 * is what happens to ports found by binding port 0.
 */
const LOW = 20000;
const HIGH = 32000;
const handedOut = new Set<number>();

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

/** A port that is free for both UDP and TCP on the given loopback address right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if ((await tcpFree(port, host)) && (await udpFree(port, host))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${LOW}-${HIGH} after 200 attempts`);
}
