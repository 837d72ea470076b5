/**
 * Browsers call the PSTN through Trunkline: real headless chromium loads a
 * page that registers over WSS with SIP.js as the subscriber of a
 * registration trunk (alice@webrtc.test) and calls +4930777888 with its
 * account's DID as caller ID. The call leaves through the carrier (codecs
 * PCMA, telephone-event), a SIPp UAS on 127.0.0.5 whose SDP names a UDP
 * socket of the test. The browser leg is ICE + DTLS-SRTP, the carrier leg
 * plain RTP: the carrier must hear the page's microphone (a 440 Hz WAV
 * file) and the page must measure the carrier's 1 kHz tone (Web Audio).
 * Then inbound: the carrier (a SIPp UAC) calls the DID, Trunkline offers
 * DTLS-SRTP to the page's WSS contact, the page answers, and the same audio
 * checks hold. The CDRs' extra.legs give each side's transport and codec.
 * Run with the built-in engine (PCMA end to end) by
 * test/interop/webrtc-call.test.ts and with rtpengine (the page offers Opus
 * only: transcoded to PCMA) by test/interop/webrtc-call-rtpengine.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:dgram';
import { browserSkip } from '../api/chromium.js';
import { alawDecode, alawTone, toneFigures, writeToneWav } from './audio.js';
import { freePort } from './ports.js';
import { startTrunkline, type RunningTrunkline } from './server.js';
import { sipp, sippBackground, scenarioWith } from './sipp.js';
import { SIPJS_PAGE } from './sipjs-page.js';
import { openWebrtcPage, startPageServer, type PageServer, type WebrtcBrowser } from './webrtc-browser.js';
import { bindUdp } from '../media/helpers.js';
import { openStore, type Store } from '../../src/store/index.js';

// The functions handed to the page run in the browser; the root tsconfig has no DOM types.
declare const window: any;

const CARRIER = '127.0.0.5';
const DOMAIN = 'webrtc.test';
const DID = '+912240009001';
const MIC_HZ = 440;
/** The README's example page (served as /example.html, SIP.js beside it). */
const EXAMPLE_PAGE = fileURLToPath(new URL('../../../docs/webrtc-example.html', import.meta.url));
const CARRIER_HZ = 1000;

/** The carrier's media: decodes the PCMA that arrives, answers each packet's source with a 1 kHz tone. */
class CarrierMedia {
  readonly heard: number[] = [];
  packets = 0;
  private seq = 1;
  private constructor(readonly sock: Socket) {
    sock.on('message', (m: Buffer, r) => {
      if (m.length <= 12 || (m[1]! & 0x7f) !== 8) return;
      this.packets++;
      for (const b of m.subarray(12)) this.heard.push(alawDecode(b));
      const hdr = Buffer.from([0x80, 8, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0xab, 0xcd]);
      hdr.writeUInt16BE(this.seq & 0xffff, 2);
      hdr.writeUInt32BE((this.seq * 160) >>> 0, 4);
      sock.send(Buffer.concat([hdr, alawTone(CARRIER_HZ, this.seq * 160)]), r.port, r.address);
      this.seq++;
    });
  }
  static async open(): Promise<CarrierMedia> {
    return new CarrierMedia(await bindUdp(await freePort(CARRIER), CARRIER));
  }
}

export interface WebrtcCallSuiteOptions {
  label: string;
  skip: string | false;
  /** Starts what the server's media block names; returns that block and how to stop it. */
  media(): Promise<{ yaml: string; stop(): Promise<void> }>;
  /** The page offers Opus only (the engine must transcode to the carrier's PCMA). */
  opusOnly: boolean;
  /** Also drive docs/webrtc-example.html through a call. */
  examplePage: boolean;
}

