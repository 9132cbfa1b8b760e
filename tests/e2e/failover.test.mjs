// Failover to a standby license server: two `licet-server serve` processes on one data
// directory (SQLite in WAL mode), and a license key listing the main server, then the standby.
// The main is killed mid-session: the page keeps its authorization, counts on and reports
// through the standby, and the server's totals are exactly what the page counted. A main
// started again on its port is not asked while the client's back-off runs, and is used again
// once it has passed. The browser's clock is the test's and stands still unless the test moves
// it, so no scheduled report interleaves with the requests the test makes and checks, and the
// back-off passes in an instant.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  BOUNDED, advanceUntil, cli, cliJson, corePages, inClockedBrowser, ok, openTestPage, startServer, withWorld,
} from './harness.mjs';

/** @import { BrowserContext, Request } from 'playwright-core' */
/** @import { BrowserlessWorld, Server, TestPage } from './harness.mjs' */

/**
 * A request to a license server's `/v1/` routes, as `protocolLog` logs it.
 * @typedef {{ port: number, contentType: string | undefined, answered: boolean }} LoggedRequest
 */

/** `core::failover::FIRST_RETRY_MS`: how long after the main failed the client tries it first again. */
const FIRST_RETRY_MS = 5 * 60 * 1000;
/** How long the log may take to hear of the requests a call in the page has made. */
const LOG_TIMEOUT_MS = 10_000;

/** @type {BrowserlessWorld} */
let w;

withWorld(
  (made) => {
    w = made;
  },
  { browser: false },
);

/**
 * Every request of `context` to a license server's `/v1/` routes, in the order they ended:
 * `{ port, contentType, answered }` (`answered`: an HTTP answer came; else the request failed).
 * `log.reached(n)` resolves once `n` are logged (rejects after LOG_TIMEOUT_MS), since the
 * browser's network events reach the test on their own path, not with a call's result.
 * @param {BrowserContext} context
 */
function protocolLog(context) {
  /** @type {LoggedRequest[]} */
  const log = [];
  /** @type {{ n: number, wake: () => void }[]} */
  let waiters = [];
  /**
   * @param {Request} request
   * @param {boolean} answered
   */
  const add = (request, answered) => {
    const url = new URL(request.url());
    if (!url.pathname.startsWith('/v1/')) return;
    log.push({ port: Number(url.port), contentType: request.headers()['content-type'], answered });
    waiters = waiters.filter(({ n, wake }) => (log.length >= n ? (wake(), false) : true));
  };
  context.on('requestfinished', (request) => add(request, true));
  context.on('requestfailed', (request) => add(request, false));
  /**
   * @param {number} n
   * @returns {Promise<void>}
   */
  const reached = (n) =>
    new Promise((wake, reject) => {
      if (log.length >= n) return wake();
      const timer = setTimeout(() => reject(new Error(`${n} protocol requests not logged within ${LOG_TIMEOUT_MS} ms: ${JSON.stringify(log)}`)), LOG_TIMEOUT_MS);
      waiters.push({ n, wake: () => (clearTimeout(timer), wake()) });
    });
  return Object.assign(log, { reached });
}

test('the main server killed mid-session: the standby takes over, nothing is lost or counted twice, and the main is used again later', BOUNDED, async () => {
  const main = w.server;
  const standby = await startServer({ data: w.data });
  /** @type {Server | undefined} */
  let restarted;
  try {
    // The license key lists the main, then the standby: `--server-url` repeated, main first.
    const project = await cliJson([
      'project', 'create', '--data', w.data, '--org', w.org, '--handshake-code', `${w.org}-failover`,
      '--server-url', main.url, '--server-url', standby.url,
    ]);
    await cli(['project', 'assign', '--data', w.data, '--handshake-code', project.handshakeCode, '--license', w.licenseId]);
    const before = await corePages(w.data, w.licenseId);
    /** @type {TestPage} */
    let page;
    let counted = 0;
    /** @param {number} pages */
    const count = async (pages) => {
      await ok(page, 'countPages', 'core', pages);
      counted += pages;
    };
    const browserNow = () => page.evaluate(() => Date.now());

    await inClockedBrowser(join(w.dir, 'clocked'), async (context) => {
      const log = protocolLog(context);
      page = await openTestPage(context, main.url);
      assert.equal((await ok(page, 'initLicense', project.licenseKey)).state, 'valid');
      await context.clock.pauseAt((await browserNow()) + 1_000);
      await count(2);
      assert.equal((await ok(page, 'flush')).acknowledged, 1);
      await log.reached(2);
      assert.deepEqual(log.map((r) => [r.port, r.answered]), [[main.port, true], [main.port, true]], 'the main serves while it is up');
      assert.equal(await corePages(w.data, w.licenseId), before + 2);

      // Mid-session, with counts waiting in the page: the main dies.
      await count(3);
      await main.kill();
      await count(4);
      assert.equal((await ok(page, 'status')).state, 'valid');
      const failedAt = await browserNow();
      const flushed = await ok(page, 'flush');
      assert.deepEqual(flushed, { acknowledged: 1, waiting: 0 });
      await log.reached(4);
      assert.deepEqual(log.slice(2).map((r) => [r.port, r.answered]), [[main.port, false], [standby.port, true]]);
      assert.equal(await corePages(w.data, w.licenseId), before + counted, 'every page counted arrived through the standby, once');
      const status = await ok(page, 'status');
      assert.deepEqual([status.state, status.code, status.online], ['valid', null, true], 'the page keeps its authorization');

      // A main up again on its port is not asked while the back-off runs: the standby answers.
      restarted = await startServer({ data: w.data, www: w.www, port: main.port });
      await count(1);
      assert.ok((await browserNow()) < failedAt + FIRST_RETRY_MS);
      assert.equal((await ok(page, 'flush')).acknowledged, 1);
      await log.reached(5);
      assert.deepEqual(log.slice(4).map((r) => [r.port, r.answered]), [[standby.port, true]], 'the main is not asked while its back-off runs');

      // Once it has passed, the main is asked first again, answers, and keeps the client.
      const afterFlush = await browserNow();
      await advanceUntil(context, async () => (await browserNow()) >= afterFlush + FIRST_RETRY_MS, 'the back-off passes');
      // The reporter may have sent while the clock moved (to the standby before the back-off
      // passed, to the main after); from here on, only the main is asked.
      const due = log.length;
      await count(5);
      assert.equal((await ok(page, 'flush')).acknowledged, 1);
      await log.reached(due + 1);
      const back = log.slice(due);
      assert.ok(back.length > 0 && back.every((r) => r.port === main.port && r.answered), JSON.stringify(back));
      assert.equal(await corePages(w.data, w.licenseId), before + counted, 'none lost, none twice');
      assert.equal((await ok(page, 'status')).state, 'valid');

      // Every protocol request went as text/plain, which needs no CORS preflight.
      assert.deepEqual([...new Set(log.map((r) => r.contentType))], ['text/plain;charset=UTF-8']);
    });
  } finally {
    await restarted?.stop();
    await standby.stop();
  }
});
