// The directory that `licet-server serve --www` serves, shared by scripts/start.mjs and the
// end-to-end tests: www/ as it is (the demo page at /, the admin dashboard at /admin/), the npm
// package at /pkg/, and at /vendor/ the browser builds of the npm dependencies the pages import.
// Pages import those by URL, with no bundler: copying the few files they need from node_modules
// is the whole build step, done each time the directory is assembled, so it cannot go stale.

import { cp, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { ROOT } from './proc.mjs';

/** Files of node_modules/ (left) served at /vendor/ (right). */
const VENDOR_FILES = [
  ['uplot/dist/uPlot.esm.js', 'uplot/uPlot.esm.js'],
  ['uplot/dist/uPlot.min.css', 'uplot/uPlot.min.css'],
];

/** Fills `dest` (created if missing) with www/, pkg/ and the vendor files; returns `dest`. */
export async function assembleWww(dest) {
  await mkdir(dest, { recursive: true });
  await cp(join(ROOT, 'www'), dest, { recursive: true });
  await cp(join(ROOT, 'pkg'), join(dest, 'pkg'), { recursive: true });
  for (const [from, to] of VENDOR_FILES) {
    const target = join(dest, 'vendor', to);
    await mkdir(dirname(target), { recursive: true });
    await cp(join(ROOT, 'node_modules', from), target).catch((err) => {
      throw new Error(`node_modules/${from} is missing: run \`npm ci\` first (${err.code})`);
    });
  }
  return dest;
}
