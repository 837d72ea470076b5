/**
 * A real HTTP receiver of the CDR webhook for tests (node:http on
 * loopback): it records every POST (its Idempotency-Key, headers and JSON
 * body) and answers 200, or what `answer` says for a CDR. stop() closes it
 * with its open connections (a receiver gone); start() listens again on the
 * same port (the receiver back).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  key: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export class Receiver {
  readonly received: Received[] = [];
  /** The status for a CDR (by its callSid); 200 when it returns undefined. */
  answer: (callSid: string) => number | undefined = () => undefined;
  #server: Server | null = null;

  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/cdrs`;
  }

  /** The call SIDs taken (answered 2xx), in order. */
  taken(): string[] {
    return this.received.filter((r) => (this.answer(r.key) ?? 200) < 300).map((r) => r.key);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => {
        const key = String(req.headers['idempotency-key'] ?? '');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // recorded as {}: the test's assertions on the body say what was wrong
        }
        this.received.push({ key, headers: req.headers, body });
        res.writeHead(this.answer(key) ?? 200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
