// SPDX-License-Identifier: GPL-2.0-or-later
// The Wall view (what `spackle audit` reports: steering, counters,
// exemptions, hidden flows, tamper events; attention first) and the Rules
// view (the loaded rules, and the page's own with an undo button).
import {
  $, MAX_ROWS, basename, changed, clear, el, fmtBytes, fmtInt, fmtWhen, pathText, setText, shortRule, state,
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

// Hidden flows are flow records (log --json); anything else as it comes.
function hiddenTable(rows) {
  if (!rows.every((r) => r && typeof r === 'object' && 'dst' in r)) return genericTable(rows);
  const tb = el('tbody');
  for (const f of rows.slice(0, MAX_ROWS)) {
    tb.appendChild(el('tr', null,
      el('td', { className: 'num', text: fmtWhen(f.first_ns) }),
      el('td', { className: 'proc' }, el('span', { className: 'name', text: f.exe ? basename(f.exe) : 'unknown' }),
        f.exe ? el('span', { className: 'sub mono path' }, pathText(f.exe)) : null),
      el('td', { className: 'mono', text: (f.host ? f.host + ' ' : '') + (f.dst || '–') }),
      el('td', { className: 'num mono', text: f.dport === null || f.dport === undefined ? '–' : f.dport }),
      el('td', { text: f.proto || '–' }),
      el('td', { className: 'mono', text: f.rule || '–' }),
      el('td', { className: 'num', text: fmtBytes((f.bytes_out || 0) + (f.bytes_in || 0)) })));
  }
  const head = el('tr', null, ['time', 'process', 'remote', 'port', 'proto', 'why', 'bytes'].map((h) =>
    el('th', { className: ['time', 'port', 'bytes'].includes(h) ? 'num' : null, text: h })));
  return el('div', { className: 'scroll' }, el('table', { className: 'grid compact' }, el('thead', null, head), tb));
}

function plural(n, one) {
  return fmtInt(n) + ' ' + one + (n === 1 ? '' : 's');
}

// The wall's health as a list, attention first. ok: true good, false
// needs attention, null only informs.
function wallItems(w) {
  const items = [];
  const st = w.steering || {};
  if (st.ok === true) {
    items.push({ ok: true, text: 'steering first and whole in every hook' });
  } else if (st.ok === false) {
    let probs = Array.isArray(st.problems) ? st.problems : [];
    if (!probs.length) {
      probs = [st.checked === false ? 'not checked: the firewall could not be read'
        : 'not first or not whole in some hook'];
    }
    for (const p of probs) items.push({ ok: false, text: 'steering: ' + p });
  }
  const c = w.counters || {};
  if (c.adds_up === true) {
    items.push({ ok: true, text: 'counters add up: every packet the queue rules sent is accounted for' });
  } else if (c.adds_up === false) {
    items.push({
      ok: false,
      text: typeof c.difference === 'number'
        ? plural(c.difference, 'packet') + ' the queue rules sent are not accounted for'
        : 'the kernel’s and the daemon’s counters do not add up',
    });
  } else if (c.note) {
    items.push({ ok: null, text: 'counters: ' + c.note });
  }
  const hidden = Array.isArray(w.hidden) ? w.hidden.length : 0;
  items.push(hidden ? { ok: false, text: plural(hidden, 'hidden flow') + ' the daemon was told of' }
    : { ok: true, text: 'no hidden flows reported' });
  const tamper = Array.isArray(w.tamper) ? w.tamper.length : 0;
  const since = typeof w.tamper_events === 'number' ? w.tamper_events : 0;
  if (tamper || since) {
    items.push({
      ok: false,
      text: plural(Math.max(tamper, since), 'tamper event') + (since ? ' (' + fmtInt(since) + ' since the start)' : ''),
    });
  } else {
    items.push({ ok: true, text: 'no tamper events' });
  }
  const a = w.last_audit;
  if (a && typeof a === 'object') {
    const when = fmtWhen(a.at_ns);
    if ((a.hidden || 0) > 0 || a.holes) {
      items.push({
        ok: false,
        text: 'the last spackle audit (' + when + ') found ' + plural(a.hidden || 0, 'hidden flow') +
          (a.holes ? ' and holes in the wall' : ''),
      });
    } else {
      items.push({ ok: true, text: 'the last spackle audit (' + when + ') found no hole' });
    }
  } else {
    items.push({ ok: null, text: 'no spackle audit has reported to this daemon yet' });
  }
  return items.filter((i) => i.ok === false)
    .concat(items.filter((i) => i.ok === true), items.filter((i) => i.ok === null));
}

function renderWallBadge() {
  const w = state.wall;
  const badge = $('n-wall');
  if (!w) {
    setText(badge, '');
    return;
  }
  const bad = wallItems(w).filter((i) => i.ok === false).length;
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
    const cls = i.ok === true ? 'good' : i.ok === false ? 'bad' : 'info';
    ul.appendChild(el('li', { className: cls },
      el('span', { className: 'mark', text: i.ok === true ? '✓' : i.ok === false ? '✗' : 'i' }), ' ', i.text));
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
  const cs = w.counters || {};
  for (const l of cs.lines || []) {
    cnt.appendChild(el('tr', null,
      el('td', { text: l.what }),
      el('td', { className: 'num', text: fmtInt(l.kernel) }),
      el('td', { className: 'num', text: fmtInt(l.daemon) })));
  }
  if (typeof cs.difference === 'number') {
    const bad = cs.adds_up === false;
    cnt.appendChild(el('tr', { className: bad ? 'row-bad' : 'row-sum' },
      el('td', { text: 'sent but not accounted for' }),
      el('td', { colspan: 2, className: 'num ' + (bad ? 'bad' : 'good'), text: fmtInt(Math.max(0, cs.difference)) })));
  }
  if (!cnt.firstChild) {
    cnt.appendChild(el('tr', null, el('td', { colspan: 3, className: 'empty', text: cs.note || 'no counters reported' })));
  }

  const ex = $('wall-exempt').tBodies[0];
  clear(ex);
  for (const e of w.exemptions || []) {
    ex.appendChild(el('tr', null, el('td', { className: 'mono', text: e.name }),
      el('td', { className: 'num', text: fmtInt(e.packets) }), el('td', { className: 'num', text: fmtBytes(e.bytes) })));
  }
  if (!ex.firstChild) ex.appendChild(el('tr', null, el('td', { colspan: 3, className: 'empty', text: 'no exemptions' })));

  const hid = $('wall-hidden');
  clear(hid);
  if (Array.isArray(w.hidden) && w.hidden.length) hid.appendChild(hiddenTable(w.hidden));
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
