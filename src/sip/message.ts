import { H, headerIdFromName, isListHeader } from './header-names.js';
import { HeaderField } from './header-field.js';
import { SipSyntaxError } from './errors.js';
import { parseVia, parseViaList, type Via } from './via.js';
import { firstListElement, nameAddrParam } from './fast-scan.js';
import { parseNameAddr, parseNameAddrList, splitHeaderList, type NameAddr } from './name-addr.js';
import { parseDecimal } from './chars.js';
import { parseCSeq, type CSeq } from './cseq.js';
import { parseUri, type Uri } from './uri.js';

/**
 * A SIP request or response (RFC 3261 section 7). Headers are parsed lazily:
 * the parser records where each line is, and a typed accessor parses a value
 * the first time it is read and caches it. Changes a proxy makes (a Via or
 * Record-Route on top, Max-Forwards decremented, a Route removed) are recorded
 * on the field list; serialize() writes untouched lines from the source bytes.
 *
 * Typed accessors throw SipSyntaxError on a malformed value.
 */
export class SipMessage {
  readonly isRequest: boolean;
  /** Request method as written (case-sensitive, RFC 3261 7.1); '' for responses. */
  readonly method: string;
  /** Status code; 0 for requests. */
  readonly status: number;
  /** Reason phrase; '' for requests. */
  readonly reason: string;
  /** Header fields in wire order. */
  readonly fields: HeaderField[];
  /** Body bytes (may be empty); a view into the source buffer until replaced. */
  body: Buffer;
  /** Source bytes of the start line, [0, startLineEnd) includes its CRLF; null when rebuilt. */
  private src: Buffer | null;
  private startLineEnd: number;
  private requestUriText: string;
  /** Content-Length as received; null when the header was absent. */
  readonly receivedContentLength: number | null;
  private bodyChanged = false;

  // Caches of parsed values; reset when the header they come from changes.
  private viaCache: Via[] | null = null;
  private topViaCache: Via | null = null;
  private fromCache: NameAddr | null = null;
  private toCache: NameAddr | null = null;
  private cseqCache: CSeq | null = null;
  private requestUriCache: Uri | null = null;

  constructor(init: {
    isRequest: boolean;
    method: string;
    requestUri: string;
    status: number;
    reason: string;
    fields: HeaderField[];
    body: Buffer;
    src: Buffer | null;
    startLineEnd: number;
    contentLength: number | null;
  }) {
    this.isRequest = init.isRequest;
    this.method = init.method;
    this.requestUriText = init.requestUri;
    this.status = init.status;
    this.reason = init.reason;
    this.fields = init.fields;
    this.body = init.body;
    this.src = init.src;
    this.startLineEnd = init.startLineEnd;
    this.receivedContentLength = init.contentLength;
  }

  /**
   * A copy to change independently (one per forwarded branch): a new field
   * list over the same immutable field objects and source bytes, so nothing
   * is re-parsed or copied but the list itself.
   */
  clone(): SipMessage {
    const copy = new SipMessage({
      isRequest: this.isRequest,
      method: this.method,
      requestUri: this.requestUriText,
      status: this.status,
      reason: this.reason,
      fields: this.fields.slice(),
      body: this.body,
      src: this.src,
      startLineEnd: this.startLineEnd,
      contentLength: this.receivedContentLength,
    });
    copy.bodyChanged = this.bodyChanged;
    copy.requestUriCache = this.requestUriCache;
    return copy;
  }

  // ---- start line -------------------------------------------------------

  /** Request-URI as written; '' for responses. */
  get requestUri(): string {
    return this.requestUriText;
  }

  /** Replaces the Request-URI (retargeting, strict-route handling: RFC 3261 16.5, 16.6). */
  set requestUri(uri: string) {
    this.requestUriText = uri;
    this.requestUriCache = null;
    this.src = null;
  }

  /**
   * The Request-URI parsed, once per message (validation, route
   * preprocessing and next-hop choice all read it); throws SipSyntaxError.
   * Shared by every reader: treat it as read-only.
   */
  get requestUriParsed(): Uri {
    if (this.requestUriCache === null) this.requestUriCache = parseUri(this.requestUriText);
    return this.requestUriCache;
  }

