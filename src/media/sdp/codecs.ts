/**
 * Codec lists of one m= section: names of payload types (a=rtpmap, or the
 * static table of RFC 3551 6), restriction and reordering by a trunk's list,
 * and the check of an answer against the offer (RFC 3264 6.1: the answer's
 * formats are a subset of the offer's).
 */
import type { MediaDescription } from 'sdp-transform';
import { notAcceptable, WARN } from '../errors.js';

/** RFC 3551 table 4: static audio payload types likely on a trunk. */
const STATIC: Readonly<Record<number, { name: string; rate: number }>> = {
  0: { name: 'PCMU', rate: 8000 },
  3: { name: 'GSM', rate: 8000 },
  4: { name: 'G723', rate: 8000 },
  8: { name: 'PCMA', rate: 8000 },
  9: { name: 'G722', rate: 8000 },
  13: { name: 'CN', rate: 8000 },
  18: { name: 'G729', rate: 8000 },
};

/**
 * Encoding names a trunk's or carrier's codec list may name (RFC 3551 table 4
 * and the registered audio encodings of the IANA RTP payload format registry a
 * trunk may carry), in their usual spelling. The relay forwards any payload
 * and never transcodes: a name outside this list is a typo (`PCMX`), which
 * would silently restrict every call to no codec at all.
 */
export const KNOWN_CODECS: readonly string[] = [
  'PCMU',
  'PCMA',
  'G722',
  'G729',
  'G729D',
  'G729E',
  'G723',
  'G728',
  'GSM',
  'GSM-EFR',
  'GSM-HR-08',
  'G726-16',
  'G726-24',
  'G726-32',
  'G726-40',
  'AAL2-G726-32',
  'G7221',
  'G7291',
  'DVI4',
  'L8',
  'L16',
  'L24',
  'LPC',
  'QCELP',
  'MPA',
  'iLBC',
  'opus',
  'speex',
  'SILK',
  'AMR',
  'AMR-WB',
  'EVS',
  'BV16',
  'BV32',
  'telephone-event',
  'CN',
  'red',
  'ulpfec',
  'rtx',
];

const KNOWN_BY_UPPER = new Map(KNOWN_CODECS.map((n) => [n.toUpperCase(), n]));

/** The usual spelling of a codec name (any case), or null when it is not one of KNOWN_CODECS. */
export function knownCodecName(name: string): string | null {
  return KNOWN_BY_UPPER.get(name.toUpperCase()) ?? null;
}

/** Formats that carry no voice: an offer left with only these has no common codec. */
const AUXILIARY = new Set(['TELEPHONE-EVENT', 'CN', 'RED', 'ULPFEC', 'RTX', 'FLEXFEC-03']);

export interface Codec {
  pt: number;
  /** Encoding name as written (case kept). */
  name: string;
  rate: number;
}

/** Payload type numbers of the m= line, in order (non-numeric formats, e.g. for udptl, are skipped). */
export function payloadTypes(m: MediaDescription): number[] {
  const out: number[] = [];
  for (const f of String(m.payloads ?? '')
    .trim()
    .split(/\s+/)) {
    if (/^\d{1,3}$/.test(f)) out.push(Number(f));
  }
  return out;
}

export function codecsOf(m: MediaDescription): Codec[] {
  const maps = new Map<number, { codec: string; rate?: number }>();
  for (const r of m.rtp ?? []) maps.set(r.payload, r);
  return payloadTypes(m).map((pt) => {
    const r = maps.get(pt);
    // A malformed a=rtpmap can parse with a missing or numeric codec name.
    if (r !== undefined && r.codec !== undefined && r.codec !== null)
      return { pt, name: String(r.codec), rate: Number(r.rate) || 8000 };
    const s = STATIC[pt];
    return { pt, name: s?.name ?? `PT${pt}`, rate: s?.rate ?? 8000 };
  });
}

/** Keeps only the given payload types, in the given order, with their rtpmap/fmtp/rtcp-fb lines. */
function keepPayloads(m: MediaDescription, pts: number[]): void {
  const keep = new Set(pts);
  m.payloads = pts.join(' ');
  if (m.rtp) m.rtp = m.rtp.filter((r) => keep.has(r.payload));
  if (m.fmtp) m.fmtp = m.fmtp.filter((f) => keep.has(f.payload));
  if (m.rtcpFb) m.rtcpFb = m.rtcpFb.filter((f) => f.payload === '*' || keep.has(Number(f.payload)));
}

