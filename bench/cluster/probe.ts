/**
 * Call set-up time at microsecond precision, which SIPp's response times
 * lack (its clock steps by 4 ms on this kernel): a caller on the trunk's
 * address places one call at a time beside the SIPp load, INVITE -> 200
 * timed with hrtime, then ACK and BYE, the next call `intervalMs` later.
 * The same outbound call as bench/common/trunk-call.ts (caller ID the DID).
 *
 *   const probe = await SetupProbe.open(TRUNK_IP, port);
 *   const stop = probe.run('127.0.0.1', 5060, 50);   // until stop() resolves
 *   ... the SIPp step ...
 *   const { times, failed } = await stop();
 */
import { rand, request, UdpPeer, type Received } from '../../test/helpers/raw-sip.js';
import { DID, OUTBOUND_NUMBER } from '../common/trunk-call.js';

/** The offer of bench/b2bua/uac-trunk.xml (the SIPp UAS answers PCMA). */
function offer(ip: string): string {
  return [
    'v=0',
    `o=probe 1 1 IN IP4 ${ip}`,
    's=-',
    `c=IN IP4 ${ip}`,
    't=0 0',
    'm=audio 9 RTP/AVP 8 0 101',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    '',
  ].join('\r\n');
}

/** No answer within this long: the call counts as failed (and the probe goes on). */
const ANSWER_TIMEOUT_MS = 5000;

export interface ProbeResult {
  /** INVITE -> 200 of each answered call, ms. */
  times: number[];
  /** Calls answered otherwise or not at all. */
  failed: number;
}

export class SetupProbe {
  private constructor(private readonly peer: UdpPeer) {}

  static async open(ip: string, port: number): Promise<SetupProbe> {
    return new SetupProbe(await UdpPeer.open(ip, port));
  }

  /** Places calls until the returned function is called; it resolves once the call in progress ended. */
  run(host: string, port: number, intervalMs: number): () => Promise<ProbeResult> {
    const result: ProbeResult = { times: [], failed: 0 };
    let stopping = false;
    const loop = (async () => {
      while (!stopping) {
        const t = await this.call(host, port).catch(() => null);
        if (t === null) result.failed++;
        else result.times.push(t);
        if (!stopping) await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    return async () => {
      stopping = true;
      await loop;
      return result;
    };
  }

  close(): void {
    this.peer.close();
  }

  /** One call; its INVITE -> 200 time in ms, or null when it was not answered 200. */
  private async call(host: string, port: number): Promise<number | null> {
    const { ip, port: own } = this.peer;
    const callId = `probe-${rand()}`;
    const from = `<sip:${DID}@${ip}:${own}>;tag=${rand()}`;
    const ruri = `sip:${OUTBOUND_NUMBER}@${host}:${port}`;
    const to = `<${ruri}>`;
    const via = (): string => `SIP/2.0/UDP ${ip}:${own};branch=z9hG4bK${rand()};rport`;
    const contact = `<sip:probe@${ip}:${own}>`;
    const inviteVia = via();
    const invite = request({
      method: 'INVITE',
      uri: ruri,
      via: inviteVia,
      from,
      to,
      callId,
      cseq: 1,
      contact,
      body: offer(ip),
    });
    const final = (r: Received): boolean =>
      !r.msg.isRequest && r.msg.callId === callId && r.msg.cseq.method === 'INVITE' && (r.msg.status ?? 0) >= 200;
    const t0 = process.hrtime.bigint();
    this.peer.send(invite, host, port);
    const answer = await this.peer.next(final, `probe ${callId}: final answer`, ANSWER_TIMEOUT_MS);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const toTagged = answer.msg.get('To') ?? to;
    if (answer.msg.status !== 200) {
      // RFC 3261 17.1.1.3: the ACK of a non-2xx final answer is part of the INVITE transaction (its Via).
      this.peer.send(
        request({ method: 'ACK', uri: ruri, via: inviteVia, from, to: toTagged, callId, cseq: 1 }),
        host,
        port,
      );
      return null;
    }
    // The B2BUA is the callee's UA: no Record-Route, its Contact is the node itself (host:port).
    const target = /<([^>]+)>/.exec(answer.msg.get('Contact') ?? '')?.[1] ?? ruri;
    this.peer.send(
      request({ method: 'ACK', uri: target, via: via(), from, to: toTagged, callId, cseq: 1 }),
      host,
      port,
    );
    this.peer.send(
      request({ method: 'BYE', uri: target, via: via(), from, to: toTagged, callId, cseq: 2 }),
      host,
      port,
    );
    const byeOk = (r: Received): boolean =>
      !r.msg.isRequest && r.msg.callId === callId && r.msg.cseq.method === 'BYE' && r.msg.status === 200;
    await this.peer.next(byeOk, `probe ${callId}: 200 to BYE`, ANSWER_TIMEOUT_MS);
    return ms;
  }
}
