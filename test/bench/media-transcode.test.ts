/**
 * bench/media's transcode mode against a real rtpengine: two calls for 2 s,
 * leg a Opus, leg b PCMA. The figures must be there (CPU per call and per
 * packet, transcoding and the plain reference, their ratio) and the packets
 * must show that rtpengine transcoded: Opus payload type at leg a with
 * payloads that are not PCMA's 160 bytes, PCMA at leg b.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { rtpengineSkipReason } from '../media/rtpengine-daemon.js';
import type { TranscodeResult } from '../../bench/media/transcode.js';
import { runScript, type ScriptResult } from '../helpers/run-script.js';

const runJs = join(dirname(fileURLToPath(import.meta.url)), '../../bench/media/run.js');

const run = (args: string[]): Promise<ScriptResult> => runScript(runJs, args, 9_000, 'SIGKILL');

test(
  'transcode mode: rtpengine CPU per transcoded call beside plain RTP, transcoding seen',
  { skip: rtpengineSkipReason() },
  async () => {
    const r = await run(['--modes', 'transcode', '--calls', '2', '--seconds', '2', '--warmup', '0.5', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { results: unknown[]; transcode: TranscodeResult[] };
    assert.deepEqual(out.results, []);
    assert.equal(out.transcode.length, 1, r.stderr);
    const t = out.transcode[0]!;
    assert.equal(t.calls, 2);
    // Leg a sent rtpengine's own Opus back, so both directions transcoded.
    assert.equal(t.directions, 'both', r.stderr);
    for (const side of [t.plain, t.transcode]) {
      // 2 calls x 2 directions x 50 packets/s x 2 s, give or take a tick.
      assert.ok(side.sent >= 360 && side.sent <= 440, `sent ${side.sent}`);
      assert.ok(side.received >= 0.95 * side.sent, `received ${side.received} of ${side.sent}`);
      assert.ok(Number.isFinite(side.cpuPctPerCallAtRate) && side.cpuPctPerCallAtRate >= 0);
      assert.ok(Number.isFinite(side.cpuUsPerPacket) && side.cpuUsPerPacket >= 0);
    }
    // Decoding and encoding Opus costs rtpengine CPU that relaying does not.
    assert.ok(t.transcode.cpuPctPerCallAtRate > 0, 'no CPU measured while transcoding');
    assert.ok(t.ratioPerCall === null || t.ratioPerCall > 0);
    assert.notEqual(t.opusSide.pt, 8);
    assert.ok(t.opusSide.packets > 150, `leg a got ${t.opusSide.packets}`);
    assert.equal(t.opusSide.withOpusPt, t.opusSide.packets);
    assert.equal(t.opusSide.pcmaSized, 0);
    assert.notEqual(t.opusSide.meanPayload, 160);
    assert.ok(t.pcmaSide.packets > 150, `leg b got ${t.pcmaSide.packets}`);
    assert.equal(t.pcmaSide.withPcmaPt, t.pcmaSide.packets);
    assert.equal(t.pcmaSide.meanPayload, 160);
    assert.equal(t.transcoded, true);
  },
);
