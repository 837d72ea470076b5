import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { SipSyntaxError } from '../../src/sip/errors.js';
import {
  formatNameAddr,
  parseNameAddr,
  parseNameAddrList,
  splitHeaderList,
  type NameAddr,
} from '../../src/sip/name-addr.js';
import {
  formatUri,
  isSipUri,
  parseUri,
  unescapeUriPart,
  uriEquals,
  type OtherUri,
  type SipUri,
} from '../../src/sip/uri.js';
import { prng } from '../helpers/prng.js';
import { RFC4475_DIR } from '../helpers/rfc4475.js';

const RFC4475 = RFC4475_DIR;

function rejects(fn: () => unknown, field: string, label: string): void {
  assert.throws(fn, (e: unknown) => e instanceof SipSyntaxError && e.field === field, label);
}

function sipOf(n: NameAddr): SipUri {
  assert.ok(isSipUri(n.uri));
  return n.uri;
}

// ---------------------------------------------------------------------------
// Forms

test('quoted display name with escapes, bracketed URI, header params', () => {
  const n = parseNameAddr('"Bob \\"the\\" Builder \\\\" <sip:bob@biloxi.com;transport=tcp>;tag=a6c85cf;q=0.7');
  assert.equal(n.displayName, 'Bob "the" Builder \\');
  assert.equal(n.uriText, 'sip:bob@biloxi.com;transport=tcp');
  assert.equal(sipOf(n).params.get('transport'), 'tcp');
  assert.equal(n.params.get('tag'), 'a6c85cf');
  assert.equal(n.params.get('Q'), '0.7');
  assert.equal(n.bracketed, true);
});

test('token display names, with and without LWS before <', () => {
  const a = parseNameAddr('Bob Smith <sip:bob@example.com>');
  assert.equal(a.displayName, 'Bob Smith');
  const b = parseNameAddr('caller<sip:caller@example.com>;tag=323');
  assert.equal(b.displayName, 'caller');
  assert.equal(b.params.get('tag'), '323');
  const c = parseNameAddr('  A. Bell\t <sip:a.g.bell@example.com>;tag=qweoiqpe  ');
  assert.equal(c.displayName, 'A. Bell');
  const d = parseNameAddr("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>");
  assert.equal(d.displayName, "token1~` token2'+_ token3*%!.-");
  const e = parseNameAddr('"Alice"<sip:alice@example.com>');
  assert.equal(e.displayName, 'Alice');
  const f = parseNameAddr('"" <sip:anon@example.com>');
  assert.equal(f.displayName, '');
});

test('no display name: bare <URI> and addr-spec', () => {
  const a = parseNameAddr('<sip:alice@atlanta.com>;tag=1928301774');
  assert.equal(a.displayName, null);
  assert.equal(a.bracketed, true);
  assert.equal(a.params.get('tag'), '1928301774');
  const b = parseNameAddr('sip:alice@atlanta.com');
  assert.equal(b.displayName, null);
  assert.equal(b.bracketed, false);
  assert.equal(b.uriText, 'sip:alice@atlanta.com');
  assert.equal(b.params.size, 0);
});

test('addr-spec: every ; after the URI is a header param (RFC 3261 20.10)', () => {
  const n = parseNameAddr('sip:+12125551212@phone2net.com;tag=887s;user=phone');
  const u = sipOf(n);
  assert.equal(u.params.size, 0);
  assert.equal(n.uriText, 'sip:+12125551212@phone2net.com');
  assert.equal(n.params.get('tag'), '887s');
  assert.equal(n.params.get('user'), 'phone');
  // Bracketed, the same ;user=phone is a URI param.
  const b = parseNameAddr('<sip:+12125551212@phone2net.com;user=phone>;tag=887s');
  assert.equal(sipOf(b).params.get('user'), 'phone');
  assert.equal(b.params.has('user'), false);
});

test('addr-spec with LWS before the params (RFC 4475 wsinv)', () => {
  const n = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
  assert.equal(sipOf(n).host, 'chair-dnrc.example.com');
  assert.equal(n.params.get('tag'), '1918181833n');
  const m = parseNameAddr(
    '"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33',
  );
  assert.equal(m.displayName, 'Quoted string ""');
  assert.deepEqual(
    [...m.params.entries()],
    [
      ['newparam', 'newvalue'],
      ['secondparam', null],
      ['q', '0.33'],
    ],
  );
});

