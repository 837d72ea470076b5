/**
 * Dialled numbers to E.164 (src/trunking/e164.ts): the forms a PBX sends,
 * the garbage it must not get through, and the carrier's number format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NumberError, formatForCarrier, normalizeNumber, tryNormalizeNumber } from '../../src/trunking/e164.js';

const GOOD: [input: string, expected: string, cc?: string][] = [
  ['+912240001234', '+912240001234'],
  ['+91 22 4000-1234', '+912240001234'],
  ['+91(22)4000.1234', '+912240001234'],
  ['00912240001234', '+912240001234'],
  ['0091 22 4000 1234', '+912240001234'],
  ['14155550100', '+14155550100'],
  ['1-415-555-0100', '+14155550100'],
  ['02240001234', '+912240001234', '91'],
  ['00 44 20 7946 0000', '+442079460000', '91'],
  ['+14155550100', '+14155550100', '91'],
  ['tel:+1-415-555-0100', '+14155550100'],
  ['tel:+14155550100;ext=12', '+14155550100'],
  ['sip:+14155550100@carrier.example;user=phone', '+14155550100'],
  ['sips:00442079460000@example.org', '+442079460000'],
  ['sip:%2B14155550100@example.org', '+14155550100'],
  ['sip:+14155550100;isub=1@example.org', '+14155550100'],
  ['SIP:+14155550100@example.org', '+14155550100'],
  ['+123456789012345', '+123456789012345'],
  ['  +14155550100 ', '+14155550100'],
];

const BAD: [input: string, reason: RegExp, cc?: string][] = [
  ['', /expected a number/],
  ['+', /no digits/],
  ['abc', /not a phone number/],
  ['+1415555010a', /not a phone number/],
  ['*31#14155550100', /not a phone number/],
  ['+1234567890123456', /longer than 15 digits/],
  ['00', /no country code/],
  ['+0912240001234', /no country code/],
  ['02240001234', /needs a country code/],
  ['sip:alice@example.org', /not a phone number/],
  ['sip:example.org', /no user part/],
  ['tel:5550100;phone-context=example.com', /phone-context/],
  ['+1 415 555 0100 ext 2', /not a phone number/],
  ['++14155550100', /not a phone number/],
  ['1+4155550100', /not a phone number/],
];

test('normalizeNumber: the forms a PBX sends become E.164', () => {
  for (const [input, expected, cc] of GOOD) {
    assert.equal(
      normalizeNumber(input, cc !== undefined ? { defaultCountryCode: cc } : {}),
      expected,
      JSON.stringify(input),
    );
  }
});

test('normalizeNumber: garbage is refused with a reason', () => {
  for (const [input, reason, cc] of BAD) {
    assert.throws(
      () => normalizeNumber(input, cc !== undefined ? { defaultCountryCode: cc } : {}),
      (err: unknown) => err instanceof NumberError && reason.test(err.message),
      JSON.stringify(input),
    );
    assert.equal(tryNormalizeNumber(input), null, JSON.stringify(input));
  }
});

test('formatForCarrier: tech prefix, with or without the plus', () => {
  assert.equal(formatForCarrier('+14155550100', { prefix: null, plus: true }), '+14155550100');
  assert.equal(formatForCarrier('+14155550100', { prefix: null, plus: false }), '14155550100');
  assert.equal(formatForCarrier('+14155550100', { prefix: '99', plus: false }), '9914155550100');
  assert.equal(formatForCarrier('+14155550100', { prefix: '#1', plus: true }), '#1+14155550100');
});
