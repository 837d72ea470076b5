import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A real baresip (the Debian baresip-core 1.0 package) as a SIP user agent
 * for interop tests: a config directory of its own (loopback SIP port, no
 * audio devices: a WAV file as source and no player, PCMU/PCMA only), one account
 * whose requests all go to Trunkline as outbound proxy, and the ctrl_tcp
 * module as its remote control (netstring-framed JSON commands, responses
 * and events such as CALL_ESTABLISHED or CALL_CLOSED).
 */
export interface BaresipEvent {
  event: true;
  type: string;
  class?: string;
  accountaor?: string;
  direction?: string;
  peeruri?: string;
  param?: string;
  [k: string]: unknown;
}

export interface BaresipResponse {
  response: true;
  ok: boolean;
  data?: string;
  token?: string;
}

export interface Baresip {
  name: string;
  sipPort: number;
  proc: ChildProcess;
  /** Everything baresip wrote to stdout and stderr so far. */
  output: () => string;
  /** Every event received on the control connection so far. */
  events: BaresipEvent[];
  /** Sends a ctrl_tcp command (e.g. `dial`, `hangup`, `accept`) and waits for its response. */
  command: (command: string, params?: string, timeoutMs?: number) => Promise<BaresipResponse>;
  /** The first event (already received or to come) that matches, or an error after timeoutMs. */
  waitEvent: (match: (e: BaresipEvent) => boolean, what: string, timeoutMs?: number) => Promise<BaresipEvent>;
  stop: () => Promise<void>;
}

export interface BaresipOptions {
  name: string;
  user: string;
  domain: string;
  password: string;
  /** Trunkline's UDP port on 127.0.0.1 (the account's outbound proxy). */
  proxyPort: number;
  answermode?: 'manual' | 'auto';
  /** Registration interval in seconds. */
  regint?: number;
  startTimeoutMs?: number;
  /** Local address for SIP and RTP (another 127.x stands in for another host); 127.0.0.1 by default. */
  ip?: string;
  /** The SIP port to listen on (a free one by default). */
  sipPort?: number;
  /** Media encryption of the account, e.g. `srtp-mand` (SDES SRTP only; loads the srtp module). */
  mediaenc?: string;
  /** A directory where the sndfile module writes each call's decoded audio (dump-*-dec.wav) and what it sent (-enc.wav). */
  recordDir?: string;
  /** Length of the 440 Hz tone it sends (aufile ends the call at the end of its file); 2 s by default. */
  toneSeconds?: number;
}

/**
 * Two seconds of a 440 Hz tone as 8 kHz mono 16-bit PCM WAV: the audio
 * source (aufile wants the codec's sample rate, ausine only 48 kHz).
 */
function toneWav(rate = 8000, seconds = 2): Buffer {
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return b;
}

/** Encodes one netstring: `<length>:<bytes>,`. */
function netstring(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]);
}

