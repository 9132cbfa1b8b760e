// The product face as a customer sees it, in real Chromium against the real server, one world
// for the whole story: the demo app scans a camera video (Chromium's fake camera plays barcodes
// made in media.mjs; the server ends up with exactly the scans the de-duplication rule allows
// for its timeline, and one webcam page for the frame it captures), then imports a PDF of known
// page count (exactly that many PDFR pages), scans an uploaded image and imports one (a Core
// page);
// then the admin dashboard, which without a token shows nothing but its login and refuses a
// wrong one, and with a token from the CLI shows the license with the quota those pages used,
// the project and its key, the demo app's device, that usage in its charts, and the alerts; a
// revoked token sends it back to the login, emptied; last, the server stops under the open demo
// app, which works on in its offline grace and says for how long. Each test saves screenshots
// to test-results/screenshots/.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { BOUNDED, cli, cliJson, openDemoApp, screenshot, sendDemoUsage, tempDir, usageOf, withWorld } from './harness.mjs';
import { EXPECTED_SCANS, FORGET_MS, TIMELINE, barcodePng, makePdf, writeVideo } from './media.mjs';

/** @import { Page } from 'playwright-core' */
/** @import { World } from './harness.mjs' */

const PAGES = 5;
const TOKEN_NAME = 'dashboard-e2e';
/** Elements of the dashboard that only ever hold data the API gave. */
const DATA = '[data-license], [data-project], [data-device], [data-alert], [data-chart], .stat';

const video = await tempDir('licet-camera-');
const VIDEO = join(video.path, 'barcodes.y4m');
await writeVideo(VIDEO);
after(() => video.remove());

/** @type {World} */
let w;
/**
 * The demo app's device, as the camera test's page shows it.
 * @type {string | null}
 */
let deviceId;

