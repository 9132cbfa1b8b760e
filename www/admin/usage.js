// The usage section of the dashboard: GET /admin/v1/usage per UTC day (last 30 days) or per
// 3-minute slot (last 24 hours), optionally for one license, drawn with uPlot as two charts of
// stacked bars: pages per module and scans per symbology. Buckets the API leaves out (no usage)
// are zeros, so the time axis is continuous.

import uPlot from '/vendor/uplot/uPlot.esm.js';

import { get, token } from './api.js';
import { formatNumber, h, plural } from './dom.js';
import { emptyState, errorState } from './sections.js';

/** @import { License, UsageSeries } from './api.js' */

/**
 * A chart to draw once its panel is in the page.
 * @typedef {object} Chart
 * @property {HTMLDivElement} plot the element it is drawn in
 * @property {uPlot.Options} opts
 * @property {uPlot.AlignedData} data
 */

const BUCKETS = {
  day: { label: 'Per day', range: 'the last 30 days' },
  slot: { label: 'Per 3-minute slot', range: 'the last 24 hours' },
};
const COLORS = ['#4f46e5', '#0891b2', '#d97706', '#db2777', '#059669', '#7c3aed', '#dc2626', '#65a30d'];
const CHART_HEIGHT = 240;
/**
 * Bars take 70% of a bucket's width, at most 40 px and at least 1 (480 slots in a panel).
 * uPlot's ESM build has every path builder (its types leave them optional, for custom builds).
 */
const bars = /** @type {uPlot.Series.BarsPathBuilderFactory} */ (uPlot.paths.bars)({ size: [0.7, 40, 1] });

/**
 * The per-kind matrix of a usage answer: x (bucket starts, seconds, as uPlot wants) and one row
 * per name (module or symbology) with its count in each bucket.
 * @param {UsageSeries} usage
 * @param {'pages' | 'scans'} kind
 * @param {string} licenseId
 */
function matrix(usage, kind, licenseId) {
  const { bucketMs, from, to } = usage;
  const first = Math.floor(from / bucketMs) * bucketMs;
  const count = Math.max(1, Math.ceil((to - first) / bucketMs));
  const xs = Array.from({ length: count }, (_, i) => (first + i * bucketMs) / 1000);
  /** @type {Map<string, number[]>} */
  const rows = new Map();
  for (const entry of usage.series) {
    if (licenseId && entry.licenseId !== licenseId) continue;
    const i = Math.round((entry.start - first) / bucketMs);
    if (i < 0 || i >= count) continue;
    for (const [name, n] of Object.entries(entry[kind])) {
      if (!rows.has(name)) rows.set(name, new Array(count).fill(0));
      /** @type {number[]} */ (rows.get(name))[i] += n;
    }
  }
  const names = [...rows.keys()].sort();
  return { xs, names, rows: names.map((n) => /** @type {number[]} */ (rows.get(n))) };
}

/** @param {number[]} values */
const sum = (values) => values.reduce((a, b) => a + b, 0);

/**
 * uPlot has no stacked bars of its own: each name's bars reach the sum of its counts and those
 * of every name after it, and uPlot draws them in order, so each later (lower) bar covers the
 * bottom of the ones before. The legend shows each name's own count.
 * @param {string[]} names
 * @param {number[][]} rows
 */
function stacked(names, rows) {
  const tops = rows.map((_, k) => rows[k].map((__, j) => sum(rows.slice(k).map((r) => r[j]))));
  /** @type {uPlot.Series[]} */
  const series = names.map((name, k) => ({
    label: name,
    stroke: COLORS[k % COLORS.length],
    fill: COLORS[k % COLORS.length],
    width: 0,
    paths: bars,
    points: { show: false },
    value: (u, v, s, i) => (i === null || i === undefined ? '–' : formatNumber(rows[k][i])),
  }));
  return { series, tops };
}

/**
 * One chart panel of `kind` (`pages` or `scans`, also its unit); returns `{ node, chart }`
 * (`chart` null when there is nothing to draw).
 * @param {'pages' | 'scans'} kind
 * @param {string} title
 * @param {UsageSeries} usage
 * @param {string} licenseId
 * @returns {{ node: HTMLDivElement, chart: Chart | null }}
 */
