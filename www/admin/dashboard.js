// The dashboard's entry module: the login flow and the loading of every section. The dashboard
// is shown only once the API has accepted the token (one listing loaded); a 401 at any time
// forgets the token, empties every section and returns to the login with the reason.

import { token, get } from './api.js';
import { formatNumber, formatRelative, h, plural } from './dom.js';
import { errorState, renderAlerts, renderDevices, renderLicenses, renderProjects } from './sections.js';
import { usageSection } from './usage.js';

/** @import { Alert, Device, License, Project } from './api.js' */

/**
 * Every listing of the dashboard, null where it could not be loaded.
 * @typedef {object} Listings
 * @property {License[] | null} licenses
 * @property {Project[] | null} projects
 * @property {Device[] | null} devices
 * @property {Alert[] | null} alerts
 */

/**
 * The element of index.html that `selector` selects (the page has every one this module names).
 * @param {string} selector
 */
const $ = (selector) => /** @type {HTMLElement} */ (document.querySelector(selector));
/** @param {string} id */
const sectionBody = (id) => $(`#${id} [data-body]`);

const loginView = $('#login');
const appView = $('#app');
const input = /** @type {HTMLInputElement} */ ($('#token'));
const loginError = $('#login-error');
const submit = /** @type {HTMLButtonElement} */ ($('#login-submit'));
const alertCount = $('#alert-count');
const updated = $('#updated');
const TABLES = ['licenses', 'projects', 'devices', 'alerts'];

const REFUSED_AT_LOGIN = 'This token was not accepted: it is mistyped, or it was revoked.';
const REFUSED_LATER = 'The server no longer accepts your admin token (was it revoked?). Sign in again.';

const usage = usageSection(sectionBody('usage'), { onUnauthorized: () => signOut(REFUSED_LATER) });

/** @param {string} [message] */
function showLogin(message) {
  for (const id of TABLES) sectionBody(id).replaceChildren();
  $('#overview').replaceChildren();
  usage.reset();
  alertCount.hidden = true;
  updated.textContent = '';
  appView.hidden = true;
  loginView.hidden = false;
  loginError.textContent = message ?? '';
  loginError.hidden = !message;
  input.value = '';
  input.focus();
}

/** @param {string} [message] */
function signOut(message) {
  token.clear();
  showLogin(message);
}

/**
 * @param {string} label
 * @param {string} value
 * @param {string} detail
 */
function stat(label, value, detail) {
  return h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, label), h('p', { class: 'stat-value' }, value), h('p', { class: 'stat-detail' }, detail));
}

/** @param {Record<string, number> | number[]} counts */
const total = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * The summary cards; a listing that failed to load shows as a dash.
 * @param {Listings} listings
 */
function overview({ licenses, projects, devices, alerts }) {
  const dayAgo = Date.now() - 86_400_000;
  /** @param {string} what */
  const dash = (what) => stat(what, '—', 'not loaded');
  return [
    licenses
      ? stat('Licenses', formatNumber(licenses.length), plural(licenses.filter((l) => l.expired).length, 'expired', 'expired'))
      : dash('Licenses'),
    projects
      ? stat('Projects', formatNumber(projects.length), plural(new Set(projects.map((p) => p.organizationId)).size, 'organization'))
      : dash('Projects'),
    devices ? stat('Devices', formatNumber(devices.length), `${formatNumber(devices.filter((d) => d.lastSeen >= dayAgo).length)} in contact today`) : dash('Devices'),
    licenses ? stat('Pages counted', formatNumber(total(licenses.map((l) => total(l.pages)))), 'all licenses, all time') : dash('Pages counted'),
    licenses ? stat('Scans counted', formatNumber(total(licenses.map((l) => total(l.scans)))), 'all licenses, all time') : dash('Scans counted'),
    alerts ? stat('Alerts', formatNumber(alerts.length), alerts.length ? `last ${formatRelative(/** @type {Alert} */ (alerts.at(-1)).firedAt)}` : 'none fired') : dash('Alerts'),
  ];
}

/**
 * Loads every listing and shows the dashboard. Rejects, leaving the view as it was, with the
 * first 401, or with the first error when no listing loaded at all (the token is then unproven).
 */
async function refresh() {
  const asked = token.get();
  const requests = {
    licenses: get('licenses'),
    // The license keys must name this server as the browsers reach it.
    projects: get('projects', { serverUrls: location.origin }),
    devices: get('devices'),
    alerts: get('alerts'),
  };
  const settled = await Promise.allSettled(Object.values(requests));
  // Signed out (or in with another token) meanwhile: the answers are not for this view.
  if (token.get() !== asked) return;
  const failures = settled.filter((r) => r.status === 'rejected').map((r) => r.reason);
  const refused = failures.find((err) => err.unauthorized);
  if (refused) throw refused;
  if (failures.length === settled.length) throw failures[0];

  const names = /** @type {(keyof Listings)[]} */ (Object.keys(requests));
  // A settled request has a value (the answer) only if it was fulfilled.
  const data = /** @type {Listings} */ (
    Object.fromEntries(names.map((name, i) => [name, /** @type {{ value?: Record<string, unknown> }} */ (settled[i]).value?.[name] ?? null]))
  );
  // Each is called only for a listing that loaded.
  const loaded = /** @type {{ [K in keyof Listings]: NonNullable<Listings[K]> }} */ (data);
  const render = {
    licenses: () => renderLicenses(loaded),
    projects: () => renderProjects(loaded),
    devices: () => renderDevices(loaded),
    alerts: () => renderAlerts(loaded),
  };
  for (const [i, name] of names.entries()) {
    sectionBody(name).replaceChildren(settled[i].status === 'fulfilled' ? render[name]() : errorState(name, settled[i].reason));
  }
  $('#overview').replaceChildren(...overview(data));
  alertCount.textContent = data.alerts ? String(data.alerts.length) : '';
  alertCount.hidden = !data.alerts?.length;
  updated.textContent = `Updated ${new Date().toLocaleTimeString('en')}`;

  loginView.hidden = true;
  appView.hidden = false;
  // After the view is shown: the charts take the width of their (now laid out) panels.
  await usage.load(data.licenses ?? []);
}

/**
 * Runs `refresh`; on failure returns to the login with the reason.
 * @param {string} refusedMessage
 */
async function refreshOrSignOut(refusedMessage) {
  try {
    await refresh();
  } catch (err) {
    const e = /** @type {Error & { unauthorized?: boolean }} */ (err);
    signOut(e.unauthorized ? refusedMessage : e.message);
  }
}

$('#login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const value = input.value.trim();
  if (!value) {
    loginError.textContent = 'Paste an admin token first.';
    loginError.hidden = false;
    return;
  }
  submit.disabled = true;
  submit.textContent = 'Signing in…';
  token.set(value);
  await refreshOrSignOut(REFUSED_AT_LOGIN);
  submit.disabled = false;
  submit.textContent = 'Sign in';
});

$('#refresh').addEventListener('click', () => refreshOrSignOut(REFUSED_LATER));
$('#sign-out').addEventListener('click', () => signOut());

if (token.get()) refreshOrSignOut(REFUSED_LATER);
else showLogin();