export async function startBaresip(opts: BaresipOptions): Promise<Baresip> {
  const dir = mkdtempSync(join(tmpdir(), `baresip-${opts.name}-`));
  const sipPort = opts.sipPort ?? (await freePort(opts.ip ?? '127.0.0.1'));
  const ctrlPort = await freePort();
  const account =
    `<sip:${opts.user}@${opts.domain};transport=udp>` +
    `;auth_pass=${opts.password}` +
    `;outbound="sip:127.0.0.1:${opts.proxyPort};transport=udp"` +
    `;answermode=${opts.answermode ?? 'manual'}` +
    `;regint=${opts.regint ?? 600}` +
    `;audio_codecs=PCMU/8000/1,PCMA/8000/1;mwi=no;pubint=0` +
    (opts.mediaenc !== undefined ? `;mediaenc=${opts.mediaenc}` : '');
  const ip = opts.ip ?? '127.0.0.1';
  writeFileSync(join(dir, 'accounts'), `${account}\n`);
  writeFileSync(join(dir, 'contacts'), '');
  const wav = join(dir, 'tone.wav');
  writeFileSync(wav, toneWav(8000, opts.toneSeconds ?? 2));
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      // SDP and RTP on loopback too, not the first external interface.
      `net_interface ${ip}`,
      `sip_listen ${ip}:${sipPort}`,
      'call_local_timeout 20',
      'call_max_calls 1',
      `audio_source aufile,${wav}`,
      'audio_player nil,nil',
      'audio_alert nil,nil',
      'rtp_ports 20000-40000',
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module aufile.so',
      ...(opts.mediaenc !== undefined ? ['module srtp.so'] : []),
      ...(opts.recordDir !== undefined ? ['module sndfile.so', `snd_path ${opts.recordDir}`] : []),
      'module ctrl_tcp.so',
      'module_tmp account.so',
      // dial, accept and hangup are menu commands.
      'module_app menu.so',
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      '',
    ].join('\n'),
  );
  const proc = spawn('baresip', ['-4', '-f', dir], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });

  const events: BaresipEvent[] = [];
  const waiters: Array<() => void> = [];
  const pending = new Map<string, (r: BaresipResponse) => void>();
  let nextToken = 1;
  let buf = Buffer.alloc(0);
  const onMessage = (text: string): void => {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      out += `\n[ctrl_tcp: unparsable message ${text}]\n`;
      return;
    }
    const m = msg as Partial<BaresipEvent> & Partial<BaresipResponse>;
    if (m.event === true) {
      events.push(m as BaresipEvent);
      for (const w of waiters.slice()) w();
    } else if (m.response === true && typeof m.token === 'string') {
      pending.get(m.token)?.(m as BaresipResponse);
      pending.delete(m.token);
    }
  };
  const onData = (d: Buffer): void => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const colon = buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(buf.subarray(0, colon).toString());
      if (!Number.isInteger(len) || len < 0) {
        out += `\n[ctrl_tcp: bad netstring prefix ${buf.subarray(0, colon).toString()}]\n`;
        buf = Buffer.alloc(0);
        return;
      }
      if (buf.length < colon + 1 + len + 1) return;
      const text = buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
      buf = buf.subarray(colon + 1 + len + 1);
      onMessage(text);
    }
  };

  const stop = async (): Promise<void> => {
    sock?.destroy();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  // Connect to the control port once baresip listens on it.
  const startTimeoutMs = opts.startTimeoutMs ?? 10000;
  const deadline = Date.now() + startTimeoutMs;
  let sock: Socket | null = null;
  try {
    while (sock === null) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`baresip ${opts.name} exited at start:\n${out}`);
      if (Date.now() > deadline)
        throw new Error(`baresip ${opts.name}: no control port in ${startTimeoutMs} ms:\n${out}`);
      sock = await new Promise<Socket | null>((resolve) => {
        const s = connect(ctrlPort, '127.0.0.1');
        s.once('connect', () => {
          s.removeAllListeners('error');
          resolve(s);
        });
        s.once('error', () => {
          s.destroy();
          setTimeout(() => resolve(null), 100);
        });
      });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  sock.on('data', onData);
  sock.on('error', () => {});

  const command = (cmd: string, params = '', timeoutMs = 5000): Promise<BaresipResponse> => {
    const token = String(nextToken++);
    return new Promise<BaresipResponse>((resolve, reject) => {
      const t = setTimeout(() => {
        pending.delete(token);
        reject(new Error(`baresip ${opts.name}: no response to ${cmd} ${params} in ${timeoutMs} ms:\n${out}`));
      }, timeoutMs);
      pending.set(token, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      sock!.write(netstring(JSON.stringify({ command: cmd, params, token })));
    });
  };

  const waitEvent = (match: (e: BaresipEvent) => boolean, what: string, timeoutMs = 10000): Promise<BaresipEvent> =>
    new Promise<BaresipEvent>((resolve, reject) => {
      const found = events.find(match);
      if (found) return resolve(found);
      const check = (): void => {
        const e = events.find(match);
        if (!e) return;
        done();
        resolve(e);
      };
      const t = setTimeout(() => {
        done();
        reject(
          new Error(
            `baresip ${opts.name}: no ${what} in ${timeoutMs} ms; events ${JSON.stringify(events.map((e) => e.type))}:\n${out}`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        const i = waiters.indexOf(check);
        if (i >= 0) waiters.splice(i, 1);
      };
      waiters.push(check);
    });

  return { name: opts.name, sipPort, proc, output: () => out, events, command, waitEvent, stop };
}
