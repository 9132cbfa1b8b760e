// Shared set-up of the end-to-end tests: a license world in a temp directory (demo vendor key,
// per-page license, store, project: scripts/lib/server-cli.mjs, whose CLI helpers this module
// re-exports), a `licet-server serve` on a free loopback port serving the test page and what
// `npm start` serves (pkg/, the demo, the admin dashboard), and headless Chromium with a fresh
// profile. Everything lives under one temp directory per test file, removed afterwards.
//
// It needs `npm ci`, `npm run build` (pkg/) and `cargo build -p licet-server` done first
// (scripts/test.mjs does the last two) and refuses to start otherwise. It binds 127.0.0.1 only,
// and every wait is bounded.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, cp, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { ROOT, tempDir } from '../../scripts/lib/proc.mjs';
import { cliJson, licensedStore, projectKey, serverBin } from '../../scripts/lib/server-cli.mjs';
import { assembleWww, writeDemoKey } from '../../scripts/lib/www.mjs';

/** @import { BrowserContext, Page } from 'playwright-core' */
/** @import { LicensedStore } from '../../scripts/lib/server-cli.mjs' */
/** @import { LicenseMethod, LicenseResult, Outcome } from '../../types/e2e-page.js' */

/**
 * A page of `openTestPage` or `openDemoApp`: the uncaught errors of the page collect in `licetErrors`.
 * @typedef {Page & { licetErrors: Error[] }} TestPage
 */

/**
 * How a process ended.
 * @typedef {object} Exit
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 */

/**
 * A running `licet-server serve` (`startServer`).
 * @typedef {object} Server
 * @property {string} url its origin, http://127.0.0.1:PORT
 * @property {number} port
 * @property {() => Promise<Exit>} stop SIGTERM, then resolves once it exited
 * @property {() => Promise<Exit>} kill SIGKILL (a crash), then resolves once it exited
 */

/**
 * The options of `world`.
 * @typedef {object} WorldOptions
 * @property {number} [quota]
 * @property {string[]} [domains]
 * @property {string} [modules]
 * @property {boolean} [browser] false: no browser
 * @property {string[]} [browserArgs]
 * @property {boolean} [demo] give the demo app the world's license key
 */

/**
 * What `world` made, without a browser (`browser: false`).
 * @typedef {LicensedStore & {
 *   dir: string,
 *   www: string,
 *   server: Server,
 *   origin: string,
 *   altOrigin: string,
 *   originOf: (host: string) => string,
 *   licenseKey: string,
 *   context: undefined,
 *   close: () => Promise<Exit | null | undefined>,
 * }} BrowserlessWorld
 */

/**
 * What `world` made, with its browser `context`.
 * @typedef {Omit<BrowserlessWorld, 'context'> & { context: BrowserContext }} World
 */

/**
 * A `clockedBrowser`: `networkIdle()` resolves once no request of it is in flight.
 * @typedef {BrowserContext & { networkIdle: () => Promise<void> }} ClockedContext
 */

export { ROOT, tempDir };
export { DEMO_VENDOR_SECRET, cli, cliJson, cliRaw, demoVendorPublicKey } from '../../scripts/lib/server-cli.mjs';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** node:test options for every e2e test and hook: nothing may wait forever. */
export const BOUNDED = { timeout: 90_000 };

const HERE = dirname(fileURLToPath(import.meta.url));
const STARTUP_TIMEOUT_MS = 30_000;
const SHUTDOWN_TIMEOUT_MS = 10_000;

/** Fails with a clear message when the build steps before the e2e tests did not run. */
export async function checkBuilt({ pkg = true } = {}) {
  const needed = [[serverBin(), 'cargo build -p licet-server']];
  if (pkg) needed.push([join(ROOT, 'pkg', 'licet.js'), 'npm run build'], [join(ROOT, 'pkg', 'licet_bg.wasm'), 'npm run build']);
  for (const [file, how] of needed) {
    await access(file).catch(() => {
      throw new Error(`${file} is missing: run \`${how}\` first (npm test does)`);
    });
  }
}

/**
 * The code blocks of the README's section under `heading`, by language, in order.
 * @param {string} heading
 */
