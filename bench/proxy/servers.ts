/**
 * The two proxies under test, each started from a config written into the
 * run's temp dir with free loopback ports (readiness: bench/common/readiness.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Child } from '../common/children.js';
import { shellQuote, type ServerName } from '../common/cli.js';
import { startKamailioFromTemplate } from '../common/kamailio.js';
import type { Transport } from '../common/sipp.js';

export interface ServerPorts {
  /** The proxy's SIP port, UDP and TCP. */
  proxy: number;
  /** The SIPp UAS's port. */
  uas: number;
  /** Trunkline's management API port (kept off the default 8080). */
  api: number;
}

export interface ProxyUnderTest {
  name: ServerName;
  label: string;
  /** One line for the report: how it was started. */
  describe: string;
  child: Child;
}

/** Kamailio 5.6 from kamailio-proxy.cfg: tm/rr/sl, record-route, t_relay to the UAS; -x tlsf. */
export function startKamailio(o: {
  kamailio: string;
  template: string;
  dir: string;
  ports: ServerPorts;
  workers: number;
}): ProxyUnderTest {
  const { child, args } = startKamailioFromTemplate({
    kamailio: o.kamailio,
    template: o.template,
    dir: o.dir,
    values: {
      BENCH_UAS: `sip:127.0.0.1:${o.ports.uas}`,
      BENCH_LISTEN_UDP: `udp:127.0.0.1:${o.ports.proxy}`,
      BENCH_LISTEN_TCP: `tcp:127.0.0.1:${o.ports.proxy}`,
      BENCH_WORKERS: String(o.workers),
    },
  });
  return {
    name: 'kamailio',
    label: 'Kamailio',
    describe: `kamailio ${args.join(' ')} (children=${o.workers}, tcp_children=${o.workers})`,
    child,
  };
}

export function trunklineConfigYaml(o: { ports: ServerPorts; transport: Transport; dataDir: string }): string {
  const uas = `sip:127.0.0.1:${o.ports.uas}${o.transport === 'tcp' ? ';transport=tcp' : ''}`;
  return [
    '# Written by bench/proxy/run.ts: a stateful proxy relaying every initial',
    '# request to the SIPp UAS; loopback only, free ports.',
    'listen:',
    `  - udp:127.0.0.1:${o.ports.proxy}`,
    `  - tcp:127.0.0.1:${o.ports.proxy}`,
    `data: ${JSON.stringify(o.dataDir)}`,
    'api:',
    `  listen: 127.0.0.1:${o.ports.api}`,
    'log:',
    '  level: warn',
    'routes:',
    `  - forward: ${JSON.stringify(uas)}`,
    '',
  ].join('\n');
}

/**
 * `cmd` is run by /bin/sh (through exec, so that its pid is the server's);
 * {config}, {port} and {uas_port} in it are replaced. With no {config} the
 * generated config is appended as `--config FILE`.
 */
export function startTrunkline(o: {
  cmd: string;
  dir: string;
  ports: ServerPorts;
  transport: Transport;
  cwd: string;
}): ProxyUnderTest {
  const file = join(o.dir, 'trunkline.yaml');
  writeFileSync(
    file,
    trunklineConfigYaml({ ports: o.ports, transport: o.transport, dataDir: join(o.dir, 'trunkline-data') }),
  );
  let cmd = o.cmd.includes('{config}') ? o.cmd : `${o.cmd} --config {config}`;
  cmd = cmd
    .replaceAll('{config}', shellQuote(file))
    .replaceAll('{port}', String(o.ports.proxy))
    .replaceAll('{uas_port}', String(o.ports.uas));
  const child = new Child('trunkline', '/bin/sh', ['-c', `exec ${cmd}`], join(o.dir, 'trunkline.log'), o.cwd);
  return { name: 'trunkline', label: 'Trunkline', describe: cmd, child };
}

/** The label of the Node.js relay busy for workUs of CPU a datagram (0: the floor). */
export function relayLabel(workUs: number): string {
  return workUs === 0 ? 'Node relay (floor)' : `Node relay +${workUs} us`;
}

/**
 * The Node.js floor (node-relay.ts): the same datagrams relayed with no SIP
 * work, or with workUs of busy CPU before each. UDP only.
 */
export function startNodeRelay(o: { dir: string; ports: ServerPorts; cwd: string; workUs: number }): ProxyUnderTest {
  const script = join(o.cwd, 'dist/bench/proxy/node-relay.js');
  const args = [script, '--port', String(o.ports.proxy), '--uas-port', String(o.ports.uas)];
  if (o.workUs > 0) args.push('--work-us', String(o.workUs));
  const child = new Child('relay', process.execPath, args, join(o.dir, 'relay.log'), o.cwd);
  return { name: 'relay', label: relayLabel(o.workUs), describe: `node ${args.join(' ')}`, child };
}
