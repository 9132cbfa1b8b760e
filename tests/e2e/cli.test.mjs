// The license server's CLI refuses what the vendor did not sign: a license signed by another
// vendor key, and a license file with one character altered. The genuine file is accepted.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { BOUNDED, DEMO_VENDOR_SECRET, checkBuilt, cli, cliJson, cliRaw, demoVendorPublicKey, tempDir } from './harness.mjs';

/** @type {Awaited<ReturnType<typeof tempDir>>} */
let dir;
/** @type {string} */
let data;

before(async () => {
  await checkBuilt({ pkg: false });
  dir = await tempDir('licet-e2e-cli-');
  data = join(dir.path, 'data');
  await cli(['init', '--data', data, '--vendor-public-key', await demoVendorPublicKey()]);
}, BOUNDED);

after(async () => {
  await dir?.remove();
}, BOUNDED);

/**
 * The IDs of the licenses the store holds (`usage --json` lists every imported license).
 * @returns {Promise<string[]>}
 */
async function storedLicenses() {
  /** @type {{ licenses: { license: string }[] }} */
  const usage = await cliJson(['usage', '--data', data]);
  return usage.licenses.map((l) => l.license);
}

/**
 * @param {string} vendorKey
 * @param {string} out
 */
function issue(vendorKey, out) {
  return cliJson([
    'license', 'issue', '--vendor-key', vendorKey, '--org', 'cli-org', '--type', 'per-page',
    '--quota', '100', '--modules', 'core', '--days', '30', '--out', out,
  ]);
}

test('the demo vendor secret key matches the committed demo public key', BOUNDED, async () => {
  const printed = (await cli(['vendor', 'public-key', '--vendor-key', DEMO_VENDOR_SECRET])).trim();
  assert.equal(printed, await demoVendorPublicKey());
});

test('a license signed by another vendor key is refused by license import', BOUNDED, async () => {
  const otherKey = join(dir.path, 'other-vendor.key');
  const { publicKey } = await cliJson(['vendor', 'keygen', '--out', otherKey]);
  assert.notEqual(publicKey, await demoVendorPublicKey());
  const forged = join(dir.path, 'forged.txt');
  await issue(otherKey, forged);

  const r = await cliRaw(['license', 'import', '--data', data, forged]);
  assert.equal(r.code, 1, `exit code; stdout: ${r.stdout}`);
  assert.match(r.stderr, /signature/i, 'the refusal says why on stderr');
  assert.deepEqual(await storedLicenses(), []);
});

test('a license file with one altered character is refused; the genuine one is accepted', BOUNDED, async () => {
  const genuine = join(dir.path, 'genuine.txt');
  const issued = await issue(DEMO_VENDOR_SECRET, genuine);
  const text = (await readFile(genuine, 'utf8')).trim();
  // licet-license-v1.<payload>.<signature>: change one character in the middle of the payload.
  const [prefix, payload, signature] = text.split('.');
  assert.ok(prefix && payload && signature, `license text shape: ${text.slice(0, 40)}...`);
  const i = payload.length >> 1;
  const altered = `${prefix}.${payload.slice(0, i)}${payload[i] === 'A' ? 'B' : 'A'}${payload.slice(i + 1)}.${signature}`;
  const alteredFile = join(dir.path, 'altered.txt');
  await writeFile(alteredFile, `${altered}\n`);

  const r = await cliRaw(['license', 'import', '--data', data, alteredFile]);
  assert.equal(r.code, 1, `exit code; stdout: ${r.stdout}`);
  assert.match(r.stderr, /signature/i, 'the refusal says why on stderr');
  assert.deepEqual(await storedLicenses(), []);

  const accepted = await cliRaw(['license', 'import', '--data', data, genuine]);
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.deepEqual(await storedLicenses(), [issued.id]);
});
