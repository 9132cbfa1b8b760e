// `npm start`, the README's first command, run as a newcomer runs it, with its demo world in a
// temp directory (LICET_DEMO_DIR) and on a free port: it prints where the demo app and the
// admin dashboard are and an admin token; the demo app comes up licensed in Chromium; the
// dashboard, signed in with the printed token, lists the demo license; Ctrl-C (SIGINT to its
// process group, as a terminal sends it) stops it, server included.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';

import { freePort } from '../../scripts/lib/proc.mjs';
import { ROOT, UUID_V4, checkBuilt, launchBrowser, openDemoApp, screenshot, tempDir } from './harness.mjs';

/**
 * Collects the lines of `input`; `waitFor(pattern)` resolves the match of the first line so far
 * or to come that matches, and rejects once the input has ended without one, or after `ms`.
 * @param {NodeJS.ReadableStream} input
 */
function lineReader(input) {
  /** @type {string[]} */
  const seen = [];
  /** @type {Set<{ pattern: RegExp, resolve: (found: RegExpMatchArray) => void, reject: (err: Error) => void }>} */
  const waiting = new Set();
  let ended = false;
  const settle = () => {
    for (const wait of waiting) {
      const found = seen.map((line) => line.match(wait.pattern)).find(Boolean);
      if (found) wait.resolve(found);
      else if (ended) wait.reject(new Error(`npm start ended without printing ${wait.pattern}`));
      else continue;
      waiting.delete(wait);
    }
  };
  const lines = createInterface({ input });
  lines.on('line', (line) => {
    seen.push(line);
    settle();
  });
  lines.on('close', () => {
    ended = true;
    settle();
  });
  return {
    text: () => seen.join('\n'),
    // Bounded, so that a start that hangs still reaches the test's clean-up.
    /**
     * @param {RegExp} pattern
     * @returns {Promise<RegExpMatchArray>}
     */
    waitFor: (pattern, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const wait = { pattern, resolve, reject };
        const timer = setTimeout(() => {
          waiting.delete(wait);
          reject(new Error(`npm start printed no line matching ${pattern} within ${ms / 1000} s`));
        }, ms);
        wait.resolve = (found) => (clearTimeout(timer), resolve(found));
        wait.reject = (err) => (clearTimeout(timer), reject(err));
        waiting.add(wait);
        settle();
      }),
  };
}

test('npm start serves the demo app, licensed, and the dashboard with the token it prints', { timeout: 120_000 }, async () => {
  await checkBuilt();
  const dir = await tempDir('licet-e2e-start-');
  const port = await freePort();
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), LICET_DEMO_DIR: `${dir.path}/demo` },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const output = lineReader(child.stdout);
  let context;
  let ended;
  try {
    const [, demoUrl] = await output.waitFor(/^ {2}Licet demo: +(http:\S+)$/);
    const [, adminUrl] = await output.waitFor(/^ {2}admin dashboard: +(http:\S+)$/);
    const [, token] = await output.waitFor(/^ {2}admin token: +(licet_admin_\S+)/);
    assert.equal(demoUrl, `http://127.0.0.1:${port}/`);

    context = await launchBrowser(dir.path);
    const demo = await openDemoApp(context, demoUrl.replace(/\/$/, ''));
    assert.match(await demo.locator('#device').innerText(), UUID_V4);
    await screenshot(demo, 'npm-start-demo');

    const admin = await context.newPage();
    await admin.goto(adminUrl);
    await admin.fill('#token', token);
    await admin.click('#login-submit');
    await admin.locator('[data-license]').first().waitFor({ timeout: 20_000 });
    assert.match(await admin.locator('[data-license]').first().innerText(), /per-page/);
  } catch (err) {
    /** @type {Error} */ (err).message += `\nnpm start printed:\n${output.text()}`;
    throw err;
  } finally {
    await context?.close().catch(() => {});
    // npm was spawned: a spawn that fails emits 'error', which nothing here handles.
    const pid = /** @type {number} */ (child.pid);
    // Ctrl-C in a terminal reaches the whole foreground process group: npm, the script, the server.
    if (child.exitCode === null) process.kill(-pid, 'SIGINT');
    const timer = setTimeout(() => process.kill(-pid, 'SIGKILL'), 20_000);
    ended = await exited;
    clearTimeout(timer);
    await dir.remove();
  }
  assert.ok(ended.code === 0 || ended.signal === 'SIGINT', `npm start ended with ${ended.code ?? ended.signal}\n${output.text()}`);
  assert.match(output.text(), /start: the server stopped/);
});
