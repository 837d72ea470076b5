// The provisioning pages, one description each: the form's fields (and
// how each becomes JSON), the table's columns, whether the API has PATCH.
// The shapes are the server's (src/api/shapes.ts): a field of a form must
// be one the POST body takes, a column's one the object has.
import type { z } from 'zod';
import type * as shapes from '../../src/api/shapes';
import type { Sample } from './api';
import { when } from './components/Table';

export type Obj = Record<string, unknown>;

export interface Field {
  name: string;
  label: string;
  /** text (default), list (comma separated -> array), int, password, choice (options), bool (default/yes/no). */
  kind?: 'text' | 'list' | 'int' | 'password' | 'choice' | 'bool';
  options?: readonly string[];
  placeholder?: string;
  required?: boolean;
  /** Emptied on edit -> sent as null (the API's "none"/"unlimited"). */
  nullable?: boolean;
}

export interface Column {
  head: string;
  cell: (o: Obj, extra: Extra) => string;
}

/** What some tables show beside the objects: the gateway states of /metrics. */
export interface Extra {
  gateways: Map<string, boolean>;
}

export interface ResourcePage {
  name: string;
  title: string;
  /** The key field (in the URL of PATCH and DELETE). */
  key: string;
  fields: Field[];
  columns: Column[];
  editable: boolean;
  hint?: string;
}

/** The collections with a page, and the views of their schemas. */
interface Views {
  accounts: typeof shapes.accountViews;
  trunks: typeof shapes.trunkViews;
  dids: typeof shapes.didViews;
  carriers: typeof shapes.carrierViews;
  routes: typeof shapes.routeViews;
  domains: typeof shapes.domainViews;
  subscribers: typeof shapes.subscriberViews;
}
type Json<N extends keyof Views> = z.output<Views[N]['object']>;
type BodyField<N extends keyof Views> = keyof z.input<Views[N]['create']> & string;

/** The column makers of one collection: a field the object has. */
interface Columns<N extends keyof Views> {
  col(head: string, field: keyof Json<N> & string, fallback?: string): Column;
  timeCol(head: string, field: keyof Json<N> & string): Column;
  cell(head: string, cell: (o: Json<N>, extra: Extra) => string): Column;
}

const t = (v: unknown): string =>
  v === null || v === undefined || v === ''
    ? '-'
    : Array.isArray(v)
      ? v.length === 0
        ? '-'
        : v.join(', ')
      : String(v);
const columns = {
  col: (head: string, field: string, fallback?: string): Column => ({
    head,
    cell: (o) => (o[field] === null && fallback !== undefined ? fallback : t(o[field])),
  }),
  timeCol: (head: string, field: string): Column => ({
    head,
    cell: (o) => when(typeof o[field] === 'string' ? o[field] : null),
  }),
  cell: (head: string, cell: (o: Obj, extra: Extra) => string): Column => ({ head, cell }),
};

/** A page whose key, fields and columns are checked against the collection's schema. */
function page<N extends keyof Views>(
  p: Omit<ResourcePage, 'name' | 'key' | 'fields' | 'columns'> & {
    name: N;
    key: keyof Json<N> & string;
    fields: Array<Field & { name: BodyField<N> }>;
    columns: (c: Columns<N>) => Column[];
  },
): ResourcePage {
  return { ...p, columns: p.columns(columns as unknown as Columns<N>) };
}

