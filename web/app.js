// SPDX-License-Identifier: GPL-2.0-or-later
// spackle's web monitor (docs/web.md): polls the daemon's JSON API once a
// second and draws five views: Connections and Blocked here, Traffic in
// traffic.js, Wall and Rules in wall.js. Text only, never markup (lib.js).
import {
  $, BACKGROUND_MS, MAX_ROWS, POLL_MS, add, api, changed, clear, el, fmtBytes, pathText,
  fmtClock, fmtDuration, fmtInt, fmtWhen, hostOf, notice, nowNs, procName, rawNameOf, setText,
  shortRule, state, token, userName, verdictClass,
} from './lib.js';
import { drawChart, renderTraffic } from './traffic.js';
import { renderRules, renderWall, renderWallBadge, ruleId } from './wall.js';

// --- status line -------------------------------------------------------

function renderStatus() {
  const box = $('status');
  clear(box);
  const s = state.status;
  const parts = [];
  if (s) {
    const mode = String(s.mode || '?');
    parts.push(el('span', { className: 'pill ' + (mode === 'enforce' ? 'good' : 'warn'), text: mode }));
    parts.push(el('span', { className: 'kv' }, el('span', { className: 'k', text: 'backend' }), ' ', String(s.backend || '?')));
    if (s.divert) parts.push(el('span', { className: 'kv' }, el('span', { className: 'k', text: 'divert' }), ' ', String(s.divert)));
    parts.push(el('span', { className: 'kv' }, el('span', { className: 'k', text: 'up' }), ' ', fmtDuration(s.uptime)));
    const c = s.counters || {};
    if (typeof c.flows_live === 'number') {
      parts.push(el('span', { className: 'kv' }, el('span', { className: 'k', text: 'live' }), ' ', fmtInt(c.flows_live)));
    }
  }
  if (state.error) {
    parts.push(el('span', { className: 'pill bad', text: state.error }));
  }
  if (state.lastOk) {
    parts.push(el('span', { className: 'kv' }, el('span', { className: 'k', text: 'updated' }), ' ', fmtClock(state.lastOk)));
  }
  for (const p of parts) box.appendChild(p);
}

// --- Connections -------------------------------------------------------

const BLOCKED_LIMIT = 200;
const connRows = new Map(); // flowKey -> {tr, c, sig, f}
let connsHeld = false; // the pointer is over the Connections rows

// A live flow's key: its five-tuple and id. The id alone will not do: it
// is a 64-bit number, and JSON.parse rounds ids past 2^53 onto each other.
function flowKey(f) {
  return [f.proto, f.src, f.sport, f.dst, f.dport, f.id].join(' ');
}

function connKey(f, key) {
  switch (key) {
    case 'proc': return procName(f).toLowerCase();
    case 'pid': return typeof f.pid === 'number' ? f.pid : -1;
    case 'user': return userName(f);
    case 'remote': return (hostOf(f) || rawNameOf(f) || '~' + (f.dst || '')).toLowerCase();
    case 'dport': { const p = portOf(f); return typeof p === 'number' ? p : -1; }
    case 'age': return -(f.first_ns || 0);
    default: {
      const v = f[key];
      return typeof v === 'number' ? v : String(v === null || v === undefined ? '' : v);
    }
  }
}

// The port a person knows the flow by: the remote one for a connection
// out, the local (service) one for a connection in.
// An aggregate's side: its network, or "any" when its flows shared none.
function aggNet(addr, plen) {
  if (!addr || plen === 0) return 'any';
  const full = addr.includes(':') ? 128 : 32;
  return plen >= full ? addr : addr + '/' + plen;
}

function portOf(f) {
  return f.dir === 'in' ? f.sport : f.dport;
}

function haystack(f) {
  return [procName(f), f.exe, f.cmdline, f.pid, userName(f), f.host, f.name_raw, f.dst, f.src,
    f.dport, f.sport, f.proto, f.dir, f.verdict, f.rule]
    .filter((x) => x !== null && x !== undefined).join(' ').toLowerCase();
}