test('header params: quoted values, IPv6, flags', () => {
  const n = parseNameAddr(
    '<sip:alice@[2001:db8::1]:5070;transport=tcp;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1;expires=3600;received=[2001:db8::9];lr',
  );
  assert.equal(sipOf(n).host, '[2001:db8::1]');
  assert.equal(sipOf(n).port, 5070);
  assert.equal(sipOf(n).params.get('ob'), null);
  assert.equal(n.params.get('+sip.instance'), '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
  assert.equal(n.params.get('reg-id'), '1');
  assert.equal(n.params.get('received'), '[2001:db8::9]');
  assert.equal(n.params.get('lr'), null);
});

test('other URI schemes inside name-addr', () => {
  assert.equal((parseNameAddr('<http://www.example.com>;tag=3234233').uri as OtherUri).scheme, 'http');
  assert.equal((parseNameAddr('isbn:2983792873').uri as OtherUri).opaque, '2983792873');
  assert.equal((parseNameAddr('<name:John_Smith>').uri as OtherUri).scheme, 'name');
  assert.equal(parseNameAddr('"Pat" <tel:+1-201-555-0123;phone-context=x>').uri.scheme, 'tel');
});

test('escaped characters in URIs inside name-addr (RFC 4475 esc01, escnull)', () => {
  const a = parseNameAddr('<sip:I%20have%20spaces@example.net>;tag=938');
  assert.equal(unescapeUriPart(sipOf(a).user!), 'I have spaces');
  const b = parseNameAddr('<sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>');
  assert.equal(sipOf(b).params.get('lr'), null);
  assert.equal(sipOf(b).params.get('name'), 'v%61lue%25%34%31');
  const c = parseNameAddr('sip:null-%00-null@example.com;tag=839923423');
  assert.equal(unescapeUriPart(sipOf(c).user!), 'null-\0-null');
  assert.equal(c.params.get('tag'), '839923423');
});

// ---------------------------------------------------------------------------
// Errors

test('invalid name-addr values are rejected with the caller field', () => {
  const cases: Array<[string, string]> = [
    ['', 'empty'],
    ['   ', 'blank'],
    ['"Mr. J. User <sip:j.user@example.com>', 'quotbal: unterminated quote'],
    ['"Watson, Thomas" < sip:t.watson@example.org >', 'badaspec: LWS inside <>'],
    ['<sip:a@b >', 'LWS before >'],
    ['< sip:a@b>', 'LWS after <'],
    ['Bell, Alexander <sip:a.g.bell@example.com>;tag=43', 'baddn: comma in display name'],
    ['Watson, Thomas <sip:t.watson@example.org>', 'baddn: comma in display name'],
    ['Jörg <sip:j@example.com>', 'non-token display name'],
    ['Bob@home <sip:b@example.com>', 'non-token display name'],
    ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', 'regbadct: ? in addr-spec'],
    ['sip:a,b@example.com', ', in addr-spec'],
    ['"Joe" <sip:joe@example.org>;;;;', 'badinv01: empty params'],
    ['<sip:a@b>;', 'trailing ;'],
    ['<sip:a@b>;tag=', 'empty value'],
    ['<sip:a@b', 'missing >'],
    ['sip:a@b>', 'stray >'],
    ['<sip:a@b>>', 'double >'],
    ['<<sip:a@b>>', 'double <'],
    ['"x" sip:a@b', 'quoted name without <>'],
    ['"x" <sip:a@b> junk', 'junk after >'],
    ['<sip:a@b> <sip:c@d>', 'two URIs'],
    ['<sip:a@b>, <sip:c@d>', 'list in a single-value header'],
    ['sip:a@b c', 'junk after addr-spec'],
    ['sip:user @example.com', 'space in addr-spec'],
    ['sip:foo <sip:bar@x>', 'addr-spec followed by <'],
    ['<>', 'empty URI'],
    ['<sip:>', 'empty host'],
    ['<sip:a@b:99999>', 'bad port'],
    ['<sip:%zz@b>', 'bad escape'],
    ['"a\u0001b" <sip:a@b>', 'control char in quoted name'],
    ['"a\\', 'quote escape at end'],
    ['Bob', 'token only'],
    ['*', 'star is the caller\u2019s business'],
  ];
  for (const [input, label] of cases) {
    rejects(() => parseNameAddr(input, 'To'), 'To', label);
  }
  rejects(() => parseNameAddr('<sip:a@b:99999>'), 'name-addr', 'default field');
});

test('URI errors inside name-addr keep their status', () => {
  assert.throws(
    () => parseNameAddr('<sip:[::1>', 'Contact'),
    (e: unknown) => e instanceof SipSyntaxError && e.field === 'Contact' && e.status === 400 && /URI/.test(e.message),
  );
});

// ---------------------------------------------------------------------------
// Lists

test('splitHeaderList honours quotes, escapes and angle brackets', () => {
  assert.deepEqual(splitHeaderList(''), []);
  assert.deepEqual(splitHeaderList('  '), []);
  assert.deepEqual(splitHeaderList('a'), ['a']);
  assert.deepEqual(splitHeaderList(' a , b,c '), ['a', 'b', 'c']);
  assert.deepEqual(splitHeaderList('a,,b'), ['a', '', 'b']);
  assert.deepEqual(splitHeaderList('a,'), ['a', '']);
  assert.deepEqual(splitHeaderList('"Bell, Alexander" <sip:a@b>, <sip:c,d@e>;x="1,2"'), [
    '"Bell, Alexander" <sip:a@b>',
    '<sip:c,d@e>;x="1,2"',
  ]);
  assert.deepEqual(splitHeaderList('"a \\" , b" <sip:x@y>, z'), ['"a \\" , b" <sip:x@y>', 'z']);
  assert.deepEqual(splitHeaderList('"a \\\\", b'), ['"a \\\\"', 'b']);
  assert.deepEqual(splitHeaderList('<sip:a"@b>, c'), ['<sip:a"@b>', 'c']);
  assert.deepEqual(splitHeaderList('"unterminated, x'), ['"unterminated, x']);
  assert.deepEqual(splitHeaderList('<unterminated, x'), ['<unterminated, x']);
  assert.deepEqual(splitHeaderList('SIP/2.0/UDP a;branch=1 ,\r\n SIP/2.0/TCP [::1]:5060;branch=2'), [
    'SIP/2.0/UDP a;branch=1',
    'SIP/2.0/TCP [::1]:5060;branch=2',
  ]);
  assert.deepEqual(splitHeaderList(';;,,;;,;'), [';;', '', ';;', ';']);
});

test('parseNameAddrList parses Contact/Route lists', () => {
  const list = parseNameAddrList(
    '"Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600, "Mr. Watson" <mailto:watson@bell-telephone.com> ;q=0.1, sip:c@d;q=0.5',
    'Contact',
  );
  assert.equal(list.length, 3);
  assert.equal(list[0]!.params.get('expires'), '3600');
  assert.equal(list[1]!.uri.scheme, 'mailto');
  assert.equal(list[1]!.params.get('q'), '0.1');
  assert.equal(list[2]!.bracketed, false);
  const routes = parseNameAddrList('<sip:p1.example.com;lr>,<sip:p2.example.com;lr>', 'Route');
  assert.deepEqual(
    routes.map((r) => r.uriText),
    ['sip:p1.example.com;lr', 'sip:p2.example.com;lr'],
  );
  for (const bad of ['', ' ', '<sip:a@b>,', ',<sip:a@b>', '<sip:a@b>,,<sip:c@d>', 'Bell, Alexander <sip:a@b>']) {
    rejects(() => parseNameAddrList(bad, 'Contact'), 'Contact', JSON.stringify(bad));
  }
});

// ---------------------------------------------------------------------------
// Writing

test('formatNameAddr writes <uri> form and quotes display names when needed', () => {
  const cases: Array<[string, string]> = [
    ['sip:alice@atlanta.com;tag=1', '<sip:alice@atlanta.com>;tag=1'],
    ['Bob <sip:bob@b.com>', 'Bob <sip:bob@b.com>'],
    ['"Bob" <sip:bob@b.com>', 'Bob <sip:bob@b.com>'],
    ['caller<sip:caller@example.com>;tag=323', 'caller <sip:caller@example.com>;tag=323'],
    ['"Bob Smith" <sip:bob@b.com>', 'Bob Smith <sip:bob@b.com>'],
    ['"Bell, Alexander" <sip:a@b.com>', '"Bell, Alexander" <sip:a@b.com>'],
    ['"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>', '"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>'],
    ['"" <sip:x@y>', '"" <sip:x@y>'],
    ['" lead" <sip:x@y>', '" lead" <sip:x@y>'],
    ['"Jörg" <sip:x@y>', '"Jörg" <sip:x@y>'],
    ['"a:b" <sip:x@y>', '"a:b" <sip:x@y>'],
    ['<sip:x@y;lr>;+sip.instance="<urn:uuid:1>"', '<sip:x@y;lr>;+sip.instance="<urn:uuid:1>"'],
    ['"A" <sip:a@EXAMPLE.com>', 'A <sip:a@example.com>'],
  ];
  for (const [input, expected] of cases) {
    const n = parseNameAddr(input);
    const text = formatNameAddr(n);
    assert.equal(text, expected, input);
    const again = parseNameAddr(text);
    assert.equal(again.displayName, n.displayName, `display name round trip ${input}`);
    assert.ok(uriEquals(again.uri, n.uri), `uri round trip ${input}`);
    assert.equal(again.params.toString(), n.params.toString(), `params round trip ${input}`);
  }
});

test('formatNameAddr escapes control characters and drops CR/LF', () => {
  const n = parseNameAddr('<sip:a@b>');
  n.displayName = 'a"b\\c\u0007d\r\ne';
  const text = formatNameAddr(n);
  assert.equal(text, '"a\\"b\\\\c\\\u0007d  e" <sip:a@b>');
  assert.equal(parseNameAddr(text).displayName, 'a"b\\c\u0007d  e');
});

test('formatNameAddr writes the current uri and params, not uriText', () => {
  const n = parseNameAddr('sip:a@b.example;tag=x');
  const u = sipOf(n);
  u.params.set('lr', null);
  n.params.set('tag', 'y');
  assert.equal(formatNameAddr(n), '<sip:a@b.example;lr>;tag=y');
  assert.equal(formatUri(n.uri), 'sip:a@b.example;lr');
});

// ---------------------------------------------------------------------------
// RFC 4475 messages

interface Head {
  startLine: string;
  headers: Array<[string, string]>;
}

const COMPACT: Record<string, string> = { f: 'from', t: 'to', m: 'contact' };

/** Reads the header section of a torture message: unfolds lines, lowercases and expands names. */
function readHead(file: string): Head {
  const buf = readFileSync(new URL(file, RFC4475));
  const end = buf.indexOf('\r\n\r\n');
  const lines = buf
    .subarray(0, end < 0 ? buf.length : end)
    .toString('utf8')
    .split('\r\n');
  const unfolded: string[] = [];
  for (const line of lines.slice(1)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && unfolded.length > 0) {
      unfolded[unfolded.length - 1] += ` ${line.trimStart()}`;
    } else {
      unfolded.push(line);
    }
  }
  const headers: Array<[string, string]> = [];
  for (const line of unfolded) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const raw = line.slice(0, colon).trim().toLowerCase();
    headers.push([COMPACT[raw] ?? raw, line.slice(colon + 1).trim()]);
  }
  return { startLine: lines[0]!, headers };
}

