// SPDX-License-Identifier: GPL-2.0-or-later
// The Wall view (what `spackle audit` reports: steering, counters,
// exemptions, hidden flows, tamper events; attention first) and the Rules
// view (the loaded rules, and the page's own with an undo button).
import {
  $, MAX_ROWS, changed, clear, el, fmtBytes, fmtInt, fmtWhen, setText, shortRule, state,
} from './lib.js';

// --- Wall -----------------------------------------------------------------

function yesNo(ok) {
  return el('span', { className: 'mark ' + (ok ? 'good' : 'bad'), text: ok ? '✓ yes' : '✗ no' });
}

function genericTable(rows) {
  const keys = [];
  for (const r of rows) {
    for (const k of Object.keys(r)) if (!keys.includes(k) && keys.length < 10) keys.push(k);
  }
  const t = el('table', { className: 'grid compact' });
  t.appendChild(el('thead', null, el('tr', null, keys.map((k) => el('th', { text: k })))));
  const tb = el('tbody');
  for (const r of rows.slice(0, MAX_ROWS)) {
    tb.appendChild(el('tr', null, keys.map((k) => {
      let v = r[k];
      if (k.endsWith('_ns') && typeof v === 'number') v = fmtWhen(v);
      else if (v !== null && typeof v === 'object') v = JSON.stringify(v);
      return el('td', { className: 'mono', text: v === null || v === undefined ? '–' : v });
    })));
  }
  t.appendChild(tb);
  return el('div', { className: 'scroll' }, t);
}

function wallItems(w) {
  const items = [];
  const st = w.steering || {};
  if (st.ok === false) {
    const probs = Array.isArray(st.problems) && st.problems.length ? st.problems : ['not first or not whole in some hook'];
    for (const p of probs) items.push({ ok: false, text: 'steering: ' + p });
  } else if (st.ok === true) {
    items.push({ ok: true, text: 'steering first and whole in every hook' });
  }
  const c = w.counters || {};
  if (c.adds_up === false) items.push({ ok: false, text: 'the kernel’s and the daemon’s counters do not add up' });
  else if (c.adds_up === true) items.push({ ok: true, text: 'counters add up' });
  const hidden = Array.isArray(w.hidden) ? w.hidden.length : 0;
  items.push(hidden ? { ok: false, text: fmtInt(hidden) + ' hidden flow' + (hidden === 1 ? '' : 's') + ' the daemon was told of' }
    : { ok: true, text: 'no hidden flows' });
  const tamper = Array.isArray(w.tamper) ? w.tamper.length : 0;
  items.push(tamper ? { ok: false, text: fmtInt(tamper) + ' tamper event' + (tamper === 1 ? '' : 's') }
    : { ok: true, text: 'no tamper events' });
  // attention first
  return items.filter((i) => !i.ok).concat(items.filter((i) => i.ok));
}

function renderWallBadge() {
  const w = state.wall;
  const badge = $('n-wall');
  if (!w) {
    setText(badge, '');
    return;
  }
  const bad = wallItems(w).filter((i) => !i.ok).length;
  setText(badge, bad ? String(bad) : '✓');
  badge.className = 'count ' + (bad ? 'bad' : 'good');
}

