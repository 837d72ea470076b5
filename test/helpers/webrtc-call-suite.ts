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
 * Each engine variant has its own Trunkline and page (one chromium), and
 * the variants run side by side in each test; test/interop/webrtc-call.test.ts
 * runs the built-in engine (PCMA end to end, and the docs/ example page) and
 * rtpengine (the page offers Opus only: transcoded to PCMA).
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
import {
  launchWebrtcChromium,
  startPageServer,
  type PageServer,
  type WebrtcChromium,
  type WebrtcPage,
} from './webrtc-browser.js';
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

export interface WebrtcEngineVariant {
  label: string;
  skip: string | false;
  /** Starts what the server's media block names; returns that block and how to stop it. */
  media(): Promise<{ yaml: string; stop(): Promise<void> }>;
  /** The page offers Opus only (the engine must transcode to the carrier's PCMA). */
  opusOnly: boolean;
  /** Also drive docs/webrtc-example.html through a call. */
  examplePage: boolean;
}

/** One engine's Trunkline, store, page and carrier port. */
interface Side {
  v: WebrtcEngineVariant;
  server: RunningTrunkline;
  store: Store;
  stopMedia: () => Promise<void>;
  sipPort: number;
  wssPort: number;
  gwPort: number;
  page: WebrtcPage;
}

/**
 * The suite: each variant (engine) gets its own Trunkline and page, and
 * each test runs the variants side by side (Promise.all).
 */
