// The server leg of `npm run bench` (scripts/bench.mjs calls it; `node scripts/bench-server.mjs`
// runs it alone, after `cargo build --release -p licet-server -p licet-fleet`): the fleet
// simulator (crates/fleet) plays BENCH_FLEET_DEVICES devices, each authorizing once and then
// reporting BENCH_FLEET_SLOTS slots of 3 minutes in compressed time, BENCH_FLEET_CONCURRENCY
// requests in flight (128 by default: see CONCURRENCY below; each phase's requests sealed before its clock starts and its answers
// verified after it stops, so that the clock holds only the HTTP exchanges), against
//
//   - release `licet-server serve` on SQLite, over a fresh store holding a per-page license
//     bound to the simulator's domain; the simulator checks afterwards that `licet-server usage`
//     holds exactly what its devices recorded;
//   - the same on PostgreSQL: a throwaway cluster on loopback with fsync on, as shipped
//     (scripts/lib/postgres.mjs, stopped afterwards), or the database LICET_BENCH_POSTGRES names, where it imports the
//     license and makes a project of its own;
//   - `licet-fleet bare`, an axum handler that only answers 200, in the same run, as the
//     baseline that every figure is divided by.
//
// It writes the figures into BENCHMARKS.md between its own `bench-server:begin/end` markers.
// licet-server's per-address rate limit is turned off for these runs (`--rate-limit 0`): the
// whole fleet comes from 127.0.0.1.

import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

import { startPostgres } from './lib/postgres.mjs';
import { ROOT, capture, tempDir } from './lib/proc.mjs';
import { cli, cliJson, demoVendorPublicKey, licensedStore, projectKey } from './lib/server-cli.mjs';

/**
 * One phase's figures, as `licet-fleet run --json` prints them (crates/fleet/src/play.rs `Phase`).
 * @typedef {object} Phase
 * @property {number} requests
 * @property {number} seconds
 * @property {number} perSecond
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} maxMs
 * @property {number} firstTenthPerSecond
 * @property {number} lastTenthPerSecond
 * @property {number} fleetCpuSeconds
 */

/**
 * What `licet-fleet run --json` prints, as far as this script reads it.
 * @typedef {object} Figures
 * @property {Phase} authorize
 * @property {Phase} reports
 * @property {boolean} checked whether the server's totals were checked against what the devices recorded
 */

/**
 * Every leg's figures, and what the run was.
 * @typedef {object} Measured
 * @property {{ devices: number, slots: number, concurrency: number }} plan
 * @property {number} load the 1-minute load average at the start
 * @property {{ name: string, figures: Figures }[]} legs
 * @property {Figures} bare
 */

/**
 * The machine a run was on, and its date (YYYY-MM-DD).
 * @typedef {{ cores: number, cpu: string, date: string }} RunEnv
 */

/**
 * A process started by `listening`.
 * @typedef {object} Listening
 * @property {string} url
 * @property {() => Promise<{ code: number | null, signal: NodeJS.Signals | null }>} stop
 */

const DEVICES = Number(process.env.BENCH_FLEET_DEVICES || 4000);
const SLOTS = Number(process.env.BENCH_FLEET_SLOTS || 5);
// A fleet of 900,000 devices reporting every 3 minutes sends 5,000 requests a second; at a few
// tens of milliseconds each, a few hundred are in flight at any moment (Little's law). 128 in
// flight is below that, so the server's group commit is not flattered.
const CONCURRENCY = Number(process.env.BENCH_FLEET_CONCURRENCY || 128);
const POSTGRES = process.env.LICET_BENCH_POSTGRES || '';
const SERVER = join(ROOT, 'target', 'release', 'licet-server');
const FLEET = join(ROOT, 'target', 'release', 'licet-fleet');
const BENCHMARKS = join(ROOT, 'BENCHMARKS.md');
const BEGIN = '<!-- bench-server:begin (written by `npm run bench`; edit outside these markers) -->';
const END = '<!-- bench-server:end -->';
const DOMAIN = 'fleet.example.com';
const GOAL = { reports: 5000, authorizations: 10000 };
const LISTEN_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Starts `cmd args`, which prints a line `... listening on http://ADDR` once bound; resolves
 * `{ url, stop }` (30 s at most). `stop()` sends SIGTERM and resolves when the process exited.
 * @param {string} cmd
 * @param {string[]} args
 * @returns {Promise<Listening>}
 */