withWorld(
  (made) => {
    w = made;
  },
  {
    demo: true,
    browserArgs: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${VIDEO}`],
  },
);

test('the demo app counts the scans of a camera video by the de-duplication rule', BOUNDED, async () => {
  const page = await openDemoApp(w.context, w.origin);
  deviceId = await page.textContent('#device');
  await page.fill('#forget-time', String(FORGET_MS));
  await page.press('#forget-time', 'Tab'); // the change event: the session takes the new time
  await page.waitForFunction((ms) => /** @type {HTMLElement} */ (document.getElementById('scanner-message')).textContent.includes(`${ms} ms`), FORGET_MS);

  // The fake camera plays the file from its first frame once the page opens it, and loops it.
  // Once END has been read, the camera is stopped: END is on screen for 2.5 s and the lead-in
  // for 2 s more, so the second pass never shows a code.
  await page.click('#camera-toggle');
  const playing = Date.now();
  await page.waitForFunction(
    () => [...document.querySelectorAll('#results .text')].some((e) => e.textContent === 'LICET-END'),
    null,
    { timeout: 45_000, polling: 50 },
  );
  // A frame kept as a document page is a webcam page; the frames only decoded are not.
  await page.click('#capture');
  await page.waitForFunction(() => /** @type {HTMLElement} */ (document.querySelector('[data-module="webcam"] td')).textContent === '1');
  await screenshot(page, 'demo-camera');
  await page.click('#camera-toggle');
  const played = (Date.now() - playing) / 1000;
  const duration = TIMELINE.reduce((sum, [s]) => sum + s, 0);
  assert.ok(played < duration, `END was read ${played} s after the camera started: in the first pass of ${duration} s`);

  const shown = await page.$$eval('#scan-counts tr[data-symbology]', (rows) =>
    Object.fromEntries(/** @type {HTMLTableRowElement[]} */ (rows).map((r) => [r.dataset.symbology, Number(r.cells[1].textContent)])),
  );
  assert.deepEqual(shown, EXPECTED_SCANS, 'the usage card shows the counted scans');

  await sendDemoUsage(page);
  const { scans, pages } = await usageOf(w.data, w.licenseId);
  assert.deepEqual(scans, EXPECTED_SCANS);
  assert.deepEqual(pages, { webcam: 1 });
  assert.deepEqual(page.licetErrors, []);
  await page.close();
});

test('a PDF imported in the demo app is counted as one PDFR page per page', BOUNDED, async () => {
  const page = await openDemoApp(w.context, w.origin);
  await page.waitForFunction(() => !(/** @type {HTMLInputElement} */ (document.getElementById('import-pdf')).disabled));
  await page.setInputFiles('#import-pdf', { name: 'delivery-note.pdf', mimeType: 'application/pdf', buffer: await makePdf(PAGES) });

  await page.waitForFunction((n) => document.querySelectorAll('#pages [data-module="pdfr"]').length === n, PAGES, { timeout: 30_000 });
  assert.equal(await page.textContent('[data-module="pdfr"] td'), String(PAGES), 'the usage card shows the PDFR pages');
  await sendDemoUsage(page);
  // Live on the page: its one report acknowledged, and the server reached.
  await page.waitForFunction(() => /** @type {HTMLElement} */ (document.getElementById('reports-acknowledged')).textContent === '1');
  assert.equal(await page.textContent('#network-text'), 'Online');
  await screenshot(page, 'demo-pdf');

  const { pages, scans } = await usageOf(w.data, w.licenseId);
  assert.deepEqual(pages, { pdfr: PAGES, webcam: 1 }, 'the PDF\'s pages, and the camera test\'s frame');
  assert.deepEqual(scans, EXPECTED_SCANS, 'the camera test\'s scans, and none more');
  assert.deepEqual(page.licetErrors, []);
  await page.close();
});

test('an uploaded image is scanned for barcodes, and an imported one is a Core page', BOUNDED, async () => {
  const page = await openDemoApp(w.context, w.origin);
  const qr = await barcodePng({ bcid: 'qrcode', text: 'LICET-UPLOAD' });
  await page.setInputFiles('#scan-image', { name: 'label.png', mimeType: 'image/png', buffer: qr });
  await page.waitForFunction(() => [...document.querySelectorAll('#results .text')].some((e) => e.textContent === 'LICET-UPLOAD'));
  await page.waitForFunction(() => !(/** @type {HTMLInputElement} */ (document.getElementById('import-images')).disabled));
  await page.setInputFiles('#import-images', { name: 'receipt.png', mimeType: 'image/png', buffer: qr });
  await page.waitForFunction(() => /** @type {HTMLElement} */ (document.querySelector('[data-module="core"] td')).textContent === '1');
  await sendDemoUsage(page);

  const { pages, scans } = await usageOf(w.data, w.licenseId);
  assert.deepEqual(scans, { ...EXPECTED_SCANS, QR_CODE: EXPECTED_SCANS.QR_CODE + 1 });
  assert.deepEqual(pages, { core: 1, pdfr: PAGES, webcam: 1 });
  assert.deepEqual(page.licetErrors, []);
  await page.close();
});

/**
 * Asserts the page shows the login alone: the dashboard hidden and no data in the DOM at all.
 * @param {Page} page
 */
async function assertLoginOnly(page) {
  await page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#app').isVisible(), false);
  assert.equal(await page.locator(DATA).count(), 0);
  assert.ok(!(await page.content()).includes(w.licenseId), 'no license id anywhere in the page');
}

/**
 * @param {Page} page
 * @param {string} selector
 */
const rowText = (page, selector) => page.locator(selector).innerText();

test('the dashboard shows only a login without a token, and the license, project, device, usage and alerts with one', BOUNDED, async () => {
  const page = await w.context.newPage();
  /** @type {Error[]} */
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${w.origin}/admin/`);
  await assertLoginOnly(page);
  await screenshot(page, 'dashboard-login');

  // A token the server does not hold: refused with a message, and still nothing else.
  await page.fill('#token', 'licet_admin_not-a-token');
  await page.click('#login-submit');
  await page.locator('#login-error', { hasText: 'not accepted' }).waitFor();
  await assertLoginOnly(page);

  const { token } = await cliJson(['admin', 'token', 'create', '--data', w.data, '--name', TOKEN_NAME]);
  await page.fill('#token', token);
  await page.click('#login-submit');

  // The license, with the quota the PDF's pages used.
  const license = await rowText(page, `[data-license="${w.licenseId}"]`);
  assert.match(license, new RegExp(`pdfr pages\\s+${PAGES} / 100,000\\s+${(100_000 - PAGES).toLocaleString('en-US')} left`, 'i'));
  assert.match(license, /webcam pages\s+1 \/ 100,000/i);
  assert.match(license, /core pages\s+1 \/ 100,000/i);

  // The project, its key naming this server as the page reaches it (the key the test used).
  const handshakeCode = `${w.org}-e2e`;
  const project = page.locator(`[data-project="${handshakeCode}"]`);
  assert.match(await project.innerText(), new RegExp(`${w.org}[\\s\\S]*${w.licenseId}`));
  assert.equal(await project.locator('.key-text').getAttribute('title'), w.licenseKey);

  // The demo app's device, in its project, on the page's domain, running the product it named.
  const device = await rowText(page, `[data-device="${deviceId}"]`);
  for (const shown of [handshakeCode, '127.0.0.1', 'Licet capture demo', 'just now', 'No seat']) assert.ok(device.includes(shown), `${shown} in ${device}`);
  // The project's bound domains: its license binds none.
  assert.match(await project.innerText(), /Any domain/);

  // Usage charts: a uPlot canvas per kind, holding the counts produced. A redraw (a bucket or
  // license chosen) marks the section busy from the click until its charts are drawn.
  /**
   * @param {'pages' | 'scans'} kind
   * @param {number} total
   */
  const chart = (kind, total, range = 'the last 30 days') =>
    page.locator(`#usage [data-body]:not([aria-busy]) [data-chart="${kind}"][data-total="${total}"]`, { hasText: range }).locator('.uplot canvas');
  // The camera's scans and the uploaded image's; the PDF's pages, the camera frame, the image.
  const scanned = Object.values(EXPECTED_SCANS).reduce((sum, n) => sum + n, 1);
  const paged = PAGES + 2;
  await chart('pages', paged).waitFor();
  await chart('scans', scanned).waitFor();
  await page.click('[data-bucket="slot"]');
  await chart('pages', paged, 'the last 24 hours').waitFor();
  await chart('scans', scanned, 'the last 24 hours').waitFor();
  await page.click('[data-bucket="day"]');
  await chart('pages', paged).waitFor();
  // The license filter offers the license (selectOption fails on a missing option).
  await page.selectOption('select[aria-label="License"]', w.licenseId);
  await chart('pages', paged).waitFor();
  await page.selectOption('select[aria-label="License"]', '');
  await chart('pages', paged).waitFor();
  // A visible element has a box.
  const canvas = /** @type {{ width: number, height: number }} */ (await chart('pages', paged).boundingBox());
  assert.ok(canvas.width > 300 && canvas.height > 100, JSON.stringify(canvas));
  // A series per module and per symbology, named in each chart's legend.
  /** @param {'pages' | 'scans'} kind */
  const legend = async (kind) => page.locator(`[data-chart="${kind}"]`).innerText();
  for (const module of ['webcam', 'pdfr', 'core']) assert.match(await legend('pages'), new RegExp(module));
  for (const symbology of Object.keys(EXPECTED_SCANS)) assert.match(await legend('scans'), new RegExp(symbology));

  // Alerts: the license expires within 30 days, which the server's checks at start saw.
  const alert = await rowText(page, '[data-alert]');
  assert.match(alert, new RegExp(`expiry[\\s\\S]*${w.licenseId}[\\s\\S]*expires within 30 days`));
  // From the top, where the sticky header belongs in a full-page capture.
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'dashboard');

  // The token is kept for the tab: a reload opens the dashboard again without the login.
  await page.reload();
  await page.locator(`[data-license="${w.licenseId}"]`).waitFor();

  // Revoked, it opens nothing: the next refresh returns to the login, emptied, saying why.
  await cli(['admin', 'token', 'revoke', '--data', w.data, TOKEN_NAME]);
  await page.click('#refresh');
  await page.locator('#login-error', { hasText: 'no longer accepts' }).waitFor();
  await assertLoginOnly(page);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the token is forgotten');
  assert.deepEqual(errors, []);
});


