/**
 * bench/b2bua's peer: Kamailio 5.6 (kamailio-rtpengine.cfg, one worker,
 * `-x tlsf`) in front of rtpengine's daemon in userspace (`--table=-1`, one
 * worker thread, no config file), both on loopback, each in its own process
 * group. Their CPU is the sum of Kamailio's process tree and rtpengine's
 * process (all its threads).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
import { NgClient } from '../../src/media/rtpengine.js';
import { rtpengineArgs, rtpengineBinary } from '../../test/media/rtpengine-daemon.js';
import { Child } from '../common/children.js';
import { findKamailio, startKamailioFromTemplate } from '../common/kamailio.js';
import { treeCpuTicks } from '../common/procstat.js';
import { waitForOptions } from '../common/readiness.js';
import { sleep } from '../common/sipp.js';

/** The checkout (this file is dist/bench/b2bua/kamailio-rtpengine.js; tsc copies no .cfg). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TEMPLATE = join(ROOT, 'bench', 'b2bua', 'kamailio-rtpengine.cfg');

/**
 * rtpengine's media ports: below Trunkline's 41000-49000 in bench/b2bua.
 * Four per call (RTP and RTCP of each leg); calls are deleted at once on
 * BYE (`--delete-delay=0`, not the 30 s default), so this covers far more
 * calls in progress than the ladder holds.
 */
export const RTPENGINE_PORTS = { min: 34000, max: 39999 };

/** Why the peer cannot run here, or undefined when it can. */
export function peerMissing(): string | undefined {
  if (findKamailio() === undefined) return 'kamailio not installed (scripts/install-deps.sh)';
  if (rtpengineBinary() === null) return 'rtpengine not installed (Debian rtpengine-daemon; scripts/install-deps.sh)';
  return undefined;
}

export interface KamailioRtpengine {
  /** Kamailio's SIP port (udp, 127.0.0.1). */
  port: number;
  /** CPU ticks of Kamailio's process tree and of rtpengine's process (all its threads). */
  cpuTicks(): { kamailio: number; rtpengine: number };
  stop(): Promise<void>;
}

async function waitForNg(ngPort: number, rtpengine: Child): Promise<void> {
  const probe = new NgClient('127.0.0.1', ngPort, 200, 1);
  try {
    for (let i = 0; i < 50; i++) {
      if (rtpengine.exited)
        throw new Error(`rtpengine exited at start (${rtpengine.describeExit()}):\n${rtpengine.logTail()}`);
      if ((await probe.command({ command: 'ping' }).catch(() => null))?.result === 'pong') return;
      await sleep(100);
    }
    throw new Error(`rtpengine did not answer ping on 127.0.0.1:${ngPort}:\n${rtpengine.logTail()}`);
  } finally {
    probe.close();
  }
}

/** Starts rtpengine, then Kamailio relaying every initial request to `uas` (a sip: URI). */
export async function startKamailioRtpengine(o: { dir: string; uas: string }): Promise<KamailioRtpengine> {
  const missing = peerMissing();
  if (missing !== undefined) throw new Error(missing);
  const [ngPort, cliPort, port] = [await freePort(), await freePort(), await freePort()];
  const rtpengine = new Child(
    'rtpengine',
    rtpengineBinary()!,
    rtpengineArgs({
      ngPort,
      cliPort,
      ports: RTPENGINE_PORTS,
      logLevel: 3,
      extra: ['--num-threads=1', '--delete-delay=0', '--timeout=3600'],
    }),
    join(o.dir, 'rtpengine.log'),
    o.dir,
  );
  let kamailio: Child | undefined;
  const stop = async (): Promise<void> => {
    await kamailio?.stop();
    await rtpengine.stop();
  };
  try {
    await waitForNg(ngPort, rtpengine);
    kamailio = startKamailioFromTemplate({
      kamailio: findKamailio()!,
      template: TEMPLATE,
      dir: o.dir,
      values: {
        BENCH_UAS: o.uas,
        BENCH_LISTEN_UDP: `udp:127.0.0.1:${port}`,
        BENCH_NG: `udp:127.0.0.1:${ngPort}`,
        BENCH_WORKERS: '1',
      },
    }).child;
    await waitForOptions(port, kamailio, 10_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const k = kamailio;
  return {
    port,
    cpuTicks: () => ({ kamailio: treeCpuTicks(k.pid).ticks, rtpengine: treeCpuTicks(rtpengine.pid).ticks }),
    stop,
  };
}
