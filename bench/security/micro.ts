/**
 * In-process figures that the /proc tick resolution (10 ms) and a shared
 * machine blur: the CPU the gate and the pipeline spend on the requests of
 * one call (INVITE, ACK, BYE as a UA sends them, already parsed: parsing is
 * the core's cost either way), and on one banned datagram. Measured with
 * process.cpuUsage over many iterations of real parsed messages, with the
 * default config and a few list and ACL entries in place.
 */
import { parseMessage } from '../../src/sip/parser.js';
import { validateMessage } from '../../src/sip/validate.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { Flow, InboundMessage } from '../../src/transport/types.js';
import { Counters } from '../../src/core/counters.js';
import { Responder } from '../../src/core/responder.js';
import { defaultSecurityConfig } from '../../src/security/config.js';
import { SecurityPipeline } from '../../src/security/pipeline.js';
import { SecurityLists } from '../../src/security/lists.js';
import { AccessList } from '../../src/security/acl.js';
import { BanList } from '../../src/security/ban-list.js';
import { FloodDetector } from '../../src/security/flood.js';
import { SecurityGate } from '../../src/security/gate.js';

function request(method: string, cseq: number, i: number): Buffer {
  return Buffer.from(
    [
      `${method} sip:+441234567${i % 10}@127.0.0.1:5060 SIP/2.0`,
      `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK${i}x${cseq};rport`,
      'Max-Forwards: 70',
      `From: "Alice Caller" <sip:+14155550100@192.0.2.10>;tag=t${i}`,
      `To: <sip:+441234567${i % 10}@127.0.0.1>${method === 'INVITE' ? '' : `;tag=u${i}`}`,
      `Call-ID: c${i}@192.0.2.10`,
      `CSeq: ${cseq} ${method}`,
      'Contact: <sip:+14155550100@192.0.2.10:5060>',
      'User-Agent: Asterisk PBX 20.5.0',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

function parsed(data: Buffer): SipMessage {
  const r = parseMessage(data);
  if (!r.ok || validateMessage(r.message) !== null) throw new Error('bench message does not parse');
  return r.message;
}

function cpuUs(fn: () => void): number {
  const t = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t);
  return d.user + d.system;
}

export interface MicroResult {
  pipelineUsPerCall: number;
  parseUsPerCall: number;
  bannedDropUs: number;
}

export function micro(calls = 20_000): MicroResult {
  const cfg = defaultSecurityConfig();
  const counters = new Counters();
  const pipeline = new SecurityPipeline({
    config: cfg,
    isForUs: () => false,
    counters,
    responder: new Responder({ send: () => true }, counters, null),
    log: { warn() {}, info() {} },
  });
  pipeline.setLists(
    new SecurityLists([
      { list: 'black', kind: 'dest', value: '+1900' },
      { list: 'black', kind: 'ua', value: 'badphone' },
      { list: 'black', kind: 'user', value: 'mallory' },
    ]),
  );
  pipeline.setAcl(
    new AccessList([{ group: 'bad', action: 'deny', cidr: '203.0.113.0/24', method: '*', direction: 'any' }]),
  );
  const bans = new BanList();
  bans.add('203.0.113.9', 'bench', null, 'manual');
  const gate = new SecurityGate(bans, new FloodDetector({ density: 1_000_000_000, unit: 2 }), counters, () => {});
  const flow: Flow = {
    proto: 'udp',
    localHost: '127.0.0.1',
    localPort: 5060,
    remoteHost: '192.0.2.10',
    remotePort: 5060,
    connectionId: null,
  };
  const raw: Buffer[] = [];
  for (let i = 0; i < calls; i++) raw.push(request('INVITE', 1, i), request('ACK', 1, i), request('BYE', 2, i));
  // Parsing (with the validator) for scale: what every request costs before any step.
  const msgs: SipMessage[] = new Array(raw.length);
  const parseUs = cpuUs(() => {
    for (let i = 0; i < raw.length; i++) msgs[i] = parsed(raw[i]!);
  });
  let passed = 0;
  const pipeUs = cpuUs(() => {
    for (let i = 0; i < raw.length; i++) {
      if (gate.admit({ data: raw[i]!, flow }) && pipeline.decide(msgs[i]!, flow.remoteHost).kind === 'pass') passed++;
    }
  });
  if (passed !== raw.length) throw new Error(`bench: ${raw.length - passed} requests did not pass the pipeline`);
  const bannedFlow: Flow = { ...flow, remoteHost: '203.0.113.9' };
  const m: InboundMessage = { data: raw[0]!, flow: bannedFlow };
  const n = 1_000_000;
  let dropped = 0;
  const dropUs = cpuUs(() => {
    for (let i = 0; i < n; i++) if (!gate.admit(m)) dropped++;
  });
  if (dropped !== n) throw new Error('bench: a banned packet was admitted');
  return { pipelineUsPerCall: pipeUs / calls, parseUsPerCall: parseUs / calls, bannedDropUs: dropUs / n };
}
