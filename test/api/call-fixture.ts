/**
 * A running server for trunk-call tests of the operations side: HEP capture
 * to a UDP socket of the test, call traces on, an admin token from the CLI,
 * and the trunking data provisioned through the API itself: account acme,
 * trunk pbx (127.0.0.2, calls to DID go to a SIPp there), carrier main
 * (127.0.0.5, a SIPp as its gateway), default route + to main.
 *
 * `inboundCall()` runs one call carrier -> DID -> PBX that the callee keeps
 * up until Trunkline hangs it up (the test's DELETE /api/v1/calls/SID).
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { CLI, startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { run, scenario, sipp, sippBackground, type RunResult } from '../helpers/sipp.js';

export const PBX = '127.0.0.2';
export const CARRIER = '127.0.0.5';
export const DID = '+912240001234';
export const CALLER = '+15551230000';

/** The PBX's own 100 Trying (it stops Trunkline's INVITE retransmissions while the PBX waits). */
const TRYING = `  <send>
    <![CDATA[
      SIP/2.0 100 Trying
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>`;

/** One HEPv3 packet as decoded here, from the HEP3 draft (not with src/capture/hep.ts). */
export interface HepSeen {
  captureId: number;
  correlationId: string | null;
  payload: string;
  src: string;
  dst: string;
}

/** HEPv3: "HEP3", uint16 length, then chunks (vendor uint16, type uint16, length uint16 incl. the 6-byte header, value). */
export function decodeHep3(buf: Buffer): HepSeen | null {
  if (buf.length < 6 || buf.toString('latin1', 0, 4) !== 'HEP3') return null;
  const total = buf.readUInt16BE(4);
  let off = 6;
  const c = new Map<number, Buffer>();
  while (off + 6 <= total && off + 6 <= buf.length) {
    const type = buf.readUInt16BE(off + 2);
    const len = buf.readUInt16BE(off + 4);
    if (len < 6) return null;
    c.set(type, buf.subarray(off + 6, off + len));
    off += len;
  }
  const ip = (b: Buffer | undefined): string =>
    b === undefined ? '?' : b.length === 4 ? [...b].join('.') : b.toString('hex');
  const port = (b: Buffer | undefined): number => (b === undefined ? 0 : b.readUInt16BE(0));
  return {
    captureId: c.get(12)?.readUInt32BE(0) ?? -1,
    correlationId: c.get(17)?.toString('utf8') ?? null,
    payload: c.get(15)?.toString('utf8') ?? '',
    src: `${ip(c.get(3) ?? c.get(5))}:${port(c.get(7))}`,
    dst: `${ip(c.get(4) ?? c.get(6))}:${port(c.get(8))}`,
  };
}

export interface CallServer {
  server: RunningTrunkline;
  api: string;
  token: string;
  hep: HepSeen[];
  pbxPort: number;
  gwPort: number;
  port: number;
  request(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }>;
  /**
   * A call carrier -> DID -> PBX; resolves when both SIPps ended (the call hung up by Trunkline).
   * `pbxDelayMs`: the PBX sends 100 Trying and waits this long before its 180 (past 200 ms, Trunkline's transaction sends the caller a 100 Trying, RFC 3261 17.2.1).
   */
  inboundCall(opts?: { pbxDelayMs?: number }): { done: Promise<[RunResult, RunResult]> };
  close(): Promise<void>;
}

/** `withTrunk: false` leaves the trunk pbx and its DID to the test (the console adds them). */
export async function startCallServer(opts: { traceCalls?: number; withTrunk?: boolean } = {}): Promise<CallServer> {
  const port = await freePort();
  const hepPort = await freePort();
  const pbxPort = await freePort();
  const gwPort = await freePort();
  const hepSock: Socket = createSocket('udp4');
  const hep: HepSeen[] = [];
  hepSock.on('message', (m) => {
    const p = decodeHep3(m);
    if (p !== null) hep.push(p);
  });
  await new Promise<void>((r) => hepSock.bind(hepPort, '127.0.0.1', () => r()));
  const server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      `capture: {hep: "udp:127.0.0.1:${hepPort}", id: 2002, traceCalls: ${opts.traceCalls ?? 50}}`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
      '',
    ].join('\n'),
  );
  const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())?.[1];
  if (api === undefined) throw new Error(`no API address in the log:\n${server.output()}`);
  const made = await run(
    process.execPath,
    [CLI, 'token', 'add', 'ops', '--role', 'admin', '--config', server.configFile],
    15_000,
  );
  if (made.code !== 0) throw new Error(made.stderr);
  const token = made.stdout.trim();
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json: json as any, text };
  };
  for (const [path, body] of [
    ['/api/v1/accounts', { name: 'acme' }],
    ['/api/v1/trunks', { name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${pbxPort}` }],
    ['/api/v1/dids', { number: DID, trunk: 'pbx' }],
    ['/api/v1/carriers', { name: 'main', gateways: [`sip:${CARRIER}:${gwPort}`] }],
    ['/api/v1/routes', { prefix: '+', carriers: ['main'] }],
  ] as const) {
    if (opts.withTrunk === false && (path === '/api/v1/trunks' || path === '/api/v1/dids')) continue;
    const r = await request('POST', path, body);
    if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.text}`);
  }
  // The server sees store changes within 2 s.
  await new Promise((r) => setTimeout(r, 2200));

  // The caller: INVITE with a caller number, then it waits for Trunkline's BYE.
  const uacFile = join(mkdtempSync(join(tmpdir(), 'sipp-scn-')), 'uac-bye-in.xml');
  writeFileSync(
    uacFile,
    readFileSync(scenario('uac-call-bye-in.xml'), 'utf8').split('sipp <sip:sipp@').join(`"Caller" <sip:${CALLER}@`),
  );

  return {
    server,
    api,
    token,
    hep,
    pbxPort,
    gwPort,
    port,
    request,
    inboundCall(o = {}) {
      let uas = scenario('uas-call.xml');
      if (o.pbxDelayMs !== undefined) {
        uas = join(mkdtempSync(join(tmpdir(), 'sipp-scn-')), 'uas-call-slow.xml');
        writeFileSync(
          uas,
          readFileSync(scenario('uas-call.xml'), 'utf8').replace(
            '<recv request="INVITE" crlf="true"/>',
            `<recv request="INVITE" crlf="true"/>\n${TRYING}\n  <pause milliseconds="${o.pbxDelayMs}"/>`,
          ),
        );
      }
      const pbx = sippBackground(uas, pbxPort, { ip: PBX, timeoutS: 40 });
      const caller = (async () =>
        sipp({
          scenario: uacFile,
          target: `127.0.0.1:${port}`,
          ip: CARRIER,
          localPort: await freePort(),
          timeoutS: 40,
          extra: ['-s', DID],
        }))();
      return { done: Promise.all([caller, pbx.done]) };
    },
    async close() {
      hepSock.close();
      await server.stop();
    },
  };
}
