// The package in a dedicated module worker: same origin, so the same device UUID as the
// window (one IndexedDB per origin), and usage counted in the worker reaches the server.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BOUNDED, UUID_V4, cliJson, ok, openTestPage, usageOf, withWorld } from './harness.mjs';

/** @import { Page } from 'playwright-core' */
/** @import { LicenseMethod } from '../../types/e2e-page.js' */
/** @import { World } from './harness.mjs' */

/** @type {World} */
let w;

withWorld((made) => {
  w = made;
});

/**
 * Calls LicenseManager[method](...args) inside the page's worker; returns the value or throws.
 * @template {LicenseMethod} M
 * @param {Page} page
 * @param {M} method
 * @param {...unknown} args
 */
async function inWorker(page, method, ...args) {
  const r = await page.evaluate(([m, a]) => window.testWorker.call(m, ...a), /** @type {const} */ ([method, args]));
  if (!r.ok) throw new Error(`worker: LicenseManager.${method} failed: ${r.code}: ${r.message}`);
  return r.value;
}

test('a dedicated module worker shares the device UUID of its origin and its usage is counted', BOUNDED, async () => {
  const page = await openTestPage(w.context, w.origin);
  const windowUuid = await ok(page, 'getDeviceUUID');
  assert.match(windowUuid, UUID_V4);

  await page.evaluate(() => window.startWorker());
  const status = await inWorker(page, 'initLicense', w.licenseKey, { deviceFriendlyName: 'e2e worker' });
  assert.equal(status.state, 'valid');
  assert.equal(await inWorker(page, 'getDeviceUUID'), windowUuid);

  await inWorker(page, 'countPages', 'core', 2);
  await inWorker(page, 'countPages', 'ocr', 1);
  const flushed = await inWorker(page, 'flush');
  assert.equal(flushed.waiting, 0);
  assert.ok(flushed.acknowledged >= 1, `acknowledged: ${flushed.acknowledged}`);
  const { pages } = await usageOf(w.data, w.licenseId);
  assert.deepEqual(pages, { core: 2, ocr: 1 });
  // The worker reported its own location's host name as the page's domain.
  /** @type {{ devices: { deviceId: string, name: string | null, domain: string }[] }} */
  const { devices } = await cliJson(['devices', '--data', w.data]);
  const device = devices.find((d) => d.deviceId === windowUuid);
  assert.equal(device?.name, 'e2e worker');
  assert.equal(device?.domain, new URL(w.origin).hostname);
  await page.close();
});
