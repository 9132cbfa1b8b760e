// The table sections of the dashboard: licenses with their quotas and seats, projects with
// their license keys and domains, devices with their last contact and seat, and alerts with
// their webhook deliveries. Each render function takes the API's listing and returns one node
// (a table, or an empty state when the listing is empty).

import { formatDate, formatDateTime, formatNumber, h, plural, timeCell } from './dom.js';

/** @import { Alert, Delivery, Device, License, Project } from './api.js' */
/** @import { AttrValue } from './dom.js' */
/** @import { Child } from '../../types/admin-dom.js' */

const DAY_MS = 86_400_000;
/** Expiry this close is shown as a warning: the server's first expiry reminder (30 days). */
const EXPIRY_WARNING_MS = 30 * DAY_MS;

/**
 * A message shown in place of a table that has no rows.
 * @param {string} title
 * @param {string} [hint]
 */
export function emptyState(title, hint) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), hint && h('p', { class: 'empty-hint' }, hint));
}

/**
 * A section body for a listing that could not be loaded.
 * @param {string} what
 * @param {Error & { code?: string }} err
 */
export function errorState(what, err) {
  return h(
    'div',
    { class: 'empty error', role: 'alert' },
    h('p', { class: 'empty-title' }, `Could not load ${what}`),
    h('p', { class: 'empty-hint' }, err.message, err.code ? ' ' : '', err.code && h('code', {}, err.code)),
  );
}

/**
 * A table of `columns` (`[header, cell(row)]`), each row with the attributes `rowAttrs(row)`.
 * @template T
 * @param {[string, (row: T) => Child][]} columns
 * @param {T[]} rows
 * @param {(row: T) => Record<string, AttrValue>} rowAttrs
 */
function table(columns, rows, rowAttrs) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, columns.map(([header]) => h('th', {}, header)))),
      h('tbody', {}, rows.map((row) => h('tr', rowAttrs(row), columns.map(([, cell]) => h('td', {}, cell(row)))))),
    ),
  );
}

/** @param {string} text */
const badge = (text, tone = 'neutral') => h('span', { class: `badge ${tone}` }, text);
/**
 * @param {string} text
 * @param {string} [title]
 */
const mono = (text, title) => h('span', { class: 'mono', title }, text);
/** @param {string} text */
const muted = (text) => h('span', { class: 'muted' }, text);
/** @param {...Child} lines */
const stack = (...lines) => h('div', { class: 'stack' }, lines);

/**
 * A used/total bar: green, amber from 80%, red once used up.
 * @param {string} label
 * @param {number} used
 * @param {number} total
 * @param {string} detail
 */
function meter(label, used, total, detail) {
  const ratio = total > 0 ? used / total : 1;
  const tone = ratio >= 1 ? 'bad' : ratio >= 0.8 ? 'warn' : 'good';
  return h(
    'div',
    { class: 'meter' },
    h('div', { class: 'meter-label' }, h('span', {}, label), h('span', { class: 'meter-value' }, `${formatNumber(used)} / ${formatNumber(total)}`)),
    h(
      'div',
      { class: 'meter-track', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': used, 'aria-label': label },
      h('div', { class: `meter-fill ${tone}`, style: `width: ${Math.min(100, ratio * 100).toFixed(1)}%` }),
    ),
    h('div', { class: 'meter-detail' }, detail),
  );
}

/** @type {Readonly<Record<string, string | undefined>>} */
const MODULE_NAMES = { core: 'Core', webcam: 'Webcam', pdfr: 'PDFR', ocr: 'OCR' };

/**
 * What a quota item counts: the scans, or the pages of one module.
 * @param {string} item
 */
const quotaLabel = (item) => (item === 'scans' ? 'Scans' : `${MODULE_NAMES[item] ?? item} pages`);

/** @param {License} license */
function licenseUsage(license) {
  if (license.quotas.length) {
    return license.quotas.map((q) => meter(quotaLabel(q.item), q.used, q.quota, `${formatNumber(q.left)} left`));
  }
  if (license.seatsHeld !== null && license.license.devices) {
    const left = Math.max(0, license.license.devices - license.seatsHeld);
    return meter('Seats held', license.seatsHeld, license.license.devices, `${plural(left, 'seat')} free`);
  }
  const counted = [...Object.entries(license.pages), ...Object.entries(license.scans)];
  return stack(
    // A concurrent license always names its device limit.
    muted(license.type === 'concurrent' ? `Up to ${plural(/** @type {number} */ (license.license.devices), 'device')} at once` : 'No quota'),
    counted.length ? h('span', { class: 'small' }, counted.map(([k, v]) => `${k} ${formatNumber(v)}`).join(' · ')) : null,
  );
}

/**
 * @param {License} license
 * @param {number} now
 */
function expiryCell(license, now) {
  const left = license.expiresAt - now;
  const date = h('span', { title: formatDateTime(license.expiresAt) }, formatDate(license.expiresAt));
  if (license.expired) return stack(date, badge('Expired', 'bad'));
  if (left < EXPIRY_WARNING_MS) return stack(date, badge(`${plural(Math.ceil(left / DAY_MS), 'day')} left`, 'warn'));
  return stack(date, muted(`${plural(Math.floor(left / DAY_MS), 'day')} left`));
}

/** @param {{ licenses: License[] }} listing */
export function renderLicenses({ licenses }) {
  if (!licenses.length) {
    return emptyState('No licenses yet', 'Import a vendor-signed license file: licet-server license import --data DIR FILE.');
  }
  const now = Date.now();
  return table(
    [
      ['License', (l) => stack(mono(l.id), muted(`${l.organizationId} · ${l.license.product}`))],
      ['Type', (l) => badge(l.type, 'accent')],
      ['Modules', (l) => h('div', { class: 'chips' }, l.license.modules.map((m) => h('span', { class: 'chip' }, m)))],
      ['Projects', (l) => (l.projects.length ? stack(l.projects.map((p) => mono(p))) : muted('Not assigned'))],
      ['Expires', (l) => expiryCell(l, now)],
      ['Quota used / left', (l) => h('div', { class: 'meters' }, licenseUsage(l))],
    ],
    licenses,
    (l) => ({ 'data-license': l.id }),
  );
}

/**
 * A button that copies `text`, and says so for a moment.
 * @param {string} text
 * @param {string} what
 */
function copyButton(text, what) {
  const button = h('button', { type: 'button', class: 'button small ghost', 'aria-label': `Copy the ${what}` }, 'Copy');
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let reset;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Copy failed';
    }
    clearTimeout(reset);
    reset = setTimeout(() => (button.textContent = 'Copy'), 1500);
  });
  return button;
}