const SINGLE = new Set(['from', 'to']);
const LIST = new Set(['contact', 'route', 'record-route']);

/** The name-addr headers RFC 4475 breaks on purpose; every other one must parse. */
const EXPECTED_BAD: Record<string, string[]> = {
  'quotbal.dat': ['to'],
  'badaspec.dat': ['to'],
  'baddn.dat': ['from', 'to'],
  'regbadct.dat': ['contact'],
  'badinv01.dat': ['contact'],
};

test('RFC 4475: every name-addr header parses except the ones broken on purpose', () => {
  const files = readdirSync(RFC4475).filter((f) => f.endsWith('.dat'));
  assert.ok(files.length >= 40, 'RFC 4475 test data present');
  let good = 0;
  const rejected = new Set<string>();
  for (const file of files) {
    const bad = new Set(EXPECTED_BAD[file] ?? []);
    for (const [name, value] of readHead(file).headers) {
      if (!SINGLE.has(name) && !LIST.has(name)) continue;
      if (name === 'contact' && value === '*') continue;
      const parse = (): unknown => (SINGLE.has(name) ? parseNameAddr(value, name) : parseNameAddrList(value, name));
      if (bad.has(name)) {
        rejects(parse, name, `${file} ${name}: ${value}`);
        rejected.add(`${file}:${name}`);
        continue;
      }
      let result: unknown;
      assert.doesNotThrow(() => {
        result = parse();
      }, `${file} ${name}: ${value}`);
      const items = Array.isArray(result) ? (result as NameAddr[]) : [result as NameAddr];
      for (const item of items) {
        const again = parseNameAddr(formatNameAddr(item), name);
        assert.ok(uriEquals(again.uri, item.uri), `${file} ${name} round trip`);
        assert.equal(again.displayName, item.displayName, `${file} ${name} display name round trip`);
      }
      good++;
    }
  }
  assert.equal(rejected.size, 6, [...rejected].join(' '));
  assert.ok(good > 100, `checked ${good} valid headers`);
});