  /** The start line without CRLF. */
  get startLine(): string {
    return this.isRequest ? `${this.method} ${this.requestUriText} SIP/2.0` : `SIP/2.0 ${this.status} ${this.reason}`;
  }

  /** True when the start line is written from source bytes. */
  get startLinePristine(): boolean {
    return this.src !== null;
  }

  /** Source bytes of the start line including CRLF (only when pristine). */
  startLineBytes(): Buffer | null {
    return this.src === null ? null : this.src.subarray(0, this.startLineEnd);
  }

  // ---- generic header access ---------------------------------------------

  /** First field with this name, or undefined. */
  field(name: string): HeaderField | undefined {
    return this.fieldById(headerIdFromName(name), name);
  }

  private fieldById(id: H, name = ''): HeaderField | undefined {
    const fields = this.fields;
    if (id !== H.Other) {
      for (let i = 0; i < fields.length; i++) if (fields[i]!.id === id) return fields[i];
      return undefined;
    }
    for (let i = 0; i < fields.length; i++) if (fields[i]!.is(name, id)) return fields[i];
    return undefined;
  }

  /** First value of a header (the whole line's value), or undefined. */
  get(name: string): string | undefined {
    return this.field(name)?.value;
  }

  /** Whether a header is present. */
  has(name: string): boolean {
    return this.field(name) !== undefined;
  }

  /**
   * Every value of a header in order: repeated lines, and for list headers
   * (Via, Contact, Route, ...) each comma-separated element (RFC 3261 7.3.1).
   */
  getAll(name: string): string[] {
    const id = headerIdFromName(name);
    const out: string[] = [];
    for (const f of this.fields) {
      if (!f.is(name, id)) continue;
      if (isListHeader(id)) out.push(...splitHeaderList(f.value));
      else out.push(f.value);
    }
    return out;
  }

  /** Number of fields (lines) of a header. */
  count(name: string): number {
    const id = headerIdFromName(name);
    let n = 0;
    for (const f of this.fields) if (f.is(name, id)) n++;
    return n;
  }

  // ---- typed accessors ----------------------------------------------------

  /** Call-ID (RFC 3261 20.8). */
  get callId(): string {
    const f = this.fieldById(H.CallId);
    if (f === undefined) throw new SipSyntaxError('Call-ID', 'missing');
    const v = f.value;
    if (v.length === 0 || v.includes(' ')) throw new SipSyntaxError('Call-ID', 'malformed');
    return v;
  }

  /** CSeq (RFC 3261 20.16). */
  get cseq(): CSeq {
    if (this.cseqCache === null) {
      const f = this.fieldById(H.CSeq);
      if (f === undefined) throw new SipSyntaxError('CSeq', 'missing');
      this.cseqCache = parseCSeq(f.value);
    }
    return this.cseqCache;
  }

  /** All Via values, top first. */
  get vias(): Via[] {
    if (this.viaCache === null) {
      const out: Via[] = [];
      for (const f of this.fields) {
        if (f.id !== H.Via) continue;
        // The top Via, parsed already when it was read alone (transaction matching), is not parsed twice.
        if (out.length === 0 && this.topViaCache !== null && f.value.indexOf(',') < 0) {
          out.push(this.topViaCache);
          continue;
        }
        const list = parseViaList(f.value);
        if (out.length === 0 && this.topViaCache !== null) list[0] = this.topViaCache;
        out.push(...list);
      }
      this.viaCache = out;
    }
    return this.viaCache;
  }

  /** The top Via (RFC 3261 8.1.1.7, 17.2.3 transaction key); parses only the first value. */
  get topVia(): Via {
    if (this.viaCache !== null) {
      const v = this.viaCache[0];
      if (v === undefined) throw new SipSyntaxError('Via', 'missing');
      return v;
    }
    if (this.topViaCache === null) {
      const f = this.fieldById(H.Via);
      if (f === undefined) throw new SipSyntaxError('Via', 'missing');
      this.topViaCache = parseVia(firstListElement(f.value));
    }
    return this.topViaCache;
  }

