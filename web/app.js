// The Trunkline console: plain ES module, no build step. It talks to /api/v1
// with the token the user logs in with (kept in sessionStorage) and follows
// /api/v1/events. Every text from the server goes in through textContent.
const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'trunkline.token';
let events = null;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function showError(message) {
  const e = $('#error');
  e.textContent = message;
  e.hidden = message === '';
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    logout();
    throw new Error('the token was refused: log in again');
  }
  const text = await res.text();
  const data = text === '' ? null : JSON.parse(text);
  if (!res.ok) throw new Error(data && data.error ? data.error : `${method} ${path}: ${res.status}`);
  return data;
}

function row(cells, actions = []) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c === null || c === undefined ? '-' : String(c);
    tr.append(td);
  }
  if (actions.length > 0) {
    const td = document.createElement('td');
    for (const [label, fn] of actions) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.addEventListener('click', () => fn().catch((err) => showError(err.message)));
      td.append(b);
    }
    tr.append(td);
  }
  return tr;
}

function fill(table, rows) {
  const body = $(table).querySelector('tbody');
  body.replaceChildren(...rows);
}

const list = (v) => v.split(',').map((x) => x.trim()).filter((x) => x !== '');
const num = (v) => (v.trim() === '' ? undefined : Number(v.trim()));
const text = (v) => (v.trim() === '' ? undefined : v.trim());
/** A JSON body without the fields left empty. */
const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)));

/** The pages that add, list and remove one resource: their form's body, their table's cells. */
const crud = {
  accounts: { key: 'name', body: (f) => clean({ name: text(f.name.value), cpm: num(f.cpm.value), maxCalls: num(f.maxCalls.value) }), cells: (a) => [a.name, a.cpm ?? 'unlimited', a.maxCalls ?? 'unlimited', a.createdAt] },
  trunks: {
    key: 'name',
    body: (f) => clean({ name: text(f.name.value), account: text(f.account.value), ip: list(f.ip.value), register: text(f.register.value), dest: text(f.dest.value), cpm: num(f.cpm.value), maxCalls: num(f.maxCalls.value) }),
    cells: (t) => [t.name, t.account, t.register !== null ? `registers as ${t.register}` : t.ip.join(', '), t.dest, t.cpm, t.maxCalls ?? 'unlimited', t.media],
  },
  dids: { key: 'number', body: (f) => ({ number: f.number.value.trim(), trunk: f.trunk.value.trim() }), cells: (d) => [d.number, d.trunk, d.account, d.createdAt] },
  carriers: {
    key: 'name',
    body: (f) => clean({ name: text(f.name.value), gateways: list(f.gateways.value), username: text(f.username.value), password: f.password.value === '' ? undefined : f.password.value, prefix: text(f.prefix.value) }),
    cells: (c, extra) => [c.name, c.gateways.join(', '), c.username, c.hasPassword ? 'set' : 'none', c.prefix, c.gateways.map((g) => `${g}: ${extra.gatewayUp(g)}`).join(', ')],
  },
  routes: { key: 'prefix', body: (f) => ({ prefix: f.prefix.value.trim(), carriers: list(f.carriers.value) }), cells: (r) => [r.prefix, r.carriers.join(', '), r.createdAt] },
};

/** `trunkline_gateway_up{carrier="..",gateway=".."} 1` lines of /metrics: up, down, or unknown. */
async function gatewayStates() {
  const metrics = await fetch('/metrics').then((r) => r.text());
  const states = new Map();
  for (const l of metrics.split('\n')) {
    if (!l.startsWith('trunkline_gateway_up{')) continue;
    const g = /gateway="([^"]*)"/.exec(l);
    if (g !== null) states.set(g[1], l.endsWith(' 1') ? 'up' : 'down');
  }
  return { gatewayUp: (g) => states.get(g) ?? 'unknown' };
}

async function showCrud(name) {
  const r = crud[name];
  const [items, extra] = await Promise.all([api('GET', `/${name}`), name === 'carriers' ? gatewayStates() : {}]);
  fill(`#${name}-table`, items.map((o) => row(r.cells(o, extra), [['Remove', async () => {
    await api('DELETE', `/${name}/${encodeURIComponent(o[r.key])}`);
    await showCrud(name);
  }]])));
}

for (const name of Object.keys(crud)) {
  $(`#${name}-form`).addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    try {
      await api('POST', `/${name}`, crud[name].body(form));
      form.reset();
      await showCrud(name);
    } catch (err) {
      showError(err.message);
    }
  });
}

// ---- CDR search ----
let cdrNext = null;

