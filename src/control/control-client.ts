import { connect } from 'node:net';
import type { ControlAnswer, ControlRequest } from './protocol.js';

/** No server is running on this data directory (no socket, or nobody listening). */
export class NoServerError extends Error {
  constructor(path: string) {
    super(`no running server (no control socket at ${path})`);
    this.name = 'NoServerError';
  }
}

/** Sends one control request to the running server; rejects with NoServerError when none runs. */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the server did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (c: string) => (buf += c));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new NoServerError(path) : err);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        const a = JSON.parse(buf) as ControlAnswer;
        if (a.ok) resolve(a.result);
        else reject(new Error(a.error));
      } catch {
        reject(new Error('the server sent a malformed answer'));
      }
    });
  });
}
