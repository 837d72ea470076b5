import { trunkMediaSuite } from '../helpers/trunk-media-suite.js';
import { rtpengineSkipReason, startRtpengine } from '../media/rtpengine-daemon.js';

/**
 * The same trunk calls with rtpengine (Debian rtpengine-daemon, userspace,
 * started here on loopback with its own port range) as the media engine.
 * `--delete-delay=0`: a deleted call's ports go at once, as the built-in relay's do.
 */
trunkMediaSuite({
  label: 'rtpengine',
  skip: rtpengineSkipReason(),
  builtin: false,
  media: async () => {
    const d = await startRtpengine(['--delete-delay=0']);
    return {
      yaml: `media: {engine: rtpengine, ng: "udp:127.0.0.1:${d.ngPort}", timeout: 3, holdTimeout: 3600}`,
      range: d.ports,
      stop: d.stop,
    };
  },
});