export const RESOURCE_PAGES: ResourcePage[] = [
  page({
    name: 'accounts',
    title: 'Accounts',
    key: 'name',
    editable: true,
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'cpm', label: 'Calls per minute', kind: 'int', placeholder: 'unlimited', nullable: true },
      { name: 'maxCalls', label: 'Max calls', kind: 'int', placeholder: 'unlimited', nullable: true },
    ],
    columns: ({ col, timeCol }) => [
      col('Name', 'name'),
      col('CPM', 'cpm', 'unlimited'),
      col('Max calls', 'maxCalls', 'unlimited'),
      timeCol('Created', 'createdAt'),
    ],
  }),
  page({
    name: 'trunks',
    title: 'Trunks',
    key: 'name',
    editable: true,
    hint: 'A static PBX by address (IP), or one that registers as USER@DOMAIN. Calls to its DIDs go to Destination.',
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'account', label: 'Account', required: true },
      { name: 'ip', label: 'IP (CIDR, comma separated)', kind: 'list', placeholder: '127.0.0.2/32' },
      { name: 'register', label: 'or registers as', placeholder: 'pbx@example.org', nullable: true },
      { name: 'dest', label: 'Destination', placeholder: 'sip:127.0.0.2:5070', nullable: true },
      { name: 'transport', label: 'Transport', kind: 'choice', options: ['udp', 'tcp', 'tls'], nullable: true },
      { name: 'cpm', label: 'CPM', kind: 'int', placeholder: '200' },
      { name: 'maxCalls', label: 'Max calls', kind: 'int', placeholder: 'unlimited', nullable: true },
      { name: 'media', label: 'Media', kind: 'choice', options: ['any', 'rtp', 'srtp'] },
      { name: 'codecs', label: 'Codecs', kind: 'list', placeholder: 'PCMA, PCMU' },
      { name: 'force', label: "Force (a range holding a carrier gateway's address or every address)", kind: 'bool' },
    ],
    columns: ({ col, cell }) => [
      col('Name', 'name'),
      col('Account', 'account'),
      cell('Source', (o) =>
        o.register !== null && o.register !== undefined ? `registers as ${t(o.register)}` : t(o.ip),
      ),
      col('Destination', 'dest', 'registered contact'),
      col('Transport', 'transport', 'any'),
      col('CPM', 'cpm'),
      col('Max calls', 'maxCalls', 'unlimited'),
      col('Media', 'media'),
      col('Codecs', 'codecs'),
    ],
  }),
  page({
    name: 'dids',
    title: 'DIDs',
    key: 'number',
    editable: false,
    fields: [
      { name: 'number', label: 'Number or prefix', required: true, placeholder: '+912240001234 or +9122400012*' },
      { name: 'trunk', label: 'Trunk', required: true },
    ],
    columns: ({ col, timeCol }) => [
      col('Number', 'number'),
      col('Trunk', 'trunk'),
      col('Account', 'account'),
      timeCol('Created', 'createdAt'),
    ],
  }),
  page({
    name: 'carriers',
    title: 'Carriers',
    key: 'name',
    editable: true,
    hint: 'Gateways in order: the first is tried first. The state is what OPTIONS pings found.',
    fields: [
      { name: 'name', label: 'Name', required: true },
      {
        name: 'gateways',
        label: 'Gateways (comma separated)',
        kind: 'list',
        required: true,
        placeholder: 'sip:127.0.0.5:5080',
      },
      { name: 'username', label: 'Username', nullable: true },
      { name: 'password', label: 'Password', kind: 'password', nullable: true },
      { name: 'register', label: 'Register', kind: 'bool' },
      { name: 'prefix', label: 'Tech prefix', nullable: true },
      { name: 'plus', label: 'E.164 with +', kind: 'bool' },
      { name: 'media', label: 'Media', kind: 'choice', options: ['any', 'rtp', 'srtp'] },
      { name: 'codecs', label: 'Codecs', kind: 'list', placeholder: 'PCMA, PCMU' },
    ],
    columns: ({ col, cell }) => [
      col('Name', 'name'),
      cell('Gateways', (o, x) =>
        Array.isArray(o.gateways)
          ? o.gateways
              .map(
                (g) =>
                  `${String(g)} (${x.gateways.has(String(g)) ? (x.gateways.get(String(g)) ? 'up' : 'down') : 'unknown'})`,
              )
              .join(', ')
          : '-',
      ),
      col('Username', 'username'),
      cell('Password', (o) => (o.hasPassword === true ? 'set' : 'none')),
      col('Prefix', 'prefix'),
      cell('Register', (o) => (o.register === true ? 'yes' : 'no')),
      col('Media', 'media'),
    ],
  }),
  page({
    name: 'routes',
    title: 'Routes',
    key: 'prefix',
    editable: true,
    hint: 'The longest matching prefix wins; + is the default route.',
    fields: [
      { name: 'prefix', label: 'Prefix', required: true, placeholder: '+ or +91' },
      { name: 'carriers', label: 'Carriers (in order)', kind: 'list', required: true },
    ],
    columns: ({ col, timeCol }) => [
      col('Prefix', 'prefix'),
      col('Carriers', 'carriers'),
      timeCol('Created', 'createdAt'),
    ],
  }),
  page({
    name: 'domains',
    title: 'Domains',
    key: 'domain',
    editable: false,
    hint: 'The domains the registrar serves; a domain is the digest realm of its subscribers.',
    fields: [{ name: 'domain', label: 'Domain', required: true, placeholder: 'example.org' }],
    columns: ({ col, timeCol }) => [col('Domain', 'domain'), timeCol('Created', 'createdAt')],
  }),
  page({
    name: 'subscribers',
    title: 'Subscribers',
    key: 'subscriber',
    editable: true,
    hint: 'Passwords are stored as digests and never shown. Edit sets a new password.',
    fields: [
      { name: 'subscriber', label: 'USER@DOMAIN', required: true },
      { name: 'password', label: 'Password', kind: 'password', required: true },
    ],
    columns: ({ col, timeCol }) => [
      col('Subscriber', 'subscriber'),
      timeCol('Created', 'createdAt'),
      timeCol('Updated', 'updatedAt'),
    ],
  }),
];

