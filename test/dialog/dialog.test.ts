import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dialog } from '../../src/dialog/dialog.js';
import { uacRequest } from '../../src/dialog/uac-request.js';
import type { SipInterface } from '../../src/dialog/interfaces.js';

const iface: SipInterface = { proto: 'tcp', host: '192.0.2.10', port: 5070 };

function dialog(): Dialog {
  return new Dialog({
    callId: 'c1',
    localTag: 'ours',
    localUri: '<sip:alice@example.test>',
    remoteUri: '<sip:bob@example.test>',
    remoteTarget: 'sip:bob@192.0.2.20:5060;transport=tcp',
    routeSet: ['<sip:p1.example.test;lr>', '<sip:p2.example.test;lr>'],
    iface,
    target: { proto: 'tcp', host: '192.0.2.20', port: 5060 },
  });
}

test('uacRequest writes Via (fresh branch, rport), Max-Forwards, From tag, To, Call-ID, CSeq, then the rest in order', () => {
  const m = uacRequest({
    method: 'OPTIONS',
    uri: 'sip:gw.example.test',
    iface,
    from: '<sip:ping@example.test>',
    fromTag: 't1',
    to: '<sip:gw.example.test>',
    callId: 'x1',
    cseq: 7,
    contact: '<sip:192.0.2.10:5070;transport=tcp>',
    headers: [['User-Agent', 'ua']],
  });
  assert.deepEqual(
    m.fields.map((f) => f.name),
    ['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'User-Agent', 'Content-Length'],
  );
  assert.equal(m.topVia.transport, 'TCP');
  assert.equal(m.topVia.host, '192.0.2.10');
  assert.match(m.topVia.branch ?? '', /^z9hG4bK/);
  assert.ok(m.topVia.params.has('rport'));
  assert.equal(m.maxForwards, 70);
  assert.equal(m.fromTag, 't1');
  assert.equal(m.cseq.seq, 7);
  assert.notEqual(
    uacRequest({
      method: 'OPTIONS',
      uri: 'sip:a',
      iface,
      from: '<sip:a>',
      fromTag: 't',
      to: '<sip:a>',
      callId: 'x',
      cseq: 1,
    }).topVia.branch,
    m.topVia.branch,
  );
});

test('uacRequest refuses a header value with a line break', () => {
  assert.throws(() =>
    uacRequest({
      method: 'OPTIONS',
      uri: 'sip:a',
      iface,
      from: '<sip:a>',
      fromTag: 't',
      to: '<sip:a>',
      callId: 'x',
      cseq: 1,
      headers: [['X', 'a\r\nB: c']],
    }),
  );
});

test('Dialog.request: the next CSeq, the route set, both tags, Contact on INVITE only; ACK reuses the INVITE CSeq', () => {
  const d = dialog();
  const invite = d.request('INVITE', {
    headers: [['Content-Type', 'application/sdp']],
    body: Buffer.from('v=0\r\n'),
    maxForwards: 12,
  });
  assert.equal(invite.requestUri, 'sip:bob@192.0.2.20:5060;transport=tcp');
  assert.deepEqual(invite.getAll('Route'), ['<sip:p1.example.test;lr>', '<sip:p2.example.test;lr>']);
  assert.equal(invite.maxForwards, 12);
  assert.equal(invite.cseq.seq, 1);
  assert.equal(invite.toTag, null);
  assert.equal(invite.get('Contact'), '<sip:192.0.2.10:5070;transport=tcp>');
  assert.equal(invite.body.toString(), 'v=0\r\n');
  d.remoteTag = 'theirs';
  const ack = d.request('ACK', { seq: invite.cseq.seq });
  assert.equal(ack.cseq.seq, 1);
  assert.equal(ack.cseq.method, 'ACK');
  assert.equal(ack.toTag, 'theirs');
  assert.equal(ack.get('Contact'), undefined);
  const bye = d.request('BYE', { headers: [['Reason', 'SIP;cause=200']] });
  assert.equal(bye.cseq.seq, 2);
  assert.equal(bye.fromTag, 'ours');
  assert.equal(bye.get('Reason'), 'SIP;cause=200');
});

test('Dialog.acceptRemoteSeq refuses a CSeq not above the last one (ACK and CANCEL excepted)', () => {
  const d = new Dialog({ ...optionsOf(dialog()), remoteSeq: 5 });
  assert.equal(d.acceptRemoteSeq(5, 'INFO'), false);
  assert.equal(d.acceptRemoteSeq(5, 'ACK'), true);
  assert.equal(d.acceptRemoteSeq(6, 'INFO'), true);
  assert.equal(d.remoteSeq, 6);
});

function optionsOf(d: Dialog) {
  return {
    callId: d.callId,
    localTag: d.localTag,
    localUri: d.localUri,
    remoteUri: d.remoteUri,
    remoteTarget: d.remoteTarget,
    iface: d.iface,
    target: d.target,
  };
}