/** @param {Project} project */
function domainsCell(project) {
  const chips = project.domains.map((d) => h('span', { class: 'chip' }, d));
  if (project.allowDevHosts) chips.push(h('span', { class: 'chip subtle', title: 'localhost and loopback addresses' }, 'dev hosts'));
  return chips.length ? h('div', { class: 'chips' }, chips) : muted('Any domain');
}

/** @param {{ projects: Project[] }} listing */
export function renderProjects({ projects }) {
  if (!projects.length) {
    return emptyState('No projects yet', 'Create one with licet-server project create, then assign a license to it.');
  }
  return table(
    [
      ['Handshake code', (p) => stack(mono(p.handshakeCode), p.isDefault ? badge('default', 'neutral') : null)],
      ['Organization', (p) => p.organizationId],
      [
        'License key',
        (p) => h('div', { class: 'key' }, h('code', { class: 'key-text', title: p.licenseKey }, p.licenseKey), copyButton(p.licenseKey, 'license key')),
      ],
      ['Bound domains', domainsCell],
      ['Licenses', (p) => (p.licenses.length ? stack(p.licenses.map((id) => mono(id))) : muted('None assigned'))],
    ],
    projects,
    (p) => ({ 'data-project': p.handshakeCode }),
  );
}

/**
 * The devices, with the product and SDK version each said it runs at its last authorization.
 * @param {{ devices: Device[] }} listing
 */
export function renderDevices({ devices }) {
  if (!devices.length) {
    return emptyState('No devices yet', 'A device appears here after its first authorization.');
  }
  const now = Date.now();
  return table(
    [
      ['Device', (d) => stack(mono(d.deviceId), d.name ? muted(d.name) : null)],
      ['Project', (d) => mono(d.handshakeCode)],
      ['Domain', (d) => d.domain || muted('none')],
      ['Product', (d) => stack(d.product || muted('unknown'), d.sdkVersion ? muted(d.sdkVersion) : null)],
      ['Last contact', (d) => timeCell(d.lastSeen)],
      [
        'Seat held until',
        (d) =>
          d.seatHeldUntil === null
            ? muted('No seat')
            : h('span', { title: formatDateTime(d.seatHeldUntil) }, formatDate(d.seatHeldUntil), d.seatHeldUntil < now ? ' (lapsed)' : ''),
      ],
    ],
    devices,
    (d) => ({ 'data-device': d.deviceId }),
  );
}

/** @type {Readonly<Record<string, string | undefined>>} */
const ALERT_TONES = { usage: 'accent', expiry: 'warn', 'authorization-failures': 'bad' };

/**
 * The server writes times in alert messages as Unix milliseconds: shown as dates here.
 * @param {string} message
 */
const alertMessage = (message) => message.replace(/\b(\d{12,14}) \(Unix ms\)/g, (_, ms) => formatDateTime(Number(ms)));

/** @param {Delivery} d */
function delivery(d) {
  const host = h('span', { class: 'mono' }, d.webhook);
  if (d.deliveredAt !== null) return h('div', { class: 'delivery' }, host, ' ', badge('delivered', 'good'), ' ', timeCell(d.deliveredAt));
  if (d.gaveUp) return h('div', { class: 'delivery', title: d.lastError ?? '' }, host, ' ', badge(`gave up after ${d.attempts}`, 'bad'));
  return h(
    'div',
    { class: 'delivery', title: d.lastError ?? '' },
    host,
    ' ',
    badge(d.attempts ? `retrying (${d.attempts} tried)` : 'pending', 'warn'),
    ' next ',
    timeCell(d.nextAttemptAt),
  );
}

/** @param {{ alerts: Alert[] }} listing */
export function renderAlerts({ alerts }) {
  if (!alerts.length) {
    return emptyState('No alerts', 'Alerts fire when a quota or the seats reach a threshold, a license nears its expiry, or authorizations keep failing.');
  }
  // Newest first: the API lists them oldest first.
  const newest = [...alerts].reverse();
  return table(
    [
      ['Kind', (a) => badge(a.kind, ALERT_TONES[a.kind] ?? 'neutral')],
      ['Subject', (a) => mono(a.subject)],
      ['Message', (a) => h('span', { class: 'message' }, alertMessage(a.message))],
      ['Fired', (a) => timeCell(a.firedAt)],
      ['Deliveries', (a) => (a.deliveries.length ? a.deliveries.map(delivery) : muted('No webhook'))],
    ],
    newest,
    (a) => ({ 'data-alert': a.id }),
  );
}
