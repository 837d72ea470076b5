/**
 * Headless Chromium (Debian `chromium`) driven over the DevTools protocol
 * with `ws`: launch on a port of its own, one page, evaluate expressions in
 * it, wait for conditions, take screenshots. Bounded: every wait has a
 * deadline, and `close()` kills the browser.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';

export interface Page {
  evaluate<T = unknown>(expression: string): Promise<T>;
  waitFor(expression: string, timeoutMs?: number): Promise<void>;
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

export async function launch(url: string): Promise<Page> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-'));
  const proc: ChildProcess = spawn('chromium', ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', `--user-data-dir=${profile}`, '--window-size=1200,900', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const browserWs = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chromium did not start:\n${err}`)), 20_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => reject(new Error(`chromium exited with ${code}:\n${err}`)));
  });
  const http = browserWs.replace(/^ws:\/\/([^/]+)\/.*$/, 'http://$1');
  const targets = (await (await fetch(`${http}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
  const target = targets.find((t) => t.type === 'page');
  if (!target) throw new Error('chromium has no page');
  const ws = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) p?.reject(new Error(msg.error.message));
    else p?.resolve(msg.result);
  });
  const send = (method: string, params: object = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('Page.enable');
  await send('Page.navigate', { url });
  const page: Page = {
    async evaluate<T>(expression: string): Promise<T> {
      const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
      if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return r.result.value as T;
    },
    async waitFor(expression: string, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ok = await page.evaluate<boolean>(`Boolean(${expression})`).catch(() => false);
        if (ok) return;
        if (Date.now() > deadline) {
          const body = await page.evaluate<string>('location.href + " ready=" + (document.body && document.body.dataset.ready) + "\\n" + (document.body ? document.body.innerText : "")').catch((e: Error) => e.message);
          throw new Error(`timed out waiting in the page for ${expression}\npage text:\n${body}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async screenshot(): Promise<Buffer> {
      const r = await send('Page.captureScreenshot', { format: 'png' });
      return Buffer.from(r.data as string, 'base64');
    },
    async close(): Promise<void> {
      ws.close();
      proc.kill('SIGKILL');
      await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(null) : proc.once('exit', r)));
      // Chromium's helper processes may still write into the profile a moment after the browser died.
      try {
        rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      } catch {
        // a temporary directory left behind is no test failure
      }
    },
  };
  return page;
}
