/**
 * The figures of one carrier or gateway over its last attempts (a rolling
 * window: the last N, none older than M minutes):
 *
 * - ASR (answer-seizure ratio): attempts answered / attempts, percent;
 * - NER (network effectiveness ratio, ITU-T E.425 and GSMA IR.42): attempts
 *   answered or ended by the user's side (busy 486/600, declined 603, no
 *   answer 480, cancelled 487) / attempts, percent: what the network did
 *   not lose;
 * - ACD (average call duration): of the answered calls, seconds;
 * - PDD (post-dial delay: RFC 6076's session request delay): from our
 *   INVITE to the first provisional other than 100, or the answer, ms;
 * - MOS: the mean of the answered calls' estimates (mos.ts).
 */

/** One attempt toward a carrier gateway, as it ended. */
export interface QualitySample {
  /** When it ended (ms since the epoch). */
  at: number;
  answered: boolean;
  /** Answered or ended by the user's side (counts for NER). */
  effective: boolean;
  /** Post-dial delay, ms; null when nothing rang or answered. */
  pddMs: number | null;
  /** An answered call's duration, ms. */
  durationMs: number | null;
  mos: number | null;
}

/** What the window says; each figure null when nothing in it measures it. */
export interface QualityFigures {
  attempts: number;
  answered: number;
  /** Percent, one decimal. */
  asr: number | null;
  ner: number | null;
  /** Seconds, one decimal. */
  acd: number | null;
  /** Milliseconds, whole. */
  pdd: number | null;
  /** Two decimals. */
  mos: number | null;
}

/** SIP statuses of an attempt the user's side ended (NER counts them as effective). */
const USER_ENDED = new Set([480, 486, 487, 600, 603]);

export function isEffective(status: number): boolean {
  return (status >= 200 && status < 300) || USER_ENDED.has(status);
}

const round = (x: number, places: number): number => Math.round(x * 10 ** places) / 10 ** places;

function mean(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length;
}

/** The figures of these samples. */
export function figuresOf(samples: readonly QualitySample[]): QualityFigures {
  const n = samples.length;
  const answered = samples.filter((s) => s.answered);
  const effective = samples.filter((s) => s.effective).length;
  const pdd = mean(samples.flatMap((s) => (s.pddMs === null ? [] : [s.pddMs])));
  const acd = mean(answered.flatMap((s) => (s.durationMs === null ? [] : [s.durationMs / 1000])));
  const mos = mean(answered.flatMap((s) => (s.mos === null ? [] : [s.mos])));
  return {
    attempts: n,
    answered: answered.length,
    asr: n === 0 ? null : round((100 * answered.length) / n, 1),
    ner: n === 0 ? null : round((100 * effective) / n, 1),
    acd: acd === null ? null : round(acd, 1),
    pdd: pdd === null ? null : Math.round(pdd),
    mos: mos === null ? null : round(mos, 2),
  };
}

/** The last `size` samples of one carrier or gateway (oldest dropped first). */
export class QualityWindow {
  private samples: QualitySample[] = [];

  constructor(private size: number) {}

  resize(size: number): void {
    this.size = size;
    if (this.samples.length > size) this.samples = this.samples.slice(-size);
  }

  add(s: QualitySample): void {
    this.samples.push(s);
    if (this.samples.length > this.size) this.samples.splice(0, this.samples.length - this.size);
  }

  /** The samples that ended at or after `since` (ms). */
  since(since: number): QualitySample[] {
    return since <= 0 ? [...this.samples] : this.samples.filter((s) => s.at >= since);
  }

  get length(): number {
    return this.samples.length;
  }
}