function cdrQuery() {
  const f = $('#cdrs-form');
  const q = new URLSearchParams();
  for (const k of ['since', 'until', 'trunk', 'account', 'direction', 'disposition']) if (f[k].value.trim() !== '') q.set(k, f[k].value.trim());
  return q;
}

async function searchCdrs(more) {
  const q = cdrQuery();
  q.set('limit', '50');
  if (more && cdrNext !== null) q.set('cursor', cdrNext);
  const res = await fetch(`/api/v1/cdrs?${q}`, { headers: { authorization: `Bearer ${token()}` } });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error);
  cdrNext = res.headers.get('Next-Cursor');
  $('#cdrs-more').hidden = cdrNext === null;
  const rows = data.map((c) => row([c.startAt, c.callSid, c.direction, c.trunk, c.carrier, c.from, c.to, c.duration, `${c.status} ${c.reason}`, c.hangupBy], [['Ladder', async () => { location.hash = `#ladder/${c.callSid}`; }]]));
  const body = $('#cdrs-table tbody');
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
}

$('#cdrs-form').addEventListener('submit', (e) => {
  e.preventDefault();
  searchCdrs(false).catch((err) => showError(err.message));
});
$('#cdrs-more').addEventListener('click', () => searchCdrs(true).catch((err) => showError(err.message)));
$('#cdrs-csv').addEventListener('click', async () => {
  try {
    const q = cdrQuery();
    q.set('limit', '10000');
    const res = await fetch(`/api/v1/cdrs?${q}`, { headers: { authorization: `Bearer ${token()}`, accept: 'text/csv' } });
    if (!res.ok) throw new Error((await res.json()).error);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([await res.text()], { type: 'text/csv' }));
    a.download = 'cdrs.csv';
    a.id = 'cdrs-download';
    document.body.append(a);
    a.click();
    a.remove();
    document.body.dataset.csv = 'done';
  } catch (err) {
    showError(err.message);
  }
});

// ---- the ladder (as sngrep draws it): a column per party, an arrow per message ----
function ladderText(messages) {
  const parties = [];
  for (const m of messages) for (const p of [m.src, m.dst]) if (!parties.includes(p)) parties.push(p);
  const COL = 30;
  const LEFT = 16;
  const width = LEFT + parties.length * COL;
  const pos = (i) => LEFT + i * COL + Math.floor(COL / 2);
  const blank = () => {
    const r = Array(width).fill(' ');
    parties.forEach((_, i) => (r[pos(i)] = '│'));
    return r;
  };
  const put = (r, at, s) => [...s].forEach((ch, i) => (r[at + i] = ch));
  const head = Array(width).fill(' ');
  parties.forEach((p, i) => put(head, Math.max(0, pos(i) - Math.floor(p.length / 2)), p.slice(0, COL - 2)));
  const lines = [head.join('').trimEnd(), blank().join('').trimEnd()];
  for (const m of messages) {
    const s = parties.indexOf(m.src);
    const d = parties.indexOf(m.dst);
    const from = pos(Math.min(s, d));
    const to = pos(Math.max(s, d));
    const label = blank();
    put(label, 0, m.time.slice(11, 23));
    const t = m.firstLine.replace(/ SIP\/2\.0$/, '');
    put(label, from + 2, t.length > to - from - 3 ? `${t.slice(0, to - from - 4)}…` : t);
    const arrow = blank();
    for (let x = from + 1; x < to; x++) arrow[x] = '─';
    if (s < d) arrow[to - 1] = '>';
    else arrow[from + 1] = '<';
    put(arrow, 0, `leg ${m.leg} ${m.proto}`);
    lines.push(label.join('').trimEnd(), arrow.join('').trimEnd());
  }
  return lines.join('\n');
}

async function showLadder(sid) {
  $('#ladder-sid').textContent = sid;
  const messages = await api('GET', `/calls/${encodeURIComponent(sid)}/trace`);
  $('#ladder-diagram').textContent = ladderText(messages);
  $('#ladder-messages').replaceChildren(
    ...messages.map((m) => {
      const li = document.createElement('li');
      li.className = `leg-${m.leg}`;
      const d = document.createElement('details');
      const s = document.createElement('summary');
      s.textContent = `${m.time} leg ${m.leg} ${m.src} → ${m.dst}: ${m.firstLine}`;
      const pre = document.createElement('pre');
      pre.textContent = m.raw;
      d.append(s, pre);
      li.append(d);
      return li;
    }),
  );
}