test('RFC 4475: details of selected valid headers', () => {
  const get = (file: string, name: string): string => readHead(file).headers.find(([n]) => n === name)![1];
  const intTo = parseNameAddr(get('intmeth.dat', 'to'), 'To');
  assert.equal(intTo.displayName, 'BEL:\u0007 NUL:\u0000 DEL:\u007f');
  assert.equal(sipOf(intTo).user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  const intFrom = parseNameAddr(get('intmeth.dat', 'from'), 'From');
  assert.equal(intFrom.displayName, "token1~` token2'+_ token3*%!.-");
  assert.equal(intFrom.params.get("fromParam''~+*_!.-%"), '"работающий"');
  assert.equal(intFrom.params.get('tag'), "_token~1'+`*%!-.");
  const wsFrom = parseNameAddr(get('wsinv.dat', 'from'), 'From');
  assert.equal(wsFrom.displayName, 'J Rosenberg \\"');
  assert.equal(wsFrom.params.get('tag'), '98asjd8');
  const lws = parseNameAddr(get('lwsdisp.dat', 'from'), 'From');
  assert.equal(lws.displayName, 'caller');
  assert.equal(lws.params.get('tag'), '323');
  const esc02 = parseNameAddr(get('esc02.dat', 'to'), 'To');
  assert.equal(esc02.displayName, '%Z%45');
  const cp = parseNameAddr(get('cparam01.dat', 'contact'), 'Contact');
  assert.equal(cp.params.get('unknownparam'), null);
  assert.equal(sipOf(cp).params.size, 0);
  const cp2 = parseNameAddr(get('cparam02.dat', 'contact'), 'Contact');
  assert.equal(sipOf(cp2).params.get('unknownparam'), null);
  assert.equal(cp2.params.size, 0);
  const regesc = parseNameAddr(get('regescrt.dat', 'contact'), 'Contact');
  assert.equal(sipOf(regesc).headers, 'Route=%3Csip:sip.example.com%3E');
  const scalar = parseNameAddr(get('scalar02.dat', 'contact'), 'Contact');
  assert.equal(scalar.params.get('expires'), '280297596632815');
  const inv = parseNameAddr(get('inv2543.dat', 'to'), 'To');
  assert.equal(inv.params.get('user'), 'phone');
  const rr = parseNameAddrList(get('inv2543.dat', 'record-route'), 'Record-Route');
  assert.equal(sipOf(rr[0]!).params.get('maddr'), 'ss1.example.com');
  assert.equal(parseUri('sip:user@example.com').scheme, 'sip');
});

// ---------------------------------------------------------------------------
// Robustness

const PIECES = [
  ...'aZ09 \t:;@?&=%[]<>"\\,/.+-_~!*\'()#$`{}|^',
  '\r\n ',
  '\0',
  '\u0007',
  '\u007f',
  '\u00e9',
  '\u4e2d',
  '%00',
  '%zz',
  '\\"',
  '"',
  '<',
  '>',
  ', ',
  ';tag=1',
  ' ; q = 0.5',
  ';x="a,b"',
  'sip:',
  '<sip:a@b>',
  '[::1]',
];

function mutate(seedText: string, rand: () => number): string {
  let s = seedText;
  const ops = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < ops; k++) {
    const pos = Math.floor(rand() * (s.length + 1));
    const piece = PIECES[Math.floor(rand() * PIECES.length)]!;
    switch (Math.floor(rand() * 5)) {
      case 0:
        s = s.slice(0, pos) + piece + s.slice(pos);
        break;
      case 1:
        s = s.slice(0, pos) + s.slice(pos + 1 + Math.floor(rand() * 4));
        break;
      case 2:
        s = s.slice(0, pos) + piece + s.slice(pos + 1);
        break;
      case 3:
        s = s.slice(0, pos);
        break;
      default: {
        const len = 1 + Math.floor(rand() * 10);
        s = s.slice(0, pos) + s.slice(pos, pos + len) + s.slice(pos);
      }
    }
  }
  return s;
}

