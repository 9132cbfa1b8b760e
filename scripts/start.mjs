// `npm start` (after scripts/ensure-tools.sh): builds the npm package and the license server,
// sets up a demo license world in .licet-demo/ on the first run (reused after), and serves the
// demo page of www/ and the admin dashboard (www/admin/, at /admin/) until Ctrl-C.
//
// First run, in .licet-demo/: a per-page license for org "demo-org" (quota 10000, modules core,
// webcam, pdfr, ocr) signed with the DEMO vendor key (demo/vendor-secret-key.txt), a server
// store initialized with the demo public key, the license imported, and a project with the
// handshake code "demo-org-default" whose license key names http://127.0.0.1:PORT. Later runs
// reuse all of it; another PORT gets its own project, since a license key names its server.
//
// Every run replaces the admin token named "npm-start" with a fresh one and prints it on this
// terminal only: the store keeps only a token's hash, so a token cannot be shown again, and
// writing it to a file would leave a secret lying around. A dashboard tab of an earlier run
// then returns to its login.
//
// The server is the debug build (`cargo build -p licet-server`; LICET_SERVER_BIN names another
// binary, as for the end-to-end tests): `npm test` builds the same binary, so a first
// `npm start` after the tests compiles nothing more, and a demo on loopback does not need
// release speed (a release build would compile every dependency again).
//
// It builds with the demo vendor key whatever LICET_VENDOR_PUBLIC_KEY says (the demo license
// is signed with it). It listens on 127.0.0.1 only and refuses to run over a .licet-demo/ it did not finish
// setting up (delete that directory to start over). Ctrl-C is forwarded to the server as
// SIGINT and this script exits once the server has; a second Ctrl-C kills it.

import { spawn } from 'node:child_process';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { build, useDemoVendorKey } from './build.mjs';
import { ROOT, run, toolEnv } from './lib/proc.mjs';
import { cli, cliJson, licensedStore, projectKey, serverBin } from './lib/server-cli.mjs';
import { assembleWww } from './lib/www.mjs';

const DEFAULT_PORT = 8710;
const PORT = Number(process.env.PORT || DEFAULT_PORT);
const SERVER_URL = `http://127.0.0.1:${PORT}`;
// LICET_DEMO_DIR puts the demo world elsewhere (tests/e2e/start.test.mjs runs `npm start` so).
const DEMO = resolve(process.env.LICET_DEMO_DIR || join(ROOT, '.licet-demo'));
const DEMO_SHOWN = relative(process.cwd(), DEMO) || '.';
const STATE = join(DEMO, 'demo.json');
const ORG = 'demo-org';
const TOKEN_NAME = 'npm-start';
const STARTUP_TIMEOUT_MS = 60_000;

if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
  console.error(`start: PORT=${process.env.PORT} is not a TCP port`);
  process.exit(2);
}

/**
 * What .licet-demo/demo.json holds: the demo license, and the project made for each server URL.
 * @typedef {object} DemoState
 * @property {string} licenseId
 * @property {number} expiresAt
 * @property {Record<string, { handshakeCode: string, licenseKey: string }>} projects
 */

/** @param {string} path */
const exists = (path) => access(path).then(() => true, () => false);

/** First run: license, store and default project, made in a temp dir and renamed into place. */
async function createDemo() {
  const tmp = `${DEMO}.partial`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  console.log(`start: first run: creating the demo license, store and project in ${DEMO_SHOWN}/`);
  const { licenseId, expiresAt } = await licensedStore(tmp, { org: ORG, quota: 10_000, modules: 'core,webcam,pdfr,ocr', days: 365 });
  await writeFile(join(tmp, 'demo.json'), `${JSON.stringify({ licenseId, expiresAt, projects: {} }, null, 2)}\n`);
  await rename(tmp, DEMO);
}

/**
 * The license key for SERVER_URL: made once per server URL, then read back.
 * @param {DemoState} state
 */
async function licenseKeyFor(state) {
  if (state.projects[SERVER_URL]) return state.projects[SERVER_URL].licenseKey;
  const handshakeCode = PORT === DEFAULT_PORT ? 'demo-org-default' : `demo-org-port-${PORT}`;
  const licenseKey = await projectKey({ data: join(DEMO, 'data'), org: ORG, licenseId: state.licenseId }, SERVER_URL, handshakeCode);
  state.projects[SERVER_URL] = { handshakeCode, licenseKey };
  await writeFile(STATE, `${JSON.stringify(state, null, 2)}\n`);
  return licenseKey;
}

