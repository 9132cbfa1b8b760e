// The license states the demo app explains beyond "Licensed" (the product test covers that and
// the offline grace), each in a world of its own: blocked on a site its license is not bound to
// (DOMAIN_MISMATCH, with what it means in plain words), on the public trial, and in tolerance
// once the quota is used up past its limit. Each saves a screenshot.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { writeDemoKey } from '../../scripts/lib/www.mjs';
import { BOUNDED, cliJson, ok, openDemoApp, openTestPage, screenshot, world } from './harness.mjs';

/** @import { World, WorldOptions } from './harness.mjs' */

/**
 * Runs `body` with a fresh world (the demo app served) and closes it afterwards.
 * @param {WorldOptions & { browser?: true }} options
 * @param {(w: World) => Promise<void>} body
 */
async function inWorld(options, body) {
  const w = await world({ demo: true, ...options });
  try {
    await body(w);
  } finally {
    await w.close();
  }
}

test('the demo app on a domain its license does not bind shows it blocked, with the code explained', BOUNDED, async () => {
  await inWorld({ domains: ['scanner.acme.example'] }, async (w) => {
    const page = await openDemoApp(w.context, w.origin, 'Blocked');
    assert.equal(await page.textContent('#license-state'), 'Blocked: DOMAIN_MISMATCH');
    // An element's textContent is never null.
    assert.match(/** @type {string} */ (await page.textContent('#license-explanation')), /not one the license is bound to/);
    await screenshot(page, 'demo-blocked');
  });
});

test('the demo app on the public trial says so', BOUNDED, async () => {
  await inWorld({}, async (w) => {
    // The demo app starts with whatever key it is served: here, the trial's, which names no project.
    const trial = await cliJson(['trial', 'set', '--data', w.data, '--handshake-code', `${w.org}-e2e`, '--server-url', w.server.url]);
    await writeDemoKey(w.www, trial.licenseKey);
    const page = await openDemoApp(w.context, w.origin, 'Trial');
    assert.equal(await page.textContent('#license-state'), 'Trial license');
    await screenshot(page, 'demo-trial');
  });
});

test('the demo app in tolerance says the license needs attention', BOUNDED, async () => {
  await inWorld({ quota: 100 }, async (w) => {
    // 102 of 100 pages: past the quota, inside its 5% tolerance.
    const app = await openTestPage(w.context, w.origin);
    await ok(app, 'initLicense', w.licenseKey);
    await ok(app, 'countPages', 'core', 102);
    await ok(app, 'flush');
    await app.close();
    const page = await openDemoApp(w.context, w.origin, 'Tolerance');
    assert.equal(await page.textContent('#license-state'), 'Tolerance: the license needs attention');
    await screenshot(page, 'demo-tolerance');
  });
});
