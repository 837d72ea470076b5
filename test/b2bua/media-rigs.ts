/**
 * One Trunkline per media engine for the SIPp call tests of the B2BUA, so
 * that a file runs its calls through the built-in relay and through
 * rtpengine side by side (each engine's calls concurrent with the other's)
 * instead of one suite after the other. Each engine has its own /24 of
 * loopback for its peers (127.0.0.x for the built-in relay, 127.0.1.x for
 * rtpengine), so the two sets of PBXs and carriers never meet.
 *
 * rtpengine: Debian's daemon, userspace, `--delete-delay=0` and its own
 * media timeout raised to the test's (these calls carry no RTP: rtpengine's
 * default 60 s would delete a call that is meant to last longer).
 */
import { openStore, type Store } from '../../src/store/index.js';
import type { Cdr } from '../../src/trunking/model.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { rtpengineSkipReason, startRtpengine } from '../media/rtpengine-daemon.js';

export interface MediaChoice {
  label: string;
  skip: string | false;
  /** The third octet of this engine's peers' loopback addresses. */
  net: number;
  /** Starts what the server's media block names; that block (media timeout `timeoutS`) and how to stop it. */
  start(timeoutS: number): Promise<{ yaml: string; stop(): Promise<void> }>;
}

export const MEDIA_CHOICES: readonly MediaChoice[] = [
  {
    label: 'built-in relay',
    skip: false,
    net: 0,
    start: async (timeoutS) => ({ yaml: `media: {timeout: ${timeoutS}}`, stop: async () => {} }),
  },
  {
    label: 'rtpengine',
    skip: rtpengineSkipReason(),
    net: 1,
    start: async (timeoutS) => {
      const d = await startRtpengine(['--delete-delay=0', `--timeout=${timeoutS}`]);
      return {
        yaml: `media: {engine: rtpengine, ng: "udp:127.0.0.1:${d.ngPort}", timeout: ${timeoutS}}`,
        stop: d.stop,
      };
    },
  },
];

/** The loopback address of peer number `n` of this engine's set (127.0.NET.n). */
export function hostOf(m: MediaChoice, n: number): string {
  return `127.0.${m.net}.${n}`;
}

/** A running Trunkline with its media engine and its store (the server's own SQLite file). */
export interface MediaRig {
  media: MediaChoice;
  server: RunningTrunkline;
  store: Store;
  /** Its SIP port on 127.0.0.1 (UDP). */
  port: number;
  stop(): Promise<number | null>;
  /** The CDR of the call to `number`, once written. */
  cdrTo(number: string): Promise<Cdr>;
}

/**
 * Starts Trunkline on `port` with `config` (YAML lines without `listen:` and
 * `media:`) and the media engine of `media` with a media timeout of
 * `timeoutS`; `fill` puts the rig's accounts, trunks and routes in the store,
 * and the server is given the time to see them.
 */
export async function startRig(
  media: MediaChoice,
  port: number,
  config: string[],
  timeoutS: number,
  fill: (store: Store) => Promise<void>,
): Promise<MediaRig> {
  const engine = await media.start(timeoutS);
  let server: RunningTrunkline;
  try {
    server = await startTrunkline([`listen: [udp:127.0.0.1:${port}]`, ...config, engine.yaml, ''].join('\n'));
  } catch (err) {
    await engine.stop();
    throw err;
  }
  const store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await fill(store);
  // The server sees store changes within 2 s (it polls every second).
  await new Promise((r) => setTimeout(r, 2200));
  return {
    media,
    server,
    store,
    port,
    async stop() {
      await store.close();
      const code = await server.stop();
      await engine.stop();
      return code;
    },
    cdrTo: (number) =>
      waitFor(async () => (await store.cdrs.list()).cdrs.find((c) => c.to === number), {
        timeoutMs: 5000,
        what: `the CDR of the call to ${number} (${media.label})`,
      }),
  };
}
