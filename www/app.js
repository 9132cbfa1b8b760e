// The demo app's main module: initializes the Licet module with the license key the server
// hands out (/demo-license-key.txt, written by scripts/lib/www.mjs), shows the license
// state, device and connection live, keeps the page's usage tallies (scans per symbology, pages
// per module) and sends usage reports: on demand, and a few seconds after new counts so that
// the page shows them acknowledged without waiting for the module's 3-minute schedule. Where
// the reports stand (waiting, acknowledged) it asks the module, which sends on its own too. The
// capture side lives in scanner.js (camera and images, barcodes) and documents.js (PDF and
// image import).
import init, { LicenseManager } from './pkg/licet.js';
/** @import { PageModule, StatusSubscription } from './pkg/licet.js' */

import { createDocuments } from './documents.js';
import { describe, explainCode, remaining } from './license-status.js';
import { createScanner } from './scanner.js';

/**
 * The element of index.html with `id` (the page has every one this module names).
 * @param {string} id
 */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Sent a few seconds after the first count that is not yet sent, to batch a burst of counts. */
const SEND_DELAY_MS = 5000;

/** What this page counted since it opened, and how much of it no receipt has covered yet. */
const usage = {
  /** @type {Map<string, number>} */
  scans: new Map(),
  /** @type {Record<PageModule, number>} */
  pages: { core: 0, webcam: 0, pdfr: 0, ocr: 0 },
  unsent: 0,
};
/**
 * The code initLicense failed with, while the page has no license to work with.
 * @type {string | null}
 */
let blockedCode = null;
/**
 * Kept for the page's lifetime: the listener hears only while its subscription lives.
 * @type {StatusSubscription | null}
 */
let statusSubscription = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let sendTimer;
/** @type {Promise<void>} */
let sending = Promise.resolve();

/**
 * @param {string} id
 * @param {string} text
 */
function setMessage(id, text, isError = false) {
  $(id).textContent = text;
  $(id).classList.toggle('error', isError);
}

/**
 * The `code` of an error the module threw (a LicetError) or the page made the same way, if any.
 * @param {unknown} err
 */
const codeOf = (err) => /** @type {{ code?: string }} */ (err).code;

/**
 * An error of the module or of the page, said for a person: the code's explanation first.
 * @param {unknown} err
 */
function failureText(err) {
  const e = /** @type {{ code?: string, message?: unknown } | null | undefined} */ (err);
  return e?.code ? `${e.code}: ${explainCode(e.code)}` : String(e?.message ?? e);
}

function renderStatus() {
  const status = LicenseManager.status();
  // A refusal is an answer: the server was reached even though the last call failed.
  const reached = status.online || (blockedCode !== null && blockedCode !== 'NETWORK_ERROR');
  const online = navigator.onLine && reached;
  const now = Date.now();
  const view = describe({ ...status, online: navigator.onLine && status.online }, blockedCode, now);
  const pill = $('license-pill');
  pill.textContent = view.pill;
  pill.className = `pill pill-${view.tone === 'neutral' ? 'neutral' : view.tone}`;
  $('license-banner').className = `banner banner-${view.tone}`;
  $('license-state').textContent = view.title;
  $('license-explanation').textContent = view.explanation;
  $('handshake').textContent = status.handshakeCode ?? '—';
  $('modules').textContent = status.modules.length ? status.modules.map((m) => m.toUpperCase()).join(' · ') : '—';
  $('offline-until').textContent = status.offlineUntil
    ? `${new Date(status.offlineUntil).toLocaleString()} (${remaining(status.offlineUntil - now)} left)`
    : '—';
  const code = blockedCode ?? status.code;
  $('status-code').textContent = code ?? 'none';
  $('network-text').textContent = online ? 'Online' : 'Offline';
  $('network-pill').className = `pill ${online ? 'pill-ok' : 'pill-warn'}`;
}

function renderUsage() {
  const body = $('scan-counts');
  const rows = [...usage.scans].sort(([a], [b]) => a.localeCompare(b));
  body.replaceChildren(
    ...(rows.length
      ? rows.map(([format, n]) => {
          const tr = document.createElement('tr');
          tr.dataset.symbology = format;
          tr.innerHTML = '<th class="mono"></th><td></td>';
          tr.cells[0].textContent = format;
          tr.cells[1].textContent = String(n);
          return tr;
        })
      : [Object.assign(document.createElement('tr'), { className: 'empty', innerHTML: '<td colspan="2">No scans yet</td>' })]),
  );
  $('scan-total').textContent = String(rows.reduce((sum, [, n]) => sum + n, 0));
  for (const [module, n] of Object.entries(usage.pages)) {
    /** @type {HTMLElement} */ (document.querySelector(`[data-module="${module}"] td`)).textContent = String(n);
  }
  $('unsent').textContent = String(usage.unsent);
}

