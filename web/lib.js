// SPDX-License-Identifier: GPL-2.0-or-later
// spackle's web monitor (docs/web.md): what every view shares. The token,
// DOM helpers that set text only, formatting, the API client, the notice
// line and the page's state. Every string that comes from the network or
// from a local program (host names, SNI, exe paths, command lines, rule
// text, error messages) is set with textContent, createTextNode or
// setAttribute on a plain attribute: nothing builds markup from strings.

const TOKEN_KEY = 'spackle_token';
const POLL_MS = 1000;
const BACKGROUND_MS = 5000;
const MAX_ROWS = 1000;
const SVGNS = 'http://www.w3.org/2000/svg';

// --- the token --------------------------------------------------------

// Taken once from ?token=, kept in sessionStorage, removed from the
// address bar (and so from history and any screen share).
function takeToken() {
  let t = '';
  try {
    const u = new URL(window.location.href);
    t = u.searchParams.get('token') || '';
    if (t) {
      u.searchParams.delete('token');
      const q = u.searchParams.toString();
      window.history.replaceState(null, '', u.pathname + (q ? '?' + q : '') + u.hash);
    }
  } catch {
    t = '';
  }
  try {
    if (t) {
      window.sessionStorage.setItem(TOKEN_KEY, t);
    } else {
      t = window.sessionStorage.getItem(TOKEN_KEY) || '';
    }
  } catch {
    // sessionStorage can be off: the token then lives in this page only
  }
  return t;
}

const token = takeToken();

// --- DOM helpers: text only -------------------------------------------

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'className') e.className = v;
      else if (k === 'text') e.textContent = String(v);
      else if (k === 'title') e.title = String(v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'onclick') e.addEventListener('click', v);
      else if (/^on|^style$|^src|href$/i.test(k)) throw new Error('el: no ' + k + ' attribute');
      else e.setAttribute(k, String(v));
    }
  }
  for (const k of kids) add(e, k);
  return e;
}

function add(parent, kid) {
  if (kid === undefined || kid === null || kid === false) return;
  if (Array.isArray(kid)) {
    for (const k of kid) add(parent, k);
  } else if (kid instanceof Node) {
    parent.appendChild(kid);
  } else {
    parent.appendChild(document.createTextNode(String(kid)));
  }
}

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    }
  }
  for (const k of kids) {
    if (k instanceof Node) e.appendChild(k);
    else if (k !== undefined && k !== null) e.appendChild(document.createTextNode(String(k)));
  }
  return e;
}

