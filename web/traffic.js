// SPDX-License-Identifier: GPL-2.0-or-later
// The Traffic view: bytes and flows over the last hour, day or week from
// the daemon's store, drawn as SVG here, and the top processes and hosts.
import {
  $, add, basename, clear, el, fmtBytes, fmtInt, fmtWhen, nowNs, pad2, pathText, setText, state, svg,
} from './lib.js';

// --- Traffic -------------------------------------------------------------

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

function niceBytesMax(v) {
  if (!(v > 0)) return 1024;
  let unit = 1;
  while (v / unit >= 1024) unit *= 1024;
  return niceMax(v / unit) * unit;
}

// Every bucket of the span, the missing ones as zero.
function fullBuckets(t) {
  const step = (t.bucket_s || 60) * 1e9;
  const have = new Map();
  let anyT = null;
  for (const b of t.buckets || []) {
    have.set(Math.round(b.t_ns / step), b);
    if (anyT === null) anyT = b.t_ns;
  }
  let from = t.from_ns || (anyT !== null ? anyT : nowNs() - 3600e9);
  const to = t.to_ns || nowNs();
  from = Math.floor(from / step) * step;
  const out = [];
  for (let x = from; x <= to && out.length < 5000; x += step) {
    const b = have.get(Math.round(x / step));
    out.push({
      t_ns: x,
      bytes_out: b ? b.bytes_out || 0 : 0,
      bytes_in: b ? b.bytes_in || 0 : 0,
      flows: b ? b.flows || 0 : 0,
    });
  }
  return out;
}

function bucketName(s) {
  if (s % 3600 === 0) return s / 3600 + ' h';
  if (s % 60 === 0) return s / 60 + ' min';
  return s + ' s';
}

function timeLabel(ms, span) {
  const d = new Date(ms);
  if (span === 'week') {
    return d.toLocaleDateString('en', { weekday: 'short' }) + ' ' + pad2(d.getDate());
  }
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes());
}

function drawChart() {
  const box = $('chart');
  const t = state.traffic;
  clear(box);
  if (!t) {
    add(box, el('p', { className: 'empty', text: 'loading…' }));
    return;
  }
  const bs = fullBuckets(t);
  const W = Math.max(320, Math.floor(box.clientWidth || 900));
  const H = 300;
  const ml = 64, mr = 52, mt = 14;
  const hb = 170; // bytes panel
  const gap = 26;
  const hf = 56; // flows panel
  const yb0 = mt + hb;
  const yf0 = yb0 + gap + hf;
  const pw = W - ml - mr;
  const n = bs.length;
  const t0 = n ? bs[0].t_ns : 0;
  const t1 = n ? bs[n - 1].t_ns : 1;
  const xOf = (tn) => ml + (n > 1 ? ((tn - t0) / (t1 - t0)) * pw : pw / 2);
  let maxB = 0, maxF = 0, sumO = 0, sumI = 0, sumF = 0;
  for (const b of bs) {
    maxB = Math.max(maxB, b.bytes_out, b.bytes_in);
    maxF = Math.max(maxF, b.flows);
    sumO += b.bytes_out;
    sumI += b.bytes_in;
    sumF += b.flows;
  }
  const yMaxB = niceBytesMax(maxB);
  const yMaxF = niceMax(Math.max(maxF, 1));
  const yB = (v) => yb0 - (v / yMaxB) * hb;
  const yF = (v) => yf0 - (v / yMaxF) * hf;
  const s = svg('svg', {
    class: 'chart-svg',
    viewBox: '0 0 ' + W + ' ' + (H + 10),
    width: W,
    height: H + 10,
    role: 'img',
    'aria-label': 'bytes and flows over the last ' + t.span,
  });
  // grid and axes
  const grid = svg('g', { class: 'grid-lines' });
  for (const f of [0, 0.5, 1]) {
    const y = yB(yMaxB * f);
    grid.appendChild(svg('line', { x1: ml, x2: ml + pw, y1: y, y2: y }));
    grid.appendChild(svg('text', { x: ml - 8, y: y + 4, 'text-anchor': 'end', class: 'axis' }, fmtBytes(yMaxB * f)));
  }
  for (const f of [0, 1]) {
    const y = yF(yMaxF * f);
    grid.appendChild(svg('line', { x1: ml, x2: ml + pw, y1: y, y2: y }));
    grid.appendChild(svg('text', { x: ml - 8, y: y + 4, 'text-anchor': 'end', class: 'axis' }, fmtInt(yMaxF * f)));
  }
  grid.appendChild(svg('text', { x: ml + pw + 8, y: yb0 - hb + 4, class: 'axis' }, 'bytes'));
  grid.appendChild(svg('text', { x: ml + pw + 8, y: yf0 - hf + 4, class: 'axis' }, 'flows'));
  // time ticks
  const tickS = { hour: 600, day: 3 * 3600, week: 86400 }[t.span] || 600;
  const tickNs = tickS * 1e9;
  const tz = new Date().getTimezoneOffset() * 60e9;
  if (n > 1) {
    for (let x = Math.ceil((t0 - tz) / tickNs) * tickNs + tz; x <= t1; x += tickNs) {
      const px = xOf(x);
      grid.appendChild(svg('line', { x1: px, x2: px, y1: mt, y2: yf0, class: 'tick' }));
      grid.appendChild(svg('text', { x: px, y: yf0 + 16, 'text-anchor': 'middle', class: 'axis' }, timeLabel(x / 1e6, t.span)));
    }
  }
  s.appendChild(grid);
  // bytes: two areas with a line and a point per bucket
  const series = [['bytes_out', 'out'], ['bytes_in', 'in']];
  for (const [key, cls] of series) {
    if (n === 0) break;
    let d = '';
    for (let i = 0; i < n; i++) d += (i ? 'L' : 'M') + xOf(bs[i].t_ns).toFixed(1) + ' ' + yB(bs[i][key]).toFixed(1);
    const area = d + 'L' + xOf(bs[n - 1].t_ns).toFixed(1) + ' ' + yb0 + 'L' + xOf(bs[0].t_ns).toFixed(1) + ' ' + yb0 + 'Z';
    s.appendChild(svg('path', { d: area, class: 'area area-' + cls }));
    s.appendChild(svg('path', { d, class: 'line line-' + cls }));
  }
  const pts = svg('g', { class: 'points' });
  const bw = Math.max(1, Math.min(14, (pw / Math.max(n, 1)) * 0.7));
  for (const b of bs) {
    const x = xOf(b.t_ns);
    const label = fmtWhen(b.t_ns) + ': out ' + fmtBytes(b.bytes_out) + ', in ' + fmtBytes(b.bytes_in) + ', ' + fmtInt(b.flows) + ' flows';
    if (b.flows > 0) {
      pts.appendChild(svg('rect', {
        class: 'bar-flows',
        x: (x - bw / 2).toFixed(1),
        y: yF(b.flows).toFixed(1),
        width: bw.toFixed(1),
        height: Math.max(1, yf0 - yF(b.flows)).toFixed(1),
        'data-t': b.t_ns,
        'data-flows': b.flows,
      }, svg('title', null, label)));
    }
    if (b.bytes_out > 0 || b.bytes_in > 0) {
      for (const [key, cls] of series) {
        if (b[key] <= 0) continue;
        pts.appendChild(svg('circle', {
          class: 'pt pt-' + cls,
          cx: x.toFixed(1),
          cy: yB(b[key]).toFixed(1),
          r: 2.5,
          'data-t': b.t_ns,
          'data-bytes': b[key],
          'data-series': key,
        }, svg('title', null, label)));
      }
    }
  }
  s.appendChild(pts);
  box.appendChild(s);
  const spanName = { hour: 'the last hour', day: 'the last day', week: 'the last week' }[t.span] || t.span;
  setText($('traffic-summary'), spanName + ': ' + fmtBytes(sumO) + ' out, ' + fmtBytes(sumI) + ' in, ' +
    fmtInt(sumF) + ' flows; ' + bucketName(t.bucket_s || 60) + ' a point');
}

