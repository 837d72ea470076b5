/**
 * Kamailio (the Debian package) as a real SIP peer of the interop tests: a
 * minimal stateful proxy (tm, rr, sl, tmx, maxfwd, textops, siputils, pv,
 * xlog) that record-routes initial INVITEs, loose-routes in-dialog
 * requests, and relays every initial request to one UAS. Optionally it also
 * listens on TLS (tls.so from kamailio-tls-modules).
 *
 * Started in the foreground (-DD, log to stderr -E, TLSF allocator -x tlsf)
 * in its own process group, with its config templated into a temp dir, on
 * the loopback ports the test gives; ready once it answers an OPTIONS over
 * UDP. Every request it routes is logged as one `KHOP ...` line and every
 * response it receives as one `KREPLY ...` line, which the tests read to
 * see what crossed it (hops(), replies()).
 *
 * The binary and module lookup, the command line and the OPTIONS readiness
 * probe are shared with the benchmarks (bench/common/kamailio.ts imports
 * them from here: tests do not depend on bench/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The kamailio binary (Debian installs it in /usr/sbin, not always on a user's PATH), or null. */
export function kamailioBinary(): string | null {
  const dirs = [
    ...(process.env.PATH ?? '').split(':').filter((d) => d !== ''),
    '/usr/sbin',
    '/usr/local/sbin',
    '/sbin',
  ];
  for (const d of dirs) if (existsSync(join(d, 'kamailio'))) return join(d, 'kamailio');
  return null;
}

/** Where Debian (/usr/lib/<triplet>/kamailio/modules/) or a source build put Kamailio's modules, or null. */
export function kamailioModulePath(): string | null {
  const candidates: string[] = [];
  try {
    for (const d of readdirSync('/usr/lib')) candidates.push(`/usr/lib/${d}/kamailio/modules/`);
  } catch {
    /* no /usr/lib */
  }
  candidates.push(
    '/usr/lib/kamailio/modules/',
    '/usr/lib64/kamailio/modules/',
    '/usr/local/lib64/kamailio/modules/',
    '/usr/local/lib/kamailio/modules/',
  );
  return candidates.find((p) => existsSync(join(p, 'tm.so'))) ?? null;
}

/**
 * Why a Kamailio test cannot run here (for `{ skip }`), or false when it can.
 * `tls`: the TLS module (Debian package kamailio-tls-modules) is needed too.
 */
export function kamailioSkipReason(opts: { tls?: boolean } = {}): string | false {
  if (kamailioBinary() === null) return 'kamailio not installed (Debian package kamailio: scripts/install-deps.sh)';
  const mpath = kamailioModulePath();
  if (mpath === null) return 'Kamailio modules (tm.so) not found (Debian package kamailio: scripts/install-deps.sh)';
  if (opts.tls && !existsSync(join(mpath, 'tls.so')))
    return 'Kamailio TLS module tls.so not installed (Debian package kamailio-tls-modules: scripts/install-deps.sh)';
  return false;
}

/**
 * Kamailio's command line as its production users run it, in the
 * foreground: -DD (no fork into the background), -E (log to stderr),
 * shared (-m) and private (-M) memory in MB, and the TLSF allocator
 * (-x tlsf; Debian's default qm is a debugging allocator that costs about
 * 4x the CPU per call).
 */
export function kamailioArgs(configFile: string, mem: { sharedMb: number; privateMb: number }): string[] {
  return ['-f', configFile, '-DD', '-E', '-m', String(mem.sharedMb), '-M', String(mem.privateMb), '-x', 'tlsf'];
}

export interface KamailioOptions {
  /** UDP port Kamailio listens on (127.0.0.1). */
  udpPort: number;
  /** Where initial requests are relayed: a sip: URI (host:port of the SIPp UAS). */
  uas: string;
  /** Also listen on tls:127.0.0.1:port with this certificate and key (PEM files). */
  tls?: { port: number; cert: string; key: string };
  startTimeoutMs?: number;
}

export interface RunningKamailio {
  dir: string;
  configFile: string;
  pid: number;
  /** stdout and stderr so far (the KHOP lines and Kamailio's own log). */
  output(): string;
  /** The `KHOP ...` lines logged so far, one per request routed. */
  hops(): string[];
  /** The `KREPLY ...` lines logged so far, one per response received (reply_route), with all its Vias. */
  replies(): string[];
  /** SIGTERM to its process group, SIGKILL after 3 s; removes the temp dir. */
  stop(): Promise<void>;
}

