// `npm run build`: builds the npm package pkg/ from the root crate `licet`.
//
//   1. cargo build -p licet --lib --target wasm32-unknown-unknown --profile wasm
//   2. wasm-bindgen --target web (the CLI must be exactly the crate's `=` version)
//   3. wasm-opt -Oz from the npm package `binaryen` (Debian's wasm-opt is too old)
//   4. pkg/package.json, then a table of raw and gzip -9 sizes, also written to pkg/sizes.json
//
// Steps 2 to 4 are skipped, and it prints "pkg/ up to date" with the recorded sizes, when pkg/
// is complete and pkg/sizes.json records the same inputs: the sha256 of the wasm cargo built
// (step 1 always runs and decides that), the trusted vendor public key, LICET_LICENSE_SERVER
// (compiled in when set), the package version, the wasm-bindgen and wasm-opt versions, and the
// sha256 of this script.
//
// The trusted vendor public key is compiled in from LICET_VENDOR_PUBLIC_KEY; without it the
// build trusts the committed demo key (demo/vendor-public-key.txt) and says so loudly.
// It refuses a LICET_VENDOR_PUBLIC_KEY that is not a base64url Ed25519 public key, and a
// wasm-bindgen CLI of another version than the crate's (their ABI must match;
// scripts/ensure-tools.sh installs the right one). It writes nothing outside pkg/ and target/.
// Importable: `build()` is what scripts/test.mjs, scripts/start.mjs and scripts/bench.mjs call.

import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

import { ROOT, capture, run, seconds } from './lib/proc.mjs';
import { demoVendorPublicKey } from './lib/server-cli.mjs';

/**
 * Raw and gzip -9 bytes.
 * @typedef {{ raw: number, gzip: number }} Size
 */

/**
 * The sizes of the package: the wasm, the JS files, both.
 * @typedef {{ wasm: Size, js: Size, total: Size }} Sizes
 */

/**
 * What a build depends on: the same inputs give the same pkg/.
 * @typedef {object} Inputs
 * @property {string} inputWasmSha256
 * @property {string} vendorPublicKey
 * @property {string | null} licenseServer
 * @property {string} version
 * @property {string} wasmBindgen
 * @property {string} wasmOpt
 * @property {string} buildScriptSha256
 */

/**
 * What pkg/sizes.json holds.
 * @typedef {Sizes & Inputs & { demoVendorKey: boolean, builtAt: string }} Report
 */

const PKG = join(ROOT, 'pkg');
const SIZES = join(PKG, 'sizes.json');
const WASM = join(ROOT, 'target', 'wasm32-unknown-unknown', 'wasm', 'licet.wasm');
const WASM_OPT = join(ROOT, 'node_modules', '.bin', 'wasm-opt');

// The features rustc's wasm32-unknown-unknown output uses today (its `target_features`
// section, shown by `wasm-opt --print-features`). Naming them keeps wasm-opt from using any
// other: `--all-features` changes the output and makes it larger.
const WASM_FEATURES = [
  '--enable-bulk-memory',
  '--enable-bulk-memory-opt',
  '--enable-nontrapping-float-to-int',
  '--enable-sign-ext',
  '--enable-mutable-globals',
  '--enable-reference-types',
  '--enable-multivalue',
  '--enable-call-indirect-overlong',
];

/**
 * The version of `name` that Cargo.lock resolved (the crate pins wasm-bindgen with `=`).
 * @param {string} name
 */
async function lockedVersion(name) {
  const lock = await readFile(join(ROOT, 'Cargo.lock'), 'utf8');
  const match = lock.match(new RegExp(`\\[\\[package\\]\\]\\nname = "${name}"\\nversion = "([^"]+)"`));
  if (!match) throw new Error(`Cargo.lock has no package ${name}`);
  return match[1];
}

