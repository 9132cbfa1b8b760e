// Small helpers shared by the scripts in scripts/: where the repository is, an environment
// with cargo's bin directory on PATH, and child processes that either inherit this terminal
// (`run`) or hand their output back (`capture`). Every helper rejects on a non-zero exit with
// an Error whose `exitCode` says how the child ended; none of them retries or hides output.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What `capture` collects of a child process.
 * @typedef {object} Captured
 * @property {number | null} code its exit code, null when a signal ended it
 * @property {NodeJS.Signals | null} signal
 * @property {string} stdout
 * @property {string} stderr
 */

/**
 * The Error a failed child process rejects with: `exitCode` is its exit code, 1 after a signal.
 * @typedef {Error & { exitCode: number }} ProcessError
 */

/** The repository root (the parent of scripts/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `process.env` with cargo's bin directory (wasm-bindgen, its test runner) on PATH.
 * @param {NodeJS.ProcessEnv} [extra]
 * @returns {NodeJS.ProcessEnv}
 */
export function toolEnv(extra = {}) {
  const cargoBin = join(process.env.CARGO_HOME || join(homedir(), '.cargo'), 'bin');
  const path = process.env.PATH || '';
  const parts = path.split(delimiter);
  return {
    ...process.env,
    PATH: parts.includes(cargoBin) ? path : [cargoBin, path].filter(Boolean).join(delimiter),
    ...extra,
  };
}

/**
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {number | null} code
 * @param {NodeJS.Signals | null} signal
 */
function failure(cmd, args, code, signal, stderr = '') {
  const how = signal ? `signal ${signal}` : `exit code ${code}`;
  const err = /** @type {ProcessError} */ (new Error(`\`${[cmd, ...args].join(' ')}\` failed with ${how}${stderr ? `:\n${stderr.trim()}` : ''}`));
  err.exitCode = code ?? 1;
  return err;
}

/**
 * Runs a command with this terminal's stdio; resolves when it exits with 0.
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [options] `env` is added to toolEnv()
 * @returns {Promise<void>}
 */
export function run(cmd, args, { cwd = ROOT, env = {} } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env: toolEnv(env), stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolvePromise() : reject(failure(cmd, args, code, signal))));
  });
}

/**
 * Runs a command and collects its output: resolves `{ code, signal, stdout, stderr }`. With
 * `check` (the default) a non-zero exit rejects instead, carrying stderr in the message. With
 * `timeout` (ms), a command still running then is killed with SIGKILL.
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, check?: boolean, timeout?: number }} [options]
 * @returns {Promise<Captured>}
 */
export function capture(cmd, args, { cwd = ROOT, env = {}, check = true, timeout } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env: toolEnv(env), stdio: ['ignore', 'pipe', 'pipe'], timeout, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (check && code !== 0) reject(failure(cmd, args, code, signal, stderr));
      else resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Formats milliseconds as seconds with one decimal, for step timings.
 * @param {number} ms
 */
export function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * A TCP port free on 127.0.0.1 right now.
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      // Listening on TCP: an AddressInfo, not a pipe name.
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * A fresh temp directory named `prefix` and random letters; `remove()` deletes it.
 * @param {string} prefix
 */
export async function tempDir(prefix) {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
