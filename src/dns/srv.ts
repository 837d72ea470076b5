/**
 * RFC 2782 "Usage rules": the order in which to try the records of one SRV
 * RRset.
 */

export interface SrvRecordLike {
  priority: number;
  weight: number;
}

/**
 * Orders SRV records for trying: ascending priority (a client MUST try lower
 * priorities first); within one priority, repeated weighted random selection
 * (RFC 2782, the algorithm under "Weight"): records of weight 0 are placed
 * first, a uniform random number between 0 and the sum of the remaining
 * weights (inclusive) is drawn, and the first record whose running sum is >=
 * that number is taken out and appended; repeat until none remain.
 *
 * Two refinements of the literal algorithm, both within its intent:
 * - With no weight-0 record left, the number is drawn from 1..sum, because a
 *   draw of 0 would always hit the first record and give it weight+1 chances
 *   in sum+1 instead of weight in sum. When weight-0 records are present, a
 *   draw of 0 picks one of them ("a very small chance of being selected").
 * - When every remaining weight is 0, the pick is uniform.
 *
 * `random` returns a float in [0, 1) like Math.random; inject a seeded one
 * for reproducible tests. The input array is not modified.
 */
export function orderSrv<T extends SrvRecordLike>(records: readonly T[], random: () => number = Math.random): T[] {
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
  const out: T[] = [];
  for (const p of priorities) {
    const group = records.filter((r) => r.priority === p);
    const pool = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight !== 0)];
    while (pool.length > 0) {
      const idx = pickIndex(pool, random);
      out.push(pool[idx]!);
      pool.splice(idx, 1);
    }
  }
  return out;
}

/** Index into pool (zero weights first) of the next record to take. */
function pickIndex(pool: readonly SrvRecordLike[], random: () => number): number {
  let sum = 0;
  let zeros = 0;
  for (const r of pool) {
    sum += r.weight;
    if (r.weight === 0) zeros++;
  }
  if (sum === 0) return draw(random, pool.length);
  const lo = zeros > 0 ? 0 : 1;
  const n = lo + draw(random, sum - lo + 1);
  if (n === 0) return draw(random, zeros);
  let running = 0;
  for (let i = 0; i < pool.length; i++) {
    running += pool[i]!.weight;
    if (running >= n) return i;
  }
  return pool.length - 1;
}

/** A uniform integer in [0, n). */
function draw(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}