async function checkWasmBindgen() {
  const wanted = await lockedVersion('wasm-bindgen');
  const { stdout } = await capture('wasm-bindgen', ['--version']).catch(() => ({ stdout: '' }));
  const found = stdout.trim().split(/\s+/)[1];
  if (found !== wanted) {
    throw new Error(
      `wasm-bindgen CLI ${found ?? 'not found'}, but the crate uses wasm-bindgen ${wanted}; ` +
        `run \`bash scripts/ensure-tools.sh\` (or \`cargo install wasm-bindgen-cli --version ${wanted}\`)`,
    );
  }
  return wanted;
}

async function vendorKey() {
  const fromEnv = process.env.LICET_VENDOR_PUBLIC_KEY?.trim();
  if (fromEnv) {
    // An Ed25519 public key: 32 bytes, unpadded base64url (what `licet-server vendor public-key` prints).
    if (!/^[A-Za-z0-9_-]{43}$/.test(fromEnv)) {
      throw new Error(`LICET_VENDOR_PUBLIC_KEY=${fromEnv} is not a vendor public key: give what \`licet-server vendor public-key\` prints`);
    }
    return { key: fromEnv, demo: false };
  }
  return { key: await demoVendorPublicKey(), demo: true };
}

/** @param {string} file */
async function sha256(file) {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/**
 * pkg/sizes.json when it records exactly `inputs` and every file of pkg/package.json exists; else null.
 * @param {Inputs} inputs
 * @returns {Promise<Report | null>}
 */
async function upToDate(inputs) {
  try {
    const report = JSON.parse(await readFile(SIZES, 'utf8'));
    if (!Object.entries(inputs).every(([name, value]) => report[name] === value)) return null;
    /** @type {{ files: string[] }} */
    const { files } = JSON.parse(await readFile(join(PKG, 'package.json'), 'utf8'));
    await Promise.all(files.map((f) => stat(join(PKG, f))));
    return report;
  } catch {
    return null; // missing or unreadable: build it
  }
}

/**
 * Raw and gzip -9 sizes: the wasm, and the JS files each gzipped on their own, as served.
 * @param {Buffer} wasm
 * @param {Buffer[]} jsFiles
 * @returns {Sizes}
 */
function sizesOf(wasm, jsFiles) {
  /**
   * @param {Buffer} buf
   * @returns {Size}
   */
  const measure = (buf) => ({ raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length });
  const w = measure(wasm);
  const j = jsFiles.map(measure).reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip }));
  return { wasm: w, js: j, total: { raw: w.raw + j.raw, gzip: w.gzip + j.gzip } };
}

