import { isSipUri, tryParseUri } from '../sip/uri.js';
import type { PingResult } from '../trunking/gateway-monitor.js';
import type { B2buaEnv } from './env.js';
import { uacRequest } from '../dialog/uac-request.js';
import { newCallId, newTagValue } from '../dialog/sid.js';

/**
 * Sends one out-of-dialog OPTIONS to a gateway (RFC 3261 11) and reports
 * whether it is alive: any final answer but a 5xx is alive; a timeout
 * (`timeoutMs`, or Timer F), a transport error (a refused TCP/TLS
 * connect), an ICMP port unreachable over UDP (env.probeUdp) or a 5xx is
 * a failure, the first two at once.
 */
export function pingGateway(
  env: B2buaEnv,
  ourHost: string,
  uri: string,
  timeoutMs: number,
  report: (r: PingResult) => void,
): void {
  // One outcome per ping: the first of the answer, the error, or our own (shorter than Timer F) timeout.
  let settled = false;
  let stopProbe: (() => void) | null = null;
  const guard = setTimeout(() => done('fail'), timeoutMs);
  guard.unref();
  function done(r: PingResult): void {
    if (settled) return;
    settled = true;
    clearTimeout(guard);
    stopProbe?.();
    report(r);
  }
  const hop = tryParseUri(uri);
  if (hop === null || !isSipUri(hop)) {
    done('fail');
    return;
  }
  const target = hop;
  env
    .locate(target)
    .then(async (targets) => {
      await env.interfaces.prepare(targets.slice(0, 1));
      const t = targets[0];
      const iface = t === undefined ? null : env.interfaces.forProto(t.proto, t.host);
      if (t === undefined || iface === null) {
        done('fail');
        return;
      }
      const ruri = `sip:${target.host}${target.port === null ? '' : `:${target.port}`}${t.proto === 'udp' ? '' : `;transport=${t.proto}`}`;
      const req = uacRequest({
        method: 'OPTIONS',
        uri: ruri,
        iface,
        from: `<sip:ping@${ourHost}>`,
        fromTag: newTagValue(),
        to: `<${ruri}>`,
        callId: newCallId(),
        cseq: 1,
        ...(env.agentName !== null && { headers: [['User-Agent', env.agentName]] }),
      });
      env.counters.inc('gateway_pings_sent');
      const tx = env.layer.sendRequest(req, t, {
        onFinal: (res) => done(res.status >= 500 && res.status < 600 ? 'fail' : 'ok'),
        onTimeout: () => done('fail'),
        onTransportError: () => done('fail'),
      });
      if (t.proto === 'udp' && env.probeUdp !== undefined && !settled) {
        stopProbe = env.probeUdp(t, () => {
          if (settled) return;
          env.counters.inc('gateway_pings_unreachable');
          tx.terminate();
          done('fail');
        });
      }
    })
    .catch(() => done('fail'));
}