function changeButtons(f, allowOnly, key) {
  const wrap = el('span', { className: 'btns' });
  const target = hostOf(f) || f.dst || '';
  const fixed = state.rules && state.rules.can_change === false;
  const can = typeof f.exe === 'string' && f.exe !== '' && !fixed;
  const why = fixed ? 'rules is a file, not a folder: the page has no rule file of its own'
    : can ? '' : 'the process is not known: no rule can name it';
  const mk = (action, any, label) => el('button', {
    type: 'button',
    className: 'act ' + (action === 'deny' ? 'act-deny' : 'act-allow') + (any ? ' act-any' : ''),
    disabled: can ? null : 'disabled',
    title: can ? action + ' ' + f.exe + (f.dir === 'in' ? ' from ' : ' to ') + (any ? 'any host' : target) : why,
    text: label,
    dataset: { action, any: any ? '1' : '0', flow: key },
  });
  if (!allowOnly) wrap.appendChild(mk('deny', false, 'block'));
  wrap.appendChild(mk('allow', false, 'allow'));
  if (!allowOnly) wrap.appendChild(mk('deny', true, 'block any'));
  wrap.appendChild(mk('allow', true, 'allow any'));
  return wrap;
}

function makeConnRow() {
  const c = {
    proc: el('td', { className: 'proc' }),
    pid: el('td', { className: 'num' }),
    user: el('td', { className: 'nowrap' }),
    remote: el('td', { className: 'remote' }),
    dport: el('td', { className: 'num mono' }),
    proto: el('td'),
    dir: el('td'),
    verdict: el('td'),
    rule: el('td', { className: 'mono rule' }),
    bytes_out: el('td', { className: 'num' }),
    bytes_in: el('td', { className: 'num' }),
    age: el('td', { className: 'num' }),
    actions: el('td', { className: 'actions' }),
  };
  const tr = el('tr', null, Object.values(c));
  return { tr, c, sig: '' };
}

function fillConnRow(row, f) {
  const c = row.c;
  // the parts that change every second
  setText(c.bytes_out, fmtBytes(f.bytes_out));
  setText(c.bytes_in, fmtBytes(f.bytes_in));
  setText(c.age, fmtDuration((nowNs() - (f.first_ns || 0)) / 1e9));
  const sig = [f.exe, f.cmdline, f.pid, f.user, f.uid, f.host, f.name_raw, f.name_raw_from, f.host_from, f.dst,
    f.dport, f.proto, f.dir, f.verdict, f.rule, f.monitor, state.rules && state.rules.can_change].join('\u0000');
  if (sig === row.sig) return;
  row.sig = sig;
  clear(c.proc);
  add(c.proc, el('span', { className: 'name', text: procName(f) }));
  if (f.exe) add(c.proc, el('span', { className: 'sub mono path' }, pathText(f.exe)));
  c.proc.title = typeof f.cmdline === 'string' ? f.cmdline : '';
  setText(c.pid, f.pid === null || f.pid === undefined ? '–' : f.pid);
  setText(c.user, userName(f));
  clear(c.remote);
  const host = hostOf(f);
  const raw = rawNameOf(f);
  if (host) {
    add(c.remote, el('span', { className: 'name' }, el('span', { className: 'mono', text: host }), ' ',
      f.host_from ? el('span', { className: 'tag', text: String(f.host_from) }) : null));
  } else if (raw) {
    add(c.remote, el('span', { className: 'name' }, el('span', { className: 'mono unverified', text: raw }), ' ',
      el('span', {
        className: 'tag warn',
        text: 'unusable ' + (f.name_raw_from || f.host_from || 'name'),
        title: 'a name the daemon saw but cannot use for rules',
      })));
  }
  add(c.remote, el('span', { className: host || raw ? 'sub mono' : 'name mono', text: f.dst || '–' }));
  setText(c.dport, portOf(f) === undefined || portOf(f) === null ? '–' : portOf(f));
  c.dport.title = f.dir === 'in' ? 'the local port (a connection in, from remote port ' + f.dport + ')' : '';
  setText(c.proto, f.proto || '–');
  setText(c.dir, f.dir || '–');
  clear(c.verdict);
  add(c.verdict, el('span', { className: 'verdict ' + verdictClass(f.verdict), text: f.verdict || '–' }));
  if (f.monitor) add(c.verdict, el('span', { className: 'tag', text: 'monitor' }));
  setText(c.rule, shortRule(f.rule));
  c.rule.title = typeof f.rule === 'string' ? f.rule : '';
  clear(c.actions);
  add(c.actions, changeButtons(f, false, flowKey(f)));
}

