// The README's JavaScript, run as written: the quick start for a web developer (its install
// line in a fresh directory, its example under its own Content Security Policy on a page of
// another origin than the license server, so the policy must name the server to let the module
// reach it, and its error handling before and after the license is initialized), and the other
// form of `initLicense` (with this test's organization and handshake code for the README's
// "acme" and "acme-web"). What they log and what the server counts are checked.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { BOUNDED, ROOT, UUID_V4, call, codeBlocks, corePages, openTestPage, tempDir, withWorld } from './harness.mjs';

/** @import { World } from './harness.mjs' */

/** @type {World} */
let w;

withWorld((made) => {
  w = made;
});

const quickStart = () => codeBlocks('Quick start for a web developer');

/**
 * Writes `code` as a module of the test site that sees `licenseKey` first; returns its path.
 * @param {string} name
 * @param {string} code
 */
async function asModule(name, code) {
  await writeFile(join(w.www, name), `const licenseKey = ${JSON.stringify(w.licenseKey)};\n${code}`);
  return `/${name}`;
}

test("the quick start's install line installs the package named licet", BOUNDED, async () => {
  const [install] = (await quickStart()).sh;
  const line = install.split('\n').find((l) => l.startsWith('npm install'));
  assert.ok(line, install);
  const dir = await tempDir('licet-readme-install-');
  try {
    await symlink(join(ROOT, 'pkg'), join(dir.path, 'pkg'));
    await promisify(execFile)('bash', ['-c', line], { cwd: dir.path });
    const installed = JSON.parse(await readFile(join(dir.path, 'node_modules', 'licet', 'package.json'), 'utf8'));
    assert.equal(installed.name, 'licet');
  } finally {
    await dir.remove();
  }
});

test("the quick start's example runs as written under its Content Security Policy and counts its pages", BOUNDED, async () => {
  const { js, http } = await quickStart();
  const policy = http[0].match(/^Content-Security-Policy: (.+)$/m)?.[1];
  assert.ok(policy, http[0]);
  // The README's example servers stand for the ones the license key names: this test's server.
  const ours = policy.replace(/ https:\/\/\S+/g, '').replace("connect-src 'self'", `connect-src 'self' ${w.origin}`);
  assert.notEqual(ours, policy);
  const example = await asModule('readme-example.mjs', js[0]);
  await writeFile(
    join(w.www, 'readme-run.mjs'),
    `window.outcome = import('${example}').then(() => ({ ok: true }), (e) => ({ ok: false, code: e?.code ?? null, message: String(e?.message ?? e) }));\n`,
  );
  await writeFile(
    join(w.www, 'readme-csp.html'),
    `<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${ours}"><script type="module" src="/readme-run.mjs"></script>\n`,
  );

  // Served from another origin than the license server: only the policy's entry lets it in.
  const page = await w.context.newPage();
  /** @type {string[]} */
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  await page.goto(`${w.altOrigin}/readme-csp.html`);
  // readme-run.mjs sets `window.outcome`.
  const outcome = await page.evaluate(() => /** @type {typeof window & { outcome: Promise<unknown> }} */ (window).outcome);
  const refused = logs.filter((l) => l.includes('Content Security Policy'));
  assert.deepEqual(outcome, { ok: true }, JSON.stringify({ outcome, refused }));

  assert.deepEqual(refused, []);
  assert.ok(logs.some((l) => l.startsWith('valid ')), `logs: ${logs.join(' | ')}`);
  assert.ok(logs.some((l) => UUID_V4.test(l)), `logs: ${logs.join(' | ')}`);
  assert.equal(await corePages(w.data, w.licenseId), 3);
  await page.close();
});

test("the quick start's error handling branches on the code: before initLicense, and after it", BOUNDED, async () => {
  const { js } = await quickStart();
  const handling = await asModule('readme-errors.mjs', `import { LicenseManager } from '/pkg/licet.js';\n${js[1]}`);
  const page = await openTestPage(w.context, w.origin);
  /** @type {string[]} */
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));

  const before = await page.evaluate((path) => window.attempt(() => import(`${path}?before`)), handling);
  assert.ok(before.ok, JSON.stringify(before));
  assert.ok(logs.includes('not licensed yet'), `logs: ${logs.join(' | ')}`);

  const init = await call(page, 'initLicense', w.licenseKey);
  assert.ok(init.ok, JSON.stringify(init));
  const after = await page.evaluate((path) => window.attempt(() => import(`${path}?after`)), handling);
  assert.ok(after.ok, JSON.stringify(after));
  assert.ok(logs.includes('counted'), `logs: ${logs.join(' | ')}`);
  await page.close();
});

test("the README's initLicense with an organization and a handshake code authorizes that project", BOUNDED, async () => {
  const [block] = (await codeBlocks('Using the npm package')).js;
  const ours = block.replaceAll('"acme-web"', JSON.stringify(`${w.org}-e2e`)).replaceAll('"acme"', JSON.stringify(w.org));
  assert.notEqual(ours, block);
  const path = await asModule('readme-project.mjs', `import { LicenseManager } from '/pkg/licet.js';\n${ours}\nconsole.log('project ' + LicenseManager.status().handshakeCode);`);
  const page = await openTestPage(w.context, w.origin);
  /** @type {string[]} */
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  const outcome = await page.evaluate((p) => window.attempt(() => import(p)), path);
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.ok(logs.includes(`project ${w.org}-e2e`), `logs: ${logs.join(' | ')}`);
  await page.close();
});
