import { builtinRange, trunkMediaSuite } from '../helpers/trunk-media-suite.js';

/** Media through trunk calls with the built-in relay (a port range of its own, 3 s media timeout). */
trunkMediaSuite({
  label: 'built-in relay',
  skip: false,
  builtin: true,
  media: async () => {
    const range = builtinRange();
    return {
      yaml: `media: {engine: builtin, address: 127.0.0.1, ports: ${range.min}-${range.max}, timeout: 3, holdTimeout: 3600}`,
      range,
      stop: async () => {},
    };
  },
});
