/**
 * Headless Debian chromium for WebRTC tests: a fake microphone playing a
 * WAV file (--use-file-for-fake-audio-capture), media permission granted,
 * autoplay allowed, certificate errors ignored (Trunkline's WSS listener
 * has a self-signed certificate). Pages come from a small HTTP server of the
 * test on 127.0.0.1 (a secure context for getUserMedia), which also serves
 * SIP.js's ES modules at /sip.js/ and the audio probe at /probe.js.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from '../api/chromium.js';

const SIPJS_LIB = fileURLToPath(new URL('../../../node_modules/sip.js/lib/', import.meta.url));

/**
 * The page's audio probe (Web Audio API): level and share of energy at one
 * frequency (Goertzel) of a MediaStream over a while. Chrome feeds a remote
 * WebRTC stream to Web Audio only while a media element plays it too.
 */
const PROBE_JS = `
export async function measure(stream, freq, ms) {
  const el = new Audio();
  el.muted = true;
  el.srcObject = stream;
  await el.play().catch(() => {});
  const ctx = new AudioContext();
  await ctx.resume();
  const src = ctx.createMediaStreamSource(stream);
  const an = ctx.createAnalyser();
  an.fftSize = 2048;
  src.connect(an);
  const buf = new Float32Array(an.fftSize);
  let best = { rms: 0, share: 0 };
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    an.getFloatTimeDomainData(buf);
    let energy = 0;
    for (const x of buf) energy += x * x;
    const k = (2 * Math.PI * freq) / ctx.sampleRate;
    const c = 2 * Math.cos(k);
    let s1 = 0, s2 = 0;
    for (const x of buf) { const s0 = x + c * s1 - s2; s2 = s1; s1 = s0; }
    const power = s1 * s1 + s2 * s2 - c * s1 * s2;
    const fig = { rms: Math.sqrt(energy / buf.length), share: energy === 0 ? 0 : power / ((energy * buf.length) / 2) };
    if (fig.rms > best.rms) best = fig;
  }
  await ctx.close();
  return best;
}
`;

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `pages` (path -> HTML or JS), /probe.js and /sip.js/* on 127.0.0.1. */
export async function startPageServer(pages: Record<string, string>): Promise<PageServer> {
  const all: Record<string, string> = { '/probe.js': PROBE_JS, ...pages };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const type = path.endsWith('.js') ? 'text/javascript' : 'text/html';
    const known = all[path];
    if (known !== undefined) {
      res.writeHead(200, { 'content-type': type });
      res.end(known);
      return;
    }
    if (path.startsWith('/sip.js/')) {
      const file = normalize(join(SIPJS_LIB, path.slice('/sip.js/'.length)));
      if (file.startsWith(SIPJS_LIB)) {
        readFile(file).then(
          (body) => {
            res.writeHead(200, { 'content-type': type });
            res.end(body);
          },
          () => {
            res.writeHead(404).end();
          },
        );
        return;
      }
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface WebrtcPage {
  page: Page;
  /** Uncaught page exceptions and console errors. */
  errors: string[];
  /** Everything the page logged (for failure messages). */
  log: string[];
}

export interface WebrtcBrowser extends WebrtcPage {
  close(): Promise<void>;
}

export interface WebrtcChromium {
  /** A page of its own context (its own SIP.js state and media devices) at `url`. */
  open(url: string): Promise<WebrtcPage>;
  close(): Promise<void>;
}

/** Chromium with `wav` as its microphone. */
export async function launchWebrtcChromium(wav: string, timeoutMs = 10_000): Promise<WebrtcChromium> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
      '--ignore-certificate-errors',
    ],
  });
  return {
    async open(url) {
      const page = await (await browser.newContext()).newPage();
      page.setDefaultTimeout(timeoutMs);
      const errors: string[] = [];
      const log: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        log.push(`${m.type()}: ${m.text()}`);
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      await page.goto(url, { timeout: timeoutMs });
      return { page, errors, log };
    },
    close: () => browser.close(),
  };
}

/** Chromium with `wav` as its microphone, on a fresh page at `url`. */
export async function openWebrtcPage(url: string, wav: string, timeoutMs = 10_000): Promise<WebrtcBrowser> {
  const c = await launchWebrtcChromium(wav, timeoutMs);
  try {
    return { ...(await c.open(url)), close: () => c.close() };
  } catch (err) {
    await c.close();
    throw err;
  }
}