export async function codeBlocks(heading) {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`## ${heading}`);
  assert.ok(start >= 0, `README.md has a "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  /** @type {Record<string, string[]>} */
  const blocks = {};
  for (const [, lang, code] of section.matchAll(/```(\w+)\n([\s\S]*?)```/g)) (blocks[lang] ??= []).push(code);
  return blocks;
}

/**
 * What `licet-server usage --json` says one license used: `{ pages, scans }`.
 * @param {string} data
 * @param {string} licenseId
 * @returns {Promise<{ pages: Record<string, number>, scans: Record<string, number> }>}
 */
export async function usageOf(data, licenseId) {
  /** @type {{ licenses: { license: string, pages: Record<string, number>, scans: Record<string, number> }[] }} */
  const { licenses } = await cliJson(['usage', '--data', data]);
  const entry = licenses.find((l) => l.license === licenseId);
  return { pages: entry?.pages ?? {}, scans: entry?.scans ?? {} };
}

/**
 * Core pages the server holds for a license (0 when it holds none).
 * @param {string} data
 * @param {string} licenseId
 */
export async function corePages(data, licenseId) {
  return (await usageOf(data, licenseId)).pages.core ?? 0;
}

/**
 * A www directory for `serve --www`: what `npm start` serves (scripts/lib/www.mjs: the demo, the
 * admin dashboard, pkg/ and the vendor files), plus the e2e test page and worker.
 * @param {string} dir
 */
async function testWww(dir) {
  const www = await assembleWww(join(dir, 'www'));
  await cp(join(HERE, 'page.html'), join(www, 'page.html'));
  await cp(join(HERE, 'worker.mjs'), join(www, 'worker.mjs'));
  return www;
}

/**
 * Starts `licet-server serve` on 127.0.0.1 with `port` (default: one the OS picks), and
 * resolves once it printed its listening line (30 s at most). Several may serve one `data`
 * directory at once (SQLite in WAL mode), as a main server and its standbys. Returns
 * `{ url, port, stop, kill }`: `stop()` sends SIGTERM, `kill()` SIGKILL (a crash: no request
 * is finished), and each resolves `{ code, signal }` when the process has exited.
 * @param {{ data: string, www?: string, port?: number }} options
 * @returns {Promise<Server>}
 */
export function startServer({ data, www, port = 0 }) {
  const args = ['serve', '--data', data, '--listen', `127.0.0.1:${port}`, ...(www ? ['--www', www] : [])];
  const child = spawn(serverBin(), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  /** @param {string} d */
  const keep = (d) => {
    log = (log + d).slice(-64 * 1024);
    if (process.env.LICET_E2E_VERBOSE) process.stderr.write(d);
  };
  child.stderr.setEncoding('utf8').on('data', keep);
  /** @type {Promise<Exit>} */
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));

  /** @param {NodeJS.Signals} signal */
  const end = async (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    /** @type {Promise<never>} */
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`licet-server did not exit within ${SHUTDOWN_TIMEOUT_MS} ms of ${signal}\n${log}`));
      }, SHUTDOWN_TIMEOUT_MS);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const stop = () => end('SIGTERM');
  const kill = () => end('SIGKILL');

  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout });
    let listening = false;
    /** @param {string} why */
    const fail = (why) => {
      if (listening) return;
      clearTimeout(timer);
      lines.close();
      child.kill('SIGKILL');
      reject(new Error(`licet-server serve: ${why}\n${log}`));
    };
    const timer = setTimeout(() => fail(`no listening line within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    child.on('error', (err) => fail(err.message));
    child.on('exit', (code, signal) => fail(`exited with ${code ?? signal} before listening`));
    lines.on('line', (line) => {
      keep(`${line}\n`);
      const m = line.match(/^licet-server listening on (http:\/\/127\.0\.0\.1:(\d+))$/);
      if (!m) return;
      listening = true;
      clearTimeout(timer);
      resolvePromise({ url: m[1], port: Number(m[2]), stop, kill });
    });
  });
}

/**
 * Headless Chromium with a fresh profile under `dir`: a persistent context, so IndexedDB
 * behaves as in a real browser profile. `extraArgs` are added to its command line.
 * @param {string} dir
 * @param {string[]} [extraArgs]
 */
