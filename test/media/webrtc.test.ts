/**
 * The built-in engine's WebRTC leg against real headless chromium: the
 * page's RTCPeerConnection offers UDP/TLS/RTP/SAVPF (ICE, DTLS fingerprint,
 * rtcp-mux, BUNDLE); the engine's offer toward a plain RTP/AVP peer (a UDP
 * socket of the test: the "carrier") and its ICE-lite, DTLS-SRTP answer to
 * the page. Chromium runs the ICE checks and the DTLS handshake against the
 * relay; its candidates and c= are rewritten to an address it does not
 * send from (a browser behind NAT). The carrier receives the page's
 * microphone (a 440 Hz WAV) as PCMA and sends a 1 kHz PCMA tone, which the
 * page measures with Web Audio; a digit the page sends (RTCDTMFSender)
 * reaches the carrier as RFC 4733 telephone-events. Also: strangers' STUN/DTLS datagrams are
 * dropped; a forged a=fingerprint gets no media; an Opus-only offer toward a
 * G.711 leg gets 488 naming rtpengine; no a=fingerprint, 488.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import { MediaError } from '../../src/media/errors.js';
import { browserSkip } from '../api/chromium.js';
import { alawDecode, alawTone, toneFigures, writeToneWav } from '../helpers/audio.js';
import { openWebrtcPage, startPageServer } from '../helpers/webrtc-browser.js';
import { bindUdp, mediaPortRange } from './helpers.js';

// The functions handed to the page run in the browser; the root tsconfig has no DOM types.
declare const window: any;

const PAGE = `<!doctype html><title>webrtc</title><script type="module">
import { measure } from '/probe.js';
window.measure = measure;
window.makeOffer = async (opusOnly) => {
  const pc = new RTCPeerConnection();
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  const tr = pc.addTransceiver(mic.getAudioTracks()[0], { direction: 'sendrecv', streams: [mic] });
  if (opusOnly) tr.setCodecPreferences(RTCRtpReceiver.getCapabilities('audio').codecs.filter((c) => /opus/i.test(c.mimeType)));
  pc.ontrack = (e) => { window.remote = e.streams[0] ?? new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 3000); });
  if (!opusOnly) window.pc = pc;
  return pc.localDescription.sdp;
};
window.applyAnswer = async (sdp) => {
  await window.pc.setRemoteDescription({ type: 'answer', sdp });
  const pc = window.pc;
  await new Promise((r, f) => {
    const t = setTimeout(() => f(new Error('not connected: ' + pc.connectionState + '/' + pc.iceConnectionState)), 8000);
    const check = () => { if (pc.connectionState === 'connected') { clearTimeout(t); r(); } else if (pc.connectionState === 'failed') f(new Error('connection failed')); };
    pc.onconnectionstatechange = check; check();
  });
};
window.ready = true;
</script>`;

const skip = browserSkip();
const MIC_HZ = 440;
const CARRIER_HZ = 1000;

test(
  'chromium DTLS-SRTP + ICE-lite leg relayed to a PCMA RTP leg, audio both ways',
  { skip, timeout: 40_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webrtc-'));
    const wav = join(dir, 'mic.wav');
    writeToneWav(wav, MIC_HZ);
    const engine = new BuiltinMediaEngine({
      address: '127.0.0.1',
      ports: mediaPortRange(),
      timeout: 30,
      holdTimeout: 60,
    });
    const site = await startPageServer({ '/': PAGE });
    const browser = await openWebrtcPage(`${site.url}/`, wav);
    const carrier = await bindUdp();
    let sender: NodeJS.Timeout | undefined;
    try {
      const { page } = browser;
      await page.waitForFunction(() => window.ready === true);
      const offer: string = await page.evaluate(() => window.makeOffer(false));
      assert.match(offer, /UDP\/TLS\/RTP\/SAVPF/);
      // "Behind NAT": the candidates and c= name an address the page does not send from; the
      // relay must follow the source of the page's checks (ICE-lite), not the SDP.
      const natted = offer
        .replace(/^(a=candidate:\S+ \d+ \S+ \d+ )\S+ \d+/gm, '$1203.0.113.7 40000')
        .replace(/^c=IN IP4 .*$/gm, 'c=IN IP4 203.0.113.7');
      assert.match(natted, /^a=candidate:.* 203\.0\.113\.7 40000 typ/m, natted);

      const toCarrier = await engine.offer('c1', 'a', natted, {
        profile: 'as-offered',
        codecs: ['PCMA', 'telephone-event'],
      });
      assert.match(toCarrier, /^m=audio (\d+) RTP\/AVP 8( \d+)*\r?$/m, toCarrier);
      assert.doesNotMatch(toCarrier, /a=(ice-|fingerprint|setup|candidate|mid|rtcp-fb|extmap|rtcp-xr)/, toCarrier);
      const relayB = Number(/^m=audio (\d+)/m.exec(toCarrier)![1]);

      const carrierAnswer = [
        'v=0',
        'o=carrier 1 1 IN IP4 127.0.0.1',
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio ${carrier.address().port} RTP/AVP 8`,
        'a=rtpmap:8 PCMA/8000',
        'a=sendrecv',
        '',
      ].join('\r\n');
      // telephone-event (RFC 4733) offered to the carrier with the page's payload type, and taken.
      const te = /^a=rtpmap:(\d+) telephone-event\/8000\r?$/m.exec(toCarrier);
      assert.ok(te !== null, `telephone-event offered to the carrier: ${toCarrier}`);
      const tePt = Number(te[1]);
      const answerWithEvents = carrierAnswer
        .replace('RTP/AVP 8\r\n', `RTP/AVP 8 ${tePt}\r\n`)
        .replace('a=sendrecv', `a=rtpmap:${tePt} telephone-event/8000\r\na=fmtp:${tePt} 0-15\r\na=sendrecv`);
      const toPage = await engine.answer('c1', 'b', answerWithEvents, { profile: 'as-offered', codecs: [] });
      for (const re of [/^a=ice-lite/m, /^a=setup:passive/m, /^a=fingerprint:sha-256 [0-9A-F:]{95}/m, /^a=rtcp-mux/m])
        assert.match(toPage, re, toPage);
      assert.match(toPage, /^a=candidate:1 1 udp \d+ 127\.0\.0\.1 \d+ typ host/m, toPage);
      assert.match(toPage, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 8/m, toPage);

      // The carrier: decodes what arrives, sends a 1 kHz tone to the relay every 20 ms.
      const heard: number[] = [];
      const events: number[] = [];
      carrier.on('message', (m: Buffer) => {
        if (m.length > 12 && (m[1]! & 0x7f) === 8) for (const b of m.subarray(12)) heard.push(alawDecode(b));
        if (m.length >= 16 && (m[1]! & 0x7f) === tePt) events.push(m[12]!);
      });
      let seq = 1;
      sender = setInterval(() => {
        const hdr = Buffer.alloc(12);
        hdr[0] = 0x80;
        hdr[1] = 8;
        hdr.writeUInt16BE(seq & 0xffff, 2);
        hdr.writeUInt32BE(seq * 160, 4);
        hdr.writeUInt32BE(0x1234abcd, 8);
        carrier.send(Buffer.concat([hdr, alawTone(CARRIER_HZ, seq * 160)]), relayB, '127.0.0.1');
        seq++;
      }, 20);

      await page.evaluate((sdp) => window.applyAnswer(sdp), toPage);
      const inPage: { rms: number; share: number } = await page.evaluate(
        (hz) => window.measure(window.remote, hz, 1500),
        CARRIER_HZ,
      );
      const atCarrier = toneFigures(heard.slice(-8000), MIC_HZ);
      const st = engine.stats('c1')!;
      const detail = JSON.stringify({ inPage, atCarrier, st, log: browser.log.slice(-10) });
      assert.ok(atCarrier.rms > 500 && atCarrier.share > 0.5, `carrier got no 440 Hz tone: ${detail}`);
      assert.ok(inPage.rms > 0.02 && inPage.share > 0.5, `page got no 1 kHz tone: ${detail}`);
      assert.equal(st.aToB.srtpFailures, 0, detail);
      assert.ok(st.aToB.packets > 20 && st.bToA.packets > 20, detail);

      // A digit pressed on the page (RTCDTMFSender) reaches the carrier as RFC 4733 events of digit 5.
      const canDtmf: boolean = await page.evaluate(() => {
        const s = window.pc.getSenders()[0];
        if (s?.dtmf?.canInsertDTMF !== true) return false;
        s.dtmf.insertDTMF('5', 200);
        return true;
      });
      assert.ok(canDtmf, `the page cannot send DTMF (telephone-event not in the answer): ${toPage}`);
      for (let i = 0; i < 60 && !events.includes(5); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(events.length > 0 && events.every((e) => e === 5), `events at the carrier: ${JSON.stringify(events)}`);

      // Opus only toward a G.711 leg: 488 saying the built-in engine does not transcode.
      const opusOnly: string = await page.evaluate(() => window.makeOffer(true));
      await assert.rejects(
        engine.offer('c2', 'a', opusOnly, { profile: 'as-offered', codecs: ['PCMA', 'PCMU'] }),
        (err: unknown) =>
          err instanceof MediaError &&
          err.sipStatus === 488 &&
          /no common codec .*opus.*rtpengine can/i.test(err.warningHeader()),
      );
      // Without a=fingerprint: 488.
      await assert.rejects(
        engine.offer('c3', 'a', offer.replace(/^a=fingerprint:.*\r\n/gm, ''), { profile: 'as-offered', codecs: [] }),
        (err: unknown) => err instanceof MediaError && err.sipStatus === 488 && /fingerprint/.test(err.warning),
      );
      // A stranger's STUN and DTLS-looking datagrams at the browser leg's port: dropped, the call goes on.
      const stranger = await bindUdp();
      const pagePort = Number(/^m=audio (\d+)/m.exec(toPage)![1]);
      const before = engine.stats('c1')!.aToB;
      for (let i = 0; i < 10; i++) {
        stranger.send(
          Buffer.concat([Buffer.from([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]), Buffer.alloc(12, i)]),
          pagePort,
          '127.0.0.1',
        );
        stranger.send(Buffer.from([0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, i]), pagePort, '127.0.0.1');
      }
      await new Promise((r) => setTimeout(r, 300));
      stranger.close();
      const afterJunk = engine.stats('c1')!.aToB;
      assert.ok(afterJunk.dropped >= before.dropped + 20, JSON.stringify({ before, afterJunk }));
      assert.ok(afterJunk.packets > before.packets, 'media still relayed');

      // An offer whose a=fingerprint is not the page's certificate: the handshake ends, no media crosses.
      const offer2: string = await page.evaluate(() => window.makeOffer(false));
      const forged = offer2.replace(
        /^(a=fingerprint:sha-256 )(..)/m,
        (_m, a: string, b: string) => a + (b === '00' ? '11' : '00'),
      );
      assert.notEqual(forged, offer2);
      const carrier2 = await bindUdp();
      let got2 = 0;
      carrier2.on('message', () => got2++);
      try {
        await engine.offer('c4', 'a', forged, { profile: 'as-offered', codecs: ['PCMA'] });
        const ans2 = carrierAnswer.replace(`m=audio ${carrier.address().port} `, `m=audio ${carrier2.address().port} `);
        const toPage2 = await engine.answer('c4', 'b', ans2, { profile: 'as-offered', codecs: [] });
        await page.evaluate((sdp) => window.applyAnswer(sdp), toPage2);
        await new Promise((r) => setTimeout(r, 1000));
        const st4 = engine.stats('c4')!;
        assert.equal(got2, 0, `media crossed with a forged fingerprint: ${JSON.stringify(st4)}`);
        assert.equal(st4.aToB.packets, 0);
        assert.ok(st4.aToB.dropped > 10, JSON.stringify(st4));
      } finally {
        carrier2.close();
      }
      assert.deepEqual(browser.errors, []);
    } finally {
      clearInterval(sender);
      carrier.close();
      await browser.close();
      await site.close();
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
