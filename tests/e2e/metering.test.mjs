// Reports that are never lost and never doubled, in real Chromium against the real server, with
// the browser's clock under the test's control (context.clock) so that 3-minute slots pass in
// an instant: offline across several slots, many tabs with one reporter, an abrupt close.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { BOUNDED, advanceUntil, inClockedBrowser, ok, openTestPage, usageOf, withWorld } from './harness.mjs';

/** @import { Page, Route } from 'playwright-core' */
/** @import { BrowserlessWorld, ClockedContext } from './harness.mjs' */

const SLOT_MS = 180_000;

/** @type {BrowserlessWorld} */
let w;

withWorld(
  (made) => {
    w = made;
  },
  { browser: false },
);

let browsers = 0;

/**
 * Runs `body` in a browser profile of its own, with a fake clock.
 * @param {(context: ClockedContext) => Promise<void>} body
 */
function inClocked(body) {
  return inClockedBrowser(join(w.dir, `clocked-${browsers++}`), body);
}

async function totals() {
  const { pages, scans } = await usageOf(w.data, w.licenseId);
  /** @param {Record<string, number>} counts */
  const sum = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);
  return { pages: sum(pages), scans: sum(scans) };
}

/**
 * How many batch records wait in the origin's IndexedDB `pending` store (shared by its tabs).
 * @param {Page} page
 */
function pendingRecords(page) {
  return page.evaluate(async () => {
    const db = await window.openLicetDb();
    const count = await window.idbRequest(db.transaction('pending').objectStore('pending').count());
    db.close();
    return count;
  });
}

/**
 * Reads `pendingRecords` until there are at least `count`, for 10 s of real time at most (an
 * IndexedDB write takes real time, whatever the page's fake clock says); returns the last count.
 * @param {Page} page
 * @param {number} count
 */
async function pendingRecordsReach(page, count) {
  const until = Date.now() + 10_000;
  let written = await pendingRecords(page);
  while (written < count && Date.now() < until) written = await pendingRecords(page);
  return written;
}

/**
 * Records `count` distinct barcodes in one frame of a new scan session; returns what it added.
 * @param {Page} page
 * @param {string} prefix
 * @param {number} count
 */
function recordDistinct(page, prefix, count) {
  return page.evaluate(
    ([p, n]) =>
      window.licet.createScanSession(undefined).recordFrame(Array.from({ length: n }, (_, i) => ({ format: 'QR_CODE', text: `${p}-${i}` })), undefined),
    /** @type {const} */ ([prefix, count]),
  );
}

test('usage recorded offline across several slots arrives once when the network returns', BOUNDED, async () => {
  await inClocked(async (context) => {
    const page = await openTestPage(context, w.origin);
    await ok(page, 'initLicense', w.licenseKey);
    const before = await totals();
    await context.setOffline(true);
    for (const n of [1, 2, 3]) {
      await ok(page, 'countPages', 'core', n);
      await context.clock.runFor(SLOT_MS);
    }
    assert.deepEqual(await totals(), before, 'nothing can arrive while offline');
    assert.equal((await ok(page, 'status')).online, false);

    await context.setOffline(false);
    await advanceUntil(context, async () => (await totals()).pages === before.pages + 6, 'the 6 offline pages arrive');
    // More slots and retries pass: nothing is counted twice.
    await context.clock.runFor(3 * SLOT_MS);
    await ok(page, 'flush');
    assert.equal((await totals()).pages, before.pages + 6);
  });
});

