/** Shared helpers of the transport tests (not a test file itself). */
import type { Socket } from 'node:net';
import { generate } from 'selfsigned';
import { TransportLayer } from '../../src/transport/transport-layer.js';
import type { InboundMessage, TransportLayerOptions } from '../../src/transport/types.js';
import { waitFor } from '../helpers/wait.js';

export interface TestCert {
  cert: string;
  key: string;
}

/** A self-signed EC certificate for localhost, 127.0.0.1 and ::1. */
export async function makeCert(cn = 'localhost'): Promise<TestCert> {
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: cn },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export function sipRequest(callId: string, body = '', extraHeaders = ''): Buffer {
  const head =
    `OPTIONS sip:test@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-${callId}\r\n` +
    `From: <sip:a@127.0.0.1>;tag=1\r\n` +
    `To: <sip:test@127.0.0.1>\r\n` +
    `Call-ID: ${callId}\r\n` +
    `CSeq: 1 OPTIONS\r\n` +
    extraHeaders +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return Buffer.from(head + body);
}

export function sipResponse(callId: string): Buffer {
  return Buffer.from(
    `SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-${callId}\r\n` +
      `Call-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  );
}

/** Collects inbound messages of a transport layer. */
export class Inbox {
  readonly messages: InboundMessage[] = [];
  constructor(tl: TransportLayer) {
    tl.onMessage((m) => this.messages.push(m));
  }
  async next(count = this.messages.length + 1, timeoutMs = 3000): Promise<InboundMessage> {
    await waitFor(() => this.messages.length >= count, { timeoutMs, what: `message #${count}` });
    return this.messages[count - 1]!;
  }
}

/** Collects what a raw client socket receives. */
export class SocketReader {
  private chunks: Buffer[] = [];
  closed = false;
  constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => this.chunks.push(d));
    sock.on('close', () => {
      this.closed = true;
    });
    sock.on('error', () => {});
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
  async waitText(pred: (s: string) => boolean, timeoutMs = 3000): Promise<string> {
    await waitFor(() => pred(this.text), { timeoutMs, what: 'socket data' });
    return this.text;
  }
  async waitClosed(timeoutMs = 3000): Promise<void> {
    await waitFor(() => this.closed, { timeoutMs, what: 'socket close' });
  }
}

/** Start a transport layer and make sure the test stops it. */
export async function startLayer(
  t: { after(fn: () => unknown): void },
  opts: TransportLayerOptions,
): Promise<{ tl: TransportLayer; inbox: Inbox; port(proto?: string): number }> {
  const tl = new TransportLayer(opts);
  const inbox = new Inbox(tl);
  await tl.start();
  t.after(() => tl.stop());
  return {
    tl,
    inbox,
    port(proto?: string) {
      const l = tl.boundListeners().find((x) => proto === undefined || x.proto === proto);
      if (!l) throw new Error(`no ${proto} listener`);
      return l.boundPort;
    },
  };
}
