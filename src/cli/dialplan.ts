/**
 * `trunkline dialplan add NAME --country CC [--national-prefix DIGITS]
 * [--international-prefix DIGITS] [--format e164|national|international]
 * [--emergency N[,N...]] [--rule RULE]...` / `set NAME [the same options]
 * [--json]` / `rm NAME` / `list [--json]` / `show NAME [--json]`: how
 * trunks' PBXs and carriers write numbers (src/trunking/dial-plan.ts).
 * Prefixes and emergency numbers left out are the country's. A rule is
 * `[in:|out:]MATCH=>REPLACEMENT` (`0800=>+91800`, `^([2-9][0-9]{9})$=>+1$1`,
 * `out:+44=>0044`); `set --rule` replaces the rules (`--rule none` drops
 * them). A trunk or carrier uses a plan with `--dial-plan NAME`.
 */
import type { Command } from 'commander';
import type { Store } from '../store/index.js';
import type { DialPlan, DialPlanRule, NumberFormat } from '../trunking/model.js';
import { checkName } from '../trunking/validate.js';
import {
  checkCountry,
  checkDialPrefix,
  checkEmergency,
  checkFormat,
  parseRuleText,
  ruleText,
} from '../trunking/dial-plan-validate.js';
import { withConfigOption } from './common.js';
import { printList, say } from './output.js';
import { dialPlanJson } from '../store/json.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { listCell, listOption, printShow, registerSet, withOptions, type OptionSpecs } from './trunking-common.js';
import { patchDialPlan, type DialPlanPatch } from '../api/patch.js';

interface Options {
  json?: boolean;
  country?: string;
  nationalPrefix?: string;
  internationalPrefix?: string;
  format?: string;
  emergency?: string;
  rule?: string[];
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

const OPTIONS: OptionSpecs = [
  ['--country <cc>', 'country code, digits: 91, 44, 1 (add: required)'],
  ['--national-prefix <digits>', "national (trunk) prefix: 0 (IN, UK), 1 (US), none; default: the country's"],
  ['--international-prefix <digits>', "international prefix: 00, 011; default: the country's"],
  ['--format <f>', 'how numbers are sent: e164 (default), national (at home), international'],
  [
    '--emergency <numbers>',
    "emergency numbers, N[,N...]: never given a country code, never refused; default: the country's",
  ],
];

function withRuleOption(cmd: Command): Command {
  return cmd.option(
    '--rule <rule>',
    'a rewrite rule [in:|out:]MATCH=>REPLACEMENT (MATCH: a prefix, or ^ and a regular expression); repeat for more, in order',
    collect,
  );
}

function rulesOption(values: string[]): DialPlanRule[] {
  if (values.length === 1 && values[0]!.trim().toLowerCase() === 'none') return [];
  // Rules hold no spaces: one --rule may give several, separated by spaces (set takes one --rule).
  return values.flatMap((v) => v.trim().split(/\s+/)).map((v) => parseRuleText(v, 'rule'));
}

const prefixOption = (v: string, field: string, allowEmpty: boolean): string =>
  checkDialPrefix(allowEmpty && v.trim().toLowerCase() === 'none' ? '' : v.trim(), field, allowEmpty);

/** The options given as a PATCH body, each checked and its error naming the option. */
function dialPlanPatch(o: Options): DialPlanPatch {
  const b: DialPlanPatch = {};
  if (o.country !== undefined) b.country = checkCountry(o.country, 'country');
  if (o.nationalPrefix !== undefined) b.nationalPrefix = prefixOption(o.nationalPrefix, 'national-prefix', true);
  if (o.internationalPrefix !== undefined)
    b.internationalPrefix = prefixOption(o.internationalPrefix, 'international-prefix', false);
  if (o.format !== undefined) b.format = checkFormat(o.format, 'format');
  if (o.emergency !== undefined) b.emergency = checkEmergency(listOption(o.emergency, 'emergency'), 'emergency');
  if (o.rule !== undefined) b.rules = rulesOption(o.rule);
  return b;
}

/** What show (and set) print: the plan, its rules as the CLI writes them, and who uses it. */
async function shown(store: Store, p: DialPlan): Promise<Record<string, unknown>> {
  const trunks = (await store.trunks.list()).filter((t) => t.dialPlan === p.name).map((t) => t.name);
  const carriers = (await store.carriers.list()).filter((c) => c.dialPlan === p.name).map((c) => c.name);
  return { ...dialPlanJson(p), rules: p.rules.map(ruleText), trunks, carriers };
}

export function registerDialPlan(program: Command): void {
  const group = commandGroup(
    program,
    'dialplan',
    'dial plans: how trunks and carriers write numbers, emergency numbers: add, set, rm, list, show',
  );
  withConfigOption(
    withRuleOption(
      withOptions(
        group
          .command('add')
          .description('add a dial plan')
          .argument('<name>', 'the plan name (letters, digits, . _ -)'),
        OPTIONS,
      ),
    ),
  ).action(async (name: string, opts: Options, cmd: Command) => {
    const input = await orFail(() => {
      if (opts.country === undefined) throw new CliError('country: dialplan add needs --country CC');
      const b = dialPlanPatch(opts);
      return {
        name: checkName(name, 'name'),
        country: b.country!,
        nationalPrefix: b.nationalPrefix ?? null,
        internationalPrefix: b.internationalPrefix ?? null,
        format: (b.format ?? null) as NumberFormat | null,
        emergency: b.emergency ?? null,
        rules: (b.rules ?? []) as DialPlanRule[],
      };
    });
    await withStore(cmd, async (store) => {
      const p = await store.dialPlans.add(input);
      say(`added dial plan ${p.name} (country ${p.country}, emergency ${p.emergency.join(',')})`);
    });
  });
  registerSet(group, {
    noun: 'dial plan',
    key: ['<name>', 'the plan'],
    options: [
      ...OPTIONS,
      [
        '--rule <rule>',
        'rewrite rules [in:|out:]MATCH=>REPLACEMENT, space-separated, in order; replaces the rules (none: no rule)',
      ],
    ],
    body: (o: Options) => dialPlanPatch({ ...o, ...(typeof o.rule === 'string' && { rule: [o.rule] }) }),
    apply: async (store, name, b) => shown(store, await patchDialPlan(store, name, b)),
  });
  registerRest(group);
}

function registerRest(group: Command): void {
  withConfigOption(
    group.command('rm').description('remove a dial plan (refused while in use)').argument('<name>'),
  ).action(async (name: string, _o: unknown, cmd: Command) => {
    const n = await orFail(() => checkName(name, 'name'));
    await withStore(cmd, async (store) => say(`removed dial plan ${(await store.dialPlans.rm(n)).name}`));
  });
  withConfigOption(
    group.command('list').description('list the dial plans').option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      printList(await store.dialPlans.list(), opts.json, dialPlanJson, [
        ['name', (p) => p.name],
        ['country', (p) => p.country],
        ['national', (p) => p.nationalPrefix],
        ['international', (p) => p.internationalPrefix],
        ['format', (p) => p.format],
        ['emergency', (p) => listCell(p.emergency)],
        ['rules', (p) => p.rules.length],
      ]);
    });
  });
  withConfigOption(
    group
      .command('show')
      .description('show a dial plan and who uses it')
      .argument('<name>', 'the plan')
      .option('--json', 'print a JSON object'),
  ).action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
    const n = await orFail(() => checkName(name, 'name'));
    await withStore(cmd, async (store) => printShow(await shown(store, await store.dialPlans.show(n)), opts.json));
  });
}
