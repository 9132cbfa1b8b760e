// The directory that `licet-server serve --www` serves, shared by scripts/start.mjs and the
// end-to-end tests: www/ as it is (the demo app at /, the admin dashboard at /admin/), the npm
// package at /pkg/, and at /vendor/ the browser builds of the npm dependencies the pages import.
// Pages import those by URL (www/index.html maps the bare names `zxing-wasm/reader` and
// `pdfjs-dist` to them with an import map), with no bundler: copying the files they need from
// node_modules is the whole build step, done each time the directory is assembled, so it cannot
// go stale, and nothing comes from a CDN.

import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { ROOT } from './proc.mjs';

/** Files and folders of node_modules/ (left) served under /vendor/ (right). */
const VENDOR_FILES = [
  // The dashboard's charts.
  ['uplot/dist/uPlot.esm.js', 'uplot/uPlot.esm.js'],
  ['uplot/dist/uPlot.min.css', 'uplot/uPlot.min.css'],
  // The demo app's barcode reader: its ES modules, and the wasm its locateFile points at.
  ['zxing-wasm/dist/es', 'zxing-wasm/es'],
  ['zxing-wasm/dist/reader', 'zxing-wasm/reader'],
  // The demo app's PDF rasterizer, its worker, and what it fetches on demand.
  ['pdfjs-dist/build/pdf.min.mjs', 'pdfjs/pdf.min.mjs'],
  ['pdfjs-dist/build/pdf.worker.min.mjs', 'pdfjs/pdf.worker.min.mjs'],
  ['pdfjs-dist/standard_fonts', 'pdfjs/standard_fonts'],
  ['pdfjs-dist/cmaps', 'pdfjs/cmaps'],
  ['pdfjs-dist/wasm', 'pdfjs/wasm'],
  ['pdfjs-dist/iccs', 'pdfjs/iccs'],
];

/**
 * Fills `dest` (created if missing) with www/, pkg/ and the vendor files, and, when given,
 * demo-license-key.txt holding `licenseKey` (the key the demo app starts with); returns `dest`.
 * @param {string} dest
 * @param {{ licenseKey?: string }} [options]
 */
export async function assembleWww(dest, { licenseKey } = {}) {
  await mkdir(dest, { recursive: true });
  await cp(join(ROOT, 'www'), dest, { recursive: true });
  await cp(join(ROOT, 'pkg'), join(dest, 'pkg'), { recursive: true });
  for (const [from, to] of VENDOR_FILES) {
    const target = join(dest, 'vendor', to);
    await mkdir(dirname(target), { recursive: true });
    await cp(join(ROOT, 'node_modules', from), target, {
      recursive: true,
      // Type declarations and source maps are for editors, not for the browser.
      filter: (src) => !src.endsWith('.d.ts') && !src.endsWith('.map'),
    }).catch((err) => {
      throw new Error(`node_modules/${from} is missing: run \`npm ci\` first (${err.code})`);
    });
  }
  if (licenseKey) await writeDemoKey(dest, licenseKey);
  return dest;
}

/**
 * Gives the demo app in `www` the license key it starts with.
 * @param {string} www
 * @param {string} licenseKey
 */
export function writeDemoKey(www, licenseKey) {
  return writeFile(join(www, 'demo-license-key.txt'), `${licenseKey}\n`);
}