  get from(): NameAddr {
    if (this.fromCache === null) this.fromCache = this.parseSingleNameAddr(H.From, 'From');
    return this.fromCache;
  }

  get to(): NameAddr {
    if (this.toCache === null) this.toCache = this.parseSingleNameAddr(H.To, 'To');
    return this.toCache;
  }

  /** From tag, found by a scan when From was not parsed in full. */
  get fromTag(): string | null {
    if (this.fromCache !== null) return tagOf(this.fromCache);
    return this.scanTag(H.From, 'From');
  }

  /** To tag, found by a scan when To was not parsed in full. */
  get toTag(): string | null {
    if (this.toCache !== null) return tagOf(this.toCache);
    return this.scanTag(H.To, 'To');
  }

  private scanTag(id: H, name: string): string | null {
    const f = this.fieldById(id);
    if (f === undefined) throw new SipSyntaxError(name, 'missing');
    const tag = nameAddrParam(f.value, 'tag');
    return tag === null || tag.length === 0 ? null : tag;
  }

  /** Max-Forwards (RFC 3261 20.22), or null when absent. */
  get maxForwards(): number | null {
    const f = this.fieldById(H.MaxForwards);
    if (f === undefined) return null;
    const n = parseDecimal(f.value, 10);
    if (n < 0 || n > 255) throw new SipSyntaxError('Max-Forwards', 'not a number 0-255');
    return n;
  }

  /** Expires header (RFC 3261 20.19) as seconds, or null when absent. */
  get expires(): number | null {
    const f = this.fieldById(H.Expires);
    if (f === undefined) return null;
    const n = parseDecimal(f.value, 10);
    if (n < 0 || n > 0xffffffff) throw new SipSyntaxError('Expires', 'not a delta-seconds');
    return n;
  }

  /** True for `Contact: *` (RFC 3261 10.2.2 remove all bindings). */
  get contactIsStar(): boolean {
    const f = this.fieldById(H.Contact);
    return f !== undefined && f.value === '*';
  }

  /** Contact values (empty when absent or `*`). */
  get contacts(): NameAddr[] {
    return this.nameAddrList(H.Contact, 'Contact', true);
  }

  /** The first Route value only (what loose routing looks at, RFC 3261 16.4), or null. */
  get topRoute(): NameAddr | null {
    const f = this.fieldById(H.Route);
    if (f === undefined) return null;
    return parseNameAddr(firstListElement(f.value), 'Route');
  }

  get routes(): NameAddr[] {
    return this.nameAddrList(H.Route, 'Route', false);
  }

  get recordRoutes(): NameAddr[] {
    return this.nameAddrList(H.RecordRoute, 'Record-Route', false);
  }

  /** Option tags of Require / Proxy-Require / Supported / Unsupported (RFC 3261 20.29, 20.32, 20.37). */
  optionTags(name: 'Require' | 'Proxy-Require' | 'Supported' | 'Unsupported'): string[] {
    return this.getAll(name).filter((t) => t.length > 0);
  }

