// Domain binding end to end: a license bound to app.licet.test works on a page served from
// that name (which the test browser resolves to the loopback server) and is refused with
// DOMAIN_MISMATCH on the same page served from another name. (The browser module's own check
// of a cached license is tested natively, in src/tests.rs.)

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BOUNDED, call, corePages, ok, openTestPage, withWorld } from './harness.mjs';

/** @import { World } from './harness.mjs' */

/** @type {World} */
let w;

withWorld(
  (made) => {
    w = made;
  },
  { domains: ['app.licet.test'] },
);

test('the same page works on the bound origin and is refused on another', BOUNDED, async () => {
  const bound = await openTestPage(w.context, w.originOf('app.licet.test'));
  assert.equal((await ok(bound, 'initLicense', w.licenseKey)).state, 'valid');
  await ok(bound, 'countPages', 'core', 1);
  await ok(bound, 'flush');
  assert.equal(await corePages(w.data, w.licenseId), 1);

  const unbound = await openTestPage(w.context, w.originOf('other.licet.test'));
  const refused = await call(unbound, 'initLicense', w.licenseKey);
  assert.equal(refused.code, 'DOMAIN_MISMATCH', refused.message);
  const counted = await call(unbound, 'countPages', 'core', 1);
  assert.equal(counted.code, 'NOT_INITIALIZED');
  assert.equal(await corePages(w.data, w.licenseId), 1);
});