const isVoice = (c: Codec): boolean => !AUXILIARY.has(c.name.toUpperCase());

/**
 * Restricts and orders the section's codecs to `allowed` (names, case-insensitive,
 * in preference order; [] keeps the offer as is); voice codecs come before
 * telephone-event/CN whatever the list's order. Throws 488/305 when no voice codec remains.
 */
export function restrictCodecs(m: MediaDescription, allowed: readonly string[]): Codec[] {
  const codecs = codecsOf(m);
  if (allowed.length === 0 || m.type !== 'audio') return codecs;
  const rank = new Map<string, number>();
  allowed.forEach((n, i) => {
    const k = n.toUpperCase();
    if (!rank.has(k)) rank.set(k, i);
  });
  const kept = codecs
    .map((c, i) => ({ c, i, r: rank.get(c.name.toUpperCase()) }))
    .filter((x): x is { c: Codec; i: number; r: number } => x.r !== undefined)
    // Voice codecs first (the first format is the one to send), auxiliary ones (DTMF, CN) after.
    .sort((x, y) => Number(!isVoice(x.c)) - Number(!isVoice(y.c)) || x.r - y.r || x.i - y.i)
    .map((x) => x.c);
  if (!kept.some(isVoice)) {
    throw notAcceptable(
      WARN.format,
      `no common codec (offered ${codecs.map((c) => c.name).join(',') || 'none'}, allowed ${allowed.join(',')})`,
    );
  }
  keepPayloads(
    m,
    kept.map((c) => c.pt),
  );
  return kept;
}

/** What checkAnswerCodecs() found beyond a plain subset of the offer. */
export interface AnswerCodecs {
  /** The answer's formats as kept. */
  codecs: Codec[];
  /** Formats not offered to the answerer that the other leg offered (same payload type and name): relayed as they are. */
  relayed: Codec[];
  /** Auxiliary formats (telephone-event, CN...) no leg offered: taken out of the answer. */
  dropped: Codec[];
}

/** The codec is in the list: the same payload type with the same name, or (`dynamic`) a dynamic one of the same name. */
function listed(c: Codec, list: readonly Codec[], dynamic: boolean): boolean {
  const name = c.name.toUpperCase();
  return list.some((o) => o.name.toUpperCase() === name && (o.pt === c.pt || (dynamic && c.pt >= 96)));
}

/**
 * RFC 3264 6.1: every format of the answer must be one the offer listed (same
 * payload type, or a dynamic one of the same encoding). A B2BUA can be more
 * tolerant, since it relays the payload and never transcodes: a format the
 * offer to this leg left out (a trunk's codec list) that the other leg
 * offered with the same payload type (`otherOffered`) can still be carried,
 * so it is relayed (and listed for a warning) rather than losing an answered
 * call to 488. An auxiliary format no leg offered (an extra telephone-event)
 * is taken out of `answer` (changed in place). A voice format no leg offered
 * cannot be carried: 488/305, as is an accepted audio stream left without a
 * voice codec.
 */
export function checkAnswerCodecs(
  answer: MediaDescription,
  offered: readonly Codec[],
  otherOffered: readonly Codec[] = [],
): AnswerCodecs {
  const got = codecsOf(answer);
  const kept: Codec[] = [];
  const relayed: Codec[] = [];
  const dropped: Codec[] = [];
  for (const c of got) {
    if (listed(c, offered, true)) kept.push(c);
    else if (listed(c, otherOffered, false)) {
      kept.push(c);
      relayed.push(c);
    } else if (!isVoice(c)) dropped.push(c);
    else throw notAcceptable(WARN.format, `answer has codec ${c.name}/${c.pt} that was not offered`);
  }
  if (answer.type === 'audio' && got.length > 0 && !kept.some(isVoice)) {
    throw notAcceptable(WARN.format, 'answer has no voice codec');
  }
  if (dropped.length > 0)
    keepPayloads(
      answer,
      kept.map((c) => c.pt),
    );
  return { codecs: kept, relayed, dropped };
}

/** Codecs as `PCMU/0,telephone-event/101`, for logs. */
export function codecList(codecs: readonly Codec[]): string {
  return codecs.map((c) => `${c.name}/${c.pt}`).join(',');
}

/** Payload types named telephone-event (RFC 4733) in a codec list. */
export function telephoneEventPts(codecs: readonly Codec[]): number[] {
  return codecs.filter((c) => c.name.toLowerCase() === 'telephone-event').map((c) => c.pt);
}
