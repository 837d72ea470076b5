import { webrtcCallSuite } from '../helpers/webrtc-call-suite.js';
import { mediaPortRange } from '../media/helpers.js';
import { rtpengineSkipReason, startRtpengine } from '../media/rtpengine-daemon.js';

/**
 * Browser calls through each engine, side by side: the built-in one
 * (ICE-lite, DTLS-SRTP with werift-dtls, PCMA end to end; it also serves
 * the example page) and rtpengine (Debian rtpengine-daemon, userspace: its
 * ICE and DTLS-SRTP, the page offering Opus only so that rtpengine
 * transcodes Opus <-> PCMA for the carrier).
 */
webrtcCallSuite([
  {
    label: 'built-in engine',
    skip: false,
    opusOnly: false,
    examplePage: true,
    media: async () => {
      const range = mediaPortRange(100);
      return {
        yaml: `media: {engine: builtin, address: 127.0.0.1, ports: ${range.min}-${range.max}, timeout: 10, holdTimeout: 60}`,
        stop: async () => {},
      };
    },
  },
  {
    label: 'rtpengine',
    skip: rtpengineSkipReason(),
    opusOnly: true,
    examplePage: false,
    media: async () => {
      const d = await startRtpengine(['--delete-delay=0']);
      return {
        yaml: `media: {engine: rtpengine, ng: "udp:127.0.0.1:${d.ngPort}", timeout: 10, holdTimeout: 60}`,
        stop: d.stop,
      };
    },
  },
]);
