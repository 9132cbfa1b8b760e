// The README's example of the npm package, run as written: its first ```js block after
// "## Using the npm package" is served as a module next to pkg/ (with `licenseKey` defined
// before it) and imported by a page. What it logs and what the server counts are checked.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { BOUNDED, ROOT, UUID_V4, corePages, openTestPage, withWorld } from './harness.mjs';

let w;

withWorld((made) => {
  w = made;
});

async function readmeExample() {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Using the npm package'));
  const code = section.match(/```js\n([\s\S]*?)```/)?.[1];
  assert.ok(code, 'README.md has a ```js example under "## Using the npm package"');
  return code;
}

test("the README's JavaScript example runs as written and counts its pages", BOUNDED, async () => {
  const example = await readmeExample();
  await writeFile(join(w.www, 'readme-example.mjs'), `const licenseKey = ${JSON.stringify(w.licenseKey)};\n${example}`);

  const page = await openTestPage(w.context, w.origin);
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  const outcome = await page.evaluate(() => window.attempt(() => import('/readme-example.mjs').then(() => 'done')));
  assert.deepEqual(outcome, { ok: true, value: 'done' }, JSON.stringify(outcome));

  assert.ok(logs.some((l) => l.startsWith('valid ')), `logs: ${logs.join(' | ')}`);
  assert.ok(logs.some((l) => UUID_V4.test(l)), `logs: ${logs.join(' | ')}`);
  assert.equal(await corePages(w.data, w.licenseId), 3);
  await page.close();
});
