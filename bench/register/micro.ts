/**
 * The registrar's own CPU per registration, in process, without SIPp, UDP
 * or the transaction layer: what bench/register's REGISTER, 401, REGISTER,
 * 200 costs from the parsed bytes of each REGISTER to each response
 * message (parse, isLocalDomain, Registrar.process with digest and the
 * SQLite store), repeatable on a shared machine where the full bench is
 * noisy. The client's side (building the REGISTERs, the digest response) is
 * not counted: only the server's calls are timed, with process.cpuUsage.
 *
 * The requests are those of bench/register/reg-auth.xml as SIPp 3.6 sends
 * them, one subscriber, so every registration refreshes the same binding.
 *
 * Usage: node dist/bench/register/micro.js [--registrations 20000] [--warmup 5000] [--rounds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../../src/store/index.js';
import { NonceService } from '../../src/auth/nonce.js';
import { digestResponse, ha1 } from '../../src/auth/digest.js';
import { Registrar } from '../../src/registrar/registrar.js';
import { parseMessage } from '../../src/sip/parser.js';
import { parseUri, isSipUri } from '../../src/sip/uri.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { Flow } from '../../src/transport/types.js';

const DOMAIN = 'bench.test';
const USER = 'alice';
const PASSWORD = 'alice-bench-pw';
const FLOW: Flow = {
  proto: 'udp',
  localHost: '127.0.0.1',
  localPort: 5060,
  remoteHost: '127.0.0.1',
  remotePort: 5061,
  connectionId: null,
};
const HA1 = ha1('MD5', USER, DOMAIN, PASSWORD);

function register(n: number, cseq: number, authorization: string | null): Buffer {
  const lines = [
    `REGISTER sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-${n}-${cseq};rport`,
    `From: <sip:${USER}@${DOMAIN}>;tag=4242r${n}`,
    `To: <sip:${USER}@${DOMAIN}>`,
    `Call-ID: ${n}-4242@127.0.0.1`,
    `CSeq: ${cseq} REGISTER`,
    `Contact: <sip:${USER}@127.0.0.1:5061;transport=UDP>`,
    ...(authorization === null ? [] : [`Authorization: ${authorization}`]),
    'Expires: 300',
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

/** The Authorization SIPp 3.6 writes for an MD5 challenge with qop=auth. */
function authorization(nonce: string): string {
  const uri = `sip:${DOMAIN}`;
  const cnonce = '6b8b4567';
  const response = digestResponse({
    algorithm: 'MD5',
    ha1: HA1,
    nonce,
    method: 'REGISTER',
    uri,
    qop: 'auth',
    ncText: '00000001',
    cnonce,
  });
  return `Digest username="${USER}",realm="${DOMAIN}",cnonce="${cnonce}",nc=00000001,qop=auth,uri="${uri}",nonce="${nonce}",response="${response}",algorithm=MD5`;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The server's side of one REGISTER: parse, the local-domain check, the registrar; its CPU added to `spent`. */
async function serve(r: Registrar, bytes: Buffer, spent: { us: number }): Promise<SipMessage> {
  const t0 = cpuUs();
  const parsed = parseMessage(bytes);
  if (!parsed.ok) throw parsed.error;
  const req = parsed.message;
  const ruri = parseUri(req.requestUri);
  if (!isSipUri(ruri) || !(await r.isLocalDomain(ruri))) throw new Error('not a local domain');
  const res = await r.process(req, FLOW);
  spent.us += cpuUs() - t0;
  return res;
}

async function registrations(r: Registrar, from: number, n: number): Promise<number> {
  const spent = { us: 0 };
  for (let i = from; i < from + n; i++) {
    const first = await serve(r, register(i, 1, null), spent);
    if (first.status !== 401) throw new Error(`registration ${i}: ${first.status} to the first REGISTER`);
    const nonce = /nonce="([^"]+)"/.exec(first.get('WWW-Authenticate') ?? '')?.[1];
    if (nonce === undefined) throw new Error(`registration ${i}: no nonce`);
    const second = await serve(r, register(i, 2, authorization(nonce)), spent);
    if (second.status !== 200) throw new Error(`registration ${i}: ${second.status} to the second REGISTER`);
  }
  return spent.us / n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      registrations: { type: 'string', default: '20000' },
      warmup: { type: 'string', default: '5000' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const n = Number(values.registrations);
  const warmup = Number(values.warmup);
  const rounds = Number(values.rounds);
  const dir = mkdtempSync(join(tmpdir(), 'bench-register-micro-'));
  const store = await openStore({ kind: 'sqlite', file: join(dir, 'trunkline.db') }, { env: {} });
  try {
    await store.domains.add(DOMAIN);
    await store.subscribers.add(USER, DOMAIN, PASSWORD);
    const registrar = new Registrar({
      store,
      nonces: new NonceService({ secret: Buffer.alloc(32, 7) }),
      algorithms: ['MD5'],
      serverHeader: 'Trunkline',
    });
    await registrations(registrar, 0, warmup);
    const figures: number[] = [];
    for (let k = 0; k < rounds; k++) figures.push(await registrations(registrar, warmup + k * n, n));
    process.stdout.write(
      `registrar CPU per registration (2 REGISTERs), ${n} per round: ${figures.map((f) => `${f.toFixed(1)} us`).join(', ')}; best ${Math.min(...figures).toFixed(1)} us\n`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/register/micro: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
