/** A CDR as the B2BUA writes one for an answered outbound call of trunk pbx (account acme), with `over` on top. */
import type { Cdr } from '../../src/trunking/model.js';

export function sampleCdr(callSid: string, startAt: number, over: Partial<Cdr> = {}): Cdr {
  return {
    callSid,
    account: 'acme',
    trunk: 'pbx',
    carrier: 'upstream',
    direction: 'outbound',
    from: '+912240001234',
    to: '+441234567',
    startAt,
    answerAt: startAt + 2000,
    endAt: startAt + 62_000,
    duration: 60,
    status: 200,
    reason: 'Normal Clearing',
    hangupBy: 'caller',
    extra: null,
    ...over,
  };
}