export function webrtcCallSuite(o: WebrtcCallSuiteOptions): void {
  const skip = browserSkip() || o.skip;
  let stopMedia: () => Promise<void> = async () => {};
  let server: RunningTrunkline | null = null;
  let store: Store | null = null;
  let site: PageServer | null = null;
  let browser: WebrtcBrowser | null = null;
  let dir = '';
  let sipPort = 0;
  let gwPort = 0;
  let wssPort = 0;

  before(async () => {
    if (skip !== false) return;
    dir = mkdtempSync(join(tmpdir(), 'webrtc-call-'));
    const wav = join(dir, 'mic.wav');
    writeToneWav(wav, MIC_HZ);
    sipPort = await freePort();
    wssPort = await freePort();
    gwPort = await freePort(CARRIER);
    const media = await o.media();
    stopMedia = media.stop;
    server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${sipPort}, wss:127.0.0.1:${wssPort}]`,
        'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
        media.yaml,
        '',
      ].join('\n'),
    );
    store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
    await store.domains.add(DOMAIN);
    await store.subscribers.add('alice', DOMAIN, 'alice-pw');
    await store.accounts.add({ name: 'acme' });
    await store.trunks.add({ name: 'browsers', account: 'acme', register: `alice@${DOMAIN}` });
    await store.dids.add(DID, 'browsers');
    await store.carriers.add({
      name: 'main',
      gateways: [`sip:${CARRIER}:${gwPort}`],
      codecs: ['PCMA', 'telephone-event'],
    });
    await store.routes.add('+', ['main']);
    // The server sees store changes within 2 s (it polls every second): meanwhile the browser starts.
    const storeSeen = new Promise((r) => setTimeout(r, 2200));
    site = await startPageServer({ '/': SIPJS_PAGE, '/example.html': readFileSync(EXAMPLE_PAGE, 'utf8') });
    browser = await openWebrtcPage(`${site.url}/`, wav);
    await browser.page.waitForFunction(() => window.ready === true);
    await storeSeen;
    await browser.page.evaluate((o) => window.register(o), {
      uri: `sip:alice@${DOMAIN}`,
      server: `wss://127.0.0.1:${wssPort}`,
      user: 'alice',
      password: 'alice-pw',
    });
  });

  after(async () => {
    if (skip !== false) return;
    await browser?.close();
    await site?.close();
    await store?.close();
    if (server !== null) assert.equal(await server.stop(), 0);
    await stopMedia();
    rmSync(dir, { recursive: true, force: true });
  });

  const tail = (): string => `page:\n${browser!.log.slice(-20).join('\n')}\nserver:\n${server!.output().slice(-4000)}`;

  /** The extra.legs of the CDR of the one call that started at or after `t` (written once its media is released). */
  async function legsOfCdrSince(t: number): Promise<unknown> {
    const end = Date.now() + 3000;
    for (;;) {
      const rows = (await store!.cdrs.list({ since: t, limit: 10 })).cdrs.filter((c) => c.extra !== null);
      if (rows.length > 0) return (JSON.parse(rows[0]!.extra!) as { legs?: unknown }).legs;
      if (Date.now() > end) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Both directions carried the tones: the carrier heard 440 Hz, the page 1 kHz. */
  function assertTones(inPage: { rms: number; share: number }, media: CarrierMedia): void {
    const atCarrier = toneFigures(media.heard.slice(-8000), MIC_HZ);
    const figures = JSON.stringify({ inPage, atCarrier, packets: media.packets });
    assert.ok(
      atCarrier.rms > 500 && atCarrier.share > 0.5,
      `the carrier did not hear the page's 440 Hz: ${figures}\n${tail()}`,
    );
    assert.ok(
      inPage.rms > 0.02 && inPage.share > 0.5,
      `the page did not hear the carrier's 1 kHz: ${figures}\n${tail()}`,
    );
    assert.deepEqual(browser!.errors, []);
  }

  test(
    `${o.label}: the page calls the PSTN through its trunk, DTLS-SRTP on its leg, audio both ways`,
    { skip, timeout: 30_000 },
    async () => {
      const t0 = Date.now();
      const media = await CarrierMedia.open();
      const uas = sippBackground(
        scenarioWith('media-uas.xml', {
          mport: String(media.sock.address().port),
          pts: '8',
          rtpmaps: 'a=rtpmap:8 PCMA/8000',
        }),
        gwPort,
        { ip: CARRIER, timeoutS: 25 },
      );
      try {
        const page = browser!.page;
        const result = await page.evaluate((o) => window.call(o.target, o.from, o.opusOnly), {
          target: `sip:+4930777888@${DOMAIN}`,
          from: `sip:${DID}@${DOMAIN}`,
          opusOnly: o.opusOnly,
        });
        assert.deepEqual(result, { ok: true }, `${JSON.stringify(result)}\n${tail()}`);
        const inPage = await page.evaluate((hz) => window.measure(window.remoteStream(), hz, 1500), CARRIER_HZ);
        await page.evaluate(() => window.hangUp());
        const r = await uas.done;
        assert.equal(r.code, 0, `carrier SIPp:\n${r.stdout.slice(-2000)}`);
        assertTones(inPage, media);
        assert.deepEqual(await legsOfCdrSince(t0), {
          a: { transport: 'DTLS-SRTP', codec: o.opusOnly ? 'opus' : 'PCMA' },
          b: { transport: 'RTP', codec: 'PCMA' },
          transcoded: o.opusOnly,
        });
      } finally {
        await uas.stop();
        media.sock.close();
      }
    },
  );

  test(
    `${o.label}: the carrier calls the DID and the page answers, DTLS-SRTP offered to it, audio both ways`,
    { skip, timeout: 30_000 },
    async () => {
      const t0 = Date.now();
      const media = await CarrierMedia.open();
      try {
        const page = browser!.page;
        const uac = sipp({
          scenario: scenarioWith('webrtc-carrier-uac.xml', { mport: String(media.sock.address().port), hold: '3000' }),
          target: `127.0.0.1:${sipPort}`,
          ip: CARRIER,
          localPort: await freePort(CARRIER),
          timeoutS: 20,
          extra: ['-s', DID],
        });
        await page
          .evaluate((ms) => window.answerNext(ms), 8000)
          .catch(async (err: unknown) => {
            const r = await uac;
            assert.fail(`${String(err)}\ncarrier SIPp:\n${r.stdout.slice(-1500)}\n${tail()}`);
          });
        const inPage = await page.evaluate((hz) => window.measure(window.remoteStream(), hz, 1500), CARRIER_HZ);
        const r = await uac;
        assert.equal(r.code, 0, `carrier SIPp:\n${r.stdout.slice(-2000)}\n${tail()}`);
        assertTones(inPage, media);
        assert.deepEqual(await legsOfCdrSince(t0), {
          a: { transport: 'RTP', codec: 'PCMA' },
          b: { transport: 'DTLS-SRTP', codec: 'PCMA' },
          transcoded: false,
        });
      } finally {
        media.sock.close();
      }
    },
  );

  test(
    `${o.label}: docs/webrtc-example.html registers and calls through its form`,
    { skip: skip || (!o.examplePage && 'the example page is run with the built-in engine'), timeout: 30_000 },
    async () => {
      const media = await CarrierMedia.open();
      const uas = sippBackground(
        scenarioWith('media-uas.xml', {
          mport: String(media.sock.address().port),
          pts: '8',
          rtpmaps: 'a=rtpmap:8 PCMA/8000',
        }),
        gwPort,
        { ip: CARRIER, timeoutS: 25 },
      );
      const ex = await openWebrtcPage(`${site!.url}/example.html`, join(dir, 'mic.wav'));
      try {
        const page = ex.page;
        const status = async (text: string): Promise<void> => {
          await page.waitForFunction((t) => window.document.getElementById('status').textContent === t, text);
        };
        await page.fill('#login [name=server]', `wss://127.0.0.1:${wssPort}`);
        await page.fill('#login [name=uri]', `sip:alice@${DOMAIN}`);
        await page.fill('#login [name=password]', 'alice-pw');
        await page.click('#login button');
        await status('registration Registered');
        await page.fill('#dial [name=number]', '+4930777888');
        await page.fill('#dial [name=callerId]', DID);
        await page.click('#dial button');
        await status('call Established');
        const end = Date.now() + 5000;
        while (toneFigures(media.heard.slice(-4000), MIC_HZ).share < 0.5 && Date.now() < end)
          await new Promise((r) => setTimeout(r, 100));
        await page.click('#hangup');
        await status('call Terminated');
        const r = await uas.done;
        assert.equal(r.code, 0, `carrier SIPp:\n${r.stdout.slice(-2000)}`);
        const heard = toneFigures(media.heard.slice(-4000), MIC_HZ);
        assert.ok(
          heard.rms > 500 && heard.share > 0.5,
          `the carrier did not hear the example page: ${JSON.stringify(heard)}`,
        );
        assert.deepEqual(ex.errors, []);
      } finally {
        await ex.close();
        await uas.stop();
        media.sock.close();
      }
    },
  );
}
