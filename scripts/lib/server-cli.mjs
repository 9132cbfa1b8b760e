// The licet-server CLI and the demo vendor key, shared by scripts/build.mjs, scripts/start.mjs
// and the end-to-end tests (tests/e2e/harness.mjs re-exports what the tests import): running
// the CLI, and setting up a store that holds a license signed with the demo vendor key, plus a
// project whose license key names a server.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ROOT, capture } from './proc.mjs';

/** The demo vendor's secret key (committed: for demos and tests only). */
export const DEMO_VENDOR_SECRET = join(ROOT, 'demo', 'vendor-secret-key.txt');
const DEMO_VENDOR_PUBLIC = join(ROOT, 'demo', 'vendor-public-key.txt');
const CLI_TIMEOUT_MS = 60_000;

/**
 * The licet-server binary: LICET_SERVER_BIN, else the debug build. Read at each use, so a
 * script may name another build before it starts one (scripts/bench.mjs: the release build).
 */
export function serverBin() {
  return process.env.LICET_SERVER_BIN || join(ROOT, 'target', 'debug', 'licet-server');
}

/**
 * A store that `licensedStore` made, and the license it holds.
 * @typedef {object} LicensedStore
 * @property {string} data the store's directory, for `--data`
 * @property {string} org
 * @property {string} licenseId
 * @property {string} licenseFile
 * @property {number} expiresAt Unix ms
 */

/**
 * Runs the licet-server CLI: resolves `{ code, signal, stdout, stderr }` whatever the exit code.
 * @param {readonly string[]} args
 */
export function cliRaw(args) {
  return capture(serverBin(), args, { check: false, timeout: CLI_TIMEOUT_MS });
}

/**
 * Runs the CLI and insists on exit code 0; returns its stdout.
 * @param {readonly string[]} args
 */
export async function cli(args) {
  const r = await cliRaw(args);
  if (r.code !== 0) {
    throw new Error(`licet-server ${args.join(' ')} exited with ${r.code ?? r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r.stdout;
}

/**
 * Runs the CLI with `--json` appended and parses what it prints (its shape is the command's).
 * @param {readonly string[]} args
 * @returns {Promise<any>}
 */
export async function cliJson(args) {
  const out = await cli([...args, '--json']);
  try {
    return JSON.parse(out);
  } catch {
    throw new Error(`licet-server ${args.join(' ')} --json printed no JSON: ${out}`);
  }
}

/** The demo vendor's public key (demo/vendor-public-key.txt). */
export async function demoVendorPublicKey() {
  return (await readFile(DEMO_VENDOR_PUBLIC, 'utf8')).trim();
}

/**
 * A license server store in `dir`/data: initialized with the demo vendor public key, holding
 * one per-page license (`dir`/license.txt) signed by the demo vendor key for `days` days.
 * Returns `{ data, org, licenseId, licenseFile, expiresAt }`.
 * @param {string} dir
 * @param {{ org?: string, quota?: number, modules?: string, days?: number, domains?: readonly string[] }} [license]
 * @returns {Promise<LicensedStore>}
 */
export async function licensedStore(
  dir,
  { org = 'e2e-org', quota = 100_000, modules = 'core,webcam,pdfr,ocr', days = 30, domains = [] } = {},
) {
  const data = join(dir, 'data');
  const licenseFile = join(dir, 'license.txt');
  const issued = await cliJson([
    'license', 'issue', '--vendor-key', DEMO_VENDOR_SECRET, '--org', org, '--type', 'per-page',
    '--quota', String(quota), '--modules', modules, '--days', String(days), '--out', licenseFile,
    ...domains.flatMap((d) => ['--domain', d]),
  ]);
  await cli(['init', '--data', data, '--vendor-public-key', await demoVendorPublicKey()]);
  await cli(['license', 'import', '--data', data, licenseFile]);
  return { data, org, licenseId: issued.id, licenseFile, expiresAt: issued.expiresAt };
}

/**
 * Creates a project whose license key names `serverUrl`, assigns the license; returns the key.
 * @param {Pick<LicensedStore, 'data' | 'org' | 'licenseId'>} store
 * @param {string} serverUrl
 * @returns {Promise<string>}
 */
export async function projectKey({ data, org, licenseId }, serverUrl, handshakeCode = `${org}-e2e`) {
  const project = await cliJson([
    'project', 'create', '--data', data, '--org', org, '--handshake-code', handshakeCode, '--server-url', serverUrl,
  ]);
  await cli(['project', 'assign', '--data', data, '--handshake-code', project.handshakeCode, '--license', licenseId]);
  return project.licenseKey;
}
