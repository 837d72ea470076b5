/**
 * SIP messages in and out, by method (requests), status class (responses)
 * and transport, counted from the transport tap at the cost of a few byte
 * reads and one array increment per message: the method is known from its
 * first letter and length (no string is made), the status class from the
 * byte after `SIP/2.0 `. Read into prom-client only at scrape time.
 */
import type { Flow, TransportProto } from '../transport/types.js';

export const METHODS = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'INFO',
  'REFER',
  'MESSAGE',
  'UPDATE',
  'other',
] as const;
const OTHER = METHODS.length - 1;
/** Response slots: 1xx..6xx, and one for anything else. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', '6xx', 'other'] as const;
export const PROTOS: readonly TransportProto[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];
const PROTO_INDEX: Record<TransportProto, number> = { udp: 0, tcp: 1, tls: 2, ws: 3, wss: 4 };

const KINDS = METHODS.length + STATUS_CLASSES.length;
const PER_DIR = PROTOS.length * KINDS;

/** (first byte << 5 | length) -> method index. Distinct for every method above. */
const BY_SHAPE = new Map<number, number>();
for (let i = 0; i < OTHER; i++) {
  const m = METHODS[i]!;
  BY_SHAPE.set((m.charCodeAt(0) << 5) | m.length, i);
}

const SIP_SLASH = 0x53; // 'S' of "SIP/2.0 "

export class SipMessageCounts {
  /** [direction][proto][kind], flattened. */
  readonly counts = new Float64Array(2 * PER_DIR);

  /** One message seen by the transport tap. */
  observe(dir: 'in' | 'out', data: Buffer, flow: Flow): void {
    const n = data.length;
    if (n < 8) return; // keep-alives
    const base = (dir === 'in' ? 0 : PER_DIR) + PROTO_INDEX[flow.proto] * KINDS;
    if (data[0] === SIP_SLASH && data[3] === 0x2f /* / */ && n > 9) {
      const c = data[8]! - 0x30;
      this.counts[base + METHODS.length + (c >= 1 && c <= 6 ? c - 1 : STATUS_CLASSES.length - 1)]!++;
      return;
    }
    let sp = 1;
    while (sp < 17 && sp < n && data[sp] !== 0x20) sp++;
    const idx = BY_SHAPE.get((data[0]! << 5) | sp) ?? OTHER;
    this.counts[base + idx]!++;
  }

  /** Every non-zero count with its labels. */
  *entries(): Generator<{
    direction: 'in' | 'out';
    transport: TransportProto;
    method?: string;
    statusClass?: string;
    value: number;
  }> {
    for (let d = 0; d < 2; d++) {
      for (let p = 0; p < PROTOS.length; p++) {
        for (let k = 0; k < KINDS; k++) {
          const value = this.counts[d * PER_DIR + p * KINDS + k]!;
          if (value === 0) continue;
          const direction = d === 0 ? 'in' : 'out';
          const transport = PROTOS[p]!;
          if (k < METHODS.length) yield { direction, transport, method: METHODS[k]!, value };
          else yield { direction, transport, statusClass: STATUS_CLASSES[k - METHODS.length]!, value };
        }
      }
    }
  }
}
