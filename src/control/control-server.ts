import { createServer, type Server, type Socket } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ControlAnswer, ControlRequest } from './protocol.js';

/** Answers a request (a promise is waited for: a cluster's calls are read from Redis). */
export type ControlHandler = (req: ControlRequest) => unknown;

const MAX_LINE = 4096;

/** Serves control requests on a Unix socket; a stale socket file of a dead server is replaced. */
export class ControlServer {
  private server: Server | null = null;

  constructor(
    private readonly path: string,
    private readonly handle: ControlHandler,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    rmSync(this.path, { force: true });
    const server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private serve(sock: Socket): void {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) {
        sock.end(`${JSON.stringify({ ok: false, error: 'request too long' })}\n`);
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      // One request per connection: what follows its line is not read.
      sock.removeAllListeners('data');
      void this.answer(buf.slice(0, nl)).then((a) => sock.end(`${JSON.stringify(a)}\n`));
    });
  }

  private async answer(line: string): Promise<ControlAnswer> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    try {
      return { ok: true, result: await this.handle(req) };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }
}