// A path as text that may wrap after each '/': text nodes with <wbr>
// between them (made here, never parsed from the string).
function pathText(p) {
  const parts = String(p).split('/');
  const out = [];
  parts.forEach((part, i) => {
    if (i > 0) out.push(document.createElement('wbr'));
    out.push(document.createTextNode((i > 0 ? '/' : '') + part));
  });
  return out;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function setText(node, s) {
  const v = s === undefined || s === null ? '' : String(s);
  if (node.textContent !== v) node.textContent = v;
}

const $ = (id) => document.getElementById(id);

// --- formatting --------------------------------------------------------

const nf = new Intl.NumberFormat('en');

function fmtInt(n) {
  return typeof n === 'number' && isFinite(n) ? nf.format(n) : '–';
}

function fmtBytes(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '–';
  if (n < 1024) return n + ' B';
  const u = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < u.length - 1);
  return (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ' + u[i];
}

function fmtDuration(s) {
  if (typeof s !== 'number' || !isFinite(s) || s < 0) return '–';
  s = Math.floor(s);
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm' + String(s % 60).padStart(2, '0') + 's';
  const h = Math.floor(m / 60);
  if (h < 48) return h + 'h' + String(m % 60).padStart(2, '0') + 'm';
  return Math.floor(h / 24) + 'd' + String(h % 24).padStart(2, '0') + 'h';
}

function pad2(n) {
  return String(n).padStart(2, '0');
}

function fmtClock(ms) {
  const d = new Date(ms);
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
}

function fmtWhen(ns) {
  if (typeof ns !== 'number' || ns <= 0) return '–';
  const ms = ns / 1e6;
  const d = new Date(ms);
  const today = new Date();
  const clock = fmtClock(ms);
  if (d.toDateString() === today.toDateString()) return clock;
  return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' + clock;
}

function basename(p) {
  if (typeof p !== 'string' || p === '') return '';
  const s = p.replace(/\/+$/, '');
  const i = s.lastIndexOf('/');
  return i >= 0 ? s.slice(i + 1) : s;
}

// A rule's place, FILE:LINE, short: the file's name and its line.
function shortRule(r) {
  if (typeof r !== 'string' || r === '') return '–';
  const m = /^(.*):(\d+)$/.exec(r);
  return m ? basename(m[1]) + ':' + m[2] : r;
}

function procName(f) {
  const b = basename(f.exe);
  if (b) return b;
  if (typeof f.cmdline === 'string' && f.cmdline.trim() !== '') {
    return basename(f.cmdline.trim().split(/\s+/)[0]);
  }
  return f.pid !== null && f.pid !== undefined ? 'pid ' + f.pid : 'unknown';
}

function userName(f) {
  if (typeof f.user === 'string' && f.user !== '') return f.user;
  if (typeof f.uid === 'number') return 'uid ' + f.uid;
  return '–';
}

// The name a flow's remote end goes by: a verified host name, else a
// name the daemon saw but could not use (name_raw), else nothing.
function hostOf(f) {
  if (typeof f.host === 'string' && f.host !== '') return f.host;
  return '';
}

function rawNameOf(f) {
  return typeof f.name_raw === 'string' && f.name_raw !== '' ? f.name_raw : '';
}

function verdictClass(v) {
  if (v === 'allow' || v === 'accept' || v === 'accepted') return 'v-allow';
  if (v === 'deny' || v === 'drop' || v === 'dropped' || v === 'reject' || v === 'rejected') return 'v-deny';
  return 'v-other';
}

// --- the network -------------------------------------------------------

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, opts) {
  const o = opts || {};
  // Without a token (a tab opened at / with the cookie alone) reads still
  // work by the cookie; changes then answer 403, which the page shows.
  const headers = { Accept: 'application/json' };
  if (token) headers['X-Spackle-Token'] = token;
  let body;
  if (o.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(o.body);
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), o.timeout || 8000);
  let res;
  try {
    res = await fetch(path, {
      method: o.method || 'GET',
      headers,
      body,
      cache: 'no-store',
      credentials: 'same-origin',
      signal: ctl.signal,
    });
  } catch (e) {
    throw new HttpError(0, e.name === 'AbortError' ? 'no answer in time' : 'cannot reach the daemon');
  } finally {
    clearTimeout(timer);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (!res.ok) {
    let msg = data && typeof data.error === 'string' ? data.error : text.trim();
    if (msg === '') msg = 'HTTP ' + res.status;
    throw new HttpError(res.status, msg);
  }
  if (data === null) throw new HttpError(res.status, 'not JSON: ' + text.slice(0, 80));
  return data;
}

// --- the notice line: results and refusals of changes ----------------

let noticeTimer = 0;

function notice(kind, parts) {
  const n = $('notice');
  clear(n);
  n.className = 'notice ' + kind;
  add(n, el('span', { className: 'notice-text' }, parts));
  add(n, el('button', {
    type: 'button',
    className: 'quiet close',
    'aria-label': 'dismiss',
    title: 'dismiss',
    onclick: () => { n.hidden = true; },
  }));
  n.hidden = false;
  clearTimeout(noticeTimer);
  if (kind === 'ok') noticeTimer = setTimeout(() => { n.hidden = true; }, 20000);
}

// --- state --------------------------------------------------------------

const state = {
  view: 'conns',
  status: null,
  skewMs: 0, // the daemon's clock minus ours
  lastOk: 0,
  error: null,
  conns: [],
  sortKey: 'age',
  sortDir: 1, // 1: ascending by the key's natural order
  filter: '',
  span: 'hour',
  traffic: null,
  trafficSpan: '',
  blocked: [],
  wall: null,
  rules: null,
  rulesAt: 0,
  made: new Map(), // id -> rule text, from this page's own answers
  busy: false,
};

function nowNs() {
  return (Date.now() + state.skewMs) * 1e6;
}

// A view is drawn again only when its data changed: a row under the
// pointer, a selection or a focused button survives the next poll.
const drawn = {};

function changed(view, data) {
  const sig = JSON.stringify(data) + '|' + new Date().getDate();
  if (drawn[view] === sig) return false;
  drawn[view] = sig;
  return true;
}


export {
  BACKGROUND_MS, HttpError, MAX_ROWS, POLL_MS, $, add, api, basename, changed, clear, el, pathText,
  fmtBytes, fmtClock, fmtDuration, fmtInt, fmtWhen, hostOf, notice, nowNs, pad2, procName, rawNameOf,
  setText, shortRule, state, svg, token, userName, verdictClass,
};
