/**
 * The relay's UDP ports: an allocator over the configured range (RTP on an
 * even port and RTCP on the next odd one, RFC 3550 11; or one port with
 * rtcp-mux, RFC 5761), and the binding of sockets on them. A port that
 * another process holds is skipped (bind fails, the next candidate is
 * tried). The cursor moves on after each allocation so a port just freed
 * is not handed out again at once (late packets of the old call). A single
 * port (rtcp-mux) is taken first among the free ports whose pair neighbour
 * is in use (the RTCP port a leg gave back when its peer chose rtcp-mux),
 * so that whole even/odd pairs stay for the legs that need two.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { MediaError, WARN } from './errors.js';
import { openFileLimit } from '../core/open-files.js';

export class PortAllocator {
  private readonly used: Uint8Array;
  private cursor: number;
  private count = 0;
  /** Free ports whose pair neighbour (port ^ 1) is in use or outside the range: where allocOne looks first. */
  private readonly singles = new Set<number>();

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max <= 65535 && min < max)) {
      throw new RangeError(`bad media port range ${min}-${max}`);
    }
    this.used = new Uint8Array(max - min + 1);
    // Read now, while descriptors are free: the 503 of a bind out of them names it.
    openFileLimit();
    // Start somewhere in the range so restarts do not reuse the same ports first.
    this.cursor = min + Math.floor(Math.random() * (max - min + 1));
    if (min & 1) this.singles.add(min);
    if (!(max & 1)) this.singles.add(max);
  }

  /** Ports currently allocated. */
  get inUse(): number {
    return this.count;
  }

  isUsed(port: number): boolean {
    return port >= this.min && port <= this.max && this.used[port - this.min] === 1;
  }

  /** Whether the other port of this port's even/odd pair is taken (or not in the range). */
  private neighbourTaken(port: number): boolean {
    const n = port ^ 1;
    return n < this.min || n > this.max || this.used[n - this.min] === 1;
  }

  private mark(port: number): void {
    this.used[port - this.min] = 1;
    this.count++;
    this.singles.delete(port);
    const n = port ^ 1;
    if (!this.neighbourTaken(port) && n >= this.min && n <= this.max) this.singles.add(n);
  }

  /** An even port whose odd neighbour is free too, both marked used; null when the range is full. */
  allocPair(): number | null {
    const span = this.max - this.min + 1;
    let p = this.cursor + (this.cursor & 1);
    for (let n = 0; n < span; n += 2, p += 2) {
      if (p + 1 > this.max) p = this.min + (this.min & 1);
      if (p + 1 > this.max) return null;
      if (this.used[p - this.min] === 0 && this.used[p + 1 - this.min] === 0) {
        this.mark(p);
        this.mark(p + 1);
        this.cursor = p + 2;
        return p;
      }
    }
    return null;
  }

  /** One free port, marked used (a single one first, else any); null when the range is full. */
  allocOne(): number | null {
    for (const p of this.singles) {
      this.mark(p);
      return p;
    }
    const span = this.max - this.min + 1;
    let p = this.cursor;
    for (let n = 0; n < span; n++, p++) {
      if (p > this.max) p = this.min;
      if (this.used[p - this.min] === 0) {
        this.mark(p);
        this.cursor = p + 1;
        return p;
      }
    }
    return null;
  }

  free(port: number): void {
    if (!this.isUsed(port)) return;
    this.used[port - this.min] = 0;
    this.count--;
    // Its neighbour free too: a whole pair again, for allocPair; else a single.
    if (this.neighbourTaken(port)) this.singles.add(port);
    else this.singles.delete(port ^ 1);
  }

  /** Frees a port that did not bind (another process holds it): not offered first again; the cursor comes back to it. */
  freeBusy(port: number): void {
    this.free(port);
    this.singles.delete(port);
  }
}

/** Resolver for dgram that answers IP literals synchronously (no dns.lookup and nextTick per send). */
function literalLookup(
  address: string,
  _family: unknown,
  cb: (err: Error | null, address: string, family: number) => void,
): void {
  cb(null, address, isIP(address) === 6 ? 6 : 4);
}