// A process's bytes over the span, one point a bucket (zero where it had
// none), as a small SVG line scaled to its own peak.
function sparkline(t, pairs) {
  const W = 120, H = 22;
  const step = (t.bucket_s || 60) * 1e9;
  const from = Math.floor((t.from_ns || 0) / step) * step;
  const to = t.to_ns || nowNs();
  const n = Math.max(2, Math.min(5000, Math.floor((to - from) / step) + 1));
  const v = new Array(n).fill(0);
  for (const p of pairs) {
    if (!Array.isArray(p)) continue;
    const i = Math.round((p[0] - from) / step);
    if (i >= 0 && i < n) v[i] += p[1] || 0;
  }
  const max = Math.max(...v, 1);
  let d = '';
  v.forEach((y, i) => {
    d += (i ? 'L' : 'M') + ((i / (n - 1)) * W).toFixed(1) + ' ' + (H - 1 - (y / max) * (H - 3)).toFixed(1);
  });
  return svg('svg', { class: 'spark', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, 'aria-hidden': 'true' },
    svg('path', { d: d + 'L' + W + ' ' + H + 'L0 ' + H + 'Z', class: 'spark-area' }),
    svg('path', { d, class: 'spark-line' }));
}

// The top talkers: name, flows, bytes each way, and either the process's
// bytes over time (a sparkline) or a bar of its share.
function topTable(tbody, rows, nameOf, subOf, t) {
  clear(tbody);
  let max = 0;
  for (const r of rows) max = Math.max(max, (r.bytes_out || 0) + (r.bytes_in || 0));
  if (rows.length === 0) {
    tbody.appendChild(el('tr', null, el('td', { colspan: 5, className: 'empty', text: 'nothing in this span' })));
    return;
  }
  for (const r of rows) {
    const tot = (r.bytes_out || 0) + (r.bytes_in || 0);
    let last;
    if (t && Array.isArray(r.buckets)) {
      last = el('td', { className: 'share', title: 'bytes over ' + t.span }, sparkline(t, r.buckets));
    } else {
      const bar = el('span', { className: 'bar' });
      bar.style.width = (max > 0 ? Math.max(2, Math.round((tot / max) * 100)) : 0) + '%';
      last = el('td', { className: 'share' }, el('span', { className: 'bar-track' }, bar));
    }
    const name = el('td', { className: 'proc' }, el('span', { className: 'name', text: nameOf(r) }));
    const sub = subOf(r);
    if (sub) add(name, el('span', { className: 'sub mono path' }, pathText(sub)));
    tbody.appendChild(el('tr', null,
      name,
      el('td', { className: 'num', text: fmtInt(r.flows) }),
      el('td', { className: 'num', text: fmtBytes(r.bytes_out) }),
      el('td', { className: 'num', text: fmtBytes(r.bytes_in) }),
      last));
  }
}

function renderTraffic() {
  drawChart();
  const t = state.traffic;
  if (!t) return;
  topTable($('top-procs').tBodies[0], t.processes || [], (r) => basename(r.exe) || '(unknown)',
    (r) => (typeof r.exe === 'string' && r.exe.startsWith('/') ? r.exe : ''), t);
  topTable($('top-hosts').tBodies[0], t.hosts || [], (r) => r.host || '(no name)', () => '');
}


export { drawChart, renderTraffic };