const pages = {
  async dashboard() {
    const [bindings, metrics] = await Promise.all([api('GET', '/location'), fetch('/metrics').then((r) => r.text())]);
    fill('#registrations', bindings.map((b) => row([b.aor, b.contact, b.received, `${b.expires} s`])));
    const sum = (re) => metrics.split('\n').filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    const figures = [
      ['registrations', bindings.length],
      ['SIP requests in', sum(/^trunkline_sip_requests_total\{direction="in"/)],
      ['SIP responses out', sum(/^trunkline_sip_responses_total\{direction="out"/)],
      ['parse errors', sum(/^trunkline_sip_parse_errors_total /)],
      ['live calls', sum(/^trunkline_calls_active\{/)],
      ['calls answered', sum(/^trunkline_calls_total\{.*disposition="answered"/)],
      ['calls failed', sum(/^trunkline_calls_total\{.*disposition="failed"/)],
      ['calls refused', sum(/^trunkline_b2bua_refused_\d+_total /)],
      ['gateways down', metrics.split('\n').filter((l) => l.startsWith('trunkline_gateway_up{') && l.endsWith(' 0')).length],
    ];
    $('#figures').replaceChildren(
      ...figures.map(([label, value]) => {
        const d = document.createElement('div');
        d.className = 'figure';
        const b = document.createElement('b');
        b.textContent = String(value);
        d.append(b, document.createTextNode(label));
        return d;
      }),
    );
  },
  async domains() {
    const list = await api('GET', '/domains');
    fill('#domain-table', list.map((d) => row([d.domain, d.createdAt], [['Remove', async () => {
      await api('DELETE', `/domains/${encodeURIComponent(d.domain)}`);
      await pages.domains();
    }]])));
  },
  accounts: () => showCrud('accounts'),
  trunks: () => showCrud('trunks'),
  dids: () => showCrud('dids'),
  carriers: () => showCrud('carriers'),
  routes: () => showCrud('routes'),
  async calls() {
    const calls = await api('GET', '/calls');
    fill('#calls-table', calls.map((c) => row([c.callSid, c.direction, c.trunk, c.carrier, c.from, c.to, c.state, c.seconds], [
      ['Hang up', async () => {
        await api('DELETE', `/calls/${encodeURIComponent(c.callSid)}`);
        await pages.calls();
      }],
      ['Ladder', async () => { location.hash = `#ladder/${c.callSid}`; }],
    ])));
  },
  cdrs: () => searchCdrs(false),
  ladder: () => showLadder(decodeURIComponent(location.hash.split('/')[1] ?? '')),
  async subscribers() {
    const list = await api('GET', '/subscribers');
    fill('#subscriber-table', list.map((s) => row([s.subscriber, s.createdAt], [['Remove', async () => {
      await api('DELETE', `/subscribers/${encodeURIComponent(s.subscriber)}`);
      await pages.subscribers();
    }]])));
  },
};

function follow() {
  if (events !== null) return;
  events = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(token())}`);
  const add = (e) => {
    const li = document.createElement('li');
    li.textContent = `${e.type} ${e.data}`;
    $('#events').prepend(li);
    if (e.type === 'registration' && location.hash === '#dashboard') pages.dashboard().catch((err) => showError(err.message));
    if (e.type.startsWith('call.') && location.hash === '#calls') pages.calls().catch((err) => showError(err.message));
  };
  for (const type of ['registration', 'call.started', 'call.answered', 'call.ended', 'ban', 'gateway.up', 'gateway.down', 'carrier.registration']) events.addEventListener(type, add);
}

let shown = 0;

async function show() {
  const generation = ++shown;
  showError('');
  const logged = token() !== null;
  $('#nav').hidden = !logged;
  const page = logged ? (location.hash.slice(1).split('/')[0] || 'dashboard') : 'login';
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== page;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === page);
  if (!logged) return;
  follow();
  try {
    await pages[page]?.();
  } catch (err) {
    if (generation === shown) showError(err.message);
  }
  // A slower, older show() must not claim the page a newer one shows.
  if (generation === shown) document.body.dataset.ready = page;
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  events?.close();
  events = null;
  location.hash = '';
  show();
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  try {
    await api('GET', '/domains');
    $('#token').value = '';
    if (location.hash === '#dashboard') await show();
    else location.hash = '#dashboard';
  } catch (err) {
    showError(err.message);
  }
});

$('#domain-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  try {
    await api('POST', '/domains', { domain: form.domain.value.trim() });
    form.reset();
    await pages.domains();
  } catch (err) {
    showError(err.message);
  }
});

$('#subscriber-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  try {
    await api('POST', '/subscribers', { subscriber: form.subscriber.value.trim(), password: form.password.value });
    form.reset();
    await pages.subscribers();
  } catch (err) {
    showError(err.message);
  }
});

$('#logout').addEventListener('click', logout);
window.addEventListener('hashchange', show);
show();
