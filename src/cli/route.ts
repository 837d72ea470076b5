/**
 * `trunkline route add PREFIX --carrier NAME[,NAME...] [--mode
 * priority|lcr|weighted]` / `set PREFIX [--carrier ...] [--mode ...] [--json]`
 * / `rm PREFIX` / `list [--json]` / `explain NUMBER (--from TRUNK |
 * --from-ip IP [--transport udp|tcp|tls]) [--json]`: outbound routing. The
 * longest prefix of the dialled E.164 number wins; `+` alone is the default
 * route. Mode `priority` (the default) tries the carriers in the order
 * given, `lcr` by their rates for the number (rate decks: `trunkline
 * rate`), `weighted` at random by the weights given as `--carrier a:3,b:1`.
 * `explain` says what a call to NUMBER from TRUNK would meet, from the same
 * in-memory directory the server uses, with each carrier's rate and why it
 * is placed where it is; from an address, first which rule classifies it (a
 * carrier gateway, the most specific trunk range, nobody).
 */
import type { Command } from 'commander';
import { checkName, checkTransport, parseRoutePrefix } from '../trunking/validate.js';
import { ROUTE_MODES, type RouteMode } from '../trunking/model.js';
import { MAX_WEIGHT, type RouteOptions } from '../store/repos/routes.js';
import { loadConfigOrExit, withConfigOption } from './common.js';
import { carrierSettings } from '../config/quality-schema.js';
import { isoTime, printList, say } from './output.js';
import { routeJson } from '../store/json.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { listCell, listOption, printShow, registerSet } from './trunking-common.js';
import { patchRoute, type RoutePatch } from '../api/patch.js';
import { TrunkingSnapshot } from '../trunking/snapshot.js';
import { loadTrunkingData } from '../trunking/directory.js';
import { explainFromSource, explainRoute } from '../trunking/explain.js';
import type { RateLookup } from '../trunking/cost.js';
import { canonicalIp } from '../trunking/snapshot.js';
import { qualityText, type QualityOut } from '../trunking/quality-order.js';
import type { GatewayLoadOut } from '../trunking/gateway-load.js';
import { serverQuality } from './quality.js';
import { RoutingModule } from '../trunking/routing-hook.js';

export function registerRoute(program: Command): void {
  const group = commandGroup(
    program,
    'route',
    'outbound routes, longest prefix wins (+ alone is the default): add, set, rm, list, explain',
  );

  withConfigOption(
    group
      .command('add')
      .description('route numbers starting with PREFIX to carriers')
      .argument('<prefix>', '+ (the default route) or + and digits, e.g. +9122')
      .option(
        '--carrier <names>',
        'the carriers: NAME[,NAME...], first tried first; with --mode weighted NAME:WEIGHT[,...] (required)',
      )
      .option(
        '--mode <mode>',
        'priority (default): in the order given; lcr: cheapest rate for the number first; weighted: at random by weight',
      ),
  ).action(async (prefix: string, opts: { carrier?: string; mode?: string }, cmd: Command) => {
    const { p, carriers, options } = await orFail(() => {
      const parsed = parseRoutePrefix(prefix, 'prefix');
      if (opts.carrier === undefined) throw new CliError('carrier: route add needs --carrier NAME[,NAME...]');
      return { p: parsed, ...carrierOption(opts.carrier, opts.mode) };
    });
    await withStore(cmd, async (store) => {
      const r = await store.routes.add(p, carriers, options);
      const weights = r.weights;
      const list = r.carriers.map((c, i) => (weights === null ? c : `${c}:${weights[i]}`)).join(', ');
      say(`added route ${r.prefix} -> ${list}${r.mode === 'priority' ? '' : ` (mode ${r.mode})`}`);
    });
  });

  registerSet(group, {
    noun: 'route',
    key: ['<prefix>', 'the prefix, as added'],
    options: [
      ['--carrier <names>', 'the carriers, first tried first: NAME[,NAME...]; weighted: NAME:WEIGHT[,...]'],
      ['--mode <mode>', 'priority, lcr or weighted (the carriers kept when --carrier is not given)'],
    ],
    body: (o: { carrier?: string; mode?: string; json?: boolean }): RoutePatch => setBody(o),
    apply: async (store, prefix, b) => routeJson(await patchRoute(store, prefix, b)),
  });

  withConfigOption(
    group.command('rm').description('remove a route').argument('<prefix>', 'the prefix, as added'),
  ).action(async (prefix: string, _opts: unknown, cmd: Command) => {
    const p = await orFail(() => parseRoutePrefix(prefix, 'prefix'));
    await withStore(cmd, async (store) => {
      const r = await store.routes.rm(p);
      say(`removed route ${r.prefix} (was ${r.carriers.join(', ')})`);
    });
  });

  withConfigOption(group.command('list').description('list the routes').option('--json', 'print a JSON array')).action(
    async (opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        printList(await store.routes.list(), opts.json, routeJson, [
          ['prefix', (r) => r.prefix],
          ['mode', (r) => r.mode],
          ['carriers', (r) => listCell(r.carriers.map((c, i) => (r.weights === null ? c : `${c}:${r.weights[i]}`)))],
          ['created', (r) => isoTime(r.createdAt)],
        ]);
      });
    },
  );

  registerExplain(group);
}