test('when the license server goes away, the demo app works on in its offline grace and says for how long', BOUNDED, async () => {
  const page = await openDemoApp(w.context, w.origin);
  // The server served the page too: it stops under the open page, as a network that drops.
  await w.server.stop();
  // A page imported offline is counted on the device; sending it finds no server.
  await page.setInputFiles('#import-images', { name: 'offline.png', mimeType: 'image/png', buffer: await barcodePng({ bcid: 'qrcode', text: 'OFFLINE' }) });
  await page.waitForFunction(() => /** @type {HTMLElement} */ (document.querySelector('[data-module="core"] td')).textContent === '1');
  await page.click('#send');
  await page.waitForFunction(() => /** @type {HTMLElement} */ (document.getElementById('license-pill')).textContent.startsWith('Offline grace'), null, { timeout: 60_000 });
  assert.equal(await page.textContent('#license-state'), 'Offline grace: 6 d 23 h left');
  // Its report waits on the device for a receipt, as the module says (LicenseManager.reports).
  await page.waitForFunction(() => /** @type {HTMLElement} */ (document.getElementById('reports-waiting')).textContent === '1');
  // An element's textContent is never null.
  assert.match(/** @type {string} */ (await page.textContent('#send-message')), /kept on this device[\s\S]*NETWORK_ERROR/);
  assert.equal(await page.textContent('#network-text'), 'Offline');
  await screenshot(page, 'demo-offline');
  await page.close();
});
