// The license server is down when the page starts licensing and comes back later: the page
// starts on its cached authorization, keeps counting, and its usage arrives without a reload.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { BOUNDED, advanceUntil, corePages, inClockedBrowser, ok, openTestPage, startServer, withWorld } from './harness.mjs';

/** @import { BrowserlessWorld, Server } from './harness.mjs' */

/** @type {BrowserlessWorld} */
let w;

withWorld(
  (made) => {
    w = made;
  },
  { browser: false },
);

test('usage counted while the server was down at start-up arrives when it is back', BOUNDED, async () => {
  /** @type {Server | undefined} */
  let restarted;
  try {
    await inClockedBrowser(join(w.dir, 'clocked'), async (context) => {
      const page = await openTestPage(context, w.origin);
      await ok(page, 'initLicense', w.licenseKey); // caches the authorization
      const before = await corePages(w.data, w.licenseId);

      await w.server.stop();
      const offline = await ok(page, 'initLicense', w.licenseKey);
      assert.equal(offline.state, 'valid', 'the cached authorization keeps the page licensed');
      assert.equal(offline.code, 'NETWORK_ERROR');
      await ok(page, 'countPages', 'core', 4);
      await context.clock.runFor(60_000); // the reporter tries, fails and backs off

      restarted = await startServer({ data: w.data, www: w.www, port: w.server.port });
      await advanceUntil(context, async () => (await corePages(w.data, w.licenseId)) === before + 4, 'the 4 pages arrive without a reload');
      assert.equal((await ok(page, 'status')).online, true);
    });
  } finally {
    await restarted?.stop();
  }
});