/** Where the module's reports stand: its scheduled sends count as well as the page's own. */
async function renderReports() {
  const { acknowledged, waiting } = await LicenseManager.reports();
  $('reports-waiting').textContent = String(waiting);
  $('reports-acknowledged').textContent = String(acknowledged);
}

/** One flush at a time: a send asked for while one runs goes after it. */
function send() {
  clearTimeout(sendTimer);
  sendTimer = undefined;
  sending = sending.then(async () => {
    // Counts made before flush() starts are in what it seals; later ones wait for the next send.
    const covered = usage.unsent;
    setMessage('send-message', 'Sending usage…');
    try {
      const { acknowledged, waiting } = await LicenseManager.flush();
      if (waiting === 0) usage.unsent -= covered;
      setMessage('send-message', `Last sent at ${new Date().toLocaleTimeString()}: ${acknowledged} report(s) acknowledged.`);
    } catch (err) {
      setMessage('send-message', `Not sent, kept on this device. ${failureText(err)}`, true);
    }
    renderUsage();
    renderStatus();
    await renderReports().catch(() => {});
  });
  return sending;
}

function scheduleSend() {
  sendTimer ??= setTimeout(send, SEND_DELAY_MS);
}

/**
 * Counts `n` pages of `module` with the license, then in the page's tallies.
 * @param {PageModule} module
 * @param {number} n
 */
async function countPages(module, n) {
  await LicenseManager.countPages(module, n);
  usage.pages[module] += n;
  usage.unsent += n;
  renderUsage();
  scheduleSend();
}

/**
 * Takes the new scans a frame added, `{ symbology: count }`, into the page's tallies.
 * @param {Record<string, number>} added
 */
function countScans(added) {
  let total = 0;
  for (const [format, n] of Object.entries(added)) {
    if (n === 0) continue;
    usage.scans.set(format, (usage.scans.get(format) ?? 0) + n);
    total += n;
  }
  if (total === 0) return;
  usage.unsent += total;
  renderUsage();
  scheduleSend();
}

async function main() {
  await init();
  // The remaining offline time counts down, and the browser's own online flag changes the pill
  // before the module's next contact with the server does.
  setInterval(renderStatus, 1000);
  addEventListener('offline', renderStatus);
  addEventListener('online', () => {
    renderStatus();
    if (usage.unsent > 0) send();
  });
  $('device').textContent = await LicenseManager.getDeviceUUID();
  statusSubscription = LicenseManager.onStatusChange(renderStatus);
  const response = await fetch('./demo-license-key.txt');
  if (!response.ok) throw Object.assign(new Error(`no demo license key on this server (HTTP ${response.status})`), { code: 'INVALID_LICENSE_KEY' });
  try {
    await LicenseManager.initLicense((await response.text()).trim(), { deviceFriendlyName: 'Licet demo page', product: 'Licet capture demo' });
  } catch (err) {
    blockedCode = codeOf(err) ?? 'INTERNAL';
    renderStatus();
    return;
  }
  renderStatus();
  // An IndexedDB read a second: the module may send on its own schedule, from this page or
  // another tab of the site.
  setInterval(() => renderReports().catch(() => {}), 1000);
  await renderReports();

  const documents = createDocuments({ countPages, failureText });
  createScanner({
    session: LicenseManager.createScanSession({ duplicateForgetTime: Number(/** @type {HTMLInputElement} */ ($('forget-time')).value) }),
    countScans,
    onCapture: (frame) => documents.addCameraFrame(frame),
    failureText,
  });
  documents.enable();
  /** @type {HTMLButtonElement} */ ($('send')).disabled = false;
  $('send').addEventListener('click', send);
}

main().catch((err) => {
  blockedCode = codeOf(err) ?? 'INTERNAL';
  try {
    renderStatus();
  } catch {
    // the module itself did not load: the explanation below is all there is to show
  }
  $('license-explanation').textContent = failureText(err);
});
