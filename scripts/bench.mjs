// `npm run bench` (after scripts/ensure-tools.sh): measures the two figures BENCHMARKS.md
// tracks and writes them there, between its `bench:begin` / `bench:end` markers:
//
//   - the gzip -9 size of pkg/licet_bg.wasm, pkg/licet.js and both together (from the build);
//   - the wall time of a warm `LicenseManager.initLicense` in headless Chromium against a local
//     licet-server: one first call warms everything (module compiled, device ID created, the
//     server has seen the device), then N further calls in the same page are timed one by one
//     with performance.now(); median and p95 are reported;
//   - the cost of `ScanSession.recordFrame` per result, with 10 results per frame, in the same
//     page: the steady state (the same 10 barcodes in view, all duplicates) and the worst case
//     (10 new barcodes every frame), each over FRAMES frames after a warm-up.
//
// Then the server leg (scripts/bench-server.mjs): the fleet simulator against licet-server and
// against a bare handler, written into its own section of BENCHMARKS.md.
//
// It uses the end-to-end harness (tests/e2e/harness.mjs) for the license and browser, in a
// temp directory it removes, with the *release* build of licet-server (the debug build's
// unoptimized crypto and SQLite more than triple the round trip; the first release build
// takes a few minutes). It measures on this machine only and compares with nothing
// but the reference figures of docs/architecture.md; it edits no file but BENCHMARKS.md.

import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { CHROMIUM, ok, openTestPage, world } from '../tests/e2e/harness.mjs';
import { benchServer, cpuName, writeSection } from './bench-server.mjs';
import { build, useDemoVendorKey } from './build.mjs';
import { ROOT, capture, run } from './lib/proc.mjs';

const RUNS = Number(process.env.BENCH_RUNS || 20);
const FRAMES = Number(process.env.BENCH_FRAMES || 5000);
const RECORD_FRAME_BUDGET_US = 2;
const SERVER_RELEASE = join(ROOT, 'target', 'release', 'licet-server');
const BEGIN = '<!-- bench:begin (written by `npm run bench`; edit outside these markers) -->';
const END = '<!-- bench:end -->';
const GOAL_KB = 40;
const REFERENCE = { name: 'dynamsoft-license 3.4.31', wasmKB: 71.6, jsKB: 14 };

/** @import { Page } from 'playwright-core' */
/** @import { BarcodeResult } from '../pkg/licet.js' */
/** @import { Report } from './build.mjs' */

/**
 * What `measureInit` measured: warm initLicense times (ms) and recordFrame's cost.
 * @typedef {object} InitFigures
 * @property {number} firstMs
 * @property {number} runs
 * @property {number} median
 * @property {number} p95
 * @property {number} min
 * @property {number} max
 * @property {{ repeated: number, fresh: number, returnsPromise: boolean }} recordFrame µs per result
 */

/** @param {number} bytes */
const kb = (bytes) => (bytes / 1024).toFixed(1);
/** @param {number} x */
const ms = (x) => x.toFixed(1);

/**
 * @param {number[]} sorted
 * @param {number} p
 */
