/**
 * Checks, once and untimed, that an implementation really does the work the
 * benchmark times: every forwarded message re-parses with Trunkline's parser,
 * carries the new top Via and the decremented Max-Forwards and lost its first
 * Route (requests), or lost its top Via (responses), with dialog ids and body
 * intact. Also runs fullParse over the corpus.
 */
import { parseMessage } from '../../src/sip/parser.js';
import type { SipMessage } from '../../src/sip/message.js';
import { CORPUS, type CorpusMessage } from './corpus.js';
import { DEFAULT_MAX_FORWARDS, PROXY_HOST, PROXY_PORT, type Implementation } from './common.js';

function reparse(buf: Buffer, what: string): SipMessage {
  const r = parseMessage(buf);
  if (!r.ok) throw new Error(`${what}: does not parse with Trunkline's parser: ${r.error.message}`);
  return r.message;
}

/** Problems found with one forwarded message (empty when it is right). */
export function checkForwarded(c: CorpusMessage, out: Buffer): string[] {
  const problems: string[] = [];
  const expect = (cond: boolean, msg: string): void => {
    if (!cond) problems.push(msg);
  };
  let orig: SipMessage;
  let fwd: SipMessage;
  try {
    orig = reparse(c.buf, 'corpus message');
    fwd = reparse(out, 'forwarded message');
  } catch (e) {
    return [(e as Error).message];
  }
  try {
    expect(fwd.isRequest === orig.isRequest, 'request/response kind changed');
    expect(fwd.isRequest ? fwd.method === orig.method : fwd.status === orig.status, 'start line changed');
    expect(fwd.callId === orig.callId, 'Call-ID changed');
    expect(fwd.cseq.seq === orig.cseq.seq && fwd.cseq.method === orig.cseq.method, 'CSeq changed');
    expect(fwd.fromTag === orig.fromTag, 'From tag changed');
    expect(fwd.toTag === orig.toTag, 'To tag changed');
    expect(fwd.body.equals(orig.body), 'body changed');
    const cl = fwd.get('Content-Length');
    expect(
      cl !== undefined && Number(cl) === fwd.body.length,
      `Content-Length ${cl} does not match body ${fwd.body.length}`,
    );
    const origVias = orig.vias;
    const vias = fwd.vias;
    if (orig.isRequest) {
      expect(vias.length === origVias.length + 1, `expected ${origVias.length + 1} Via values, got ${vias.length}`);
      const top = vias[0]!;
      expect(
        top.host === PROXY_HOST && top.port === PROXY_PORT && top.transport === 'UDP',
        'new top Via has the wrong sent-by',
      );
      const branch = top.params.get('branch');
      expect(typeof branch === 'string' && /^z9hG4bK\d+$/.test(branch), `new top Via branch is ${String(branch)}`);
      expect(vias[1]?.params.get('branch') === origVias[0]!.params.get('branch'), 'received top Via is not second');
      const mf = orig.maxForwards ?? DEFAULT_MAX_FORWARDS;
      expect(fwd.maxForwards === mf - 1, `Max-Forwards ${fwd.maxForwards}, expected ${mf - 1}`);
      const origRoutes = orig.routes;
      const routes = fwd.routes;
      if (origRoutes.length > 0) {
        expect(
          routes.length === origRoutes.length - 1,
          `expected ${origRoutes.length - 1} Route values, got ${routes.length}`,
        );
        expect(routes.length === 0 || routes[0]!.uriText === origRoutes[1]!.uriText, 'wrong Route removed');
      } else {
        expect(routes.length === 0, 'Route appeared');
      }
    } else {
      expect(vias.length === origVias.length - 1, `expected ${origVias.length - 1} Via values, got ${vias.length}`);
      expect(vias[0]?.params.get('branch') === origVias[1]?.params.get('branch'), 'top Via not removed');
    }
    expect(fwd.recordRoutes.length === orig.recordRoutes.length, 'Record-Route changed');
    expect(fwd.contacts.length === orig.contacts.length, 'Contact changed');
  } catch (e) {
    problems.push(`forwarded message: ${(e as Error).message}`);
  }
  return problems;
}

/** Every problem found with one implementation over the whole corpus, as "<message>: <problem>". */
export function checkImplementation(impl: Implementation, corpus: readonly CorpusMessage[] = CORPUS): string[] {
  const problems: string[] = [];
  for (const c of corpus) {
    try {
      for (const p of checkForwarded(c, impl.forward(c.buf))) problems.push(`${c.name}: ${p}`);
    } catch (e) {
      problems.push(`${c.name}: forward threw: ${(e as Error).message}`);
    }
    try {
      const n = impl.fullParse(c.buf);
      if (!(n > 0)) problems.push(`${c.name}: fullParse read no headers`);
    } catch (e) {
      problems.push(`${c.name}: fullParse threw: ${(e as Error).message}`);
    }
  }
  return problems;
}
