/** Errors of the cluster layer (src/cluster/). */

/** Redis cannot be reached now (not connected, or the command failed on the wire). */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  constructor(what: string, cause?: unknown) {
    super(
      `redis unavailable: ${what}${cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`}`,
    );
  }
}

/** Redis answered something a script or command of ours never returns. */
export class ClusterProtocolError extends Error {
  override readonly name = 'ClusterProtocolError';
}
