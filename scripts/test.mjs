// `npm test` (after scripts/ensure-tools.sh): every test of the project, in this order,
// stopping at the first step that fails and exiting with its exit code:
//
//   1. gates                  what a reviewer would otherwise check by hand, cheapest first:
//                             the repository stands alone (node --test tests/repo/), cargo fmt
//                             --check, clippy -D warnings natively (whole workspace, all
//                             targets) and for wasm32 (the browser crate), then the npm package
//                             build (pkg/) and tsc's strict check of the project's JavaScript
//                             against the pkg/licet.d.ts that build writes
//   2. native tests           cargo test --workspace (the server's on SQLite; property tests
//                             included, each with a bounded number of cases)
//   3. server on PostgreSQL   cargo test -p licet-server again, against the PostgreSQL server
//                             of LICET_TEST_POSTGRES if set, else a throwaway cluster on
//                             loopback (scripts/lib/postgres.mjs), which it stops after
//   4. browser unit tests     cargo test -p licet --lib --target wasm32-unknown-unknown,
//                             run by wasm-bindgen-test-runner in headless Chromium through
//                             ChromeDriver (options in webdriver.json at the crate root)
//   5. the server binary      cargo build -p licet-server
//   6. end-to-end tests       node --test tests/e2e/ (real Chromium against the real server)
//
// Each runner writes to this terminal as it goes, so CI reads their own summary lines. This
// script retries nothing and skips nothing: a step that fails ends the run. The tests sign
// their licenses with the demo vendor key, so it builds with that key whatever
// LICET_VENDOR_PUBLIC_KEY says.

import { join } from 'node:path';

import { build, useDemoVendorKey } from './build.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { ROOT, run, seconds } from './lib/proc.mjs';

useDemoVendorKey('npm test');

/** @type {[title: string, step: () => Promise<unknown>][]} */
const steps = [
  [
    'gates: standalone repository, cargo fmt, clippy (native and wasm32), pkg/ build, tsc',
    async () => {
      await run(process.execPath, ['--test', 'tests/repo/']);
      await run('cargo', ['fmt', '--all', '--check']);
      await run('cargo', ['clippy', '--workspace', '--all-targets', '--', '-D', 'warnings']);
      await run('cargo', [
        'clippy', '-p', 'licet', '--all-targets', '--target', 'wasm32-unknown-unknown', '--', '-D', 'warnings',
      ]);
      await build();
      await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    },
  ],
  ['native tests: cargo test --workspace', () => run('cargo', ['test', '--workspace'])],
  [
    'server tests on PostgreSQL: cargo test -p licet-server (LICET_TEST_POSTGRES)',
    async () => {
      // A server named by LICET_TEST_POSTGRES is used as it is; else a throwaway cluster.
      const given = process.env.LICET_TEST_POSTGRES;
      const postgres = given ? { url: given, stop: async () => {} } : await startPostgres();
      try {
        await run('cargo', ['test', '-p', 'licet-server'], { env: { LICET_TEST_POSTGRES: postgres.url } });
      } finally {
        await postgres.stop();
      }
    },
  ],
  [
    'browser unit tests: cargo test -p licet --lib --target wasm32-unknown-unknown',
    () =>
      run('cargo', ['test', '-p', 'licet', '--lib', '--target', 'wasm32-unknown-unknown'], {
        env: {
          CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: 'wasm-bindgen-test-runner',
          CHROMEDRIVER: process.env.CHROMEDRIVER || '/usr/bin/chromedriver',
          WASM_BINDGEN_TEST_WEBDRIVER_JSON: join(ROOT, 'webdriver.json'),
          WASM_BINDGEN_TEST_TIMEOUT: process.env.WASM_BINDGEN_TEST_TIMEOUT || '120',
        },
      }),
  ],
  ['server: cargo build -p licet-server', () => run('cargo', ['build', '-p', 'licet-server'])],
  ['end-to-end tests: node --test tests/e2e/', () => run(process.execPath, ['--test', 'tests/e2e/'])],
];

const started = Date.now();
for (const [i, [title, step]] of steps.entries()) {
  console.log(`\n=== [${i + 1}/${steps.length}] ${title}`);
  const t0 = Date.now();
  try {
    await step();
  } catch (caught) {
    const err = /** @type {Error & { exitCode?: number }} */ (caught);
    console.error(`\n=== [${i + 1}/${steps.length}] FAILED after ${seconds(Date.now() - t0)}: ${title}\n${err.message}`);
    process.exit(err.exitCode ?? 1);
  }
  console.log(`=== [${i + 1}/${steps.length}] done in ${seconds(Date.now() - t0)}: ${title}`);
}
console.log(`\n=== all ${steps.length} steps passed in ${seconds(Date.now() - started)}`);
