import { webrtcCallSuite } from '../helpers/webrtc-call-suite.js';
import { mediaPortRange } from '../media/helpers.js';

/** Browser calls with the built-in engine: ICE-lite, DTLS-SRTP with werift-dtls, PCMA end to end. */
webrtcCallSuite({
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
});
