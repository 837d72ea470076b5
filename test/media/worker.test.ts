import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WorkerMediaEngine } from '../../src/media/worker.js';
import { MediaError } from '../../src/media/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { createMediaEngine } from '../../src/media/index.js';
import { mediaPortRange, Peer, sdpPorts } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const ANY = { profile: 'as-offered' as const, codecs: [] };

test('the built-in relay on a worker thread: SRTP<->RTP media, figures, MediaError and timeouts cross the thread', async () => {
  const e = new WorkerMediaEngine(
    { address: '127.0.0.1', ports: mediaPortRange(20), timeout: 0.8, holdTimeout: 3600 },
    { statsMs: 100 },
  );
  const a = await Peer.create();
  const b = await Peer.create();
  const fired: string[] = [];
  e.onTimeout((sid, side) => fired.push(`${sid}:${side}`));
  try {
    const offer = await e.offer('w1', 'a', a.sdp({ profile: 'RTP/SAVP', extra: [a.srtpKey()] }), {
      profile: 'RTP/AVP',
      codecs: [],
    });
    const answer = await e.answer('w1', 'b', b.sdp(), ANY);
    a.useRelayKey(answer);
    const sent = [a.send(sdpPorts(answer).port, randomBytes(160)), a.send(sdpPorts(answer).port, randomBytes(160))];
    const back = [b.send(sdpPorts(offer).port, randomBytes(160))];
    await waitFor(() => b.rtpIn.length === 2 && a.rtpIn.length === 1, {
      timeoutMs: 5000,
      what: 'media through the worker',
      intervalMs: 10,
    });
    assert.deepEqual(
      b.rtpIn.map((r) => r.buf),
      sent,
    );
    assert.deepEqual(a.plainRtp(), back);
    await waitFor(() => e.stats('w1')?.aToB.packets === 2, {
      timeoutMs: 5000,
      what: 'figures pushed from the worker',
      intervalMs: 10,
    });
    await assert.rejects(
      e.offer('w2', 'a', a.sdp({ profile: 'RTP/SAVP' }), ANY),
      (err: unknown) => err instanceof MediaError && err.sipStatus === 488 && err.warnCode === 306,
    );
    assert.equal(e.stats('w2'), null);
    await waitFor(() => fired.length > 0, { timeoutMs: 5000, what: 'timeout from the worker', intervalMs: 10 });
    assert.ok(fired[0]!.startsWith('w1:'));
    const st = await e.delete('w1');
    assert.equal(st.aToB.packets, 2);
    assert.equal(st.bToA.packets, 1);
    assert.equal(e.stats('w1'), null);
  } finally {
    a.close();
    b.close();
    await e?.close();
  }
});

test('media.worker: true makes createMediaEngine run the relay on a worker', async () => {
  const r = mediaPortRange(20);
  const e = createMediaEngine(
    parseConfig(`media: {worker: true, ports: ${r.min}-${r.max}}`, '/srv').media,
    '127.0.0.1',
  );
  try {
    assert.ok(e instanceof WorkerMediaEngine);
  } finally {
    await e?.close();
  }
});