/** @param {Sizes} sizes */
function sizeTable(sizes) {
  /** @param {number} n */
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`.padStart(10);
  /**
   * @param {string} name
   * @param {Size} s
   */
  const row = (name, s) => `  ${name.padEnd(20)}${String(s.raw).padStart(9)} B ${kb(s.raw)}${String(s.gzip).padStart(9)} B ${kb(s.gzip)}`;
  return [
    `  ${'file'.padEnd(20)}${'raw'.padStart(22)}${'gzip -9'.padStart(22)}`,
    row('licet_bg.wasm', sizes.wasm),
    row('licet.js + snippets', sizes.js),
    row('total', sizes.total),
  ].join('\n');
}

/**
 * For the scripts that sign their licenses with the demo vendor secret (tests, demo, bench):
 * drops LICET_VENDOR_PUBLIC_KEY from this process's environment, saying so, so that every build
 * they run (the package and the browser unit tests) trusts the demo key they sign with.
 * @param {string} who
 */
export function useDemoVendorKey(who) {
  if (process.env.LICET_VENDOR_PUBLIC_KEY) {
    console.log(`${who}: ignoring LICET_VENDOR_PUBLIC_KEY: ${who} signs its licenses with the demo vendor key`);
    delete process.env.LICET_VENDOR_PUBLIC_KEY;
  }
}

/**
 * Builds pkg/, unless it is up to date, and returns what pkg/sizes.json holds.
 * @returns {Promise<Report>}
 */
export async function build() {
  const started = Date.now();
  const { key, demo } = await vendorKey();
  if (demo) {
    console.log(
      '\n' +
        '  WARNING: LICET_VENDOR_PUBLIC_KEY is not set. This build trusts the DEMO vendor key\n' +
        `  ${key} (demo/vendor-public-key.txt),\n` +
        '  whose secret half is committed. Use such a build for demos and tests only.\n',
    );
  } else {
    console.log(`build: trusting the vendor public key from LICET_VENDOR_PUBLIC_KEY: ${key}`);
  }
  const trusting = `trusting the ${demo ? 'DEMO' : 'given'} vendor key`;
  const bindgenVersion = await checkWasmBindgen();

  console.log('build: cargo build -p licet --lib --target wasm32-unknown-unknown --profile wasm');
  await run('cargo', ['build', '-p', 'licet', '--lib', '--target', 'wasm32-unknown-unknown', '--profile', 'wasm'], {
    env: demo ? {} : { LICET_VENDOR_PUBLIC_KEY: key },
  });

  const cargoToml = await readFile(join(ROOT, 'Cargo.toml'), 'utf8');
  const version = cargoToml.match(/\[package\][^[]*?\nversion = "([^"]+)"/)?.[1] ?? '0.0.0';
  const wasmOptVersion = (await capture(WASM_OPT, ['--version'])).stdout.trim();
  const inputs = {
    inputWasmSha256: await sha256(WASM),
    vendorPublicKey: key,
    licenseServer: process.env.LICET_LICENSE_SERVER ?? null,
    version,
    wasmBindgen: bindgenVersion,
    wasmOpt: wasmOptVersion,
    buildScriptSha256: await sha256(fileURLToPath(import.meta.url)),
  };
  const current = await upToDate(inputs);
  if (current) {
    console.log(`build: pkg/ up to date (checked in ${seconds(Date.now() - started)}), ${trusting}\n${sizeTable(current)}`);
    return current;
  }

  console.log(`build: wasm-bindgen ${bindgenVersion} --target web`);
  await rm(PKG, { recursive: true, force: true });
  await mkdir(PKG, { recursive: true });
  await run('wasm-bindgen', ['--target', 'web', '--out-dir', PKG, '--out-name', 'licet', WASM]);

  console.log(`build: ${wasmOptVersion} -Oz`);
  const bgWasm = join(PKG, 'licet_bg.wasm');
  await run(WASM_OPT, ['-Oz', ...WASM_FEATURES, bgWasm, '-o', bgWasm]);

  // The glue, and the small JS modules it imports (wasm-bindgen `inline_js` snippets).
  const snippets = (await readdir(PKG, { recursive: true })).filter((f) => f.startsWith('snippets') && f.endsWith('.js')).sort();
  const files = ['licet_bg.wasm', 'licet_bg.wasm.d.ts', 'licet.js', 'licet.d.ts', ...(snippets.length ? ['snippets'] : [])];
  for (const f of files) await stat(join(PKG, f)); // every listed file exists
  const manifest = {
    name: 'licet',
    version,
    description: 'Trackable licensing for web SDKs: the browser module',
    license: 'Apache-2.0',
    type: 'module',
    main: 'licet.js',
    module: 'licet.js',
    types: 'licet.d.ts',
    exports: {
      '.': { types: './licet.d.ts', default: './licet.js' },
      './licet_bg.wasm': './licet_bg.wasm',
    },
    files,
    sideEffects: false,
  };
  await writeFile(join(PKG, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  const js = await Promise.all(['licet.js', ...snippets].map((f) => readFile(join(PKG, f))));
  const sizes = sizesOf(await readFile(bgWasm), js);
  const report = { ...sizes, ...inputs, demoVendorKey: demo, builtAt: new Date().toISOString() };
  await writeFile(SIZES, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`build: pkg/ ready in ${seconds(Date.now() - started)}, ${trusting}\n${sizeTable(sizes)}`);
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  build().catch((err) => {
    console.error(`build: ${err.message}`);
    process.exit(err.exitCode ?? 1);
  });
}
