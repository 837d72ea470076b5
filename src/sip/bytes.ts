/**
 * Fast slices of a Buffer into strings. Node's Buffer has latin1Slice/utf8Slice
 * (what toString uses after argument checks); calling them directly skips the
 * encoding lookup on the hot path. Offsets are always in range here.
 */
interface FastSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as FastSlices).latin1Slice(start, end);
}

export function utf8(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as FastSlices).utf8Slice(start, end);
}
