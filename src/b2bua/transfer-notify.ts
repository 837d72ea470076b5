import type { SipMessage } from '../sip/message.js';
import type { Dialog } from '../dialog/dialog.js';
import type { Call } from './call.js';
import { referNotify } from './transfer-headers.js';

/** A NOTIFY the referrer does not answer is given up after this (its transaction's own timeout is longer). */
const NOTIFY_WAIT_MS = 5000;

/**
 * A NOTIFY of a REFER's implicit subscription on the referrer's dialog `d`
 * (RFC 3515 2.4.4): the referenced request's status as a sipfrag, `final`
 * ending the subscription. Resolves on its final response (true when that
 * is a 481: the referrer's dialog is gone, RFC 3261 12.2.1.2), or false
 * after NOTIFY_WAIT_MS, a timeout or a transport error.
 */
export function notifyReferrer(
  call: Call,
  d: Dialog,
  refer: SipMessage,
  status: number,
  reason: string,
  final: boolean,
): Promise<boolean> {
  const env = call.env;
  const n = referNotify(refer.cseq.seq, status, reason, final);
  const headers = [...n.headers];
  if (env.agentName !== null) headers.push(['User-Agent', env.agentName]);
  const req = d.request('NOTIFY', { headers, body: n.body });
  call.noteChange();
  env.counters.inc('b2bua_transfer_notifies');
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), NOTIFY_WAIT_MS);
    const done = (gone: boolean): void => {
      clearTimeout(timer);
      resolve(gone);
    };
    env.layer.sendRequest(
      req,
      d.target,
      {
        onFinal: (res) => done(res.status === 481),
        onTimeout: () => done(false),
        onTransportError: () => done(false),
      },
      d.flow ?? undefined,
    );
  });
}
