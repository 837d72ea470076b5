/**
 * Headless Debian chromium (/usr/bin/chromium) driven by playwright-core
 * for the console tests: one page of a fresh context, every wait bounded,
 * screenshots to TRUNKLINE_SCREENSHOTS=DIR when set (console-NAME.png).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { haveCommand } from '../helpers/sipp.js';

// The functions handed to the page run in the browser; the root tsconfig has no DOM types.
declare const document: any;
declare const location: any;

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** false, or why a browser test is skipped. */
export function browserSkip(): string | false {
  if (!haveCommand('chromium')) return 'chromium not installed (apt-get install chromium)';
  if (!haveCommand('sipp')) return 'sipp not installed (scripts/install-deps.sh)';
  return false;
}

export interface ConsolePage {
  page: Page;
  /** Waits for the page marker (document.body.dataset.ready) after going to #HASH. */
  go(hash: string): Promise<void>;
  /** Saves console-NAME.png into TRUNKLINE_SCREENSHOTS (no-op when unset). */
  shot(name: string): Promise<void>;
  /** The browser console's errors and the page's uncaught exceptions (a test asserts none). */
  errors: string[];
  close(): Promise<void>;
}

export async function openConsole(url: string, timeoutMs = 15_000): Promise<ConsolePage> {
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  try {
    const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(timeoutMs);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // A refused token (the login test) and API errors shown on purpose are 4xx network lines, not script errors.
      if (
        m.type() === 'error' &&
        !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())
      )
        errors.push(`console: ${m.text()}`);
    });
    const res = await page.goto(url, { timeout: timeoutMs });
    if (res === null || res.status() !== 200)
      throw new Error(
        `the console is not served at ${url} (${res?.status() ?? 'no answer'}): no build in dist/web? run \`npm run build\``,
      );
    const dir = process.env.TRUNKLINE_SCREENSHOTS;
    return {
      page,
      errors,
      async go(hash) {
        await page.evaluate((h) => {
          delete document.body.dataset.ready;
          location.hash = `#${h}`;
        }, hash);
        await page.waitForFunction((p) => document.body.dataset.ready === p, hash.split('/')[0]);
      },
      async shot(name) {
        if (!dir) return;
        mkdirSync(dir, { recursive: true });
        // Let charts and fonts settle.
        await page.waitForTimeout(300);
        writeFileSync(join(dir, `console-${name}.png`), await page.screenshot({ fullPage: true }));
      },
      close: () => browser.close(),
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
