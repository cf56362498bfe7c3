// The Exosphere dashboard: one Server-Sent Events stream from `exo run` (/api/events) keeps every
// view live; buttons post to /api/services/<role>/<action> with the token exo printed.
'use strict';

const params = new URLSearchParams(location.search);
if (params.get('token')) sessionStorage.setItem('exo-token', params.get('token'));
const token = sessionStorage.getItem('exo-token') || '';

const MAX_LOGS = 2000;
const MAX_TRACE = 1000;
const RATE_WINDOW_MS = 5000;

const state = { services: [], routes: {}, edges: [], problems: [], logs: [], trace: [], dropped: 0, recent: [] };
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = tag.startsWith('svg:') ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
                                      : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.setAttribute('class', v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};

// --- tabs ------------------------------------------------------------------------------------
for (const button of document.querySelectorAll('nav button')) {
  button.addEventListener('click', () => {
    for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b === button);
    for (const s of document.querySelectorAll('.tab')) s.classList.toggle('active', s.id === button.dataset.tab);
  });
}

// --- services --------------------------------------------------------------------------------
const duration = (s) => (s == null ? '' : s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s`
                                                          : `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m`);

async function act(role, action) {
  const r = await fetch(`api/services/${encodeURIComponent(role)}/${action}`, { method: 'POST', headers: { 'X-Exo-Token': token } });
  if (!r.ok) alert(`${action} ${role}: ${await r.text()}`);
}

function renderServices() {
  const rows = state.services.map((s) => el('tr', { 'data-role': s.role },
    el('td', {}, s.role),
    el('td', {}, el('span', { class: `badge ${s.state}`, 'data-state': s.state }, s.state)),
    el('td', { class: 'num pid' }, s.pid || ''),
    el('td', { class: 'num' }, duration(s.uptime)),
    el('td', { class: 'num restarts' }, s.restarts ?? 0),
    el('td', { class: 'num' }, s.cpu == null ? '' : `${s.cpu.toFixed(1)} %`),
    el('td', { class: 'num' }, s.memory == null ? '' : `${(s.memory / 1048576).toFixed(1)} MB`),
    el('td', { class: 'num instances' }, s.instances ?? ''),
    el('td', { class: 'line', title: s.last_line || '' }, s.last_line || ''),
    el('td', {}, ...(s.controllable ? [
      el('button', { class: 'restart', onclick: () => act(s.role, 'restart') }, 'restart'),
      s.state === 'stopped' ? el('button', { class: 'start', onclick: () => act(s.role, 'start') }, 'start')
                            : el('button', { class: 'stop', onclick: () => act(s.role, 'stop') }, 'stop')] : []))));
  $('service-rows').replaceChildren(...rows);
}

// --- logs ------------------------------------------------------------------------------------
function logMatches(l) {
  const role = $('log-role').value;
  const text = $('log-search').value.toLowerCase();
  return (!role || l.role === role) && (!text || l.text.toLowerCase().includes(text));
}
const logLine = (l) => el('li', {}, el('span', { class: 'role' }, l.role), l.text);

function renderLogs() {
  const shown = state.logs.filter(logMatches);
  $('log-lines').replaceChildren(...shown.map(logLine));
  $('log-count').textContent = `${shown.length} of ${state.logs.length} lines`;
  $('log-lines').scrollTop = $('log-lines').scrollHeight;
}

function addLog(l) {
  state.logs.push(l);
  if (state.logs.length > MAX_LOGS) state.logs.splice(0, state.logs.length - MAX_LOGS);
  const roles = new Set([...$('log-role').options].map((o) => o.value));
  if (!roles.has(l.role)) $('log-role').append(el('option', { value: l.role }, l.role));
  if (logMatches(l)) {
    const list = $('log-lines');
    const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.append(logLine(l));
    while (list.children.length > MAX_LOGS) list.firstChild.remove();
    if (atEnd) list.scrollTop = list.scrollHeight;
  }
  const s = state.services.find((x) => x.role === l.role);
  if (s) {
    s.last_line = l.text;
    const cell = document.querySelector(`#service-rows tr[data-role="${CSS.escape(l.role)}"] td.line`);
    if (cell) cell.textContent = l.text;
  }
}
$('log-role').addEventListener('change', renderLogs);
$('log-search').addEventListener('input', renderLogs);