/** The Kamailio config: substituted values only, no #!substdef (values hold ':' and '/'). */
export function kamailioConfig(o: KamailioOptions & { mpath: string }): string {
  const tls = o.tls;
  return `#!KAMAILIO
# Written by test/helpers/kamailio.ts: a minimal stateful proxy on loopback.
debug=1
log_stderror=yes
log_prefix=""
children=2
tcp_children=2
auto_aliases=no
listen=udp:127.0.0.1:${o.udpPort}
${tls ? `enable_tls=yes\nlisten=tls:127.0.0.1:${tls.port}` : 'disable_tcp=yes'}
mpath="${o.mpath}"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
${
  tls
    ? `loadmodule "tls.so"
modparam("tls", "tls_method", "TLSv1.2+")
modparam("tls", "certificate", "${tls.cert}")
modparam("tls", "private_key", "${tls.key}")
modparam("tls", "verify_certificate", 0)
modparam("tls", "require_certificate", 0)
`
    : ''
}
# Double Record-Route when a request changes transport (the default, said out loud).
modparam("rr", "enable_double_rr", 1)
modparam("rr", "append_fromtag", 1)

request_route {
  xlog("L_NOTICE", "KHOP $rm $ru proto=$pr src=$si:$sp rr=[$(hdr(Record-Route)[*])] route=[$(hdr(Route)[*])]\\n");
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) {
      if (!t_relay()) sl_reply_error();
      exit;
    }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  # Retransmissions of a request in progress are absorbed by tm.
  if (t_precheck_trans()) { t_check_trans(); exit; }
  t_check_trans();
  if (is_method("OPTIONS") && uri == myself && $rU == $null) { sl_send_reply("200", "OK"); exit; }
  if (is_method("INVITE")) record_route();
  $du = "${o.uas}";
  if (!t_relay()) sl_reply_error();
  exit;
}

reply_route {
  xlog("L_NOTICE", "KREPLY $rs $(hdr(CSeq)) proto=$pr src=$si:$sp via=[$(hdr(Via)[*])]\n");
}
`;
}

export async function startKamailio(o: KamailioOptions): Promise<RunningKamailio> {
  const bin = kamailioBinary();
  const mpath = kamailioModulePath();
  if (bin === null || mpath === null)
    throw new Error(kamailioSkipReason(o.tls ? { tls: true } : {}) || 'kamailio not found');
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-kamailio-'));
  const configFile = join(dir, 'kamailio.cfg');
  writeFileSync(configFile, kamailioConfig({ ...o, mpath }));

  // Foreground (-DD), log to stderr (-E), small shared (-m, MB) and private (-M) memory,
  // TLSF allocator (-x tlsf; Debian's default qm is a debugging build).
  const args = [...kamailioArgs(configFile, { sharedMb: 64, privateMb: 8 }), '-Y', dir];
  const proc: ChildProcess = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited = proc.exitCode !== null;
  const exit = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      exited = true;
      resolve();
    });
    proc.once('error', (err) => {
      exited = true;
      out += `\nspawn error: ${err.message}`;
      resolve();
    });
  });

  const signal = (sig: NodeJS.Signals): void => {
    if (exited || proc.pid === undefined) return;
    try {
      process.kill(-proc.pid, sig); // its process group: Kamailio forks its workers
    } catch {
      try {
        proc.kill(sig);
      } catch {
        /* gone */
      }
    }
  };
  const stop = async (): Promise<void> => {
    signal('SIGTERM');
    const killer = setTimeout(() => signal('SIGKILL'), 3000);
    await exit;
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await probeOptions(o.udpPort, {
      gone: () => (exited ? `kamailio exited at start:\n${out.slice(-4000)}` : null),
      timeoutMs: o.startTimeoutMs ?? 10000,
      who: 'kamailio',
      tail: () => out.slice(-4000),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    configFile,
    pid: proc.pid!,
    output: () => out,
    hops: () => logLines(out, 'KHOP '),
    replies: () => logLines(out, 'KREPLY '),
    stop,
  };
}

function logLines(out: string, marker: string): string[] {
  return out
    .split('\n')
    .filter((l) => l.includes(marker))
    .map((l) => l.slice(l.indexOf(marker)).trimEnd());
}

/**
 * OPTIONS with Max-Forwards 0 over UDP to 127.0.0.1:port until any SIP
 * response comes back (a proxy answers it itself, 483 or 200 for OPTIONS,
 * RFC 3261 16.3, relaying nothing). Returns the response's status line.
 * `gone` says why waiting is pointless (the process exited), or null.
 */
export async function probeOptions(
  port: number,
  o: { gone: () => string | null; timeoutMs: number; who: string; tail: () => string },
): Promise<string> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  const local = sock.address().port;
  const callId = `probe-${randomBytes(6).toString('hex')}@127.0.0.1`;
  let answer: string | undefined;
  sock.on('message', (m) => {
    const text = m.toString('latin1');
    if (text.startsWith('SIP/2.0 ') && text.includes(callId)) answer = text.slice(0, text.indexOf('\r\n'));
  });
  const deadline = Date.now() + o.timeoutMs;
  try {
    for (let n = 1; answer === undefined; n++) {
      const gone = o.gone();
      if (gone !== null) throw new Error(gone);
      if (Date.now() > deadline)
        throw new Error(
          `${o.who} did not answer OPTIONS on udp:127.0.0.1:${port} within ${o.timeoutMs} ms:\n${o.tail()}`,
        );
      const req = [
        `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
        `From: <sip:probe@127.0.0.1>;tag=${randomBytes(4).toString('hex')}`,
        `To: <sip:127.0.0.1:${port}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${n} OPTIONS`,
        'Max-Forwards: 0',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      sock.send(req, port, '127.0.0.1');
      for (let i = 0; i < 10 && answer === undefined; i++) await new Promise((r) => setTimeout(r, 25));
    }
    return answer;
  } finally {
    sock.close();
  }
}
