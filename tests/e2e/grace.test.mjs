// The offline grace with the browser's clock under the test's control: authorized online, then
// offline, the page still counts 6 days later, is refused 8 days later with GRACE_EXPIRED, and
// once back online is authorized again and delivers what it counted offline. A device of a
// daily per-device license works offline exactly as long as its seat, one day; a device of a
// concurrent license, 6 minutes.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  BOUNDED,
  DEMO_VENDOR_SECRET,
  advanceUntil,
  call,
  cli,
  cliJson,
  corePages,
  inClockedBrowser,
  ok,
  openTestPage,
  withWorld,
} from './harness.mjs';

/** @import { BrowserlessWorld } from './harness.mjs' */

const DAY = 24 * 60 * 60 * 1000;

/** @type {BrowserlessWorld} */
let w;

withWorld(
  (made) => {
    w = made;
  },
  { browser: false },
);

test('offline: counting goes on for 6 days, stops at 8 with GRACE_EXPIRED, and resumes online', BOUNDED, async () => {
  await inClockedBrowser(join(w.dir, 'clocked'), async (context) => {
    const page = await openTestPage(context, w.origin);
    const online = await ok(page, 'initLicense', w.licenseKey);
    assert.equal(online.state, 'valid');
    const before = await corePages(w.data, w.licenseId);

    await context.setOffline(true);
    await context.clock.fastForward(6 * DAY);
    await ok(page, 'countPages', 'core', 2);
    assert.equal((await ok(page, 'status')).state, 'valid');

    await context.clock.fastForward(2 * DAY);
    const refused = await call(page, 'countPages', 'core', 1);
    assert.equal(refused.code, 'GRACE_EXPIRED');
    const expired = await ok(page, 'status');
    assert.equal(expired.state, 'expired');
    assert.equal(expired.code, 'GRACE_EXPIRED');

    await context.setOffline(false);
    await advanceUntil(context, async () => (await ok(page, 'status')).state === 'valid', 'the reporter renews the authorization');
    const renewed = await ok(page, 'status');
    // The browser clock is 8 days ahead of the server's: named, and the server's time decides.
    assert.equal(renewed.code, 'CLOCK_SKEW');
    await ok(page, 'countPages', 'core', 1);
    await ok(page, 'flush');
    assert.equal(await corePages(w.data, w.licenseId), before + 3);
  });
});

test('an authorization edited in IndexedDB is refused offline and replaced online', BOUNDED, async () => {
  await inClockedBrowser(join(w.dir, 'tampering'), async (context) => {
    const page = await openTestPage(context, w.origin);
    await ok(page, 'initLicense', w.licenseKey);
    // Change one byte in the middle of the cached authorization, where its signed payload is.
    const edited = await page.evaluate(async () => {
      const db = await window.openLicetDb();
      const store = db.transaction('meta', 'readwrite').objectStore('meta');
      const bytes = await window.idbRequest(store.get('authorization'));
      bytes[bytes.length >> 1] ^= 0x01;
      await window.idbRequest(store.put(bytes, 'authorization'));
      db.close();
      return bytes.length;
    });
    assert.ok(edited > 100, `cached authorization of ${edited} bytes`);

    await context.setOffline(true);
    const refused = await call(page, 'initLicense', w.licenseKey);
    assert.equal(refused.code, 'BAD_SIGNATURE', refused.message);
    await context.setOffline(false);
    assert.equal((await ok(page, 'initLicense', w.licenseKey)).state, 'valid');
  });
});

/**
 * Issues a license as a vendor would, with no --offline-grace (the type's period applies), on a
 * project of its own; resolves the project's license key.
 * @param {string} code the project's handshake code
 * @param {string[]} terms the license's type and limits
 */
async function projectWith(code, terms) {
  const licenseFile = join(w.dir, `${code}.lic`);
  const issued = await cliJson([
    'license', 'issue', '--vendor-key', DEMO_VENDOR_SECRET, '--org', w.org, ...terms,
    '--modules', 'core', '--days', '365', '--out', licenseFile,
  ]);
  await cli(['license', 'import', '--data', w.data, licenseFile]);
  const project = await cliJson([
    'project', 'create', '--data', w.data, '--org', w.org, '--handshake-code', code, '--server-url', w.server.url,
  ]);
  await cli(['project', 'assign', '--data', w.data, '--handshake-code', code, '--license', issued.id]);
  return /** @type {string} */ (project.licenseKey);
}

/**
 * Authorizes a page of a clocked browser with `licenseKey`, checks that its offline period is
 * `period` from now, then, offline, that it counts a minute before the period ends and is
 * refused with GRACE_EXPIRED a minute after.
 * @param {string} profile
 * @param {string} licenseKey
 * @param {number} period
 */
async function offlineFor(profile, licenseKey, period) {
  await inClockedBrowser(join(w.dir, profile), async (context) => {
    const page = await openTestPage(context, w.origin);
    const before = Date.now();
    const online = await ok(page, 'initLicense', licenseKey);
    assert.equal(online.state, 'valid');
    const offlineUntil = online.offlineUntil ?? 0;
    assert.ok(offlineUntil >= before + period && offlineUntil <= Date.now() + period, `offlineUntil ${offlineUntil}`);

    await context.setOffline(true);
    await context.clock.fastForward(period - 60_000);
    await ok(page, 'countPages', 'core', 1);
    await context.clock.fastForward(2 * 60_000);
    const refused = await call(page, 'countPages', 'core', 1);
    assert.equal(refused.code, 'GRACE_EXPIRED', refused.message);
  });
}

test('per device, daily: offline, a device counts until its seat ends a day after its contact', BOUNDED, async () => {
  const key = await projectWith('daily', ['--type', 'per-device', '--active', 'daily', '--devices', '5']);
  await offlineFor('daily', key, DAY);
});

test('concurrent: offline, a device counts for 6 minutes after its contact', BOUNDED, async () => {
  const key = await projectWith('concurrent', ['--type', 'concurrent', '--devices', '5']);
  await offlineFor('concurrent', key, 6 * 60_000);
});
