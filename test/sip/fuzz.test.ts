import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parseMessage } from '../../src/sip/parser.js';
import { validateMessage } from '../../src/sip/validate.js';
import { serialize } from '../../src/sip/serializer.js';
import { SipSyntaxError } from '../../src/sip/errors.js';
import { ALL } from './fixtures.js';
import { prng } from '../helpers/prng.js';
import { RFC4475_DIR } from '../helpers/rfc4475.js';

const DIR = RFC4475_DIR;
const SEEDS: Buffer[] = [
  ...ALL.map(([, b]) => b),
  ...readdirSync(DIR)
    .filter((f) => f.endsWith('.dat'))
    .map((f) => readFileSync(new URL(f, DIR))),
];
const INTERESTING = [
  ':',
  ';',
  ',',
  '<',
  '>',
  '"',
  '\\',
  '\r\n',
  '\r\n ',
  ' ',
  '\t',
  '=',
  '%',
  '[',
  ']',
  '@',
  '\0',
  '\xff',
  'SIP/2.0',
  'z9hG4bK',
  '999999999999',
  '-1',
];

function mutate(src: Buffer, rnd: () => number): Buffer {
  const buf = Buffer.from(src);
  const ops = 1 + Math.floor(rnd() * 4);
  let out = buf;
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rnd() * out.length);
    const choice = rnd();
    if (choice < 0.3) {
      out[at] = Math.floor(rnd() * 256);
    } else if (choice < 0.55) {
      const ins = Buffer.from(INTERESTING[Math.floor(rnd() * INTERESTING.length)]!, 'latin1');
      out = Buffer.concat([out.subarray(0, at), ins, out.subarray(at)]);
    } else if (choice < 0.8) {
      const len = Math.floor(rnd() * 12);
      out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + len))]);
    } else if (choice < 0.9) {
      // Duplicate a slice (repeated headers, doubled separators).
      const len = Math.floor(rnd() * 40);
      out = Buffer.concat([out.subarray(0, at + len), out.subarray(at, at + len), out.subarray(at + len)]);
    } else {
      out = out.subarray(0, at);
    }
  }
  return out;
}

/**
 * Every mutation either parses (and then validates to a verdict, serializes,
 * and re-parses) or is rejected with a SipSyntaxError: nothing else escapes,
 * nothing hangs. Bounded: a fixed count, and a time guard.
 */
test('fuzz: 30,000 seeded mutations parse or reject cleanly', () => {
  const rnd = prng(0x7275_6e6b);
  const deadline = Date.now() + 20_000;
  let parsed = 0;
  let rejected = 0;
  for (let i = 0; i < 30_000 && Date.now() < deadline; i++) {
    const input = mutate(SEEDS[i % SEEDS.length]!, rnd);
    const r = parseMessage(input);
    if (!r.ok) {
      assert.ok(r.error instanceof SipSyntaxError);
      assert.ok(!r.error.message.startsWith('parser fault'), `parser fault on input #${i}: ${r.error.message}`);
      rejected++;
      continue;
    }
    parsed++;
    const fault = validateMessage(r.message);
    assert.ok(fault === null || fault instanceof SipSyntaxError);
    // Touch every header through the generic accessors too.
    for (const f of r.message.fields) void f.value;
    const again = parseMessage(serialize(r.message));
    assert.ok(again.ok, `re-parse of serialized input #${i} failed: ${again.ok ? '' : again.error.message}`);
  }
  assert.ok(parsed > 1000, `only ${parsed} parsed`);
  assert.ok(rejected > 1000, `only ${rejected} rejected`);
});

test('fuzz: random bytes never throw', () => {
  const rnd = prng(42);
  for (let i = 0; i < 5000; i++) {
    const len = Math.floor(rnd() * 600);
    const buf = Buffer.alloc(len);
    for (let j = 0; j < len; j++) buf[j] = Math.floor(rnd() * 256);
    const r = parseMessage(buf);
    if (r.ok) void validateMessage(r.message);
  }
});