function percentile(sorted, p) {
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function machine() {
  const cpu = await cpuName();
  const chromium = (await capture(CHROMIUM, ['--version'], { check: false })).stdout.trim();
  return { cores: availableParallelism(), cpu, chromium, node: process.version };
}

/**
 * µs per result of recordFrame with 10 results a frame, for repeated and for new barcodes.
 * @param {Page} page
 */
function measureRecordFrame(page) {
  return page.evaluate((frames) => {
    /**
     * @param {string} prefix
     * @param {string | number} i
     * @returns {BarcodeResult[]}
     */
    const frameOf = (prefix, i) => Array.from({ length: 10 }, (_, k) => ({ format: k % 2 ? 'QR_CODE' : 'EAN_13', text: `${prefix}-${i}-${k}` }));
    // Best of three runs, each in a fresh session: the least disturbed by the rest of the machine.
    /** @param {(key: string) => BarcodeResult[]} makeFrame */
    const run = (makeFrame) => {
      /** @param {number} round */
      const once = (round) => {
        const session = window.licet.createScanSession(undefined);
        const prepared = Array.from({ length: frames }, (_, i) => makeFrame(`${round}-${i}`));
        for (let i = 0; i < 200; i += 1) session.recordFrame(prepared[i], i * 33); // warm-up
        const start = performance.now();
        for (let i = 0; i < frames; i += 1) session.recordFrame(prepared[i], (200 + i) * 33);
        return ((performance.now() - start) * 1000) / (frames * 10);
      };
      return Math.min(once(0), once(1), once(2));
    };
    return {
      repeated: run(() => frameOf('same', 0)),
      fresh: run((i) => frameOf('new', i)),
      // Whatever pkg/licet.d.ts says: this checks what it really returns.
      returnsPromise: /** @type {unknown} */ (window.licet.createScanSession(undefined).recordFrame([], undefined)) instanceof Promise,
    };
  }, FRAMES);
}

async function measureInit() {
  // The harness starts the licet-server that LICET_SERVER_BIN names: the release build.
  process.env.LICET_SERVER_BIN = SERVER_RELEASE;
  const w = await world();
  try {
    const page = await openTestPage(w.context, w.origin);
    const t0 = Date.now();
    await ok(page, 'initLicense', w.licenseKey);
    const firstMs = Date.now() - t0;
    const samples = await page.evaluate(
      async ([key, n]) => {
        const times = [];
        for (let i = 0; i < n; i += 1) {
          const start = performance.now();
          const status = await window.licet.initLicense(key, undefined);
          times.push(performance.now() - start);
          if (status.state !== 'valid') throw new Error(`initLicense gave state ${status.state}`);
        }
        return times;
      },
      /** @type {const} */ ([w.licenseKey, RUNS]),
    );
    const sorted = [...samples].sort((a, b) => a - b);
    const recordFrame = await measureRecordFrame(page);
    return {
      firstMs,
      runs: RUNS,
      median: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      min: sorted[0],
      max: /** @type {number} */ (sorted.at(-1)), // BENCH_RUNS is a positive count
      recordFrame,
    };
  } finally {
    await w.close();
  }
}

/**
 * @param {object} figures
 * @param {Report} figures.sizes
 * @param {InitFigures} figures.init
 * @param {Awaited<ReturnType<typeof machine>>} figures.env
 * @param {string} figures.date
 */
function section({ sizes, init, env, date }) {
  const refTotal = REFERENCE.wasmKB + REFERENCE.jsKB;
  const totalKB = sizes.total.gzip / 1024;
  return `${BEGIN}
## Latest figures

Measured ${date} with \`npm run bench\` on ${env.cores} cores (${env.cpu}), ${env.chromium}, Node ${env.node}.
Build: wasm-bindgen ${sizes.wasmBindgen}, ${sizes.wasmOpt} \`-Oz\`, Cargo profile \`wasm\`${sizes.demoVendorKey ? ' (demo vendor key)' : ''}.

### Size of the browser module (gzip -9)

| file | raw | gzip -9 |
| --- | ---: | ---: |
| \`pkg/licet_bg.wasm\` | ${kb(sizes.wasm.raw)} KB | ${kb(sizes.wasm.gzip)} KB |
| \`pkg/licet.js\` and its snippets | ${kb(sizes.js.raw)} KB | ${kb(sizes.js.gzip)} KB |
| **total** | ${kb(sizes.total.raw)} KB | **${kb(sizes.total.gzip)} KB** |

Goal: under ${GOAL_KB} KB together (${totalKB < GOAL_KB ? 'met' : `not met yet: ${(totalKB - GOAL_KB).toFixed(1)} KB over`}).
Reference to beat (docs/architecture.md): ${REFERENCE.name}, ${REFERENCE.wasmKB} KB of wasm + ${REFERENCE.jsKB} KB of JS = ${refTotal.toFixed(1)} KB gzipped; we are at ${((100 * totalKB) / refTotal).toFixed(0)}% of it.

### Warm \`initLicense\` in headless Chromium

Against a local \`licet-server serve\` (release build, 127.0.0.1) with a per-page license. The first call
(device ID created, the server meets the device) took ${init.firstMs} ms and is not counted; then
${init.runs} calls in the same page, each timed with \`performance.now()\`:

| median | p95 | min | max |
| ---: | ---: | ---: | ---: |
| ${ms(init.median)} ms | ${ms(init.p95)} ms | ${ms(init.min)} ms | ${ms(init.max)} ms |

### \`ScanSession.recordFrame\` in headless Chromium

10 results per frame, ${FRAMES} frames after 200 warm-up frames, best of three runs, in the page above. \`recordFrame\`
is synchronous (it returns a number${init.recordFrame.returnsPromise ? ', BUT IT RETURNED A PROMISE' : ', not a promise'}): counts wait in memory and reach IndexedDB in a
batch about every second, so no call waits on storage. Budget: ${RECORD_FRAME_BUDGET_US} µs per result.

| barcodes in view | µs per result |
| --- | ---: |
| the same 10 in every frame (steady state) | ${init.recordFrame.repeated.toFixed(2)} |
| 10 new ones in every frame (worst case) | ${init.recordFrame.fresh.toFixed(2)} |
${END}`;
}

const HEADER = `# Benchmarks

What the browser module weighs, how long a warm \`initLicense\` takes, what
\`recordFrame\` costs, and what the license server takes under a simulated fleet. Reproduce with
\`npm run bench\` (it builds \`pkg/\` and the server first); it rewrites the sections below.
`;

async function main() {
  useDemoVendorKey('npm run bench');
  const sizes = await build();
  console.log('bench: cargo build -p licet-server -p licet-fleet --release');
  await run('cargo', ['build', '-p', 'licet-server', '-p', 'licet-fleet', '--release']);
  console.log(`bench: warm initLicense, ${RUNS} timed calls`);
  const init = await measureInit();
  const env = await machine();
  const date = new Date().toISOString().slice(0, 10);

  console.log(`\nbench: gzip -9 sizes: wasm ${kb(sizes.wasm.gzip)} KB, js ${kb(sizes.js.gzip)} KB, total ${kb(sizes.total.gzip)} KB (goal < ${GOAL_KB} KB)`);
  console.log(`bench: warm initLicense over ${RUNS} calls: median ${ms(init.median)} ms, p95 ${ms(init.p95)} ms (first call ${init.firstMs} ms)`);
  console.log(`bench: recordFrame, 10 results a frame: ${init.recordFrame.repeated.toFixed(2)} µs/result repeated, ${init.recordFrame.fresh.toFixed(2)} µs/result new (budget ${RECORD_FRAME_BUDGET_US})`);

  await writeSection(BEGIN, END, section({ sizes, init, env, date }), HEADER);
  console.log('bench: the license server under a simulated fleet');
  await benchServer({ ...env, date });
  console.log('bench: BENCHMARKS.md updated');
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exit(err.exitCode ?? 1);
});
