import { H, headerIdFromName, CANONICAL_NAMES } from './header-names.js';
import { latin1, utf8 } from './bytes.js';

/**
 * One header line of a message. Fields parsed from the wire keep offsets into
 * the source buffer: their name and value strings are made only when read, and
 * an untouched field is written back byte for byte. Fields added or changed by
 * Trunkline carry their strings and no source.
 */
export class HeaderField {
  /** Known header id, H.Other for the rest. */
  readonly id: H;
  /** Source buffer, or null for a field made or changed here. */
  src: Buffer | null;
  /** Whole line in src, [lineStart, lineEnd) including its CRLF and any folded continuation lines. */
  readonly lineStart: number;
  readonly lineEnd: number;
  private readonly nameEnd: number;
  private readonly valueStart: number;
  private readonly valueEnd: number;
  /** The value spans continuation lines (RFC 3261 7.3.1 folding). */
  private readonly folded: boolean;
  private nameText: string | null;
  private valueText: string | null;

  constructor(
    id: H,
    src: Buffer | null,
    lineStart: number,
    lineEnd: number,
    nameEnd: number,
    valueStart: number,
    valueEnd: number,
    folded: boolean,
    name: string | null,
    value: string | null,
  ) {
    this.id = id;
    this.src = src;
    this.lineStart = lineStart;
    this.lineEnd = lineEnd;
    this.nameEnd = nameEnd;
    this.valueStart = valueStart;
    this.valueEnd = valueEnd;
    this.folded = folded;
    this.nameText = name;
    this.valueText = value;
  }

  /** A field made by Trunkline: written as "Name: value". */
  static create(name: string, value: string): HeaderField {
    const id = headerIdFromName(name);
    const written = id === H.Other ? name : CANONICAL_NAMES[id]!;
    return new HeaderField(id, null, -1, -1, -1, -1, -1, false, written, value);
  }

  /** The name as written on the wire ("v", "VIA", "Via"). */
  get name(): string {
    if (this.nameText === null) this.nameText = latin1(this.src!, this.lineStart, this.nameEnd);
    return this.nameText;
  }

  /** The value with folding replaced by single spaces, outer whitespace trimmed, UTF-8 decoded. */
  get value(): string {
    if (this.valueText === null) {
      const raw = utf8(this.src!, this.valueStart, this.valueEnd);
      this.valueText = this.folded ? unfold(raw) : raw;
    }
    return this.valueText;
  }

  /** True when the field will be written from its source bytes. */
  get pristine(): boolean {
    return this.src !== null;
  }

  /** Does this field carry the header called `name` (any case, long or compact)? */
  is(name: string, id: H): boolean {
    if (id !== H.Other) return this.id === id;
    return this.id === H.Other && this.name.toLowerCase() === name.toLowerCase();
  }
}

/** RFC 3261 7.3.1: a CRLF followed by whitespace is equivalent to one SP. */
function unfold(raw: string): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const c = raw.charCodeAt(i);
    if (c === 13 || c === 10) {
      // Swallow the line break and the whitespace around it, emit one space.
      while (out.length > 0 && (out.endsWith(' ') || out.endsWith('\t'))) out = out.slice(0, -1);
      i++;
      while (i < raw.length) {
        const d = raw.charCodeAt(i);
        if (d !== 13 && d !== 10 && d !== 32 && d !== 9) break;
        i++;
      }
      out += ' ';
      continue;
    }
    out += raw[i];
    i++;
  }
  return out;
}