// --- messages: graph and trace ---------------------------------------------------------------
function renderGraph() {
  const svg = $('graph');
  const roles = [...new Set([...Object.keys(state.routes), ...state.edges.flatMap((e) => [e.from, e.to])])];
  const cx = 300, cy = 210, r = 160;
  const at = {};
  roles.forEach((role, i) => {
    const a = (2 * Math.PI * i) / roles.length - Math.PI / 2;
    at[role] = [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  });
  const pairs = new Map();
  for (const e of state.edges) {
    const key = `${e.from}\u0000${e.to}`;
    if (!pairs.has(key)) pairs.set(key, { from: e.from, to: e.to, names: [] });
    pairs.get(key).names.push(e.name);
  }
  svg.replaceChildren(el('svg:defs', {}, el('svg:marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, el('svg:path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#98a2b3' }))));
  for (const p of pairs.values()) {
    const [x1, y1] = at[p.from], [x2, y2] = at[p.to];
    const len = Math.hypot(x2 - x1, y2 - y1) || 1;
    const ux = (x2 - x1) / len, uy = (y2 - y1) / len;
    const off = 6;  // the two directions of a pair side by side
    const sx = x1 + ux * 34 - uy * off, sy = y1 + uy * 34 + ux * off;
    const ex = x2 - ux * 34 - uy * off, ey = y2 - uy * 34 + ux * off;
    svg.append(el('svg:g', { class: 'edge', 'data-from': p.from, 'data-to': p.to },
      el('svg:title', {}, `${p.from} → ${p.to}: ${p.names.join(', ')}`),
      el('svg:line', { x1: sx, y1: sy, x2: ex, y2: ey, 'marker-end': 'url(#arrow)' }),
      el('svg:text', { x: (sx + ex) / 2 - uy * 10, y: (sy + ey) / 2 + ux * 10, class: 'rate' }, '')));
  }
  for (const role of roles) {
    const [x, y] = at[role];
    svg.append(el('svg:g', { class: 'node', 'data-role': role }, el('svg:circle', { cx: x, cy: y, r: 30 }),
      el('svg:text', { x, y: y + 4 }, role)));
  }
}

function updateRates() {
  const now = Date.now();
  state.recent = state.recent.filter((t) => now - t.seen < RATE_WINDOW_MS);
  const counts = new Map();
  for (const t of state.recent) counts.set(`${t.sender}\u0000${t.receiver}`, (counts.get(`${t.sender}\u0000${t.receiver}`) || 0) + 1);
  for (const g of document.querySelectorAll('#graph .edge')) {
    const n = counts.get(`${g.dataset.from}\u0000${g.dataset.to}`) || 0;
    g.classList.toggle('active', n > 0);
    g.querySelector('text.rate').textContent = n ? `${(n / (RATE_WINDOW_MS / 1000)).toFixed(1)}/s` : '';
  }
}
setInterval(updateRates, 1000);

function traceMatches(t) {
  const f = $('trace-filter').value.trim().toLowerCase();
  if (!f) return true;
  return [t.sender, t.receiver, t.name, t.as, t.activity].some((v) => (v || '').toLowerCase().includes(f));
}

function traceRow(t) {
  const time = new Date(t.time).toISOString().slice(11, 23);
  const name = el('td', { class: 'name' }, t.name);
  if (t.payload !== undefined) name.append(el('pre', { class: 'payload' }, JSON.stringify(t.payload)));
  return el('tr', { 'data-activity': t.activity || '' },
    el('td', {}, time), name,
    el('td', { class: 'route' }, `${t.sender} → ${t.receiver}`),
    el('td', { class: 'as' }, t.as && t.as !== t.name ? t.as : ''),
    el('td', { class: 'num response' }, t.rt == null ? '' : `${t.rt < 1 ? t.rt.toFixed(2) : t.rt.toFixed(1)} ms`),
    el('td', { class: 'num' }, `${t.size} B`),
    el('td', {}, t.activity ? el('a', { title: 'follow this activity', onclick: () => follow(t.activity) }, 'follow') : ''));
}

function renderTrace() {
  const rows = state.trace.filter(traceMatches).slice(-300).reverse().map(traceRow);
  $('trace-rows').replaceChildren(...rows);
  $('trace-clear').hidden = !$('trace-filter').value;
  $('trace-dropped').textContent = state.dropped ? `${state.dropped} events not shown: ExoCom sampled under load` : '';
}

function follow(activity) {
  $('trace-filter').value = activity;
  renderTrace();
}
$('trace-filter').addEventListener('input', renderTrace);
$('trace-clear').addEventListener('click', () => { $('trace-filter').value = ''; renderTrace(); });

function addTrace(batch) {
  const now = Date.now();
  for (const t of batch.events) {
    state.trace.push(t);
    state.recent.push({ sender: t.sender, receiver: t.receiver, seen: now });
  }
  if (state.trace.length > MAX_TRACE) state.trace.splice(0, state.trace.length - MAX_TRACE);
  state.dropped += batch.sampledOut || 0;
  renderTrace();
  updateRates();
}

// --- contracts -------------------------------------------------------------------------------
function renderContracts() {
  const cards = Object.entries(state.routes).map(([role, r]) => {
    const problems = state.problems.filter((p) => p.role === role);
    return el('div', { class: 'card', 'data-role': role }, el('h3', {}, role),
      el('strong', {}, 'sends'), el('ul', {}, ...(r.sends.length ? r.sends.map((n) => el('li', {}, n)) : [el('li', {}, '—')])),
      el('strong', {}, 'receives'), el('ul', {}, ...(r.receives.length ? r.receives.map((n) => el('li', {}, n)) : [el('li', {}, '—')])),
      ...(problems.length ? [el('strong', { class: 'problem' }, 'exo lint'), el('ul', {}, ...problems.map((p) => el('li', { class: 'problem' }, p.text)))] : []));
  });
  $('contract-cards').replaceChildren(...cards);
}

// --- the stream ------------------------------------------------------------------------------
const events = new EventSource('api/events');
events.addEventListener('open', () => { $('connection').textContent = 'live'; $('connection').className = 'badge online'; });
events.addEventListener('error', () => { $('connection').textContent = 'disconnected'; $('connection').className = 'badge crashed'; });
events.addEventListener('snapshot', (e) => {
  const s = JSON.parse(e.data);
  Object.assign(state, { services: s.services, routes: s.routes, edges: s.edges, problems: s.problems, logs: [], trace: [] });
  $('app').textContent = s.app;
  document.title = `${s.app} · Exosphere dashboard`;
  renderServices();
  renderGraph();
  renderContracts();
  for (const l of s.logs) addLog(l);
  renderLogs();
  addTrace({ events: s.trace, dropped: 0 });
});
events.addEventListener('services', (e) => {
  const lines = new Map(state.services.map((s) => [s.role, s.last_line]));
  state.services = JSON.parse(e.data).map((s) => ({ ...s, last_line: s.last_line || lines.get(s.role) }));
  renderServices();
});
events.addEventListener('log', (e) => addLog(JSON.parse(e.data)));
events.addEventListener('trace', (e) => addTrace(JSON.parse(e.data)));