function renderConns(force) {
  const body = $('conns').tBodies[0];
  const q = state.filter.trim().toLowerCase();
  let list = state.conns;
  const total = list.length;
  if (q) list = list.filter((f) => haystack(f).includes(q));
  const k = state.sortKey;
  const d = state.sortDir;
  list = list.slice().sort((a, b) => {
    const x = connKey(a, k);
    const y = connKey(b, k);
    let r;
    if (typeof x === 'number' && typeof y === 'number') r = x - y;
    else r = String(x).localeCompare(String(y));
    if (r === 0) r = (a.id || 0) - (b.id || 0);
    return r * d;
  });
  const shown = list.slice(0, MAX_ROWS);
  if (connsHeld && !force && body.children.length) {
    // the pointer is over the rows: each keeps its place (a button aimed at
    // is not moved from under the click); new and ended flows wait until
    // the pointer leaves
    const live = new Map(shown.map((f) => [flowKey(f), f]));
    let waiting = 0;
    for (const [id, row] of connRows) {
      const f = live.get(id);
      if (f) {
        row.f = f;
        fillConnRow(row, f);
      }
      row.tr.classList.toggle('ended', !f);
    }
    for (const id of live.keys()) if (!connRows.has(id)) waiting++;
    setText($('conns-summary'), 'held while the pointer is over the list' +
      (waiting ? ' (' + fmtInt(waiting) + ' new waiting)' : ''));
    setText($('n-conns'), fmtInt(total));
    return;
  }
  const keep = new Set();
  let i = 0;
  for (const f of shown) {
    const id = flowKey(f);
    keep.add(id);
    let row = connRows.get(id);
    if (!row) {
      row = makeConnRow();
      connRows.set(id, row);
    }
    row.f = f;
    fillConnRow(row, f);
    row.tr.classList.remove('ended');
    // move only what is out of place (a focused button keeps its focus)
    if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] || null);
    i++;
  }
  for (const [id, row] of connRows) {
    if (!keep.has(id)) {
      row.tr.remove();
      connRows.delete(id);
    }
  }
  let sum = fmtInt(total) + ' live flow' + (total === 1 ? '' : 's');
  if (q) sum = fmtInt(list.length) + ' of ' + sum + ' match';
  if (list.length > shown.length) sum += ' (first ' + fmtInt(shown.length) + ' shown)';
  setText($('conns-summary'), sum);
  setText($('n-conns'), fmtInt(total));
  $('conns-empty').hidden = total !== 0;
  for (const th of $('conns').tHead.rows[0].cells) {
    const key = th.dataset.key;
    if (!key) continue;
    th.setAttribute('aria-sort', key === k ? (d > 0 ? 'ascending' : 'descending') : 'none');
  }
}

// --- changes: block, allow, undo ----------------------------------------

async function change(f, action, any) {
  if (state.busy) return;
  const body = { action, process: f.exe };
  // an inbound flow's rule is an `in ... from` rule: the daemon writes it so
  if (f.dir === 'in') body.dir = 'in';
  if (any) body.any = true;
  else if (hostOf(f)) body.host = hostOf(f);
  else body.address = f.dst;
  state.busy = true;
  document.body.classList.add('busy');
  try {
    const r = await api('/api/rule', { method: 'POST', body });
    if (r.id) state.made.set(String(r.id), String(r.rule || ''));
    notice('ok', [
      'added ',
      el('code', { text: r.rule || '' }),
      r.file ? ' at ' + shortRule(r.file + ':' + r.line) : '',
      ' ',
      r.id ? el('button', {
        type: 'button',
        className: 'act',
        text: 'undo',
        dataset: { undo: String(r.id) },
        onclick: () => undo(String(r.id)),
      }) : null,
    ]);
    state.rulesAt = 0;
  } catch (e) {
    notice('error', ['refused: ', el('span', { className: 'mono', text: e.message }),
      e.status === 403 && !token ? ' (changes need the token: open the URL that `spackle web` prints)' : '']);
  } finally {
    state.busy = false;
    document.body.classList.remove('busy');
  }
}

async function undo(id) {
  if (state.busy) return;
  state.busy = true;
  document.body.classList.add('busy');
  try {
    await api('/api/undo', { method: 'POST', body: { id } });
    state.made.delete(id);
    notice('ok', ['removed the rule ', el('code', { text: 'web:' + id })]);
    state.rulesAt = 0;
    if (state.rules) {
      state.rules.rules = (state.rules.rules || []).filter((r) => ruleId(r) !== id);
      renderRules();
    }
  } catch (e) {
    notice('error', ['undo refused: ', el('span', { className: 'mono', text: e.message })]);
  } finally {
    state.busy = false;
    document.body.classList.remove('busy');
  }
}

function onTableClick(ev, lookup) {
  const b = ev.target.closest('button[data-action]');
  if (!b || b.disabled) return;
  const f = lookup(b.dataset.flow);
  if (!f) {
    notice('error', ['that flow is gone']);
    return;
  }
  change(f, b.dataset.action, b.dataset.any === '1');
}