export async function launchBrowser(dir, extraArgs = []) {
  const profile = join(dir, 'chromium-profile');
  await mkdir(profile, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
      // Names that are not loopback names but reach this machine's loopback server, for
      // domain binding tests (a license may not bind localhost or 127.0.0.1 themselves).
      '--host-resolver-rules=MAP *.licet.test 127.0.0.1',
      ...extraArgs,
    ],
  });
  context.setDefaultTimeout(30_000);
  return context;
}

/**
 * Opens the test page at `origin` in a new tab and waits until the package is initialized.
 * Uncaught errors of the page collect in `page.licetErrors`.
 * @param {BrowserContext} context
 * @param {string} origin
 * @returns {Promise<TestPage>}
 */
export async function openTestPage(context, origin) {
  const page = await context.newPage();
  /** @type {Error[]} */
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  await page.goto(`${origin}/page.html`);
  await page.evaluate(() => window.licetReady);
  return Object.assign(page, { licetErrors: errors });
}

/**
 * Opens the demo app of a `world({ demo: true })` in a new tab and waits until it shows the
 * license as `pill` (the text of its license pill, "Licensed" by default). Uncaught errors of
 * the page collect in `page.licetErrors`.
 * @param {BrowserContext} context
 * @param {string} origin
 * @returns {Promise<TestPage>}
 */
export async function openDemoApp(context, origin, pill = 'Licensed') {
  /** @type {Error[]} */
  const errors = [];
  const page = Object.assign(await context.newPage(), { licetErrors: errors });
  page.on('pageerror', (err) => errors.push(err));
  await page.goto(`${origin}/`);
  await page.waitForFunction((text) => /** @type {HTMLElement} */ (document.getElementById('license-pill')).textContent === text, pill, { timeout: 20_000 });
  return page;
}

/**
 * Clicks the demo app's "Send usage now" and waits until every count it shows is covered by an
 * acknowledged report (nothing unsent, no report waiting).
 * @param {Page} page
 */
export async function sendDemoUsage(page) {
  await page.click('#send');
  await page.waitForFunction(
    () => ['unsent', 'reports-waiting'].every((id) => /** @type {HTMLElement} */ (document.getElementById(id)).textContent === '0'),
    null,
    { timeout: 30_000 },
  );
}

/**
 * Saves a full-page screenshot of `page` as test-results/screenshots/`name`.png; returns its path.
 * @param {Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  const path = join(ROOT, 'test-results', 'screenshots', `${name}.png`);
  await mkdir(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Reloads a page opened by `openTestPage` and waits until the package is initialized again.
 * @param {Page} page
 */
export async function reloadTestPage(page) {
  await page.reload();
  await page.evaluate(() => window.licetReady);
}

/**
 * Calls `LicenseManager[method](...args)` in the page and returns the outcome as data, since
 * an Error's `code` does not survive page.evaluate: `{ ok: true, value }` or
 * `{ ok: false, code, message }`. `args` go as they are, wrong ones included (tests of refusals).
 * @template {LicenseMethod} M
 * @param {Page} page
 * @param {M} method
 * @param {...unknown} args
 * @returns {Promise<Outcome<LicenseResult<M>>>}
 */
export function call(page, method, ...args) {
  return page.evaluate(
    ([m, a]) => window.attempt(() => /** @type {(...args: unknown[]) => LicenseResult<M> | PromiseLike<LicenseResult<M>>} */ (window.licet[m])(...a)),
    /** @type {const} */ ([method, args]),
  );
}

/**
 * Like `call`, but the result must be a success: returns its value.
 * @template {LicenseMethod} M
 * @param {Page} page
 * @param {M} method
 * @param {...unknown} args
 */
export async function ok(page, method, ...args) {
  const r = await call(page, method, ...args);
  if (!r.ok) throw new Error(`LicenseManager.${method}(${args.map((a) => JSON.stringify(a)).join(', ')}) failed: ${r.code}: ${r.message}`);
  return r.value;
}

/**
 * The whole world most browser tests need: store, server, license key, browser (`context`;
 * `browser: false` leaves it out, for tests that open their own, as `inClockedBrowser` does;
 * `browserArgs` adds to its command line). `demo: true` gives the demo app of www/ (served at `/`,
 * as `npm start` does) this world's license key. `originOf(host)` is the server's
 * origin under another host name. If any step fails, what was already started is stopped and
 * the temp directory removed.
 * @overload
 * @param {WorldOptions & { browser?: true }} [options]
 * @returns {Promise<World>}
 */
