// DOM and formatting helpers of the dashboard: an element builder (text is always set as text,
// never parsed as HTML, since every value shown comes from the API), and the formats of numbers,
// times and durations used by every section.

/**
 * An attribute's value: text, a number, true (present, empty), null, undefined or false
 * (absent), or for an `on*` name an event listener.
 * @typedef {string | number | boolean | null | undefined | EventListener} AttrValue
 */

/** @import { Child } from '../../types/admin-dom.js' */

/**
 * Creates `<tag>` with `attrs` (`class`, `data-*`, `title`, ...; `on*` functions become event
 * listeners; null and false are left out) and `children` (nodes, strings, arrays, nulls).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue>} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  // Flattened as unknown: the depth of a Child has no bound for the checker to follow.
  const flat = /** @type {unknown[]} */ (children).flat(Infinity);
  el.append(.../** @type {(Node | string)[]} */ (flat.filter((c) => c !== null && c !== undefined && c !== false)));
  return el;
}

const numberFormat = new Intl.NumberFormat('en');
const dateFormat = new Intl.DateTimeFormat('en', { dateStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });
const relativeFormat = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** @param {number} n */
export const formatNumber = (n) => numberFormat.format(n);
/** @param {number} ms */
export const formatDate = (ms) => dateFormat.format(ms);
/** @param {number} ms */
export const formatDateTime = (ms) => dateTimeFormat.format(ms);

/** @type {[Intl.RelativeTimeFormatUnit, number][]} */
const UNITS = [
  ['year', 365 * 86_400_000],
  ['month', 30 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
];

/**
 * "3 minutes ago", "in 12 days", "just now": `ms` against the current time.
 * @param {number} ms
 */
export function formatRelative(ms, now = Date.now()) {
  const diff = ms - now;
  for (const [unit, size] of UNITS) {
    if (Math.abs(diff) >= size) return relativeFormat.format(Math.trunc(diff / size), unit);
  }
  return 'just now';
}

/**
 * A time as its relative form, with the exact date and time as a tooltip.
 * @param {number} ms
 */
export function timeCell(ms) {
  return h('time', { datetime: new Date(ms).toISOString(), title: formatDateTime(ms) }, formatRelative(ms));
}

/**
 * "1 device", "3 devices".
 * @param {number} n
 * @param {string} one
 */
export function plural(n, one, many = `${one}s`) {
  return `${formatNumber(n)} ${n === 1 ? one : many}`;
}
