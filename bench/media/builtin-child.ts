/**
 * The built-in relay in a process of its own, so the bench can read its CPU
 * time from /proc like rtpengine's. Driven over the fork() IPC channel:
 * {id, op: 'offer'|'answer'|'delete', args} -> {id, ok, value|error}.
 * argv: PORT_MIN PORT_MAX.
 */
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import type { LegMediaOptions, Side } from '../../src/media/engine.js';

const [min, max] = process.argv.slice(2).map(Number);
const engine = new BuiltinMediaEngine({
  address: '127.0.0.1',
  ports: { min: min!, max: max! },
  timeout: 3600,
  holdTimeout: 3600,
  socketBufferBytes: 1024 * 1024,
});

interface Req {
  id: number;
  op: 'offer' | 'answer' | 'delete' | 'exit';
  args: [string, Side, string, LegMediaOptions];
}

process.on('message', (m: Req) => {
  const run = async (): Promise<unknown> => {
    if (m.op === 'offer') return engine.offer(...m.args);
    if (m.op === 'answer') return engine.answer(...m.args);
    if (m.op === 'delete') return engine.delete(m.args[0]);
    await engine.close();
    setImmediate(() => process.exit(0));
    return null;
  };
  run().then(
    (value) => process.send!({ id: m.id, ok: true, value }),
    (err: Error) => process.send!({ id: m.id, ok: false, error: err.message }),
  );
});
process.send!({ ready: true });
