/**
 * The floor of a Node.js SIP proxy: a UDP relay that does no SIP work at
 * all. Every datagram from the UAS goes to the last UAC address seen, every
 * other datagram to the UAS, byte for byte (SIPp sends to its remote
 * address whatever the Request-URI says, so the call flow of uac-rr.xml /
 * uas-rr.xml completes through it). Only an OPTIONS with Max-Forwards 0 (the
 * bench's readiness probe) is answered here, with a 200 that copies Via,
 * From, To, Call-ID and CSeq.
 *
 * What it costs per call is what Node.js's dgram and the kernel cost for
 * the same datagrams: receive (epoll, recvmsg, a Buffer and an rinfo per
 * datagram, the JS callback) and send (sendto on loopback, which delivers
 * to the peer in the sender's context). Any proxy written on Node's dgram
 * pays at least this; `bench/proxy/run.js --floor` prints it beside
 * Kamailio's full proxy.
 *
 * `--work-us N` makes it busy for N us of CPU before relaying each
 * datagram: what a proxy's own work per message costs on top of the floor,
 * both the work itself and what its delay adds to the sends and wake-ups
 * (a peer that has gone back to sleep costs more to wake). `bench/proxy/run.js
 * --floor-work LIST` runs it once per value.
 *
 *   node dist/bench/proxy/node-relay.js --port P --uas-port U [--work-us N]
 */
import { createSocket, type RemoteInfo } from 'node:dgram';

function arg(name: string, what: string, min: number, max: number, fallback?: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0 && fallback !== undefined) return fallback;
  const n = i < 0 ? NaN : Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`node-relay: ${name} ${what} (${min}-${max}) is required\n`);
    process.exit(2);
  }
  return n;
}

const port = arg('--port', 'PORT', 1, 65535);
const uasPort = arg('--uas-port', 'PORT', 1, 65535);
const workMs = arg('--work-us', 'MICROSECONDS', 0, 100_000, 0) / 1000;

/** Busy for workMs of CPU (a proxy's own work per message, standing in for parsing and routing). */
function work(): void {
  if (workMs === 0) return;
  const until = performance.now() + workMs;
  while (performance.now() < until);
}
const HOST = '127.0.0.1';
const OPTIONS = Buffer.from('OPTIONS ');
const COPIED = ['via:', 'v:', 'from:', 'f:', 'to:', 't:', 'call-id:', 'i:', 'cseq:'];

/** The 200 OK to a readiness OPTIONS: its Via, From, To, Call-ID and CSeq lines copied. */
function answerOptions(msg: Buffer): Buffer {
  const lines = msg.toString('latin1').split('\r\n');
  const copied = lines.filter((l) => COPIED.some((h) => l.toLowerCase().startsWith(h)));
  return Buffer.from(['SIP/2.0 200 OK', ...copied, 'Content-Length: 0', '', ''].join('\r\n'), 'latin1');
}

const socket = createSocket('udp4');
let uacPort = 0;
let uacHost = HOST;
socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
  work();
  if (rinfo.port === uasPort && rinfo.address === HOST) {
    if (uacPort !== 0) socket.send(msg, uacPort, uacHost);
    return;
  }
  if (msg.subarray(0, OPTIONS.length).equals(OPTIONS)) {
    socket.send(answerOptions(msg), rinfo.port, rinfo.address);
    return;
  }
  uacPort = rinfo.port;
  uacHost = rinfo.address;
  socket.send(msg, uasPort, HOST);
});
socket.on('error', (err) => {
  process.stderr.write(`node-relay: ${err.message}\n`);
  process.exit(1);
});
socket.bind(port, HOST, () => process.stdout.write(`node-relay: udp ${HOST}:${port} -> ${HOST}:${uasPort}\n`));
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