const SEEDS = [
  '"Bob \\"B\\"" <sip:bob@biloxi.com;transport=tcp>;tag=a6c85cf',
  'caller<sip:caller@example.com>;tag=323',
  'sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
  "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.",
  '<sip:alice@[2001:db8::1]:5070;ob>;+sip.instance="<urn:uuid:1>";reg-id=1, sip:c@d;q=0.5',
  '"Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423',
  '<sip:user@example.com?Route=%3Csip:sip.example.com%3E>',
  '<tel:+1-201-555-0123;phone-context=example.com>;tag=9',
  '<http://www.example.com>;tag=3234233',
];

test('fuzz: 20,000 mutated name-addrs either parse (and re-format stably) or throw SipSyntaxError', () => {
  const rand = prng(0x4475);
  const started = performance.now();
  let parsed = 0;
  for (let n = 0; n < 20000; n++) {
    const input = mutate(SEEDS[n % SEEDS.length]!, rand);
    const list = n % 2 === 1;
    let items: NameAddr[];
    try {
      items = list ? parseNameAddrList(input, 'Contact') : [parseNameAddr(input, 'From')];
    } catch (e) {
      assert.ok(e instanceof SipSyntaxError, `non-SipSyntaxError for ${JSON.stringify(input)}: ${String(e)}`);
      continue;
    }
    parsed++;
    for (const item of items) {
      const text = formatNameAddr(item);
      const again = parseNameAddr(text, 'From');
      assert.equal(formatNameAddr(again), text, `stable format for ${JSON.stringify(input)}`);
      assert.ok(uriEquals(again.uri, item.uri), `uri round trip for ${JSON.stringify(input)}`);
    }
  }
  const ms = performance.now() - started;
  assert.ok(parsed > 1000, `some mutations stay valid (${parsed})`);
  // A bound against catastrophic (super-linear) parsing, not a speed target: loose enough for a loaded CI machine.
  assert.ok(ms < 10_000, `fuzz took ${ms.toFixed(0)} ms`);
});

test('adversarial name-addr input is linear, not catastrophic', () => {
  const big = 200_000;
  const inputs = [
    `"${'\\"'.repeat(big / 2)}`,
    `${'a '.repeat(big / 2)}`,
    `${'a '.repeat(big / 2)}<`,
    `<${'<'.repeat(big)}`,
    `<sip:a@b>${' ;a'.repeat(big / 3)} x`,
    `${'"a",'.repeat(big / 4)}`,
    `${'<sip:a@b>,'.repeat(big / 10)}`,
    `${'a,'.repeat(big / 2)}<`,
    `sip:${'a'.repeat(big)} <`,
  ];
  const started = performance.now();
  for (const s of inputs) {
    for (const f of [() => parseNameAddr(s), () => parseNameAddrList(s), () => splitHeaderList(s)]) {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof SipSyntaxError);
      }
    }
  }
  assert.ok(performance.now() - started < 2000, 'linear time');
});