/** `route explain NUMBER --from TRUNK | --from-ip IP`. */
function registerExplain(group: Command): void {
  withConfigOption(
    group
      .command('explain')
      .description(
        'what a call to NUMBER from TRUNK (or from an address) would meet: how the source is classified, the number as E.164, the route, the carriers and what each is sent',
      )
      .argument('<number>', 'the dialled number, as the PBX sends it')
      .option('--from <trunk>', 'the trunk the call comes from')
      .option(
        '--from-ip <ip>',
        'or the address it comes from: which rule classifies it (carrier gateway, trunk range, nobody)',
      )
      .option('--transport <proto>', 'with --from-ip: udp, tcp or tls (default udp)')
      .option('--json', 'print a JSON object'),
  ).action(async (number: string, opts: ExplainOptions, cmd: Command) => {
    const from = await orFail(() => explainSource(opts));
    // The carriers' figures and demotions are the running server's (none without one); the gateway settings the config's.
    const config = await loadConfigOrExit(cmd);
    // The routing module as the config names it, run here as the server runs it (a module that does not load: the error).
    const file = config.routing.module;
    const module =
      file === undefined
        ? null
        : await orFail(() => RoutingModule.load(file, config.routing.moduleBudgetMs, { warn: () => undefined }));
    await withStore(cmd, async (store) => {
      const live = {
        quality: await serverQuality(config),
        carriers: carrierSettings(config.routing),
        module,
        prices: (a: string, n: string, at: number) => store.prices.match(a, n, at),
      };
      const snapshot = new TrunkingSnapshot(await loadTrunkingData(store));
      const rates: RateLookup = (c, n, at) => store.rates.match(c, n, at);
      const e =
        'trunk' in from
          ? await explainRoute(snapshot, from.trunk, number, rates, Date.now(), live)
          : await explainFromSource(snapshot, from.ip, from.transport, number, rates, live);
      printShow(opts.json === true ? e : explanationText(e), opts.json);
    });
  });
}

/** `--mode`: one of ROUTE_MODES. */
function modeOption(text: string): RouteMode {
  if (!(ROUTE_MODES as readonly string[]).includes(text))
    throw new CliError(`mode: expected one of ${ROUTE_MODES.join(', ')}, got ${JSON.stringify(text)}`);
  return text as RouteMode;
}

/** `--carrier a,b` or `a:3,b:1`: the names, and the weights when any is given (1 for those without). */
function carriersOption(value: string): { carriers: string[]; weights: number[] | null } {
  const carriers: string[] = [];
  const weights: number[] = [];
  let weighted = false;
  for (const item of listOption(value, 'carrier') ?? []) {
    const colon = item.lastIndexOf(':');
    carriers.push(checkName((colon < 0 ? item : item.slice(0, colon)).trim(), 'carrier'));
    if (colon < 0) {
      weights.push(1);
      continue;
    }
    weighted = true;
    const w = item.slice(colon + 1).trim();
    if (!/^[0-9]{1,7}$/.test(w) || Number(w) < 1 || Number(w) > MAX_WEIGHT)
      throw new CliError(
        `carrier: expected NAME:WEIGHT with a weight from 1 to ${MAX_WEIGHT}, got ${JSON.stringify(item)}`,
      );
    weights.push(Number(w));
  }
  return { carriers, weights: weighted ? weights : null };
}

/** `route add`: the names, the mode (priority by default) and a weighted route's weights. */
function carrierOption(value: string, modeText: string | undefined): { carriers: string[]; options: RouteOptions } {
  const mode = modeText === undefined ? 'priority' : modeOption(modeText);
  const { carriers, weights } = carriersOption(value);
  if (weights !== null && mode !== 'weighted')
    throw new CliError(`carrier: weights (NAME:WEIGHT) go with --mode weighted, not ${mode}`);
  return { carriers, options: { mode, weights: mode === 'weighted' ? (weights ?? carriers.map(() => 1)) : null } };
}

/** `route set`: what is given changes (weights with the route's mode or --mode weighted: the store checks). */
function setBody(o: { carrier?: string; mode?: string }): RoutePatch {
  const mode = o.mode === undefined ? undefined : modeOption(o.mode);
  if (o.carrier === undefined) return mode === undefined ? {} : { mode };
  const { carriers, weights } = carriersOption(o.carrier);
  return { carriers, ...(mode !== undefined && { mode }), ...(weights !== null && { weights }) };
}

interface ExplainOptions {
  from?: string;
  fromIp?: string;
  transport?: string;
  json?: boolean;
}

