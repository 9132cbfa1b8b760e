// The offline grace with the browser's clock under the test's control: authorized online, then
// offline, the page still counts 6 days later, is refused 8 days later with GRACE_EXPIRED, and
// once back online is authorized again and delivers what it counted offline.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { BOUNDED, advanceUntil, call, corePages, inClockedBrowser, ok, openTestPage, withWorld } from './harness.mjs';

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
