/**
 * What the live security tests share: a UDP/TCP SIP client bound to any
 * 127.0.0.x (each test's "other host"), and the real CLI (waits: test/helpers/wait.ts).
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI } from '../helpers/server.js';
import { run, type RunResult } from '../helpers/sipp.js';
import { elapsedUntil } from '../helpers/wait.js';

/** Scenario files of these tests (tsc does not copy XML: read them from the source tree). */
export function securityScenario(name: string): string {
  const built = fileURLToPath(new URL(`./scenarios/${name}`, import.meta.url));
  if (existsSync(built)) return built;
  return fileURLToPath(new URL(`../../../test/security/scenarios/${name}`, import.meta.url));
}

export function cli(configFile: string, args: string[], input?: string): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args, '--config', configFile], 15_000, input !== undefined ? { input } : {});
}

export { sleep } from '../helpers/wait.js';

export interface RequestOptions {
  method?: string;
  ruri?: string;
  from?: string;
  to?: string;
  ua?: string;
  maxForwards?: number | null;
  extra?: string[];
  /** Via host:port to write (the sender's by default). */
}

/** A request from `host:port` over `proto` (Via written accordingly). */
export function request(host: string, port: number, proto: 'UDP' | 'TCP', o: RequestOptions = {}): Buffer {
  const method = o.method ?? 'OPTIONS';
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  const lines = [
    `${method} ${o.ruri ?? 'sip:127.0.0.1'} SIP/2.0`,
    `Via: SIP/2.0/${proto} ${host}:${port};branch=${branch};rport`,
    ...(o.maxForwards === null ? [] : [`Max-Forwards: ${o.maxForwards ?? 70}`]),
    `From: ${o.from ?? `<sip:probe@${host}>`};tag=${randomBytes(4).toString('hex')}`,
    `To: ${o.to ?? '<sip:probe@127.0.0.1>'}`,
    `Call-ID: ${randomBytes(8).toString('hex')}@${host}`,
    `CSeq: 1 ${method}`,
    ...(o.ua !== undefined ? [`User-Agent: ${o.ua}`] : []),
    ...(o.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

export interface Reply {
  status: number;
  reason: string;
  text: string;
}

function parseStatus(text: string): Reply {
  const first = text.slice(0, text.indexOf('\r\n'));
  const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(first);
  return { status: m === null ? 0 : Number(m[1]), reason: m?.[2] ?? '', text };
}

/** A UDP client bound to `host` (a 127.0.0.x of its own): sends and collects final answers. */
export class UdpPeer {
  private readonly sock = createSocket('udp4');
  private readonly inbox: Reply[] = [];
  port = 0;

  constructor(readonly host: string) {}

  async open(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.sock.once('error', reject);
      this.sock.bind(0, this.host, () => resolve());
    });
    this.port = this.sock.address().port;
    this.sock.on('message', (d) => this.inbox.push(parseStatus(d.toString('latin1'))));
    return this;
  }

  send(data: Buffer, port: number, to = '127.0.0.1'): void {
    this.sock.send(data, port, to);
  }

  /** Sends a request (to `to`:port) and waits up to `ms` for a final (>= 200) answer; null when none came. */
  async ask(port: number, o: RequestOptions = {}, ms = 1000, to = '127.0.0.1'): Promise<Reply | null> {
    this.inbox.length = 0;
    this.send(request(this.host, this.port, 'UDP', o), port, to);
    const took = await elapsedUntil(() => this.inbox.some((r) => r.status >= 200), { timeoutMs: ms, intervalMs: 20 });
    return took < 0 ? null : this.inbox.find((r) => r.status >= 200)!;
  }

  /** Answers received so far (and clears them). */
  drain(): Reply[] {
    return this.inbox.splice(0);
  }

  close(): void {
    this.sock.close();
  }
}

/** Sends raw bytes over a fresh TCP connection from `host`; resolves with the first answer or null after `ms`. */
export function tcpAsk(
  host: string,
  port: number,
  data: Buffer | ((localPort: number) => Buffer),
  ms = 1500,
): Promise<Reply | null> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: host });
    let buf = '';
    const done = (r: Reply | null): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(null), ms);
    s.on('connect', () => s.write(typeof data === 'function' ? data(s.localPort ?? 0) : data));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\n')) {
        const r = parseStatus(buf);
        if (r.status >= 200) done(r);
      }
    });
    s.on('error', () => done(null));
    s.on('close', () => done(buf === '' ? null : parseStatus(buf)));
  });
}
