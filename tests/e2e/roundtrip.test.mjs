// The encrypted round trip in real Chromium against the real server: authorize, count pages,
// flush, and read the totals back through `licet-server usage --json`. The tests share one
// server, one license and one browser profile and run in order: each states the total it
// expects the server to hold when it starts and leaves behind.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BOUNDED, UUID_V4, call, cliJson, corePages, ok, openTestPage, reloadTestPage, withWorld } from './harness.mjs';

/** @import { TestPage, World } from './harness.mjs' */

/** @type {World} */
let w;
/** @type {TestPage} */
let page;

withWorld((made) => {
  w = made;
});

test('initLicense, countPages("core", 3) and flush(): the server holds exactly 3 core pages', BOUNDED, async () => {
  page = await openTestPage(w.context, w.origin);
  const status = await ok(page, 'initLicense', w.licenseKey, { deviceFriendlyName: 'e2e window' });
  assert.equal(status.state, 'valid');
  assert.equal(status.code, null);
  assert.ok(status.modules.includes('core'), `modules: ${status.modules}`);
  assert.ok(status.offlineUntil !== null && status.offlineUntil > Date.now(), `offlineUntil ${status.offlineUntil} is in the future`);

  assert.equal(await corePages(w.data, w.licenseId), 0);
  await ok(page, 'countPages', 'core', 3);
  const flushed = await ok(page, 'flush');
  assert.equal(flushed.waiting, 0);
  assert.ok(flushed.acknowledged >= 1, `acknowledged: ${flushed.acknowledged}`);
  assert.equal(await corePages(w.data, w.licenseId), 3);

  // The device the server authorized is the one the page reports.
  const uuid = await ok(page, 'getDeviceUUID');
  /** @type {{ devices: { deviceId: string }[] }} */
  const { devices } = await cliJson(['devices', '--data', w.data]);
  assert.deepEqual(
    devices.map((d) => d.deviceId),
    [uuid],
  );
});

test('the device UUID survives a reload and differs on another origin', BOUNDED, async () => {
  const first = await ok(page, 'getDeviceUUID');
  assert.match(first, UUID_V4);
  await reloadTestPage(page);
  assert.equal(await ok(page, 'getDeviceUUID'), first);
  // Also before any initLicense in a brand-new tab of the same origin.
  const again = await openTestPage(w.context, w.origin);
  assert.equal(await ok(again, 'getDeviceUUID'), first);
  await again.close();

  const other = await openTestPage(w.context, w.altOrigin);
  const second = await ok(other, 'getDeviceUUID');
  assert.match(second, UUID_V4);
  assert.notEqual(second, first);
  // And that origin keeps its own one too.
  await reloadTestPage(other);
  assert.equal(await ok(other, 'getDeviceUUID'), second);
  await other.close();

  await ok(page, 'initLicense', w.licenseKey);
});

test('flush() with nothing pending and flush() twice count nothing twice', BOUNDED, async () => {
  assert.equal(await corePages(w.data, w.licenseId), 3);
  const idle = await ok(page, 'flush');
  assert.equal(idle.acknowledged, 0);
  assert.equal(idle.waiting, 0);
  await ok(page, 'flush');
  assert.equal(await corePages(w.data, w.licenseId), 3);

  await ok(page, 'countPages', 'core', 2);
  await ok(page, 'flush');
  await ok(page, 'flush');
  assert.equal(await corePages(w.data, w.licenseId), 5);
});

test('a receipt lost on the way: the report is sent again and counted once', BOUNDED, async () => {
  assert.equal(await corePages(w.data, w.licenseId), 5);
  let delivered = 0;
  // The server receives the report and answers, but the page never sees the answer.
  await page.route('**/v1/reports', async (route) => {
    await route.fetch();
    delivered += 1;
    await route.abort('connectionreset');
  });
  await ok(page, 'countPages', 'core', 1);
  const lost = await call(page, 'flush');
  assert.equal(lost.ok, false);
  assert.equal(lost.code, 'NETWORK_ERROR');
  assert.equal(delivered, 1);
  assert.equal(await corePages(w.data, w.licenseId), 6, 'the server counted the report it received');
  assert.equal((await ok(page, 'status')).code, 'NETWORK_ERROR');

  await page.unroute('**/v1/reports');
  const retried = await ok(page, 'flush');
  assert.equal(retried.waiting, 0);
  assert.ok(retried.acknowledged >= 1, `acknowledged: ${retried.acknowledged}`);
  assert.equal(await corePages(w.data, w.licenseId), 6, 'the retried report was not counted again');
});

test('a report with one flipped ciphertext byte is refused with DECRYPTION_FAILED, then delivered intact', BOUNDED, async () => {
  assert.equal(await corePages(w.data, w.licenseId), 6);
  let tampered = 0;
  await page.route('**/v1/reports', async (route) => {
    const request = route.request();
    if (request.method() !== 'POST') return route.continue();
    // A report is a POST with a body.
    const body = JSON.parse(/** @type {string} */ (request.postData()));
    const ct = Buffer.from(body.ct, 'base64url');
    ct[ct.length >> 1] ^= 0x01;
    body.ct = ct.toString('base64url');
    tampered += 1;
    return route.continue({ postData: JSON.stringify(body) });
  });
  await ok(page, 'countPages', 'core', 4);
  const refused = await call(page, 'flush');
  assert.equal(tampered, 1);
  assert.equal(refused.ok, false);
  assert.equal(refused.code, 'DECRYPTION_FAILED', refused.message);
  assert.equal(await corePages(w.data, w.licenseId), 6, 'a refused report changes nothing');

  await page.unroute('**/v1/reports');
  const delivered = await ok(page, 'flush');
  assert.equal(delivered.waiting, 0);
  assert.equal(await corePages(w.data, w.licenseId), 10, 'the report was kept and delivered once');
  await ok(page, 'flush');
  assert.equal(await corePages(w.data, w.licenseId), 10);
});

test('countPages refuses a wrong module or count synchronously with INVALID_ARGUMENT', BOUNDED, async () => {
  const cases = [
    ['scanner', 1],
    ['core', -1],
    ['core', 1.5],
    ['core', 1e12],
    ['core', Number.NaN],
    ['core', '3'],
    [3, 1],
  ];
  for (const [module, n] of cases) {
    const outcome = await page.evaluate(
      ([m, k]) => {
        try {
          // @ts-expect-error -- deliberately wrong modules and counts: countPages must refuse them
          const p = window.licet.countPages(m, k);
          p?.catch?.(() => {});
          return { threw: false };
        } catch (e) {
          const err = /** @type {Error & { code?: string }} */ (e);
          return { threw: true, isError: e instanceof Error, code: err.code, message: err.message };
        }
      },
      [module, n],
    );
    const what = `countPages(${JSON.stringify(module)}, ${n})`;
    assert.equal(outcome.threw, true, `${what} threw synchronously`);
    assert.equal(outcome.isError, true, `${what} threw an Error`);
    assert.equal(outcome.code, 'INVALID_ARGUMENT', `${what}: ${outcome.message}`);
  }
  // Nothing was counted by the refused calls.
  await ok(page, 'flush');
  assert.equal(await corePages(w.data, w.licenseId), 10);
});

test('the page saw no uncaught error, and the server shuts down cleanly on SIGTERM', BOUNDED, async () => {
  assert.deepEqual(page.licetErrors.map(String), []);
  await page.close();
  const exit = await w.server.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
});
