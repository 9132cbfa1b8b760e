// Scan sessions in real Chromium: the de-duplication rule through the JS API, argument errors
// with their JS classes and codes, scans per symbology on the server, and barcode text that
// never reaches IndexedDB.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BOUNDED, ok, openTestPage, usageOf, withWorld } from './harness.mjs';

/** @import { BarcodeResult } from '../../pkg/licet.js' */
/** @import { TestPage, World } from './harness.mjs' */

const SECRET = 'SECRET-TEXT-4711';

/** @type {World} */
let w;
/** @type {TestPage} */
let page;

withWorld((made) => {
  w = made;
});

test('a scan session counts unique scans by the de-duplication rule', BOUNDED, async () => {
  page = await openTestPage(w.context, w.origin);
  await ok(page, 'initLicense', w.licenseKey);
  const counted = await page.evaluate((secret) => {
    const session = window.licet.createScanSession({ duplicateForgetTime: 1000 });
    /**
     * @param {BarcodeResult[]} results
     * @param {number} at
     */
    const frame = (results, at) => session.recordFrame(results, at);
    return {
      forget: session.duplicateForgetTime,
      frames: [
        frame([{ format: 'QR_CODE', text: secret }, { format: 'QR_CODE', text: secret }, { format: 'EAN_13', text: '4006381333931' }], 0),
        frame([{ format: 'QR_CODE', text: secret }], 500),
        frame([{ format: 'QR_CODE', text: secret }], 1400),
        frame([{ format: 'QR_CODE', text: secret }], 2400),
        frame([], 2500),
      ],
      defaultForget: window.licet.createScanSession(undefined).duplicateForgetTime,
    };
  }, SECRET);
  assert.equal(counted.forget, 1000);
  assert.equal(counted.defaultForget, 3000);
  // 2 on the first frame; 500 and 1400 are inside the sliding window; 2400 is 1000 after 1400.
  assert.deepEqual(counted.frames, [2, 0, 0, 1, 0]);

  await ok(page, 'flush');
  const { scans } = await usageOf(w.data, w.licenseId);
  assert.deepEqual(scans, { EAN_13: 1, QR_CODE: 2 });
});

test('bad settings throw RangeError and bad results TypeError, each with a code', BOUNDED, async () => {
  const outcomes = await page.evaluate(() => {
    /** @param {() => unknown} fn */
    const outcome = (fn) => {
      try {
        fn();
        return 'no error';
      } catch (e) {
        const err = /** @type {Error & { code?: string }} */ (e);
        return `${err.constructor.name}:${err.code}`;
      }
    };
    const session = window.licet.createScanSession(undefined);
    return {
      nan: outcome(() => window.licet.createScanSession({ duplicateForgetTime: Number.NaN })),
      negative: outcome(() => window.licet.createScanSession({ duplicateForgetTime: -1 })),
      fraction: outcome(() => { session.duplicateForgetTime = 1.5; }),
      tooLong: outcome(() => { session.duplicateForgetTime = 180001; }),
      zero: outcome(() => { session.duplicateForgetTime = 0; }),
      max: outcome(() => { session.duplicateForgetTime = 180000; }),
      // @ts-expect-error -- deliberately not an array of results: recordFrame must refuse it
      notArray: outcome(() => session.recordFrame('QR_CODE', undefined)),
      // @ts-expect-error -- deliberately a result without its text: recordFrame must refuse it
      noText: outcome(() => session.recordFrame([{ format: 'QR_CODE' }], undefined)),
      badFormat: outcome(() => session.recordFrame([{ format: '', text: 'x' }], undefined)),
      badTime: outcome(() => session.recordFrame([], -5)),
      after: session.duplicateForgetTime,
    };
  });
  assert.deepEqual(outcomes, {
    nan: 'RangeError:INVALID_ARGUMENT',
    negative: 'RangeError:INVALID_ARGUMENT',
    fraction: 'RangeError:INVALID_ARGUMENT',
    tooLong: 'RangeError:INVALID_ARGUMENT',
    zero: 'no error',
    max: 'no error',
    notArray: 'TypeError:INVALID_ARGUMENT',
    noText: 'TypeError:INVALID_ARGUMENT',
    badFormat: 'TypeError:INVALID_ARGUMENT',
    badTime: 'RangeError:INVALID_ARGUMENT',
    after: 180000,
  });
});

test('barcode text never reaches IndexedDB', BOUNDED, async () => {
  // Record more frames, let them be written, and keep a sealed report waiting by going offline.
  await page.evaluate((secret) => {
    const session = window.licet.createScanSession(undefined);
    session.recordFrame([{ format: 'QR_CODE', text: `${secret}-2` }, { format: 'CODE_128', text: `${secret}-3` }], undefined);
  }, SECRET);
  await w.context.setOffline(true);
  const offline = await page.evaluate(() => window.attempt(() => window.licet.flush()));
  await w.context.setOffline(false);
  assert.equal(offline.code, 'NETWORK_ERROR');

  const dump = await page.evaluate(async () => {
    const db = await window.openLicetDb();
    /** @param {Uint8Array} bytes */
    const latin1 = (bytes) => Array.from(bytes, (b) => String.fromCharCode(b)).join('');
    /** @param {unknown} value */
    const text = (value) => (value instanceof Uint8Array ? latin1(value) : JSON.stringify(value));
    const out = [];
    for (const name of db.objectStoreNames) {
      const values = await window.idbRequest(db.transaction(name).objectStore(name).getAll());
      out.push(...values.map(text));
    }
    db.close();
    return out;
  });
  assert.ok(dump.some((v) => v.includes('CODE_128')), 'the waiting report is in IndexedDB, with its symbology');
  assert.ok(dump.every((v) => !v.includes(SECRET)), 'barcode text found in IndexedDB');

  await ok(page, 'flush');
  const { scans } = await usageOf(w.data, w.licenseId);
  assert.deepEqual(scans, { CODE_128: 1, EAN_13: 1, QR_CODE: 3 });
});

test('calling initLicense again keeps the counts the previous session held in memory', BOUNDED, async () => {
  const before = (await usageOf(w.data, w.licenseId)).scans.QR_CODE ?? 0;
  const added = await page.evaluate(async (key) => {
    const session = window.licet.createScanSession(undefined);
    const n = session.recordFrame([{ format: 'QR_CODE', text: 'kept-1' }, { format: 'QR_CODE', text: 'kept-2' }], undefined);
    await window.licet.initLicense(key, undefined); // at once: the counts are still in memory
    return n;
  }, w.licenseKey);
  assert.equal(added, 2);
  await ok(page, 'flush');
  assert.equal((await usageOf(w.data, w.licenseId)).scans.QR_CODE, before + 2);
});