/** `--from TRUNK`, or `--from-ip IP [--transport P]`: exactly one. */
function explainSource(o: ExplainOptions): { trunk: string } | { ip: string; transport: string } {
  if ((o.from === undefined) === (o.fromIp === undefined))
    throw new CliError('from: route explain needs --from TRUNK or --from-ip IP');
  if (o.from !== undefined) {
    if (o.transport !== undefined) throw new CliError('transport: --transport goes with --from-ip');
    return { trunk: checkName(o.from, 'from') };
  }
  if (canonicalIp(o.fromIp!.trim()) === '')
    throw new CliError(`from-ip: expected an IP address, got ${JSON.stringify(o.fromIp)}`);
  return { ip: o.fromIp!.trim(), transport: checkTransport(o.transport, 'transport') ?? 'udp' };
}

interface ExplainedCarrier {
  name: string;
  gateways: string[];
  sends: string;
  why: string;
  quality?: QualityOut;
  demotedGateways?: Array<{ gateway: string; until: string; why: string }>;
  gatewayLoad?: GatewayLoadOut;
}

/** A carrier's figures and demoted gateways, for the text form. */
function qualityNote(c: ExplainedCarrier): string {
  const parts = c.quality === undefined ? [] : [qualityText(c.quality)];
  for (const g of c.demotedGateways ?? []) parts.push(`gateway ${g.gateway} demoted until ${g.until} (${g.why})`);
  if (c.gatewayLoad !== undefined) parts.push(gatewayLoadText(c.gatewayLoad));
  return parts.map((p) => `; ${p}`).join('');
}

/** `gateways weighted: priority 1: sip:a (weight 3, max 30 calls), priority 1: sip:b (weight 1), then sip:c; carrier max 100 calls`. */
function gatewayLoadText(g: GatewayLoadOut): string {
  const gw = g.gateways.map((x) => {
    const props = [
      x.weight === null ? null : `weight ${x.weight}`,
      x.maxCalls === null ? null : `max ${x.maxCalls} calls`,
    ];
    const p = props.filter((v) => v !== null).join(', ');
    return `${x.priority === null ? 'then' : `priority ${x.priority}:`} ${x.uri}${p === '' ? '' : ` (${p})`}`;
  });
  return `gateways ${g.balance}: ${gw.join(', ')}${g.maxCalls === null ? '' : `; carrier max ${g.maxCalls} calls`}`;
}

interface ExplainedModule {
  file: string;
  ms: number;
  changed: string[];
  error: string | null;
}

/** What the routing module did, in a line. */
function moduleText(m: ExplainedModule): string {
  const what = m.error ?? (m.changed.length === 0 ? 'changed nothing' : m.changed.join('; '));
  return `${m.file} (${m.ms} ms): ${what}`;
}

/** An explanation as KEY VALUE lines. */
function explanationText(e: Record<string, unknown>): Record<string, unknown> {
  const src = e['source'] as { ip: string; transport: string; rule: string } | undefined;
  const carriers = (e['carriers'] as ExplainedCarrier[] | undefined) ?? [];
  const leftOut = (e['leftOut'] as { name: string; why: string }[] | undefined) ?? [];
  const did = e['did'] as { number: string; trunk: string } | null | undefined;
  const text: Record<string, unknown> = {};
  if (src !== undefined) text['source'] = `${src.ip} over ${src.transport}: ${src.rule}`;
  if (e['trunk'] !== undefined) text['trunk'] = `${String(e['trunk'])} (account ${String(e['account'])})`;
  if (e['dialPlan'] !== undefined) text['dial plan'] = e['dialPlan'] ?? 'none (E.164 only)';
  text['dialled'] = e['dialled'];
  if ('number' in e) text['number'] = e['emergency'] === true ? `${String(e['number'])} (emergency)` : e['number'];
  if (e['direction'] !== null)
    text['did'] = did === undefined || did === null ? null : `${did.number} of trunk ${did.trunk}`;
  if (e['direction'] === 'inbound') text['destination'] = e['destination'];
  else if (e['direction'] !== null) {
    text['route'] = e['route'];
    text['mode'] = e['mode'];
    text['carriers'] = carriers
      .map((c, i) => `${i + 1}. ${c.name} (${c.why}; sends ${c.sends} to ${c.gateways.join(', ')}${qualityNote(c)})`)
      .join('; ');
    if (leftOut.length > 0) text['left out'] = leftOut.map((c) => `${c.name} (${c.why})`).join('; ');
    if (e['module'] !== undefined) text['module'] = moduleText(e['module'] as ExplainedModule);
    const sell = e['sellPrice'] as { rate: string; prefix: string; sellBelowCost: boolean } | undefined;
    if (sell !== undefined)
      text['sell price'] = `${sell.rate}/min for ${sell.prefix}${sell.sellBelowCost ? ' (may sell below cost)' : ''}`;
  }
  text['verdict'] =
    e['refused'] === null
      ? e['direction'] === 'inbound'
        ? 'taken (access lists and the limits are checked per call)'
        : e['emergency'] === true
          ? 'routed as an emergency call (no caller ID check, barring or limit)'
          : 'routed (the caller ID and the limits are checked per call)'
      : `refused with ${String(e['refused'])}`;
  return text;
}
