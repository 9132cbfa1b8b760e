// The license server is down when the page starts licensing and comes back later: the page
// starts on its cached authorization, keeps counting, and its usage arrives without a reload.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { BOUNDED, corePages, launchBrowser, ok, openTestPage, startServer, withWorld } from './harness.mjs';

let w;

withWorld((made) => {
  w = made;
});

test('usage counted while the server was down at start-up arrives when it is back', BOUNDED, async () => {
  const context = await launchBrowser(join(w.dir, 'clocked'));
  await context.clock.install({ time: Date.now() });
  let restarted;
  try {
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
    let arrived = false;
    for (let step = 0; step < 80 && !arrived; step++) {
      await context.clock.runFor(15_000);
      arrived = (await corePages(w.data, w.licenseId)) === before + 4;
    }
    const status = await ok(page, 'status');
    assert.ok(arrived, `the 4 pages arrived without a reload (status ${JSON.stringify(status)}; server log:\n${restarted.log()})`);
    assert.equal(status.online, true);
  } finally {
    await context.close();
    await restarted?.stop();
  }
});
