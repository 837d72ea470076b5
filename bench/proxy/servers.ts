/**
 * The two proxies under test, each started from a config written into the
 * run's temp dir with free loopback ports, and readiness by OPTIONS.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Child } from './children.js';
import type { Transport } from './sipp.js';
import { sleep } from './sipp.js';

export interface ServerPorts {
  /** The proxy's SIP port, UDP and TCP. */
  proxy: number;
  /** The SIPp UAS's port. */
  uas: number;
  /** Trunkline's management API port (kept off the default 8080). */
  api: number;
}

export interface ProxyUnderTest {
  /** 'kamailio' or 'trunkline'. */
  name: ServerName;
  label: string;
  /** One line for the report: how it was started. */
  describe: string;
  child: Child;
}

export type ServerName = 'kamailio' | 'trunkline';

// ---------------------------------------------------------------- Kamailio

/** Where Debian (and a source build) put Kamailio's modules. */
export function kamailioModulePath(): string {
  const candidates: string[] = [];
  try {
    for (const d of readdirSync('/usr/lib')) candidates.push(`/usr/lib/${d}/kamailio/modules/`);
  } catch {
    /* no /usr/lib */
  }
  candidates.push('/usr/lib/kamailio/modules/', '/usr/lib64/kamailio/modules/', '/usr/local/lib64/kamailio/modules/', '/usr/local/lib/kamailio/modules/');
  const found = candidates.find((p) => existsSync(join(p, 'tm.so')));
  if (found === undefined) throw new Error('Kamailio modules (tm.so) not found: install the Debian package kamailio (scripts/install-deps.sh)');
  return found;
}

/** Sets the value of `#!substdef "!NAME!value!"` lines of the template. */
export function substdef(cfg: string, values: Record<string, string>): string {
  let out = cfg;
  for (const [name, value] of Object.entries(values)) {
    if (value.includes('!')) throw new Error(`substdef value for ${name} must not contain '!'`);
    const re = new RegExp(`^#!substdef "!${name}!.*!"$`, 'm');
    if (!re.test(out)) throw new Error(`kamailio template has no substdef line for ${name}`);
    out = out.replace(re, `#!substdef "!${name}!${value}!"`);
  }
  return out;
}

export function startKamailio(o: {
  kamailio: string;
  template: string;
  dir: string;
  ports: ServerPorts;
  workers: number;
}): ProxyUnderTest {
  const cfg = substdef(readFileSync(o.template, 'utf8'), {
    BENCH_UAS: `sip:127.0.0.1:${o.ports.uas}`,
    BENCH_LISTEN_UDP: `udp:127.0.0.1:${o.ports.proxy}`,
    BENCH_LISTEN_TCP: `tcp:127.0.0.1:${o.ports.proxy}`,
    BENCH_WORKERS: String(o.workers),
    BENCH_MPATH: kamailioModulePath(),
  });
  const file = join(o.dir, 'kamailio.cfg');
  writeFileSync(file, cfg);
  // Foreground (-DD), log to stderr (-E), 256 MB shared / 32 MB private memory, TLSF allocator.
  const args = ['-f', file, '-DD', '-E', '-m', '256', '-M', '32', '-x', 'tlsf'];
  const child = new Child('kamailio', o.kamailio, args, join(o.dir, 'kamailio.log'), o.dir);
  return {
    name: 'kamailio',
    label: 'Kamailio',
    describe: `kamailio ${args.join(' ')} (children=${o.workers}, tcp_children=${o.workers})`,
    child,
  };
}

// ---------------------------------------------------------------- Trunkline

export function trunklineConfigYaml(o: { ports: ServerPorts; transport: Transport; dataDir: string }): string {
  const uas = `sip:127.0.0.1:${o.ports.uas}${o.transport === 'tcp' ? ';transport=tcp' : ''}`;
  return [
    '# Written by bench/proxy/run.ts: a stateful proxy relaying every initial',
    '# request to the SIPp UAS; loopback only, free ports.',
    'listen:',
    `  - udp:127.0.0.1:${o.ports.proxy}`,
    `  - tcp:127.0.0.1:${o.ports.proxy}`,
    `data: ${JSON.stringify(o.dataDir)}`,
    'api:',
    `  listen: 127.0.0.1:${o.ports.api}`,
    'log:',
    '  level: warn',
    'routes:',
    `  - forward: ${JSON.stringify(uas)}`,
    '',
  ].join('\n');
}

/**
 * `cmd` is run by /bin/sh (through exec, so that its pid is the server's);
 * {config}, {port} and {uas_port} in it are replaced. With no {config} the
 * generated config is appended as `--config FILE`.
 */
export function startTrunkline(o: {
  cmd: string;
  dir: string;
  ports: ServerPorts;
  transport: Transport;
  cwd: string;
}): ProxyUnderTest {
  const file = join(o.dir, 'trunkline.yaml');
  writeFileSync(file, trunklineConfigYaml({ ports: o.ports, transport: o.transport, dataDir: join(o.dir, 'trunkline-data') }));
  let cmd = o.cmd.includes('{config}') ? o.cmd : `${o.cmd} --config {config}`;
  cmd = cmd
    .replaceAll('{config}', shellQuote(file))
    .replaceAll('{port}', String(o.ports.proxy))
    .replaceAll('{uas_port}', String(o.ports.uas));
  const child = new Child('trunkline', '/bin/sh', ['-c', `exec ${cmd}`], join(o.dir, 'trunkline.log'), o.cwd);
  return { name: 'trunkline', label: 'Trunkline', describe: cmd, child };
}

export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

// ---------------------------------------------------------------- readiness

/**
 * Sends OPTIONS over UDP until any SIP response comes back. Max-Forwards is 0
 * so that a proxy answers it itself (483, or 200 for OPTIONS, RFC 3261 16.3)
 * instead of relaying it to a UAS that is not there yet.
 */
export async function waitForOptions(port: number, server: Child, timeoutMs: number): Promise<string> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  const local = sock.address().port;
  const callId = `bench-${randomBytes(6).toString('hex')}@127.0.0.1`;
  let answer: string | undefined;
  sock.on('message', (msg) => {
    const text = msg.toString('latin1');
    if (text.startsWith('SIP/2.0 ') && text.includes(callId)) answer = text.slice(0, text.indexOf('\r\n'));
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (let n = 1; answer === undefined; n++) {
      if (server.exited) throw new Error(`${server.name} exited before answering OPTIONS (${server.describeExit()}):\n${server.logTail()}`);
      if (Date.now() > deadline) throw new Error(`${server.name} did not answer OPTIONS on udp:127.0.0.1:${port} within ${timeoutMs} ms:\n${server.logTail()}`);
      const req = [
        `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
        `From: <sip:bench@127.0.0.1>;tag=${randomBytes(4).toString('hex')}`,
        `To: <sip:127.0.0.1:${port}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${n} OPTIONS`,
        'Max-Forwards: 0',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      sock.send(req, port, '127.0.0.1');
      for (let i = 0; i < 10 && answer === undefined; i++) await sleep(25);
    }
    return answer;
  } finally {
    sock.close();
  }
}

/** True when something is bound to the port (our own bind fails with EADDRINUSE). */
async function portTaken(port: number, transport: Transport): Promise<boolean> {
  if (transport === 'udp') {
    return new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(true));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
  }
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

export async function waitForBind(port: number, transport: Transport, who: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portTaken(port, transport))) {
    if (who.exited) throw new Error(`${who.name} exited at start (${who.describeExit()}):\n${who.logTail()}`);
    if (Date.now() > deadline) throw new Error(`${who.name} did not bind ${transport}:127.0.0.1:${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}