/**
 * @overload
 * @param {WorldOptions & { browser: false }} options
 * @returns {Promise<BrowserlessWorld>}
 */
/**
 * @overload
 * @param {WorldOptions} [options]
 * @returns {Promise<World | BrowserlessWorld>}
 */
/**
 * @param {WorldOptions} [options]
 * @returns {Promise<World | BrowserlessWorld>}
 */
export async function world({ quota, domains, modules, browser = true, browserArgs, demo = false } = {}) {
  await checkBuilt();
  const dir = await tempDir('licet-e2e-');
  /** @type {Server | undefined} */
  let server;
  /** @type {BrowserContext | undefined} */
  let context;
  let www;
  const close = async () => {
    await context?.close().catch(() => {});
    const exit = await server?.stop().catch(() => null);
    await dir.remove();
    return exit;
  };
  try {
    const store = await licensedStore(dir.path, { quota, domains, modules });
    www = await testWww(dir.path);
    server = await startServer({ data: store.data, www });
    const licenseKey = await projectKey(store, server.url);
    // The demo app, already in www/, starts with the key it finds there, as under `npm start`.
    if (demo) await writeDemoKey(www, licenseKey);
    if (browser) context = await launchBrowser(dir.path, browserArgs);
    const { port } = server;
    /** @param {string} host */
    const originOf = (host) => `http://${host}:${port}`;
    return {
      ...store,
      dir: dir.path,
      www,
      server,
      origin: server.url,
      altOrigin: originOf('localhost'),
      originOf,
      licenseKey,
      context,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Registers the hooks of a test file whose tests share one world: it is made before the first
 * test, handed to `use`, and closed after the last.
 * @template {WorldOptions} [O={}]
 * @param {(made: O extends { browser: false } ? BrowserlessWorld : World) => void} use
 * @param {O} [options]
 */
export function withWorld(use, options) {
  /** @type {World | BrowserlessWorld | undefined} */
  let made;
  before(async () => {
    made = await world(options);
    // The world `options` asked for: with a browser unless `browser: false`.
    use(/** @type {O extends { browser: false } ? BrowserlessWorld : World} */ (made));
  }, BOUNDED);
  after(async () => {
    await made?.close();
  }, BOUNDED);
}

/**
 * A browser profile under `dir` with a fake clock installed before any page runs, so that
 * minutes and days pass in an instant. Real network work still takes real time: `advanceUntil`
 * keeps the fake clock from racing past a request in flight.
 * @param {string} dir
 * @returns {Promise<ClockedContext>}
 */
async function clockedBrowser(dir) {
  const context = await launchBrowser(dir);
  await context.clock.install({ time: Date.now() });
  let inflight = 0;
  /** @type {(() => void)[]} */
  let waiters = [];
  const settle = () => {
    inflight -= 1;
    if (inflight === 0) {
      for (const wake of waiters) wake();
      waiters = [];
    }
  };
  context.on('request', () => {
    inflight += 1;
  });
  context.on('requestfinished', settle);
  context.on('requestfailed', settle);
  /** @type {() => Promise<void>} */
  const networkIdle = () => (inflight === 0 ? Promise.resolve() : new Promise((wake) => waiters.push(wake)));
  return Object.assign(context, { networkIdle });
}

/**
 * Runs `body` with a `clockedBrowser` under `dir`, and closes it whatever happens.
 * @template T
 * @param {string} dir
 * @param {(context: ClockedContext) => Promise<T>} body
 * @returns {Promise<T>}
 */
export async function inClockedBrowser(dir, body) {
  const context = await clockedBrowser(dir);
  try {
    return await body(context);
  } finally {
    await context.close();
  }
}

/**
 * Advances a `clockedBrowser`'s clock in steps of 15 s until `check()` holds (80 steps at most).
 * Before each step it waits until no request is in flight, so that no request ever sees more
 * fake time pass than one step: its 30 s deadline is then never hit by the test's jumps.
 * @param {ClockedContext} context
 * @param {() => boolean | Promise<boolean>} check
 * @param {string} what
 */
export async function advanceUntil(context, check, what) {
  for (let step = 0; step < 80; step++) {
    if (await check()) return;
    await context.networkIdle();
    await context.clock.runFor(15_000);
  }
  throw new Error(`${what}: not within 80 steps of 15 s of browser time`);
}