  /** Content-Type media type in lower case without parameters, or null. */
  get contentType(): string | null {
    const f = this.fieldById(H.ContentType);
    if (f === undefined) return null;
    const v = f.value;
    const semi = v.indexOf(';');
    return (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
  }

  private parseSingleNameAddr(id: H, name: string): NameAddr {
    const f = this.fieldById(id);
    if (f === undefined) throw new SipSyntaxError(name, 'missing');
    return parseNameAddr(f.value, name);
  }

  private nameAddrList(id: H, name: string, allowStar: boolean): NameAddr[] {
    const out: NameAddr[] = [];
    for (const f of this.fields) {
      if (f.id !== id) continue;
      if (allowStar && f.value === '*') continue;
      out.push(...parseNameAddrList(f.value, name));
    }
    return out;
  }

  // ---- changes -------------------------------------------------------------

  /**
   * Adds a header above the first field of the same name, or at the top of
   * the header section when there is none (Via: RFC 3261 16.6 step 8;
   * Record-Route: 16.6 step 4).
   */
  prependHeader(name: string, value: string): void {
    const field = HeaderField.create(name, value);
    let at = 0;
    for (let i = 0; i < this.fields.length; i++) {
      if (this.fields[i]!.is(name, field.id)) {
        at = i;
        break;
      }
    }
    this.fields.splice(at, 0, field);
    this.invalidate(field.id);
  }

  /** Adds a header after every existing field. */
  appendHeader(name: string, value: string): void {
    const field = HeaderField.create(name, value);
    this.fields.push(field);
    this.invalidate(field.id);
  }

  /** Sets the first field of a header to a new value (or appends it), removing any later ones. */
  setHeader(name: string, value: string): void {
    const id = headerIdFromName(name);
    const idx = this.fields.findIndex((f) => f.is(name, id));
    if (idx < 0) {
      this.appendHeader(name, value);
      return;
    }
    this.fields[idx] = HeaderField.create(name, value);
    for (let i = this.fields.length - 1; i > idx; i--) if (this.fields[i]!.is(name, id)) this.fields.splice(i, 1);
    this.invalidate(id);
  }

  /** Removes every field of a header; returns how many lines went. */
  removeHeader(name: string): number {
    const id = headerIdFromName(name);
    let removed = 0;
    for (let i = this.fields.length - 1; i >= 0; i--) {
      if (this.fields[i]!.is(name, id)) {
        this.fields.splice(i, 1);
        removed++;
      }
    }
    if (removed > 0) this.invalidate(id);
    return removed;
  }

  /**
   * Removes the first value of a list header (the top Via of a response,
   * RFC 3261 16.7 step 3; the top Route, 16.4). A line holding several
   * comma-separated values keeps the rest. Returns the removed value.
   */
  removeFirstValue(name: string): string | undefined {
    const id = headerIdFromName(name);
    const idx = this.fields.findIndex((f) => f.is(name, id));
    if (idx < 0) return undefined;
    const f = this.fields[idx]!;
    const value = f.value;
    if (value.indexOf(',') < 0) {
      // One value on the line (the common case): drop the line.
      this.fields.splice(idx, 1);
      this.invalidate(id);
      return value;
    }
    const values = splitHeaderList(value);
    const first = values.shift();
    if (values.length === 0) this.fields.splice(idx, 1);
    else this.fields[idx] = HeaderField.create(f.name, values.join(', '));
    this.invalidate(id);
    return first;
  }

  /**
   * Replaces the first value of a list header, keeping the rest of its line
   * (the top Via gets received/rport this way, RFC 3581 4).
   */
  setFirstValue(name: string, value: string): void {
    const id = headerIdFromName(name);
    const idx = this.fields.findIndex((f) => f.is(name, id));
    if (idx < 0) {
      this.prependHeader(name, value);
      return;
    }
    const f = this.fields[idx]!;
    const old = f.value;
    if (old.indexOf(',') < 0) {
      // One value on the line (the common case): no list to split and join.
      this.fields[idx] = HeaderField.create(f.name, value);
    } else {
      const values = splitHeaderList(old);
      values[0] = value;
      this.fields[idx] = HeaderField.create(f.name, values.join(', '));
    }
    this.invalidate(id);
  }

  /** Replaces the body and its Content-Type; Content-Length is written to match. */
  setBody(body: Buffer, contentType?: string): void {
    this.body = body;
    this.bodyChanged = true;
    if (contentType !== undefined) this.setHeader('Content-Type', contentType);
    else if (body.length === 0) this.removeHeader('Content-Type');
    this.setHeader('Content-Length', String(body.length));
  }

  /** Whether setBody() was called. */
  get bodyReplaced(): boolean {
    return this.bodyChanged;
  }

  private invalidate(id: H): void {
    switch (id) {
      case H.Via:
        this.viaCache = null;
        this.topViaCache = null;
        break;
      case H.From:
        this.fromCache = null;
        break;
      case H.To:
        this.toCache = null;
        break;
      case H.CSeq:
        this.cseqCache = null;
        break;
      default:
        break;
    }
  }
}

function tagOf(n: NameAddr): string | null {
  const t = n.params.get('tag');
  return typeof t === 'string' && t.length > 0 ? t : null;
}
