import { webrtcCallSuite } from '../helpers/webrtc-call-suite.js';
import { rtpengineSkipReason, startRtpengine } from '../media/rtpengine-daemon.js';

/**
 * Browser calls with rtpengine (Debian rtpengine-daemon, userspace): its
 * ICE and DTLS-SRTP toward the page, and the page offering Opus only, so
 * rtpengine transcodes Opus <-> PCMA for the carrier.
 */
webrtcCallSuite({
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
});