// --- Blocked --------------------------------------------------------------

function renderBlocked() {
  if (!changed('blocked', state.blocked)) return;
  const body = $('blocked').tBodies[0];
  const list = state.blocked.slice().sort((a, b) => (b.first_ns || 0) - (a.first_ns || 0));
  const frag = document.createDocumentFragment();
  list.slice(0, MAX_ROWS).forEach((f, i) => {
    const remote = el('td', { className: 'remote' });
    const host = hostOf(f);
    const raw = rawNameOf(f);
    if (host) add(remote, el('span', { className: 'name mono', text: host }));
    else if (raw) add(remote, el('span', { className: 'name mono unverified', text: raw }));
    // An aggregate: many flows that never completed (a flood, a scan),
    // from a network; no rule to offer for it.
    const agg = f.aggregate === true;
    const dst = agg ? aggNet(f.dst, f.dst_prefix) : f.dst;
    add(remote, el('span', { className: host || raw ? 'sub mono' : 'name mono', text: dst || '–' }));
    const proc = el('td', { className: 'proc', title: typeof f.cmdline === 'string' ? f.cmdline : null },
      el('span', { className: 'name', text: procName(f) }),
      agg ? el('span', { className: 'sub aggregate', text: fmtInt(f.flows) + ' incomplete flows' }) : null,
      f.exe ? el('span', { className: 'sub mono path' }, pathText(f.exe)) : null);
    frag.appendChild(el('tr', null,
      el('td', { className: 'num', text: fmtWhen(f.first_ns) }),
      proc,
      el('td', { className: 'num', text: f.pid === null || f.pid === undefined ? '–' : f.pid }),
      el('td', { className: 'nowrap', text: userName(f) }),
      remote,
      el('td', { className: 'num mono', text: portOf(f) === null || portOf(f) === undefined ? '–' : portOf(f) }),
      el('td', { text: f.proto || '–' }),
      el('td', null, el('span', { className: 'verdict ' + verdictClass(f.verdict), text: f.verdict || '–' })),
      el('td', { className: 'mono rule', title: f.rule || null, text: shortRule(f.rule) }),
      el('td', { className: 'actions' }, agg ? null : changeButtons(f, true, 'b' + i))));
  });
  clear(body);
  body.appendChild(frag);
  state.blockedShown = list;
  setText($('blocked-summary'), list.length ? fmtInt(list.length) + ' denied or rejected flows, newest first' : '');
  $('blocked-empty').hidden = list.length !== 0;
}

// --- polling ----------------------------------------------------------------

function failed(e) {
  if (e.status === 401) state.error = 'no token: open the URL that `spackle web` prints';
  else state.error = (e.status ? 'HTTP ' + e.status + ': ' : '') + e.message;
}

// How often each API is asked: the view on screen every second, or ten
// times as long as its last answer took (at most 10 s), so a huge table or
// store costs the daemon's main thread at most about a tenth of its time;
// the others (for the tabs' counts) every 5 s, if asked for at all.
const asked = {}; // name -> when it was last asked (ms)
const took = {}; // name -> how long its last answer took (ms)

function due(name, active, now, background) {
  const every = active ? Math.min(10000, Math.max(POLL_MS, 10 * (took[name] || 0)))
    : background ? BACKGROUND_MS : Infinity;
  if (now - (asked[name] || 0) < every - 100) return false;
  asked[name] = now;
  return true;
}

function timed(name, p) {
  const t0 = performance.now();
  return p.finally(() => { took[name] = performance.now() - t0; });
}

let polling = false;

