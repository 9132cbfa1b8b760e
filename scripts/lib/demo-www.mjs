// The demo app's build step, shared by scripts/start.mjs and the end-to-end tests: it writes the
// static files of www/ into a directory that `licet-server serve --www` then serves, with the
// npm package (pkg/) and the parts of the app's npm dependencies the browser loads, copied from
// node_modules/ into vendor/ so that nothing comes from a CDN:
//
//   vendor/zxing-wasm/es/      zxing-wasm's ES modules (the app imports es/reader/index.js)
//   vendor/zxing-wasm/reader/  zxing_reader.wasm, which the app's locateFile points at
//   vendor/pdfjs/              pdf.js (pdf.min.mjs), its worker, and what it fetches on demand:
//                              standard fonts, CMaps, ICC profiles, wasm image decoders
//
// www/index.html maps the bare names `zxing-wasm/reader` and `pdfjs-dist` to these files with an
// import map, so the app's modules import them as they would under a bundler. The license key
// the page uses is written as demo-license-key.txt by the caller.

import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ROOT } from './proc.mjs';

const MODULES = join(ROOT, 'node_modules');

/** [from (under node_modules/), to (under vendor/)] */
const VENDOR = [
  ['zxing-wasm/dist/es', 'zxing-wasm/es'],
  ['zxing-wasm/dist/reader', 'zxing-wasm/reader'],
  ['pdfjs-dist/build/pdf.min.mjs', 'pdfjs/pdf.min.mjs'],
  ['pdfjs-dist/build/pdf.worker.min.mjs', 'pdfjs/pdf.worker.min.mjs'],
  ['pdfjs-dist/standard_fonts', 'pdfjs/standard_fonts'],
  ['pdfjs-dist/cmaps', 'pdfjs/cmaps'],
  ['pdfjs-dist/wasm', 'pdfjs/wasm'],
  ['pdfjs-dist/iccs', 'pdfjs/iccs'],
];

/**
 * Writes the demo app into `dest`, over what is there: www/, pkg/, vendor/ and, when given,
 * demo-license-key.txt holding `licenseKey`. Returns `dest`.
 */
export async function assembleDemoWww(dest, { licenseKey } = {}) {
  await cp(join(ROOT, 'www'), dest, { recursive: true });
  await cp(join(ROOT, 'pkg'), join(dest, 'pkg'), { recursive: true });
  for (const [from, to] of VENDOR) {
    await mkdir(join(dest, 'vendor', to, '..'), { recursive: true });
    await cp(join(MODULES, from), join(dest, 'vendor', to), {
      recursive: true,
      // Type declarations and source maps are for editors, not for the browser.
      filter: (src) => !src.endsWith('.d.ts') && !src.endsWith('.map'),
    }).catch((err) => {
      throw new Error(`the demo app needs node_modules/${from}: run \`npm ci\` (${err.message})`);
    });
  }
  if (licenseKey) await writeFile(join(dest, 'demo-license-key.txt'), `${licenseKey}\n`);
  return dest;
}