/**
 * .licet-demo/www: what scripts/lib/www.mjs assembles, with the demo license key, rebuilt on every start.
 * @param {string} licenseKey
 */
async function demoWww(licenseKey) {
  const www = join(DEMO, 'www');
  await rm(www, { recursive: true, force: true });
  return assembleWww(www, { licenseKey });
}

/**
 * A fresh admin token named TOKEN_NAME, revoking the one of an earlier run.
 * @returns {Promise<string>}
 */
async function adminToken() {
  const data = join(DEMO, 'data');
  /** @type {{ tokens: { name: string }[] }} */
  const { tokens } = await cliJson(['admin', 'token', 'list', '--data', data]);
  if (tokens.some((t) => t.name === TOKEN_NAME)) await cli(['admin', 'token', 'revoke', '--data', data, TOKEN_NAME]);
  const { token } = await cliJson(['admin', 'token', 'create', '--data', data, '--name', TOKEN_NAME]);
  return token;
}

/** @param {string} www */
function serve(www) {
  const child = spawn(serverBin(), ['serve', '--data', join(DEMO, 'data'), '--listen', `127.0.0.1:${PORT}`, '--www', www], {
    cwd: ROOT,
    env: toolEnv(),
    // Its own process group: Ctrl-C reaches this script, which forwards it exactly once.
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return child;
}

async function main() {
  useDemoVendorKey('npm start');
  await build();
  console.log('start: cargo build -p licet-server (debug build, shared with npm test)');
  await run('cargo', ['build', '-p', 'licet-server']);

  if (!(await exists(STATE))) {
    if (await exists(DEMO)) {
      throw new Error(`${DEMO_SHOWN}/ exists but holds no demo.json: delete ${DEMO_SHOWN}/ and run npm start again`);
    }
    await createDemo();
  }
  /** @type {DemoState} */
  const state = JSON.parse(await readFile(STATE, 'utf8'));
  const licenseKey = await licenseKeyFor(state);
  await writeFile(join(DEMO, 'license-key.txt'), `${licenseKey}\n`);
  const www = await demoWww(licenseKey);
  const token = await adminToken();

  const child = serve(www);
  // Ctrl-C reaches this script twice when npm also forwards it: a repeat within a second is
  // the same Ctrl-C. A later one kills the server.
  let stopping = 0;
  /** @param {NodeJS.Signals} signal */
  const stop = (signal) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (!stopping) {
      stopping = Date.now();
      console.log(`\nstart: ${signal}: stopping the server (Ctrl-C again to kill it)`);
      child.kill('SIGINT');
    } else if (Date.now() - stopping > 1000) {
      child.kill('SIGKILL');
    }
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Detached, the server would outlive a crash of this script: never leave it behind.
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });

  const startup = setTimeout(() => {
    console.error(`start: the server printed no listening line within ${STARTUP_TIMEOUT_MS / 1000} s`);
    child.kill('SIGKILL');
  }, STARTUP_TIMEOUT_MS);
  createInterface({ input: child.stdout }).on('line', (line) => {
    console.log(line);
    if (!line.startsWith('licet-server listening on ')) return;
    clearTimeout(startup);
    console.log(
      [
        '',
        `  Licet demo:          ${SERVER_URL}/`,
        `  admin dashboard:     ${SERVER_URL}/admin/`,
        `  admin token:         ${token} (new each run; sign in to the dashboard with it)`,
        `  demo license key:    ${licenseKey}`,
        `  license id:          ${state.licenseId} (per page, quota 10000; org ${ORG})`,
        `  data directory:      ${DEMO_SHOWN}/data (usage: target/debug/licet-server usage --data ${DEMO_SHOWN}/data)`,
        '  Ctrl-C stops the server.',
        '',
      ].join('\n'),
    );
  });

  const { code, signal } = await new Promise((r) => child.on('exit', (c, s) => r({ code: c, signal: s })));
  clearTimeout(startup);
  if (stopping && (code === 0 || signal === 'SIGINT')) {
    console.log('start: the server stopped');
    return 0;
  }
  console.error(`start: the server exited with ${code ?? signal}`);
  return code || 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`start: ${err.message}`);
    process.exit(err.exitCode ?? 1);
  },
);
