// The licensing rules a page can see, end to end against the real server: a per-page quota
// of 20 core pages (tolerance +5%: 1 page) goes into its tolerance stage, which status() reports and a
// status listener hears, then is used up, after which the device keeps working on the
// authorization it holds (reloads included) while a new device is refused; and the public
// trial, asked for with the { licenseServer } form of initLicense, is granted to a device the
// server has never seen and refused to one it knows.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BOUNDED, call, cli, cliJson, corePages, DEMO_VENDOR_SECRET, ok, openTestPage, reloadTestPage, usageOf, withWorld } from './harness.mjs';

/** @import { Page } from 'playwright-core' */
/** @import { LicenseStatus, StatusSubscription } from '../../pkg/licet.js' */
/** @import { World } from './harness.mjs' */

/**
 * The test page's `window` once `listen` has run.
 * @typedef {typeof window & {
 *   heard: Pick<LicenseStatus, 'state' | 'code'>[],
 *   subscription: StatusSubscription,
 * }} ListeningWindow
 */

/** @type {World} */
let w;

withWorld(
  (made) => {
    w = made;
  },
  { quota: 20, modules: 'core' },
);

/**
 * Starts collecting the status changes the page's listener hears in `window.heard`.
 * @param {Page} page
 */
function listen(page) {
  return page.evaluate(() => {
    const listening = /** @type {ListeningWindow} */ (window);
    listening.heard = [];
    listening.subscription = window.licet.onStatusChange((s) => listening.heard.push({ state: s.state, code: s.code }));
  });
}

/** @param {Page} page */
const heard = (page) => page.evaluate(() => /** @type {ListeningWindow} */ (window).heard);
/** @param {Page} page */
const status = (page) => page.evaluate(() => window.licet.status());

test('a quota goes through its tolerance stage to exhaustion, and the page is told at each step', BOUNDED, async () => {
  const page = await openTestPage(w.context, w.origin);
  await listen(page);
  assert.equal((await ok(page, 'initLicense', w.licenseKey)).state, 'valid');

  await ok(page, 'countPages', 'core', 21);
  await ok(page, 'flush');
  assert.equal((await status(page)).state, 'tolerance');
  assert.deepEqual((await heard(page)).at(-1), { state: 'tolerance', code: null });

  // One page past the tolerance: counted, and the renewal refused.
  await ok(page, 'countPages', 'core', 1);
  assert.deepEqual(await ok(page, 'flush'), { acknowledged: 1, waiting: 0 });
  assert.deepEqual((await heard(page)).at(-1), { state: 'tolerance', code: 'QUOTA_EXHAUSTED' }, JSON.stringify(await heard(page)));
  assert.equal(await corePages(w.data, w.licenseId), 22);

  // The device keeps working on the authorization it holds, after a reload too (here with the
  // { organizationID, handshakeCode } form, its server taken from the license key).
  await ok(page, 'countPages', 'core', 1);
  await reloadTestPage(page);
  const project = { organizationID: w.org, handshakeCode: `${w.org}-e2e`, licenseServer: w.licenseKey };
  const reloaded = await ok(page, 'initLicense', project);
  assert.equal(reloaded.code, 'QUOTA_EXHAUSTED');
  await ok(page, 'flush');
  assert.equal(await corePages(w.data, w.licenseId), 23);

  // A device the server has not authorized is refused.
  const stranger = await openTestPage(w.context, w.altOrigin);
  const refused = await call(stranger, 'initLicense', project);
  assert.equal(refused.code, 'QUOTA_EXHAUSTED', refused.message);
  assert.deepEqual([...page.licetErrors, ...stranger.licetErrors], []);
});

test('the public trial goes to a device the server has never seen, once', BOUNDED, async () => {
  // The vendor's trial: a per-device license for 100 devices on a project of its own.
  const licenseFile = `${w.dir}/trial-license.txt`;
  const issued = await cliJson([
    'license', 'issue', '--vendor-key', DEMO_VENDOR_SECRET, '--org', w.org, '--type', 'per-device',
    '--devices', '100', '--modules', 'core', '--days', '30', '--out', licenseFile,
  ]);
  await cli(['license', 'import', '--data', w.data, licenseFile]);
  await cli(['project', 'create', '--data', w.data, '--org', w.org, '--handshake-code', 'trial']);
  await cli(['project', 'assign', '--data', w.data, '--handshake-code', 'trial', '--license', issued.id]);
  const trial = await cliJson(['trial', 'set', '--data', w.data, '--handshake-code', 'trial', '--server-url', w.server.url]);

  const fresh = await openTestPage(w.context, w.originOf('app.licet.test'));
  const started = Date.now();
  const granted = await ok(fresh, 'initLicense', { licenseServer: trial.licenseKey });
  assert.equal(granted.state, 'trial');
  assert.equal(granted.handshakeCode, 'trial');
  const sevenDays = 7 * 24 * 3600 * 1000;
  assert.ok(
    granted.activeUntil !== null && granted.activeUntil >= started + sevenDays && granted.activeUntil <= Date.now() + sevenDays,
    `${granted.activeUntil}`,
  );
  await ok(fresh, 'countPages', 'core', 2);
  await ok(fresh, 'flush');
  assert.equal((await usageOf(w.data, issued.id)).pages.core, 2);

  // The device of the first test is known from a licensed project: no trial for it.
  const known = await openTestPage(w.context, w.origin);
  await ok(known, 'getDeviceUUID');
  const refused = await call(known, 'initLicense', { licenseServer: trial.licenseKey });
  assert.equal(refused.code, 'TRIAL_USED', refused.message);
});