function panel(kind, title, usage, licenseId) {
  const { xs, names, rows } = matrix(usage, kind, licenseId);
  const total = sum(rows.map(sum));
  const head = h(
    'div',
    { class: 'panel-head' },
    h('h3', {}, title),
    h('p', { class: 'muted' }, `${plural(total, kind.slice(0, -1))} in ${BUCKETS[usage.bucket].range}`),
  );
  const node = h('div', { class: 'panel', 'data-chart': kind, 'data-total': total }, head);
  if (total === 0) {
    node.append(emptyState(`No ${kind} counted`, `Nothing was reported in ${BUCKETS[usage.bucket].range}.`));
    return { node, chart: null };
  }
  const plot = h('div', { class: 'plot' });
  node.append(plot);
  const { series, tops } = stacked(names, rows);
  // Half a bucket on either side, so that the first and last bars are drawn whole.
  const half = usage.bucketMs / 2000;
  /** @type {uPlot.Options} */
  const opts = {
    width: 600,
    height: CHART_HEIGHT,
    // Buckets are UTC days and slots, so the axis shows UTC.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: {
      x: { time: true, range: (u, min, max) => [min - half, max + half] },
      y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] },
    },
    axes: [
      { stroke: '#6b7280', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#e5e7eb' } },
      {
        stroke: '#6b7280',
        grid: { stroke: '#eef0f4' },
        ticks: { stroke: '#e5e7eb' },
        incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6],
        values: (u, ticks) => ticks.map(formatNumber),
        size: 56,
      },
    ],
    series: [{ label: 'Time (UTC)' }, ...series],
    cursor: { points: { show: false } },
  };
  return { node, chart: { plot, opts, data: [xs, ...tops] } };
}

/**
 * Builds the section's controls in `body` and returns `{ load(licenses), reset() }`: `load`
 * offers `licenses` in the license filter, then fetches and draws for the current choices (a
 * failed request shows an error state, a 401 calls `onUnauthorized`); `reset` removes every
 * chart and license from the section.
 * @param {HTMLElement} body
 * @param {object} handlers
 * @param {(err: Error) => void} handlers.onUnauthorized
 */
export function usageSection(body, { onUnauthorized }) {
  let bucket = 'day';
  let licenseId = '';
  /** @type {{ u: uPlot, plot: HTMLElement }[]} */
  let plots = [];
  const observer = new ResizeObserver(() => {
    for (const { u, plot } of plots) u.setSize({ width: plot.clientWidth, height: CHART_HEIGHT });
  });

  const toggles = Object.entries(BUCKETS).map(([name, { label }]) =>
    h('button', { type: 'button', class: 'segment', 'data-bucket': name, 'aria-pressed': String(name === bucket), onclick: () => choose(name) }, label),
  );
  const allLicenses = () => h('option', { value: '' }, 'All licenses');
  const select = h('select', { 'aria-label': 'License', onchange: () => ((licenseId = select.value), reload()) }, allLicenses());
  const charts = h('div', { class: 'charts' });
  body.replaceChildren(
    h('div', { class: 'toolbar' }, h('div', { class: 'segmented', role: 'group', 'aria-label': 'Bucket' }, toggles), select),
    charts,
  );

  function clear() {
    observer.disconnect();
    for (const { u } of plots) u.destroy();
    plots = [];
    charts.replaceChildren();
  }

  /** Leaves no data behind: no chart, and no license in the filter. */
  function reset() {
    clear();
    select.replaceChildren(allLicenses());
    licenseId = '';
  }

  /** @param {string} name */
  function choose(name) {
    bucket = name;
    for (const t of toggles) t.setAttribute('aria-pressed', String(t.dataset.bucket === bucket));
    reload();
  }

  async function reload() {
    try {
      await draw();
    } catch (err) {
      const e = /** @type {Error & { unauthorized?: boolean, code?: string }} */ (err);
      if (e.unauthorized) onUnauthorized(e);
      else {
        clear();
        charts.replaceChildren(errorState('usage', e));
      }
    }
  }

  async function draw() {
    body.setAttribute('aria-busy', 'true');
    try {
      const asked = token.get();
      const usage = await get('usage', { bucket });
      // Signed out (or in with another token) meanwhile: the answer is not for this view.
      if (token.get() !== asked) return;
      clear();
      const panels = [panel('pages', 'Pages per module', usage, licenseId), panel('scans', 'Scans per symbology', usage, licenseId)];
      charts.replaceChildren(...panels.map((p) => p.node));
      for (const { chart } of panels) {
        if (!chart) continue;
        const u = new uPlot({ ...chart.opts, width: chart.plot.clientWidth }, chart.data, chart.plot);
        plots.push({ u, plot: chart.plot });
        observer.observe(chart.plot);
      }
    } finally {
      body.removeAttribute('aria-busy');
    }
  }

  /** @param {License[]} licenses */
  async function load(licenses) {
    const ids = licenses.map((l) => l.id);
    if (!ids.includes(licenseId)) licenseId = '';
    select.replaceChildren(allLicenses(), ...ids.map((id) => h('option', { value: id, selected: id === licenseId }, id)));
    await reload();
  }

  return { load, reset };
}
