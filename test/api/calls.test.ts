/**
 * The operations side of a real trunk call (SIPp carrier -> DID -> SIPp
 * PBX through the B2BUA): the call listed live by GET /api/v1/calls and
 * hung up by DELETE; call.started/answered/ended on the event stream;
 * /metrics counting it by trunk, carrier, direction and disposition; HEP
 * packets of both legs, from the caller's first INVITE and our 100 Trying
 * on, carrying the caller leg's Call-ID as correlation ID (decoded by the
 * test's own HEP3 decoder); the trace of both legs by API and by
 * `trunkline trace` (a ladder), and clear errors for an unknown sid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI } from '../helpers/server.js';
import { haveCommand, run, scenarioWith, sipp } from '../helpers/sipp.js';
import { freePort } from '../helpers/ports.js';
import { CARRIER, DID, PBX, startCallServer } from './call-fixture.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = !haveCommand('sipp') ? 'sipp not installed (scripts/install-deps.sh)' : false;

function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

test(
  'a live trunk call: listed, hung up by the API, its events, metrics, HEP correlation of both legs, trace by API and CLI',
  { skip, timeout: 90_000 },
  async () => {
    const s = await startCallServer();
    const events: Array<{ type: string; data: any }> = [];
    const sse = new AbortController();
    try {
      // The event stream, read as it comes.
      const res = await fetch(`${s.api}/api/v1/events?types=call.started,call.answered,call.ended`, {
        headers: { authorization: `Bearer ${s.token}` },
        signal: sse.signal,
      });
      assert.equal(res.status, 200);
      void (async () => {
        const dec = new TextDecoder();
        let buf = '';
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buf += dec.decode(chunk, { stream: true });
            let end: number;
            while ((end = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              const type = /^event: (.+)$/m.exec(block)?.[1];
              const data = /^data: (.+)$/m.exec(block)?.[1];
              if (type !== undefined && data !== undefined) events.push({ type, data: JSON.parse(data) });
            }
          }
        } catch {
          // aborted
        }
      })();

      const call = s.inboundCall({ pbxDelayMs: 400 }); // ringing after 400 ms: Trunkline sends the caller a 100 Trying
      const live = await waitFor(
        async () => {
          const r = await s.request('GET', '/api/v1/calls');
          return r.json?.find((c: any) => c.state === 'confirmed');
        },
        { timeoutMs: 20_000, what: 'the call to be answered', intervalMs: 100 },
      );
      assert.match(live.callSid, /^CA[0-9a-f]{20}$/);
      assert.deepEqual(
        [live.direction, live.trunk, live.account, live.carrier, live.to],
        ['inbound', 'pbx', 'acme', 'main', DID],
      );
      assert.equal((await s.request('GET', `/api/v1/calls/${live.callSid}`)).json.callSid, live.callSid);
      let metrics = await (await fetch(`${s.api}/metrics`)).text();
      assert.equal(
        sample(metrics, 'trunkline_calls_active', { trunk: 'pbx', account: 'acme', direction: 'inbound' }),
        1,
      );

      // Hung up from the API: BYE to both sides, both SIPps end well.
      assert.equal((await s.request('DELETE', `/api/v1/calls/${live.callSid}`)).status, 204);
      const [caller, pbx] = await call.done;
      assert.equal(caller.code, 0, `caller: ${caller.stdout.slice(-2000)}`);
      assert.equal(pbx.code, 0, `pbx: ${pbx.stdout.slice(-2000)}`);
      assert.equal((await s.request('DELETE', `/api/v1/calls/${live.callSid}`)).status, 404);
      assert.deepEqual((await s.request('GET', '/api/v1/calls')).json, []);

      // Events and metrics.
      await waitFor(async () => events.some((e) => e.type === 'call.ended'), {
        timeoutMs: 5000,
        what: 'call.ended',
        intervalMs: 100,
      });
      const mine = events.filter((e) => e.data.callSid === live.callSid).map((e) => e.type);
      assert.deepEqual(mine, ['call.started', 'call.answered', 'call.ended']);
      const ended = events.find((e) => e.type === 'call.ended')!.data;
      assert.deepEqual(
        [ended.disposition, ended.reason, ended.hangupBy],
        ['answered', 'Hung up by operator', 'system'],
      );
      metrics = await (await fetch(`${s.api}/metrics`)).text();
      assert.equal(
        sample(metrics, 'trunkline_calls_total', {
          trunk: 'pbx',
          carrier: 'main',
          direction: 'inbound',
          disposition: 'answered',
        }),
        1,
      );
      assert.equal(sample(metrics, 'trunkline_calls_active', { trunk: 'pbx' }), 0);
      assert.equal(sample(metrics, 'trunkline_gateway_up', { carrier: 'main' }), 1);

      // The CDR, by the API.
      const cdr = await waitFor(
        async () => {
          const r = await s.request('GET', `/api/v1/cdrs/${live.callSid}`);
          return r.status === 200 ? r.json : undefined;
        },
        { timeoutMs: 5000, what: 'the CDR', intervalMs: 100 },
      );
      assert.equal(cdr.reason, 'Hung up by operator');

      // The trace: both legs, in order, the caller's INVITE first.
      const tr = await s.request('GET', `/api/v1/calls/${live.callSid}/trace`);
      assert.equal(tr.status, 200);
      const msgs: any[] = tr.json;
      assert.match(msgs[0].firstLine, /^INVITE sip:\+912240001234@/);
      assert.deepEqual([msgs[0].leg, msgs[0].direction, msgs[0].src.split(':')[0]], ['a', 'in', CARRIER]);
      const legs = new Set(msgs.map((m) => m.leg));
      assert.deepEqual([...legs].sort(), ['a', 'b']);
      const bInvite = msgs.find((m) => m.leg === 'b' && m.firstLine.startsWith('INVITE '));
      assert.ok(bInvite, 'the callee leg INVITE');
      assert.equal(bInvite.dst.split(':')[0], PBX);
      assert.ok(msgs.filter((m) => m.firstLine.startsWith('BYE ')).length >= 2, 'a BYE on each leg');
      assert.ok(
        msgs.every((m, i) => i === 0 || m.time >= msgs[i - 1].time),
        'oldest first',
      );
      assert.equal(new Set(msgs.map((m) => m.callId)).size, 2, 'two Call-IDs, one per leg');

      // HEP: every message of both legs carries the caller leg's Call-ID as correlation ID, the first INVITE in and our 100 Trying to it included.
      const aCallId = msgs[0].callId as string;
      const bCallId = bInvite.callId as string;
      assert.notEqual(aCallId, bCallId);
      const hepCallId = (p: { payload: string }): string | undefined =>
        /\r\n(?:Call-ID|i): *([^\r]+)/i.exec(p.payload)?.[1]?.trim();
      const ofCall = s.hep.filter((p) => [aCallId, bCallId].includes(hepCallId(p)!));
      assert.ok(
        ofCall.length >= msgs.length,
        `HEP packets of both legs: ${ofCall.length}, trace messages: ${msgs.length}`,
      );
      const stray = ofCall
        .filter((p) => p.correlationId !== aCallId)
        .map((p) => `${p.payload.split('\r\n')[0]} (${hepCallId(p) === aCallId ? 'a' : 'b'}): ${p.correlationId}`);
      assert.deepEqual(stray, [], 'every message of both legs carries the caller leg Call-ID');
      const firstInvite = ofCall.find(
        (p) => p.payload.startsWith('INVITE ') && hepCallId(p) === aCallId && p.src.startsWith(CARRIER),
      );
      const trying = ofCall.find(
        (p) => p.payload.startsWith('SIP/2.0 100 ') && hepCallId(p) === aCallId && p.dst.startsWith(CARRIER),
      );
      const bInviteHep = ofCall.find(
        (p) => p.payload.startsWith('INVITE ') && hepCallId(p) === bCallId && p.dst.startsWith(PBX),
      );
      assert.ok(
        firstInvite && trying && bInviteHep,
        'the first INVITE in, the 100 Trying out and the callee leg INVITE were captured',
      );
      assert.deepEqual(
        [firstInvite.correlationId, trying.correlationId, bInviteHep.correlationId],
        [aCallId, aCallId, aCallId],
      );
      assert.ok(
        ofCall.some((p) => p.payload.startsWith('BYE ') && p.dst.startsWith(PBX) && p.correlationId === aCallId),
      );
      assert.ok(s.hep.every((p) => p.captureId === 2002));

      // The CLI: the ladder from the running server.
      const cli = await run(process.execPath, [CLI, 'trace', live.callSid, '--config', s.server.configFile], 15_000);
      assert.equal(cli.code, 0, cli.stderr);
      const lines = cli.stdout.split('\n');
      assert.match(lines[0]!, new RegExp(`^call ${live.callSid}: ${msgs.length} messages$`));
      assert.ok(
        lines[2]!.includes(`${CARRIER}:`) && lines[2]!.includes(`${PBX}:${s.pbxPort}`),
        `the parties as columns:\n${cli.stdout}`,
      );
      assert.ok(lines.some((l) => /INVITE sip:\+912240001234@/.test(l)));
      assert.ok(lines.some((l) => /─+>/.test(l)) && lines.some((l) => /<─+/.test(l)), 'arrows both ways');
      assert.ok(lines.some((l) => l.includes('200 OK')));
      const json = await run(
        process.execPath,
        [CLI, 'trace', live.callSid, '--json', '--config', s.server.configFile],
        15_000,
      );
      assert.equal(JSON.parse(json.stdout).length, msgs.length);
      const unknown = await run(
        process.execPath,
        [CLI, 'trace', 'CA00000000000000000000', '--config', s.server.configFile],
        15_000,
      );
      assert.notEqual(unknown.code, 0);
      assert.match(
        unknown.stderr,
        /^unknown call CA00000000000000000000 \(not among the last 50 calls kept for traces\)/,
      );
      const r404 = await s.request('GET', '/api/v1/calls/CA00000000000000000000/trace');
      assert.equal(r404.status, 404);
      assert.match(r404.json.error, /^unknown call CA00000000000000000000/);

      // A refused call (no such DID): counted by status and cause, and a CDR says why.
      const refused = await sipp({
        scenario: scenarioWith('trunk-uac-expect.xml', { caller: '+15551230000', expect: '404' }),
        target: `127.0.0.1:${s.port}`,
        ip: CARRIER,
        localPort: await freePort(),
        timeoutS: 15,
        extra: ['-s', '+919999999999'],
      });
      assert.equal(refused.code, 0, refused.stdout.slice(-2000));
      metrics = await (await fetch(`${s.api}/metrics`)).text();
      assert.equal(sample(metrics, 'trunkline_calls_refused_total', { status: '404', cause: 'unknown-did' }), 1);
      assert.equal(sample(metrics, 'trunkline_calls_refused_total', {}), 1, 'one refusal in all');
      const failedCdrs = (await s.request('GET', '/api/v1/cdrs?disposition=failed')).json;
      const rows = Array.isArray(failedCdrs) ? failedCdrs : failedCdrs.items;
      assert.deepEqual(
        rows.map((x: any) => [x.status, x.reason, x.direction, x.carrier, x.trunk, x.to, x.hangupBy, x.duration]),
        [[404, 'Unknown DID', 'inbound', 'main', null, '+919999999999', 'system', 0]],
      );
    } finally {
      sse.abort();
      await s.close();
    }
  },
);

test(
  'HEP with the trace buffer off (capture.traceCalls 0): both legs of a trunk call still under the caller leg Call-ID from the first INVITE on',
  { skip, timeout: 60_000 },
  async () => {
    const s = await startCallServer({ traceCalls: 0 });
    try {
      const call = s.inboundCall({ pbxDelayMs: 400 });
      const live = await waitFor(
        async () => {
          const r = await s.request('GET', '/api/v1/calls');
          return r.json?.find((c: any) => c.state === 'confirmed');
        },
        { timeoutMs: 20_000, what: 'the call to be answered', intervalMs: 100 },
      );
      assert.equal((await s.request('DELETE', `/api/v1/calls/${live.callSid}`)).status, 204);
      const [caller, pbx] = await call.done;
      assert.equal(caller.code, 0, `caller: ${caller.stdout.slice(-2000)}`);
      assert.equal(pbx.code, 0, `pbx: ${pbx.stdout.slice(-2000)}`);
      await sleep(200); // the last batch of HEP packets
      const callIdOf = (p: { payload: string }): string | undefined =>
        /\r\n(?:Call-ID|i): *([^\r]+)/i.exec(p.payload)?.[1]?.trim();
      const firstInvite = s.hep.find((p) => p.payload.startsWith('INVITE ') && p.src.startsWith(CARRIER));
      const bInvite = s.hep.find((p) => p.payload.startsWith('INVITE ') && p.dst.startsWith(PBX));
      assert.ok(firstInvite && bInvite, 'both INVITEs captured');
      const a = callIdOf(firstInvite)!;
      const b = callIdOf(bInvite)!;
      assert.notEqual(a, b);
      const legs = s.hep.filter((p) => callIdOf(p) === a || callIdOf(p) === b);
      // Caller leg: INVITE, 100, 180?, 200, ACK, BYE, 200; callee leg the same: at least 10 messages in all.
      assert.ok(legs.length >= 10, `${legs.length} packets`);
      assert.deepEqual(
        legs.filter((p) => p.correlationId !== a).map((p) => p.payload.split('\r\n')[0]),
        [],
      );
      const ladder = legs.map((p) => `${p.src}>${p.dst} ${p.payload.split('\r\n')[0]}`).join('; ');
      assert.ok(
        legs.some((p) => p.payload.startsWith('SIP/2.0 100 ') && p.dst.startsWith(CARRIER)),
        `our 100 Trying to the caller: ${ladder}`,
      );
      assert.ok(
        legs.some((p) => p.payload.startsWith('SIP/2.0 1') && p.src.startsWith(PBX) && callIdOf(p) === b),
        'a provisional answer of the callee',
      );
    } finally {
      await s.close();
    }
  },
);