function renderWall() {
  renderWallBadge();
  const w = state.wall;
  if (!w || !changed('wall', w)) return;
  const att = $('wall-attention');
  clear(att);
  const ul = el('ul', { className: 'checks' });
  for (const i of wallItems(w)) {
    ul.appendChild(el('li', { className: i.ok ? 'good' : 'bad' },
      el('span', { className: 'mark', text: i.ok ? '✓' : '✗' }), ' ', i.text));
  }
  att.appendChild(ul);

  const hooks = $('wall-hooks').tBodies[0];
  clear(hooks);
  for (const h of (w.steering && w.steering.hooks) || []) {
    hooks.appendChild(el('tr', { className: h.first && h.whole ? '' : 'row-bad' },
      el('td', { className: 'mono', text: h.family ? h.family + ' ' + h.hook : h.hook }),
      el('td', null, yesNo(!!h.first)), el('td', null, yesNo(!!h.whole))));
  }
  if (!hooks.firstChild) hooks.appendChild(el('tr', null, el('td', { colspan: 3, className: 'empty', text: 'no hooks reported' })));

  const cnt = $('wall-counters').tBodies[0];
  clear(cnt);
  for (const l of (w.counters && w.counters.lines) || []) {
    const diff = typeof l.kernel === 'number' && typeof l.daemon === 'number' ? l.kernel - l.daemon : null;
    cnt.appendChild(el('tr', { className: diff ? 'row-bad' : '' },
      el('td', { text: l.what }),
      el('td', { className: 'num', text: fmtInt(l.kernel) }),
      el('td', { className: 'num', text: fmtInt(l.daemon) }),
      el('td', { className: 'num ' + (diff ? 'bad' : 'good'), text: diff === null ? '–' : (diff === 0 ? '0' : fmtInt(diff)) })));
  }
  if (!cnt.firstChild) cnt.appendChild(el('tr', null, el('td', { colspan: 4, className: 'empty', text: 'no counters reported' })));

  const ex = $('wall-exempt').tBodies[0];
  clear(ex);
  for (const e of w.exemptions || []) {
    ex.appendChild(el('tr', null, el('td', { className: 'mono', text: e.name }),
      el('td', { className: 'num', text: fmtInt(e.packets) }), el('td', { className: 'num', text: fmtBytes(e.bytes) })));
  }
  if (!ex.firstChild) ex.appendChild(el('tr', null, el('td', { colspan: 3, className: 'empty', text: 'no exemptions' })));

  const hid = $('wall-hidden');
  clear(hid);
  if (Array.isArray(w.hidden) && w.hidden.length) hid.appendChild(genericTable(w.hidden));
  else hid.appendChild(el('p', { className: 'empty good', text: 'none' }));

  const tam = $('wall-tamper');
  clear(tam);
  const tlist = (Array.isArray(w.tamper) ? w.tamper : []).slice().sort((a, b) => (b.time_ns || 0) - (a.time_ns || 0));
  if (tlist.length) {
    const tb = el('tbody');
    for (const e of tlist) {
      tb.appendChild(el('tr', null, el('td', { className: 'num', text: fmtWhen(e.time_ns) }), el('td', { text: e.what })));
    }
    tam.appendChild(el('div', { className: 'scroll' }, el('table', { className: 'grid compact' },
      el('thead', null, el('tr', null, el('th', { text: 'time' }), el('th', { text: 'what' }))), tb)));
  } else {
    tam.appendChild(el('p', { className: 'empty good', text: 'none' }));
  }
}

// --- Rules ------------------------------------------------------------------

// A page rule's id: the API's, or the one in its note "web:ID".
function ruleId(r) {
  if (r && (typeof r.id === 'string' || typeof r.id === 'number')) return String(r.id);
  const m = /note\s+"web:([A-Za-z0-9_-]+)"/.exec((r && r.text) || '');
  return m ? m[1] : '';
}

function actionClass(a) {
  return a === 'allow' ? 'v-allow' : a === 'deny' || a === 'reject' ? 'v-deny' : 'v-other';
}

function renderRules(force) {
  const R = state.rules;
  if (!R) return;
  if (!changed('rules', [R, $('rules-filter').value]) && force !== true) return;
  const rules = Array.isArray(R.rules) ? R.rules : [];
  setText($('web-rules-path'), R.can_change === false
    ? '(none: rules is a file, not a folder, so the page cannot add rules)' : R.web_rules || '');
  setText($('n-rules'), fmtInt(rules.length));
  const mine = rules.filter((r) => R.web_rules && r.file === R.web_rules);
  const wb = $('web-rules').tBodies[0];
  clear(wb);
  for (const r of mine) {
    const id = ruleId(r);
    wb.appendChild(el('tr', null,
      el('td', { className: 'mono', title: r.file + ':' + r.line, text: shortRule(r.file + ':' + r.line) }),
      el('td', { className: 'mono ruletext', text: r.text }),
      el('td', { className: 'num', text: fmtInt(r.decided) }),
      el('td', { className: 'actions' }, id ? el('button', {
        type: 'button', className: 'act', text: 'undo', dataset: { undo: id },
      }) : el('span', { className: 'muted', text: 'no id' }))));
  }
  $('web-rules-empty').hidden = mine.length !== 0;
  $('web-rules').parentElement.hidden = mine.length === 0;
  const q = ($('rules-filter').value || '').trim().toLowerCase();
  const rb = $('rules').tBodies[0];
  clear(rb);
  let shown = 0;
  for (const r of rules) {
    const where = (r.file || '') + ':' + r.line;
    if (q && !(where + ' ' + (r.text || '') + ' ' + (r.action || '')).toLowerCase().includes(q)) continue;
    if (++shown > MAX_ROWS) break;
    rb.appendChild(el('tr', null,
      el('td', { className: 'mono', title: where, text: shortRule(where) }),
      el('td', null, el('span', { className: 'verdict ' + actionClass(r.action), text: r.action || '–' })),
      el('td', { className: 'mono ruletext', text: r.text }),
      el('td', { className: 'num', text: fmtInt(r.decided) })));
  }
  setText($('rules-summary'), fmtInt(rules.length) + ' rules loaded' + (q ? ', ' + fmtInt(Math.min(shown, rules.length)) + ' match' : ''));
}


export { renderRules, renderWall, renderWallBadge, ruleId };