function listening(cmd, args) {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (log = (log + d).slice(-16 * 1024)));
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout });
    let up = false;
    /** @param {string} why */
    const fail = (why) => {
      if (up) return;
      clearTimeout(timer);
      lines.close();
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: ${why}\n${log}`));
    };
    const timer = setTimeout(() => fail(`no listening line within ${LISTEN_TIMEOUT_MS} ms`), LISTEN_TIMEOUT_MS);
    child.on('error', (err) => fail(err.message));
    child.on('exit', (code, signal) => fail(`exited with ${code ?? signal} before listening`));
    lines.on('line', (line) => {
      const m = line.match(/ listening on (http:\/\/\S+)$/);
      if (!m) return;
      up = true;
      clearTimeout(timer);
      resolvePromise({ url: m[1], stop });
    });
  });
}

/**
 * Runs the fleet with the shared plan and `args`; resolves its JSON figures.
 * @param {string[]} args
 * @returns {Promise<Figures>}
 */
async function fleet(args) {
  const plan = ['--devices', String(DEVICES), '--slots', String(SLOTS), '--concurrency', String(CONCURRENCY), '--domain', DOMAIN];
  const { stdout } = await capture(FLEET, ['run', ...plan, ...args, '--json']);
  return JSON.parse(stdout);
}

/**
 * One leg against licet-server over `store` (`['--data', dir]` or `['--database', url]`).
 * @param {string} name
 * @param {string[]} store
 * @param {(url: string) => Promise<string>} licenseKeyFor
 */
async function serverLeg(name, store, licenseKeyFor) {
  const server = await listening(SERVER, ['serve', ...store, '--listen', '127.0.0.1:0', '--rate-limit', '0']);
  try {
    const key = await licenseKeyFor(server.url);
    console.log(`bench: fleet against licet-server on ${name}`);
    return { key, figures: await fleet(['--key', key, ...store, '--server-bin', SERVER]) };
  } finally {
    await server.stop();
  }
}

const LICENSE = { org: 'fleet', quota: 1_000_000_000_000, domains: [DOMAIN], days: 30 };

/**
 * A directory `name` under `dir` for one leg's store and license file.
 * @param {string} dir
 * @param {string} name
 */
async function legDir(dir, name) {
  const path = join(dir, name);
  await mkdir(path);
  return path;
}

/** @param {string} dir */
async function sqliteLeg(dir) {
  const store = await licensedStore(await legDir(dir, 'sqlite'), LICENSE);
  return serverLeg('SQLite', ['--data', store.data], (url) => projectKey(store, url, 'fleet-bench'));
}

/**
 * @param {string} dir
 * @param {string} database
 */
async function postgresLeg(dir, database) {
  // licensedStore issues the license file (and makes a SQLite store of it that is not served).
  const issued = await licensedStore(await legDir(dir, 'postgres'), LICENSE);
  const store = ['--database', database];
  await cli(['init', ...store, '--vendor-public-key', await demoVendorPublicKey()]);
  await cli(['license', 'import', ...store, issued.licenseFile]);
  // A database kept between runs already holds the projects of earlier runs.
  const code = `fleet-bench-${Date.now()}`;
  return serverLeg('PostgreSQL', store, async (url) => {
    const project = await cliJson(['project', 'create', ...store, '--org', LICENSE.org, '--handshake-code', code, '--server-url', url]);
    await cli(['project', 'assign', ...store, '--handshake-code', code, '--license', issued.licenseId]);
    return project.licenseKey;
  });
}

/** @param {string} key */
async function bareLeg(key) {
  const bare = await listening(FLEET, ['bare', '--listen', '127.0.0.1:0']);
  try {
    console.log('bench: fleet against the bare handler');
    return await fleet(['--key', key, '--server', bare.url, '--bare']);
  } finally {
    await bare.stop();
  }
}

/** The CPU's model name, from /proc/cpuinfo. */
export async function cpuName() {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? 'unknown CPU';
}

/**
 * Runs every leg; resolves `{ plan, load, legs: [{ name, figures }], bare }`. The binaries
 * must be built (`cargo build --release -p licet-server -p licet-fleet`).
 * @returns {Promise<Measured>}
 */
export async function measureServer() {
  // server-cli.mjs runs the licet-server that LICET_SERVER_BIN names: the release build.
  process.env.LICET_SERVER_BIN = SERVER;
  const dir = await tempDir('licet-bench-');
  try {
    const load = loadavg()[0];
    const sqlite = await sqliteLeg(dir.path);
    const legs = [{ name: 'SQLite', figures: sqlite.figures }];
    // The cluster's database `postgres` serves as the store: the cluster is this run's alone.
    const cluster = POSTGRES ? null : await startPostgres({ durable: true });
    try {
      // Without LICET_BENCH_POSTGRES, the cluster was started just above.
      const database = POSTGRES || /** @type {{ url: string }} */ (cluster).url;
      legs.push({ name: 'PostgreSQL', figures: (await postgresLeg(dir.path, database)).figures });
    } finally {
      await cluster?.stop();
    }
    const bare = await bareLeg(sqlite.key);
    return { plan: { devices: DEVICES, slots: SLOTS, concurrency: CONCURRENCY }, load, legs, bare };
  } finally {
    await dir.remove();
  }
}

/** @param {number} x */
const rate = (x) => Math.round(x).toLocaleString('en-US');
/** @param {number} x */
const msText = (x) => `${x.toFixed(2)} ms`;
/**
 * @param {number} x
 * @param {number} bare
 */
const ratio = (x, bare) => (bare > 0 ? `${(x / bare).toFixed(bare > x ? 3 : 2)}` : '-');

/** @param {number} x */
const secondsText = (x) => `${x.toFixed(2)} s`;
/**
 * The share of the machine's `cores` the load generator took while the clock of `phase` ran.
 * @param {Phase} phase
 * @param {number} cores
 */
const fleetShare = (phase, cores) => (phase.seconds > 0 ? phase.fleetCpuSeconds / (phase.seconds * cores) : 0);
/** @param {number} x */
const percent = (x) => `${(100 * x).toFixed(0)}%`;

/**
 * The figures of each leg as console lines.
 * @param {Pick<Measured, 'legs' | 'bare'>} measured
 */
export function serverLines({ legs, bare }) {
  /**
   * @param {string} name
   * @param {Figures} f
   */
  const line = (name, f) =>
    `bench: ${name}: ${rate(f.authorize.perSecond)} authorizations/s, ${rate(f.reports.perSecond)} reports/s ` +
    `(${rate(f.reports.firstTenthPerSecond)}/s first tenth, ${rate(f.reports.lastTenthPerSecond)}/s last tenth), ` +
    `authorize p50/p99 ${msText(f.authorize.p50Ms)}/${msText(f.authorize.p99Ms)}, reports p50/p99 ${msText(f.reports.p50Ms)}/${msText(f.reports.p99Ms)}, ` +
    `load generator CPU ${secondsText(f.authorize.fleetCpuSeconds)} in ${secondsText(f.authorize.seconds)} of authorizations, ` +
    `${secondsText(f.reports.fleetCpuSeconds)} in ${secondsText(f.reports.seconds)} of reports`;
  return [...legs.map((l) => line(l.name, l.figures)), line('bare handler', bare)];
}

/**
 * The BENCHMARKS.md section of these figures.
 * @param {Measured} measured
 * @param {RunEnv} env
 */
export function serverSection({ plan, load, legs, bare }, { cores, cpu, date }) {
  /** @type {[name: string, pick: (f: Figures) => number, show: (x: number) => string, divided?: boolean][]} */
  const rows = [
    ['authorizations/s', (f) => f.authorize.perSecond, rate],
    ['reports/s', (f) => f.reports.perSecond, rate],
    ['reports/s over the first tenth of the reports', (f) => f.reports.firstTenthPerSecond, rate],
    ['reports/s over the last tenth of the reports', (f) => f.reports.lastTenthPerSecond, rate],
    ['authorize p50', (f) => f.authorize.p50Ms, msText],
    ['authorize p99', (f) => f.authorize.p99Ms, msText],
    ['reports p50', (f) => f.reports.p50Ms, msText],
    ['reports p99', (f) => f.reports.p99Ms, msText],
    // Not divided by the bare handler's: the more a server answers, the more the load generator posts.
    [`load generator CPU during the authorizations, of the ${cores} cores`, (f) => fleetShare(f.authorize, cores), percent, false],
    [`load generator CPU during the reports, of the ${cores} cores`, (f) => fleetShare(f.reports, cores), percent, false],
  ];
  const head = `| figure | ${legs.map((l) => `${l.name} | ${l.name} ÷ bare`).join(' | ')} | bare handler |`;
  const rule = `| --- | ${legs.map(() => '---: | ---:').join(' | ')} | ---: |`;
  const body = rows.map(
    ([name, pick, show, divided = true]) =>
      `| ${name} | ${legs.map((l) => `${show(pick(l.figures))} | ${divided ? ratio(pick(l.figures), pick(bare)) : '-'}`).join(' | ')} | ${show(pick(bare))} |`,
  );
  const sqlite = legs[0].figures;
  /**
   * @param {number} x
   * @param {number} goal
   */
  const met = (x, goal) => (x >= goal ? 'met' : `not met (${((100 * x) / goal).toFixed(0)}% of it)`);
  const checked = legs.every((l) => l.figures.checked) ? 'After each server leg, `licet-server usage` held exactly what the devices recorded (the simulator\'s check passed).' : 'THE TOTALS WERE NOT CHECKED.';
  return `${BEGIN}
## License server under a simulated fleet

Measured ${date} with \`npm run bench\` on ${cores} cores (${cpu}), 1-minute load average ${load.toFixed(2)} at the start
(the machine is shared). Release builds of \`licet-server serve\` and of the load generator, both on this machine:
\`licet-fleet run --devices ${plan.devices} --slots ${plan.slots} --concurrency ${plan.concurrency}\` plays ${plan.devices} devices; each authorizes once,
then reports ${plan.slots} closed 3-minute slots in compressed time, one report per slot, all devices slot after slot.
Every answer is opened and verified as the browser module does (HPKE response, Ed25519 signature of the
authorization, receipt and renewal, device, nonce, report ID). ${checked}
The devices' cryptography runs in their browsers, not on the server's machine, so it is kept out of the timed window:
each phase's requests are encoded and HPKE-sealed before its clock starts (the reports after the authorizations are
verified, since they name the handshake code these resolved), and its answers opened and verified after the clock stops.
The window holds only the HTTP exchanges, ${plan.concurrency} at a time over keep-alive connections (plus the sealing of any retry):
a fleet of 900,000 devices reporting every 3 minutes sends 5,000 requests a second, so at a few tens of milliseconds
each a few hundred are in flight at any moment, more than ${plan.concurrency}.
The load generator's own CPU time within it (getrusage, all its threads) is the share of the machine shown below.
The bare handler is \`licet-fleet bare\`: axum on the same routes, reading the body and answering 200 and nothing else,
driven by the same load generator with requests prepared the same way (its answers, not sealed, are not opened).
Round trips are from sending the sealed request to holding the whole answer.

${head}
${rule}
${body.join('\n')}

Goal (issue 5): ${rate(GOAL.reports)} reports/s and ${rate(GOAL.authorizations)} authorizations/s with SQLite on this machine, load generator included:
reports ${met(sqlite.reports.perSecond, GOAL.reports)}, authorizations ${met(sqlite.authorize.perSecond, GOAL.authorizations)}.
${END}`;
}

/**
 * Writes `fresh` over the section between `begin` and `end` of BENCHMARKS.md (appends it when absent).
 * @param {string} begin
 * @param {string} end
 * @param {string} fresh
 */
export async function writeSection(begin, end, fresh, header = '# Benchmarks\n') {
  const text = await readFile(BENCHMARKS, 'utf8').catch(() => header);
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  const next = start >= 0 && stop > start ? text.slice(0, start) + fresh + text.slice(stop + end.length) : `${text.trimEnd()}\n\n${fresh}\n`;
  await writeFile(BENCHMARKS, next);
}

/**
 * Measures, prints and writes the server section.
 * @param {RunEnv} env
 */
export async function benchServer(env) {
  const figures = await measureServer();
  for (const line of serverLines(figures)) console.log(line);
  await writeSection(BEGIN, END, serverSection(figures, env));
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = { cores: availableParallelism(), cpu: await cpuName(), date: new Date().toISOString().slice(0, 10) };
  benchServer(env)
    .then(() => console.log('bench: BENCHMARKS.md updated (server section)'))
    .catch((err) => {
      console.error(`bench: ${err.message}`);
      process.exit(err.exitCode ?? 1);
    });
}