export interface SocketOptions {
  /** Kernel buffer sizes in bytes (SO_RCVBUF/SO_SNDBUF); the kernel may cap them. */
  bufferBytes?: number;
}

/** Errors of socket() itself: the process (EMFILE) or the system (ENFILE) has no descriptor left. */
const NO_DESCRIPTOR = new Set(['EMFILE', 'ENFILE']);

/**
 * A 503 that names the open-file limit: when sockets cannot be made, no
 * port of the range can be bound, and "no free port" would mislead.
 */
function noDescriptor(code: string): MediaError {
  const limit = openFileLimit();
  const which =
    code === 'ENFILE'
      ? "the system's open-file table is full (ENFILE)"
      : `the process's open-file limit${limit === null ? '' : ` (${limit.soft})`} is reached (EMFILE)`;
  return new MediaError(503, WARN.misc, `no socket for a media port: ${which}`);
}

/** A bound socket, or the error code of the failed bind (EADDRINUSE: another process holds the port). */
function bindAt(port: number, host: string, opts: SocketOptions): Promise<Socket | string> {
  return new Promise((resolve) => {
    const sock = createSocket({
      type: isIP(host) === 6 ? 'udp6' : 'udp4',
      lookup: literalLookup as never,
      ...(opts.bufferBytes !== undefined && { recvBufferSize: opts.bufferBytes, sendBufferSize: opts.bufferBytes }),
    });
    const onError = (err: NodeJS.ErrnoException): void => {
      sock.close();
      resolve(err.code ?? 'EUNKNOWN');
    };
    sock.once('error', onError);
    sock.bind({ port, address: host, exclusive: true }, () => {
      sock.removeListener('error', onError);
      resolve(sock);
    });
  });
}

export interface BoundPorts {
  rtpPort: number;
  rtp: Socket;
  rtcpPort: number | null;
  rtcp: Socket | null;
}

const BIND_ATTEMPTS = 64;

/**
 * Allocates and binds an RTP socket and, unless `mux`, an RTCP socket on the
 * next port. Throws MediaError 503 when the range is exhausted.
 */
export async function bindPorts(
  alloc: PortAllocator,
  host: string,
  mux: boolean,
  opts: SocketOptions = {},
): Promise<BoundPorts> {
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const p = mux ? alloc.allocOne() : alloc.allocPair();
    if (p === null) break;
    const rtp = await bindAt(p, host, opts);
    if (typeof rtp === 'string') {
      alloc.freeBusy(p);
      if (!mux) alloc.free(p + 1);
      if (NO_DESCRIPTOR.has(rtp)) throw noDescriptor(rtp);
      continue;
    }
    if (mux) return { rtpPort: p, rtp, rtcpPort: null, rtcp: null };
    const rtcp = await bindAt(p + 1, host, opts);
    if (typeof rtcp !== 'string') return { rtpPort: p, rtp, rtcpPort: p + 1, rtcp };
    rtp.close();
    alloc.free(p);
    alloc.free(p + 1);
    if (NO_DESCRIPTOR.has(rtcp)) throw noDescriptor(rtcp);
  }
  throw new MediaError(503, WARN.misc, `no free media port in ${alloc.min}-${alloc.max}`);
}

/** One extra port for RTCP when a leg that had rtcp-mux drops it. */
export async function bindOne(
  alloc: PortAllocator,
  host: string,
  opts: SocketOptions = {},
): Promise<{ port: number; sock: Socket }> {
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const p = alloc.allocOne();
    if (p === null) break;
    const sock = await bindAt(p, host, opts);
    if (typeof sock !== 'string') return { port: p, sock };
    alloc.freeBusy(p);
    if (NO_DESCRIPTOR.has(sock)) throw noDescriptor(sock);
  }
  throw new MediaError(503, WARN.misc, `no free media port in ${alloc.min}-${alloc.max}`);
}
