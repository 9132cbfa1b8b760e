// The admin dashboard (www/admin/) in real Chromium against the real server: usage produced
// through the npm package on the test page, then the dashboard at /admin/, which without a
// token shows nothing but its login, refuses a wrong token, and with a token from the CLI shows
// the license with the quota used, the project and its key, the device, the usage charts and
// the alerts; a revoked token sends it back to the login, emptied. Screenshots of the login and
// of the dashboard go to test-results/screenshots/.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { BOUNDED, ROOT, cli, cliJson, ok, openTestPage, usageOf, withWorld } from './harness.mjs';

const SCREENSHOTS = join(ROOT, 'test-results', 'screenshots');
const QUOTA = 40;
const TOKEN_NAME = 'dashboard-e2e';
/** Elements that only ever hold data the API gave. */
const DATA = '[data-license], [data-project], [data-device], [data-alert], [data-chart], .stat';

let w;

withWorld(
  (made) => {
    w = made;
  },
  { quota: QUOTA, modules: 'core,pdfr' },
);

/** Counts 7 core pages, 3 PDFR pages and 3 scans on a device of the project; returns its ID. */
async function produceUsage() {
  const app = await openTestPage(w.context, w.origin);
  await ok(app, 'initLicense', w.licenseKey, { product: 'Acme Scanner' });
  const deviceId = await ok(app, 'getDeviceUUID');
  await ok(app, 'countPages', 'core', 7);
  await ok(app, 'countPages', 'pdfr', 3);
  const scanned = await app.evaluate(() =>
    window.licet.createScanSession().recordFrame([
      { format: 'QR_CODE', text: 'dashboard-1' },
      { format: 'QR_CODE', text: 'dashboard-2' },
      { format: 'EAN_13', text: '4006381333931' },
    ]),
  );
  assert.equal(scanned, 3);
  await ok(app, 'flush');
  assert.deepEqual(await usageOf(w.data, w.licenseId), { pages: { core: 7, pdfr: 3 }, scans: { EAN_13: 1, QR_CODE: 2 } });
  assert.deepEqual(app.licetErrors, []);
  await app.close();
  return deviceId;
}

/** Asserts the page shows the login alone: the dashboard hidden and no data in the DOM at all. */
async function assertLoginOnly(page) {
  await page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#app').isVisible(), false);
  assert.equal(await page.locator(DATA).count(), 0);
  assert.ok(!(await page.content()).includes(w.licenseId), 'no license id anywhere in the page');
}

const rowText = (page, selector) => page.locator(selector).innerText();

test('the dashboard shows only a login without a token, and the license, project, device, usage and alerts with one', BOUNDED, async () => {
  const deviceId = await produceUsage();
  await mkdir(SCREENSHOTS, { recursive: true });

  const page = await w.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${w.origin}/admin/`);
  await assertLoginOnly(page);
  await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-login.png'), fullPage: true });

  // A token the server does not hold: refused with a message, and still nothing else.
  await page.fill('#token', 'licet_admin_not-a-token');
  await page.click('#login-submit');
  await page.locator('#login-error', { hasText: 'not accepted' }).waitFor();
  await assertLoginOnly(page);

  const { token } = await cliJson(['admin', 'token', 'create', '--data', w.data, '--name', TOKEN_NAME]);
  await page.fill('#token', token);
  await page.click('#login-submit');

  // The license, with the quotas used by the usage above.
  const license = await rowText(page, `[data-license="${w.licenseId}"]`);
  assert.match(license, /core pages\s+7 \/ 40\s+33 left/i);
  assert.match(license, /pdfr pages\s+3 \/ 40\s+37 left/i);

  // The project, its key naming this server as the page reaches it (the key the test used).
  const handshakeCode = `${w.org}-e2e`;
  const project = page.locator(`[data-project="${handshakeCode}"]`);
  assert.match(await project.innerText(), new RegExp(`${w.org}[\\s\\S]*${w.licenseId}`));
  assert.equal(await project.locator('.key-text').getAttribute('title'), w.licenseKey);

  // The device, in its project, on the page's domain, running the product it named.
  const device = await rowText(page, `[data-device="${deviceId}"]`);
  for (const shown of [handshakeCode, '127.0.0.1', 'Acme Scanner', 'No seat']) assert.ok(device.includes(shown), `${shown} in ${device}`);

  // Usage charts: a uPlot canvas per kind, holding the counts produced. A redraw (a bucket or
  // license chosen) marks the section busy from the click until its charts are drawn.
  const chart = (kind, total, range = 'the last 30 days') =>
    page.locator(`#usage [data-body]:not([aria-busy]) [data-chart="${kind}"][data-total="${total}"]`, { hasText: range }).locator('.uplot canvas');
  await chart('pages', 10).waitFor();
  await chart('scans', 3).waitFor();
  await page.click('[data-bucket="slot"]');
  await chart('pages', 10, 'the last 24 hours').waitFor();
  await page.click('[data-bucket="day"]');
  await chart('pages', 10).waitFor();
  // The license filter offers the license (selectOption fails on a missing option).
  await page.selectOption('select[aria-label="License"]', w.licenseId);
  await chart('pages', 10).waitFor();
  await page.selectOption('select[aria-label="License"]', '');
  await chart('pages', 10).waitFor();
  const canvas = await chart('pages', 10).boundingBox();
  assert.ok(canvas.width > 300 && canvas.height > 100, JSON.stringify(canvas));

  // Alerts: the license expires within 30 days, which the server's checks at start saw.
  const alert = await rowText(page, '[data-alert]');
  assert.match(alert, new RegExp(`expiry[\\s\\S]*${w.licenseId}[\\s\\S]*expires within 30 days`));
  // From the top, where the sticky header belongs in a full-page capture.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });

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
