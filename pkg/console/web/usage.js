// A key's uses per UTC day (GET /v1/keys/{id}/usage): a bar chart drawn in SVG,
// accepted and refused stacked, with the same numbers in words (the chart's label) and
// in a table. The strict CSP allows no style attribute: sizes are SVG geometry, colours
// come from style.css.

import { h, replace } from './ui.js';

// The chart's root is a <template> of index.html: the HTML parser gives it the SVG
// namespace, which the chart's other elements take from it.
const ROOT = document.getElementById('svg-root').content.firstElementChild;
const SVG = ROOT.namespaceURI;
const BAR = 12; // width of one day in the chart's own units; the height is 100
const GAP = 2;

function svg(tag, attrs, ...children) {
  const el = tag === 'svg' ? ROOT.cloneNode(false) : document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

function refusedOf(d) {
  return Object.values(d.refused || {}).reduce((a, b) => a + b, 0);
}

/** codes lists a day's refusals by code, e.g. "RATE_LIMITED 3, USAGE_EXCEEDED 1". */
function codes(d) {
  return Object.entries(d.refused || {}).filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => `${code} ${n}`).join(', ');
}

function dayText(d) {
  const r = refusedOf(d);
  return `${d.day}: ${d.accepted} accepted, ${r} refused${r ? ` (${codes(d)})` : ''}`;
}

/** summary is the chart in words, its accessible name. */
function summary(days, accepted, refused) {
  let busiest = null;
  for (const d of days) if (d.accepted + refusedOf(d) > 0 && (!busiest || d.accepted + refusedOf(d) > busiest.accepted + refusedOf(busiest))) busiest = d;
  const span = days.length ? ` from ${days[0].day} to ${days[days.length - 1].day}` : '';
  const top = busiest ? `; the busiest day, ${busiest.day}, had ${busiest.accepted + refusedOf(busiest)}` : '';
  return `Uses per day${span}: ${accepted} accepted and ${refused} refused in all${top}. The table below has every day.`;
}

function bars(days, max) {
  const chart = svg('g', null);
  days.forEach((d, i) => {
    const acc = (d.accepted / max) * 100;
    const ref = (refusedOf(d) / max) * 100;
    const g = svg('g', { class: 'day', 'data-day': d.day }, svg('title', null, dayText(d)));
    const x = i * BAR + GAP / 2;
    if (acc > 0) g.append(svg('rect', { class: 'bar-accepted', x, y: 100 - acc, width: BAR - GAP, height: acc }));
    if (ref > 0) g.append(svg('rect', { class: 'bar-refused', x, y: 100 - acc - ref, width: BAR - GAP, height: ref }));
    chart.append(g);
  });
  return chart;
}

function table(days) {
  return h('details', { class: 'usage-numbers' }, h('summary', null, 'The numbers, day by day'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'usage-table', id: 'usage-table' },
      h('caption', { class: 'sr-only' }, 'Uses per day'),
      h('thead', null, h('tr', null, ['Day (UTC)', 'Accepted', 'Refused'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, days.map((d) => h('tr', { 'data-day': d.day },
        h('td', null, d.day), h('td', null, String(d.accepted)),
        h('td', null, refusedOf(d) ? `${refusedOf(d)} (${codes(d)})` : '0')))))));
}

/** chart renders the days of a usage answer. */
export function chart(days) {
  const accepted = days.reduce((a, d) => a + d.accepted, 0);
  const refused = days.reduce((a, d) => a + refusedOf(d), 0);
  const max = Math.max(1, ...days.map((d) => d.accepted + refusedOf(d)));
  const width = Math.max(1, days.length) * BAR;
  const pic = svg('svg', { class: 'usage-chart', id: 'usage-chart', viewBox: `0 0 ${width} 100`, preserveAspectRatio: 'none',
    role: 'img', 'aria-label': summary(days, accepted, refused) },
  svg('line', { class: 'axis', x1: 0, y1: 100, x2: width, y2: 100, 'vector-effect': 'non-scaling-stroke' }),
  bars(days, max));
  return h('div', null,
    h('p', { id: 'usage-total' }, `${accepted} accepted, ${refused} refused in ${days.length} days.`,
      accepted + refused ? '' : ' No uses yet.'),
    h('ul', { class: 'legend' },
      h('li', null, h('span', { class: 'swatch swatch-accepted' }), 'Accepted'),
      h('li', null, h('span', { class: 'swatch swatch-refused' }), 'Refused (rate limited, out of credits…)')),
    h('div', { class: 'usage-frame' }, h('span', { class: 'usage-max', 'aria-hidden': 'true' }, `${max}`), pic),
    h('div', { class: 'usage-axis', 'aria-hidden': 'true' },
      h('span', null, days.length ? days[0].day : ''), h('span', null, days.length ? days[days.length - 1].day : '')),
    table(days));
}

/** usageSection is the panel of a key's usage; load is the promise of the usage answer
 * (null: the caller cannot read it). A refusal or a deployment without the route shows
 * a message in the panel; the rest of the page is not affected. */
export function usageSection(c, load) {
  const body = h('div', { id: 'usage-body' });
  const sec = h('section', { class: 'panel usage', id: 'usage', 'aria-labelledby': 'usage-title' },
    h('h2', { id: 'usage-title' }, 'Usage, last 30 days'), body);
  if (!load) {
    replace(body, h('p', { class: 'hint' }, 'Reading usage needs keys:read.'));
    return sec;
  }
  replace(body, h('p', { class: 'loading', role: 'status' }, 'Loading usage…'));
  load.then((u) => {
    if (!u || !Array.isArray(u.days)) throw new Error('The answer has no days.');
    replace(body, chart(u.days));
  }).catch((err) => {
    if (err && err.status === 401) { c.signedOut(); return; }
    let why = typeof err.readable === 'function' ? err.readable() : (err.message || String(err));
    // An answer without a problem code (a gateway's own 404 for a route it lacks)
    // still names its status.
    if (err.status && !err.code) why += ` (HTTP ${err.status})`;
    if (err.status === 404 && !err.code) why += '. This deployment may not count usage yet.';
    replace(body, h('div', { class: 'alert alert-error', role: 'alert', id: 'usage-error' }, `Usage counts could not be loaded: ${why}`));
  });
  return sec;
}
