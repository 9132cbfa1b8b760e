// What tests/e2e/page.html puts on `window` for the end-to-end tests and scripts/bench.mjs, which
// reach it inside page.evaluate; and the outcome of a call made there or in tests/e2e/worker.mjs.

import type { LicenseManager } from '../pkg/licet.js';

/** A call's outcome as data: its value, or its error's `code` (null without one) and message. */
export type Outcome<T> =
  | { ok: true; value: T; code?: undefined; message?: undefined }
  | { ok: false; code: string | null; message: string; value?: undefined };

/** The names of LicenseManager's static methods. */
export type LicenseMethod = Exclude<keyof typeof LicenseManager, 'prototype'>;

/** What `LicenseManager[M](...)` resolves to. */
export type LicenseResult<M extends LicenseMethod> = Awaited<ReturnType<(typeof LicenseManager)[M]>>;

declare global {
  interface Window {
    /** LicenseManager, once `licetReady` has resolved. */
    licet: typeof LicenseManager;
    /** Resolves once the package is initialized. */
    licetReady: Promise<void>;
    /** Runs `fn` and reports what happened, an Error's `code` included. */
    attempt<T>(fn: () => T | PromiseLike<T>): Promise<Outcome<T>>;
    /** Settles with an IndexedDB request: its result once it succeeds, its error if it fails. */
    idbRequest<T>(request: IDBRequest<T>): Promise<T>;
    /** Opens the module's IndexedDB database. */
    openLicetDb(): Promise<IDBDatabase>;
    /** Starts the module worker of /worker.mjs; resolves once its package is ready. */
    startWorker(): Promise<void>;
    /** The worker `startWorker` started: `call` resolves the outcome of `LicenseManager[method](...args)` in it. */
    testWorker: {
      call<M extends LicenseMethod>(method: M, ...args: unknown[]): Promise<Outcome<LicenseResult<M>>>;
    };
  }
}
