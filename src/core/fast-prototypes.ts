/**
 * Gives the prototypes of strings, numbers and the other primitives their
 * fast properties back once the server's modules are loaded.
 *
 * `class X extends String` (the redis client has one) makes V8 turn
 * String.prototype into a dictionary when it becomes X's prototype. Then
 * every `s.charCodeAt(i)` in optimized code is compiled as a call to the
 * generic LoadIC builtin instead of an inline character load: 14% of the
 * proxy's CPU per call when profiled (perf, bench/proxy). V8 makes a
 * dictionary prototype fast again when a property load misses on an object
 * whose chain reaches it, but a load on a primitive string never counts
 * (the receiver is not an object): a few misses on wrapper objects do.
 */

/** Misses per wrapper: V8 gives a function its feedback (and the misses their effect) after about 8 calls. */
const MISSES = 64;

/** A load of a property no prototype has; each call on a wrapper misses. */
function missOn(wrapper: object): unknown {
  return (wrapper as Record<string, unknown>)['__trunklineNoSuchProperty'];
}

export function restoreFastPrototypes(): void {
  const wrappers: object[] = [Object(''), Object(0), Object(false), Object(Symbol('x')), Object(0n)];
  for (const w of wrappers) for (let i = 0; i < MISSES; i++) missOn(w);
}
