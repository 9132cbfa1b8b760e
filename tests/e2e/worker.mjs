// The end-to-end tests' dedicated module worker: imports the package, runs the one init
// step, says `{ ready: true }`, then answers `{ id, method, args }` messages by calling
// `LicenseManager[method](...args)` and posting `{ id, outcome }` (`{ ok, value }` or
// `{ ok: false, code, message }`).
import init, { LicenseManager } from '/pkg/licet.js';

/** @import { LicenseMethod, Outcome } from '../../types/e2e-page.js' */

/** @param {MessageEvent<{ id: number, method: LicenseMethod, args: unknown[] }>} event */
self.onmessage = async ({ data: { id, method, args } }) => {
  /** @type {Outcome<unknown>} */
  let outcome;
  try {
    outcome = { ok: true, value: await /** @type {(...args: unknown[]) => unknown} */ (LicenseManager[method])(...args) };
  } catch (e) {
    const err = /** @type {{ code?: string, message?: unknown } | null | undefined} */ (e);
    outcome = { ok: false, code: err?.code ?? null, message: String(err?.message ?? err) };
  }
  self.postMessage({ id, outcome });
};

await init();
self.postMessage({ ready: true });
