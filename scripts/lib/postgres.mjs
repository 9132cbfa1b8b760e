// A throwaway PostgreSQL cluster for the tests and benchmarks: initdb into a fresh temp
// directory, a server on 127.0.0.1 at a free port (its socket in that directory too), trust
// authentication for the `postgres` user, and `stop()` that shuts it down and removes the
// directory. It never touches a cluster of the system's and listens on loopback only.
//
// The binaries are Debian's (package postgresql, installed by scripts/ensure-tools.sh). When
// this runs as root, the cluster belongs to the `postgres` system user, since PostgreSQL
// refuses to run as root. For tests, durability is turned off (fsync, synchronous_commit): those
// clusters hold test data only. Benchmarks ask for `durable`, PostgreSQL's own defaults, so
// that a commit reaches the disk as the SQLite store's does.

import { readdir, chmod, mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { capture, freePort } from './proc.mjs';

const PG_ROOT = '/usr/lib/postgresql';
const START_TIMEOUT_S = 60;

/** The bin directory of the newest PostgreSQL under /usr/lib/postgresql. */
async function binDir() {
  const versions = await readdir(PG_ROOT).catch(() => []);
  const newest = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL under ${PG_ROOT}: run scripts/ensure-tools.sh (it installs the postgresql package)`);
  return join(PG_ROOT, newest, 'bin');
}

/**
 * Starts a cluster (durable: fsync on, as PostgreSQL ships); resolves `{ url, stop }`, where
 * `url` is a postgres:// URL of its `postgres` database, in which the caller may create
 * databases of its own.
 */
export async function startPostgres({ durable = false } = {}) {
  const bin = await binDir();
  const dir = await mkdtemp(join(tmpdir(), 'licet-pg-'));
  const asRoot = process.getuid?.() === 0;
  // The cluster's owner must be able to enter the directory; as root that is `postgres`.
  if (asRoot) {
    await capture('chown', ['postgres:postgres', dir]);
    await chmod(dir, 0o700);
  }
  /**
   * Runs `cmd` as the cluster's owner.
   * @param {string} cmd
   * @param {readonly string[]} args
   */
  const as = (cmd, args) => (asRoot ? capture('runuser', ['-u', 'postgres', '--', cmd, ...args]) : capture(cmd, args));
  const data = join(dir, 'data');
  await as(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const options = [
    `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c max_connections=300`,
    durable ? '' : '-c fsync=off -c synchronous_commit=off -c full_page_writes=off',
  ].join(' ');
  const log = join(dir, 'server.log');
  const started = await as(join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-o', options, '-w', '-t', String(START_TIMEOUT_S), 'start'])
    .then(() => null)
    .catch((err) => err);
  if (started) {
    const text = await readFile(log, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${started.message}\n${text}`);
  }
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
