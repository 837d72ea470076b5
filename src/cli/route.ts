/**
 * `trunkline route add PREFIX --carrier NAME[,NAME...]` / `rm PREFIX` /
 * `list [--json]` / `explain NUMBER --from TRUNK [--json]`: outbound
 * routing. The longest prefix of the dialled E.164 number wins; `+` alone is
 * the default route; carriers are tried in the order given. `explain` says
 * what a call to NUMBER from TRUNK would meet, from the same in-memory
 * directory the server uses.
 */
import type { Command } from 'commander';
import type { OutboundRoute } from '../trunking/model.js';
import { checkName, parseRoutePrefix } from '../trunking/validate.js';
import { withConfigOption } from './common.js';
import { isoTime, printList, say } from './output.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { listCell, listOption, printShow } from './trunking-common.js';
import { TrunkingSnapshot } from '../trunking/snapshot.js';
import { loadTrunkingData } from '../trunking/directory.js';
import { explainRoute } from '../trunking/explain.js';

export function routeJson(r: OutboundRoute): Record<string, unknown> {
  return { prefix: r.prefix, carriers: r.carriers, createdAt: isoTime(r.createdAt) };
}

export function registerRoute(program: Command): void {
  const group = commandGroup(program, 'route', 'outbound routes, longest prefix wins (+ alone is the default): add, rm, list');

  withConfigOption(
    group
      .command('add')
      .description('route numbers starting with PREFIX to carriers, tried in order')
      .argument('<prefix>', '+ (the default route) or + and digits, e.g. +9122')
      .option('--carrier <names>', 'the carriers, first tried first: NAME[,NAME...] (required)'),
  ).action(async (prefix: string, opts: { carrier?: string }, cmd: Command) => {
    const { p, carriers } = await orFail(() => {
      const parsed = parseRoutePrefix(prefix, 'prefix');
      if (opts.carrier === undefined) throw new CliError('carrier: route add needs --carrier NAME[,NAME...]');
      return { p: parsed, carriers: (listOption(opts.carrier, 'carrier') ?? []).map((c) => checkName(c, 'carrier')) };
    });
    await withStore(cmd, async (store) => {
      const r = await store.routes.add(p, carriers);
      say(`added route ${r.prefix} -> ${r.carriers.join(', ')}`);
    });
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

  withConfigOption(
    group.command('list').description('list the routes').option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      printList(await store.routes.list(), opts.json, routeJson, [
        ['prefix', (r) => r.prefix],
        ['carriers', (r) => listCell(r.carriers)],
        ['created', (r) => isoTime(r.createdAt)],
      ]);
    });
  });

  withConfigOption(
    group
      .command('explain')
      .description('what a call to NUMBER from TRUNK would meet: the number as E.164, the route, the carriers and what each is sent')
      .argument('<number>', 'the dialled number, as the PBX sends it')
      .option('--from <trunk>', 'the trunk the call comes from (required)')
      .option('--json', 'print a JSON object'),
  ).action(async (number: string, opts: { from?: string; json?: boolean }, cmd: Command) => {
    const from = await orFail(() => {
      if (opts.from === undefined) throw new CliError('from: route explain needs --from TRUNK');
      return checkName(opts.from, 'from');
    });
    await withStore(cmd, async (store) => {
      const e = explainRoute(new TrunkingSnapshot(await loadTrunkingData(store)), from, number);
      if (opts.json === true) {
        printShow(e, true);
        return;
      }
      const carriers = e['carriers'] as { name: string; gateways: string[]; sends: string }[];
      printShow(
        {
          trunk: `${String(e['trunk'])} (account ${String(e['account'])})`,
          dialled: e['dialled'],
          number: e['number'],
          did: e['did'] === undefined ? null : `${(e['did'] as { number: string }).number} of trunk ${(e['did'] as { trunk: string }).trunk}`,
          route: e['route'],
          carriers: carriers.map((c) => `${c.name} (sends ${c.sends} to ${c.gateways.join(', ')})`).join('; '),
          verdict:
            e['refused'] === null
              ? 'routed (the caller ID and the limits are checked per call)'
              : `refused with ${String(e['refused'])}`,
        },
        false,
      );
    });
  });
}