export function webrtcCallSuite(variants: WebrtcEngineVariant[]): void {
  const live = variants.filter((v) => v.skip === false);
  const skip = browserSkip() || (live.length === 0 && 'no engine to run');
  const sides: Side[] = [];
  let site: PageServer | null = null;
  let chromium: WebrtcChromium | null = null;
  let dir = '';

  async function startSide(v: WebrtcEngineVariant): Promise<Side> {
    const sipPort = await freePort();
    const wssPort = await freePort();
    const gwPort = await freePort(CARRIER);
    const media = await v.media();
    const server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${sipPort}, wss:127.0.0.1:${wssPort}]`,
        'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
        media.yaml,
        '',
      ].join('\n'),
    ).catch(async (err: unknown) => {
      await media.stop();
      throw err;
    });
    const store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
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
    // The server sees store changes within 2 s (it polls every second): meanwhile the page opens.
    const storeSeen = new Promise((r) => setTimeout(r, 2200));
    const page = await chromium!.open(`${site!.url}/`);
    await page.page.waitForFunction(() => window.ready === true);
    await storeSeen;
    await page.page.evaluate((o) => window.register(o), {
      uri: `sip:alice@${DOMAIN}`,
      server: `wss://127.0.0.1:${wssPort}`,
      user: 'alice',
      password: 'alice-pw',
    });
    return { v, server, store, stopMedia: media.stop, sipPort, wssPort, gwPort, page };
  }

  before(async () => {
    if (skip !== false) return;
    dir = mkdtempSync(join(tmpdir(), 'webrtc-call-'));
    writeToneWav(join(dir, 'mic.wav'), MIC_HZ);
    site = await startPageServer({ '/': SIPJS_PAGE, '/example.html': readFileSync(EXAMPLE_PAGE, 'utf8') });
    chromium = await launchWebrtcChromium(join(dir, 'mic.wav'));
    const started = await Promise.allSettled(live.map((v) => startSide(v)));
    for (const r of started) if (r.status === 'fulfilled') sides.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  });

  after(async () => {
    if (skip !== false) return;
    await chromium?.close();
    await site?.close();
    for (const s of sides) {
      await s.store.close();
      assert.equal(await s.server.stop(), 0);
      await s.stopMedia();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const tail = (s: Side): string =>
    `${s.v.label} page:\n${s.page.log.slice(-20).join('\n')}\nserver:\n${s.server.output().slice(-4000)}`;

  /** The extra.legs of the CDR of the one call that started at or after `t` (written once its media is released). */
  async function legsOfCdrSince(s: Side, t: number): Promise<unknown> {
    const end = Date.now() + 3000;
    for (;;) {
      const rows = (await s.store.cdrs.list({ since: t, limit: 10 })).cdrs.filter((c) => c.extra !== null);
      if (rows.length > 0) return (JSON.parse(rows[0]!.extra!) as { legs?: unknown }).legs;
      if (Date.now() > end) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Both directions carried the tones: the carrier heard 440 Hz, the page 1 kHz. */
  function assertTones(s: Side, inPage: { rms: number; share: number }, media: CarrierMedia): void {
    const atCarrier = toneFigures(media.heard.slice(-8000), MIC_HZ);
    const figures = JSON.stringify({ inPage, atCarrier, packets: media.packets });
    const what = s.v.label;
    assert.ok(
      atCarrier.rms > 500 && atCarrier.share > 0.5,
      `${what}: the carrier did not hear the page's 440 Hz: ${figures}\n${tail(s)}`,
    );
    assert.ok(
      inPage.rms > 0.02 && inPage.share > 0.5,
      `${what}: the page did not hear the carrier's 1 kHz: ${figures}\n${tail(s)}`,
    );
    assert.deepEqual(s.page.errors, [], what);
  }

  function carrierUas(s: Side, media: CarrierMedia): ReturnType<typeof sippBackground> {
    return sippBackground(
      scenarioWith('media-uas.xml', {
        mport: String(media.sock.address().port),
        pts: '8',
        rtpmaps: 'a=rtpmap:8 PCMA/8000',
      }),
      s.gwPort,
      { ip: CARRIER, timeoutS: 25 },
    );
  }

  async function outbound(s: Side): Promise<void> {
    const t0 = Date.now();
    const media = await CarrierMedia.open();
    const uas = carrierUas(s, media);
    try {
      const page = s.page.page;
      const result = await page.evaluate((o) => window.call(o.target, o.from, o.opusOnly), {
        target: `sip:+4930777888@${DOMAIN}`,
        from: `sip:${DID}@${DOMAIN}`,
        opusOnly: s.v.opusOnly,
      });
      assert.deepEqual(result, { ok: true }, `${JSON.stringify(result)}\n${tail(s)}`);
      const inPage = await page.evaluate((hz) => window.measure(window.remoteStream(), hz, 1000), CARRIER_HZ);
      await page.evaluate(() => window.hangUp());
      const r = await uas.done;
      assert.equal(r.code, 0, `${s.v.label}: carrier SIPp:\n${r.stdout.slice(-2000)}`);
      assertTones(s, inPage, media);
      assert.deepEqual(
        await legsOfCdrSince(s, t0),
        {
          a: { transport: 'DTLS-SRTP', codec: s.v.opusOnly ? 'opus' : 'PCMA' },
          b: { transport: 'RTP', codec: 'PCMA' },
          transcoded: s.v.opusOnly,
        },
        s.v.label,
      );
    } finally {
      await uas.stop();
      media.sock.close();
    }
  }

  async function inbound(s: Side): Promise<void> {
    const t0 = Date.now();
    const media = await CarrierMedia.open();
    try {
      const page = s.page.page;
      const uac = sipp({
        scenario: scenarioWith('webrtc-carrier-uac.xml', { mport: String(media.sock.address().port), hold: '2500' }),
        target: `127.0.0.1:${s.sipPort}`,
        ip: CARRIER,
        localPort: await freePort(CARRIER),
        timeoutS: 20,
        extra: ['-s', DID],
      });
      await page
        .evaluate((ms) => window.answerNext(ms), 8000)
        .catch(async (err: unknown) => {
          const r = await uac;
          assert.fail(`${String(err)}\ncarrier SIPp:\n${r.stdout.slice(-1500)}\n${tail(s)}`);
        });
      const inPage = await page.evaluate((hz) => window.measure(window.remoteStream(), hz, 1000), CARRIER_HZ);
      const r = await uac;
      assert.equal(r.code, 0, `carrier SIPp:\n${r.stdout.slice(-2000)}\n${tail(s)}`);
      assertTones(s, inPage, media);
      assert.deepEqual(
        await legsOfCdrSince(s, t0),
        { a: { transport: 'RTP', codec: 'PCMA' }, b: { transport: 'DTLS-SRTP', codec: 'PCMA' }, transcoded: false },
        s.v.label,
      );
    } finally {
      media.sock.close();
    }
  }

  const names = live.map((v) => v.label).join(' and ') || variants.map((v) => v.label).join(' and ');
  test(
    `${names}: the page calls the PSTN through its trunk, DTLS-SRTP on its leg, audio both ways`,
    { skip, timeout: 30_000 },
    async () => void (await Promise.all(sides.map((s) => outbound(s)))),
  );

  test(
    `${names}: the carrier calls the DID and the page answers, DTLS-SRTP offered to it, audio both ways`,
    { skip, timeout: 30_000 },
    async () => void (await Promise.all(sides.map((s) => inbound(s)))),
  );

  test(
    'docs/webrtc-example.html registers and calls through its form',
    { skip: skip || (!live.some((v) => v.examplePage) && 'no engine runs the example page'), timeout: 30_000 },
    async () => {
      const s = sides.find((x) => x.v.examplePage)!;
      const media = await CarrierMedia.open();
      const uas = carrierUas(s, media);
      const ex = await chromium!.open(`${site!.url}/example.html`);
      try {
        const page = ex.page;
        const status = async (text: string): Promise<void> => {
          await page.waitForFunction((t) => window.document.getElementById('status').textContent === t, text);
        };
        await page.fill('#login [name=server]', `wss://127.0.0.1:${s.wssPort}`);
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
        await ex.page.context().close();
        await uas.stop();
        media.sock.close();
      }
    },
  );
}
