// The README's quick starts for an SDK vendor and a self-hosting admin, run as written by bash
// in a fresh directory, one after the other (the admin imports the vendor's license file). Two
// things differ from a reader's shell, both said here: `S` names a wrapper of this build's
// licet-server, which runs every subcommand as is but `serve`, which it starts on a free port,
// asks /healthz and stops (a reader's `serve` runs until stopped); and `npm run build` records
// the vendor key it is given instead of building (the package `npm test` uses is built with the
// demo key, and a second build would replace it under the other tests). The PostgreSQL block
// runs against a throwaway cluster.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { startPostgres } from '../../scripts/lib/postgres.mjs';
import { serverBin } from '../../scripts/lib/server-cli.mjs';
import { BOUNDED, checkBuilt, cliJson, codeBlocks, tempDir } from './harness.mjs';

/** @type {Awaited<ReturnType<typeof tempDir>>} */
let dir;

before(async () => {
  await checkBuilt({ pkg: false });
  dir = await tempDir('licet-readme-cli-');
  await writeFile(join(dir.path, 'serve-once.mjs'), SERVE_ONCE);
  await writeFile(join(dir.path, 'licet-server'), `#!/bin/bash\nif [ "$1" = serve ]; then exec node ${JSON.stringify(join(dir.path, 'serve-once.mjs'))} "$@"; fi\nexec ${JSON.stringify(serverBin())} "$@"\n`);
  await chmod(join(dir.path, 'licet-server'), 0o755);
}, BOUNDED);

after(async () => {
  await dir?.remove();
}, BOUNDED);

/** `serve ARGS` with `--listen` on a free port: up, /healthz answered, stopped; its output kept. */
const SERVE_ONCE = `
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
const args = process.argv.slice(2).map((a, i, all) => (all[i - 1] === '--listen' ? '127.0.0.1:0' : a));
const child = spawn(${JSON.stringify(serverBin())}, args, { stdio: ['ignore', 'pipe', 'inherit'] });
const timer = setTimeout(() => { console.error('serve printed no listening line in 30 s'); child.kill('SIGKILL'); process.exit(1); }, 30000);
child.on('exit', (code) => { clearTimeout(timer); process.exit(code ?? 1); });
for await (const line of createInterface({ input: child.stdout })) {
  console.log(line);
  const url = line.match(/ listening on (http:\\/\\/\\S+)$/)?.[1];
  if (!url) continue;
  const health = await fetch(url + '/healthz');
  console.log('healthz ' + health.status);
  child.kill('SIGTERM');
}
`;

/**
 * Runs `block` with bash in the test directory, `S` on the wrapper; resolves its stdout.
 * @param {string} block
 * @param {NodeJS.ProcessEnv} [env]
 */
async function runBlock(block, env = {}, prelude = '') {
  const script = `set -euo pipefail\n${prelude}\n${block.replace(/^S=.*$/m, `S=${join(dir.path, 'licet-server')}`)}`;
  const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd: dir.path, env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  return stdout;
}

const vendorPublicKey = () => readFile(join(dir.path, 'npm-run-build.key'), 'utf8');

test("the SDK vendor's quick start makes a key, issues a license and builds with the key", BOUNDED, async () => {
  const [block] = (await codeBlocks('Quick start for an SDK vendor')).sh;
  assert.match(block, /^S=/m);
  // npm run build, recorded: what matters here is the key it is handed.
  const out = await runBlock(block, {}, 'npm() { printf "%s" "$LICET_VENDOR_PUBLIC_KEY" > npm-run-build.key; }');

  const decoded = JSON.parse(out.slice(out.indexOf('{')));
  assert.equal(decoded.id ?? decoded.license?.id, 'L-acme-2027', out);
  const printed = (await promisify(execFile)(serverBin(), ['vendor', 'public-key', '--vendor-key', join(dir.path, 'vendor.key')])).stdout.trim();
  assert.equal(await vendorPublicKey(), printed);
});

test("the admin's quick start serves the vendor's license, makes a dashboard token and a backup", BOUNDED, async () => {
  const [block] = (await codeBlocks('Quick start for a self-hosting admin')).sh;
  const out = await runBlock(block, { VENDOR_PUBLIC_KEY: await vendorPublicKey() });

  assert.match(out, /LICET1\.\S+/, 'project create prints the license key');
  assert.match(out, /licet_admin_\S+/, 'admin token create prints the token');
  assert.match(out, /healthz 200/, 'serve came up and answered');
  /** @type {{ licenses: { license: string }[] }} */
  const usage = await cliJson(['usage', '--data', join(dir.path, 'data')]);
  assert.deepEqual(usage.licenses.map((l) => l.license), ['L-acme-2027']);
  const backup = await readFile(join(dir.path, 'licet-backup.db'));
  assert.equal(backup.subarray(0, 15).toString(), 'SQLite format 3');
});

test("the admin's PostgreSQL lines import and serve the license from a database", BOUNDED, async () => {
  const [, block] = (await codeBlocks('Quick start for a self-hosting admin')).sh;
  const cluster = await startPostgres();
  try {
    const out = await runBlock(`S=\n${block}`, { VENDOR_PUBLIC_KEY: await vendorPublicKey(), DATABASE_URL: cluster.url });
    assert.match(out, /healthz 200/, out);
    /** @type {{ licenses: { license: string }[] }} */
    const usage = await cliJson(['usage', '--database', cluster.url]);
    assert.deepEqual(usage.licenses.map((l) => l.license), ['L-acme-2027']);
  } finally {
    await cluster.stop();
  }
});