async function tick() {
  if (polling) return;
  polling = true;
  const v = state.view;
  const jobs = [api('/api/status').then((s) => {
    state.status = s;
    if (typeof s.started_ns === 'number' && typeof s.uptime === 'number') {
      const skew = s.started_ns / 1e6 + s.uptime * 1000 - Date.now();
      state.skewMs = Math.abs(skew) > 2000 ? skew : 0;
    }
  })];
  const now = Date.now();
  if (due('conns', v === 'conns', now, false)) {
    jobs.push(timed('conns', api('/api/conns')).then((c) => {
      state.conns = Array.isArray(c) ? c : (c && Array.isArray(c.conns) ? c.conns : []);
    }));
  }
  if (due('traffic', v === 'traffic', now, false) || (v === 'traffic' && state.trafficSpan !== state.span)) {
    const span = state.span;
    jobs.push(timed('traffic', api('/api/traffic?span=' + encodeURIComponent(span))).then((t) => {
      if (span !== state.span) return;
      state.traffic = t;
      state.trafficSpan = span;
    }));
  }
  if (due('blocked', v === 'blocked', now, true)) {
    jobs.push(timed('blocked', api('/api/blocked?limit=' + BLOCKED_LIMIT)).then((b) => {
      state.blocked = Array.isArray(b) ? b : (b && Array.isArray(b.flows) ? b.flows : []);
    }));
  }
  if (due('wall', v === 'wall', now, true)) {
    jobs.push(timed('wall', api('/api/wall')).then((w) => {
      state.wall = w;
    }));
  }
  if (due('rules', v === 'rules', now, true) || state.rulesAt === 0) {
    jobs.push(timed('rules', api('/api/rules')).then((r) => {
      state.rules = r;
      state.rulesAt = Date.now();
    }));
  }
  const res = await Promise.allSettled(jobs);
  const bad = res.find((r) => r.status === 'rejected');
  if (bad) failed(bad.reason);
  else {
    state.error = null;
    state.lastOk = Date.now();
  }
  try {
    render();
  } finally {
    polling = false;
  }
}

function render() {
  renderStatus();
  renderWallBadge();
  const nb = state.blocked.length;
  setText($('n-blocked'), nb >= BLOCKED_LIMIT ? fmtInt(BLOCKED_LIMIT) + '+' : nb ? fmtInt(nb) : '');
  if (state.rules) {
    setText($('n-rules'), fmtInt((state.rules.rules || []).length));
  }
  switch (state.view) {
    case 'conns': renderConns(); break;
    case 'traffic':
      if (state.traffic && changed('traffic', [state.traffic, $('chart').clientWidth])) renderTraffic();
      break;
    case 'blocked': renderBlocked(); break;
    case 'wall': renderWall(); break;
    case 'rules': renderRules(); break;
    default: break;
  }
}

// --- wiring -------------------------------------------------------------------

function show(view) {
  state.view = view;
  for (const b of document.querySelectorAll('.tab')) {
    b.setAttribute('aria-selected', b.dataset.view === view ? 'true' : 'false');
  }
  for (const s of document.querySelectorAll('.view')) {
    s.hidden = s.id !== 'view-' + view;
  }
  try {
    window.history.replaceState(null, '', '#' + view);
  } catch {
    // ignore
  }
  render();
  tick();
}

function init() {
  for (const b of document.querySelectorAll('.tab')) {
    b.addEventListener('click', () => show(b.dataset.view));
  }
  for (const th of $('conns').tHead.rows[0].cells) {
    if (!th.dataset.key) continue;
    th.tabIndex = 0;
    const sort = () => {
      if (state.sortKey === th.dataset.key) state.sortDir = -state.sortDir;
      else {
        state.sortKey = th.dataset.key;
        state.sortDir = ['bytes_out', 'bytes_in', 'age'].includes(th.dataset.key) ? -1 : 1;
        if (th.dataset.key === 'age') state.sortDir = 1;
      }
      renderConns(true);
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        sort();
      }
    });
  }
  $('filter').addEventListener('input', (e) => {
    state.filter = e.target.value;
    renderConns(true);
  });
  $('rules-filter').addEventListener('input', () => renderRules(true));
  $('conns').tBodies[0].addEventListener('pointerenter', () => { connsHeld = true; });
  $('conns').tBodies[0].addEventListener('pointerleave', () => {
    connsHeld = false;
    renderConns();
  });
  $('conns').tBodies[0].addEventListener('click', (ev) => onTableClick(ev, (id) => {
    const r = connRows.get(id);
    return r ? r.f : null;
  }));
  $('blocked').tBodies[0].addEventListener('click', (ev) => onTableClick(ev, (key) => {
    const i = Number(String(key).slice(1));
    return state.blockedShown ? state.blockedShown[i] : null;
  }));
  $('web-rules').tBodies[0].addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-undo]');
    if (b) undo(b.dataset.undo);
  });
  for (const b of document.querySelectorAll('[data-span]')) {
    b.addEventListener('click', () => {
      state.span = b.dataset.span;
      for (const o of document.querySelectorAll('[data-span]')) {
        o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
      }
      state.traffic = null;
      drawChart();
      tick();
    });
  }
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (state.view === 'traffic') drawChart(); }, 150);
  });
  const want = (window.location.hash || '').slice(1);
  show(['conns', 'traffic', 'blocked', 'wall', 'rules'].includes(want) ? want : 'conns');
  setInterval(tick, POLL_MS);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
