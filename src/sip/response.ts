import { randomBytes } from 'node:crypto';
import { SipMessage } from './message.js';
import { HeaderField } from './header-field.js';
import { H } from './header-names.js';
import { reasonPhrase } from './status.js';

export interface ResponseOptions {
  /** Reason phrase; the RFC 3261 21 default for the code when omitted. */
  reason?: string;
  /** To tag to add when the request's To has none (RFC 3261 8.2.6.2). Generated for final responses when omitted. */
  toTag?: string;
  /** Extra headers, written after the copied ones. */
  headers?: Array<[string, string]>;
  body?: Buffer;
  contentType?: string;
}

/**
 * Builds a response to a request (RFC 3261 8.2.6): Via (all, in order),
 * From, Call-ID and CSeq copied unchanged (the original field objects, so they
 * are written from the request's bytes), To copied with a tag added when it
 * has none and the response is not a 100.
 */
export function createResponse(req: SipMessage, status: number, opts: ResponseOptions = {}): SipMessage {
  const fields: HeaderField[] = [];
  for (const f of req.fields) {
    if (f.id === H.Via || f.id === H.From || f.id === H.CallId || f.id === H.CSeq) fields.push(f);
    else if (f.id === H.To) fields.push(withToTag(f, status, opts.toTag));
  }
  for (const [name, value] of opts.headers ?? []) fields.push(HeaderField.create(name, value));
  const body = opts.body ?? Buffer.alloc(0);
  if (opts.contentType !== undefined && body.length > 0)
    fields.push(HeaderField.create('Content-Type', opts.contentType));
  fields.push(HeaderField.create('Content-Length', String(body.length)));
  return new SipMessage({
    isRequest: false,
    method: '',
    requestUri: '',
    status,
    reason: sanitizeReason(opts.reason ?? reasonPhrase(status)),
    fields,
    body,
    src: null,
    startLineEnd: 0,
    contentLength: body.length,
  });
}

function withToTag(to: HeaderField, status: number, tag: string | undefined): HeaderField {
  if (status === 100) return to;
  if (hasTagParam(to.value)) return to;
  return HeaderField.create('To', `${to.value};tag=${tag ?? newTag()}`);
}

/** Whether a To/From value carries a tag parameter outside its <URI>. */
function hasTagParam(value: string): boolean {
  const close = value.lastIndexOf('>');
  const params = close >= 0 ? value.slice(close + 1) : value;
  return /;\s*tag\s*=/i.test(params);
}

/** A random tag (RFC 3261 19.3: at least 32 bits of randomness). */
export function newTag(): string {
  return randomBytes(6).toString('hex');
}

/** A reason phrase that cannot break the status line. */
function sanitizeReason(reason: string): string {
  return reason.replace(/[\r\n]+/g, ' ');
}