/** The form's text for a field of an object (editing). */
export function fieldText(f: Field, o: Obj): string {
  const v = o[f.name];
  if (f.kind === 'password' || v === null || v === undefined) return '';
  if (f.kind === 'bool') return v === true ? 'yes' : 'no';
  return Array.isArray(v) ? v.join(', ') : String(v);
}

/** A field's text as JSON; undefined = leave it out. */
function fieldValue(f: Field, s: string): unknown {
  const v = s.trim();
  if (f.kind === 'password') return s === '' ? undefined : s;
  if (v === '') return undefined;
  if (f.kind === 'list')
    return v
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  // Not a number: sent as typed, so the API's 400 names the field.
  if (f.kind === 'int') return /^-?\d+$/.test(v) ? Number(v) : v;
  if (f.kind === 'bool') return v === 'yes';
  return v;
}

/** The POST body: the fields filled in. */
export function createBody(page: ResourcePage, values: Record<string, string>): Obj {
  const body: Obj = {};
  for (const f of page.fields) {
    const v = fieldValue(f, values[f.name] ?? '');
    if (v !== undefined) body[f.name] = v;
  }
  return body;
}

/** The PATCH body: the fields changed from the object (an emptied nullable one is null). */
export function patchBody(page: ResourcePage, before: Obj, values: Record<string, string>): Obj {
  const body: Obj = {};
  for (const f of page.fields) {
    if (f.name === page.key) continue;
    const s = values[f.name] ?? '';
    if (s === fieldText(f, before) && f.kind !== 'password') continue;
    const v = fieldValue(f, s);
    if (v !== undefined) body[f.name] = v;
    else if (f.nullable === true && f.kind !== 'password') body[f.name] = null;
    else if (f.kind === 'list') body[f.name] = [];
  }
  return body;
}

/** gateway -> up, from trunkline_gateway_up samples. */
export function gatewayStates(samples: Sample[]): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const s of samples)
    if (s.name === 'trunkline_gateway_up' && s.labels.gateway !== undefined) m.set(s.labels.gateway, s.value === 1);
  return m;
}
