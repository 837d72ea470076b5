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
  };
  for (const type of ['registration', 'call.started', 'call.answered', 'call.ended', 'ban', 'gateway.up', 'gateway.down']) events.addEventListener(type, add);
}

let shown = 0;

async function show() {
  const generation = ++shown;
  showError('');
  const logged = token() !== null;
  $('#nav').hidden = !logged;
  const page = logged ? (location.hash.slice(1) || 'dashboard') : 'login';
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