test('many tabs count into one ledger, one reports, and another takes over when it closes', BOUNDED, async () => {
  await inClocked(async (context) => {
    const before = await totals();
    const tabs = [];
    for (let i = 0; i < 3; i++) {
      const tab = await openTestPage(context, w.origin);
      await ok(tab, 'initLicense', w.licenseKey);
      tabs.push(tab);
    }
    /** @param {Page[]} pages */
    const reporters = async (pages) => (await Promise.all(pages.map((p) => ok(p, 'status')))).map((s) => s.reporter);
    assert.deepEqual(await reporters(tabs), [true, false, false], 'the first tab holds the reporter lock');

    const first = await Promise.all(tabs.map((tab, i) => recordDistinct(tab, `tab${i}-a`, 5 + 2 * i)));
    assert.deepEqual(first, [5, 7, 9]);
    // Every tab's batch timer fires within a browser second; its IndexedDB write then takes
    // real time, so the first tab closes only once all three batches are written (a page
    // closed mid-write loses its last second of counts, which is not what this test is about).
    await context.clock.runFor(2_000);
    assert.equal(await pendingRecordsReach(tabs[0], 3), 3, 'one batch record per tab');
    await tabs[0].close();
    const rest = tabs.slice(1);
    await advanceUntil(context, async () => (await reporters(rest)).includes(true), 'another tab takes over reporting');
    assert.equal((await reporters(rest)).filter(Boolean).length, 1, 'exactly one reporter');

    const second = await Promise.all(rest.map((tab, i) => recordDistinct(tab, `tab${i + 1}-b`, 3 + i)));
    assert.deepEqual(second, [3, 4]);
    const recorded = 5 + 7 + 9 + 3 + 4;
    await advanceUntil(context, async () => (await totals()).scans === before.scans + recorded, 'every tab\'s scans arrive');
    await context.clock.runFor(2 * SLOT_MS);
    assert.equal((await totals()).scans, before.scans + recorded, 'and are counted once');
  });
});

test('counts recorded 2 s before an abrupt close are all on the server after a reopen', BOUNDED, async () => {
  await inClocked(async (context) => {
    const before = await totals();
    const page = await openTestPage(context, w.origin);
    await ok(page, 'initLicense', w.licenseKey);
    assert.equal(await recordDistinct(page, 'closing', 11), 11);
    await context.clock.runFor(2_000);
    await page.close();

    const again = await openTestPage(context, w.origin);
    await ok(again, 'initLicense', w.licenseKey);
    await ok(again, 'flush');
    assert.equal((await totals()).scans, before.scans + 11);
  });
});

test('a server that never answers is a network error after 30 s, and nothing is lost', BOUNDED, async () => {
  await inClocked(async (context) => {
    const page = await openTestPage(context, w.origin);
    await ok(page, 'initLicense', w.licenseKey);
    const before = await totals();
    await ok(page, 'countPages', 'core', 2);
    /** @type {Route[]} */
    const held = [];
    await page.route('**/v1/reports', (route) => {
      held.push(route); // never answered
    });
    // The page's clock flows at the real rate between the test's jumps: this waits the 30 s.
    const outcome = await page.evaluate(() => window.attempt(() => window.licet.flush()));
    // The reporter's own schedule may send too if a slot closes during the 30 s: both are held.
    assert.ok(held.length >= 1, 'the report request was sent and held');
    assert.equal(outcome.code, 'NETWORK_ERROR');
    // The app can show it: one report waits, none was acknowledged.
    assert.deepEqual(await ok(page, 'reports'), { acknowledged: 0, waiting: 1 });
    await page.unroute('**/v1/reports');
    await Promise.all(held.map((route) => route.abort().catch(() => {})));

    await ok(page, 'flush');
    assert.equal((await totals()).pages, before.pages + 2);
    assert.deepEqual(await ok(page, 'reports'), { acknowledged: 1, waiting: 0 });
  });
});

test('counts still in memory are written when the page is hidden, without waiting for the batch timer', BOUNDED, async () => {
  await inClocked(async (context) => {
    const page = await openTestPage(context, w.origin);
    await ok(page, 'initLicense', w.licenseKey);
    // Stop the browser clock: from here no timer of the page fires, the batch timer included.
    await context.clock.pauseAt(Date.now() + 60_000);
    assert.equal(await recordDistinct(page, 'hidden', 3), 3);
    assert.equal(await pendingRecords(page), 0, 'the counts are still in memory');
    await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false })));
    assert.equal(await pendingRecordsReach(page, 1), 1, 'one batch record for the 3 scans, written on pagehide');
  });
});
