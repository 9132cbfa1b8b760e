// The end-to-end tests' dedicated module worker: imports the package, runs the one init
// step, says `{ ready: true }`, then answers `{ id, method, args }` messages by calling
// `LicenseManager[method](...args)` and posting `{ id, outcome }` (`{ ok, value }` or
// `{ ok: false, code, message }`).
import init, { LicenseManager } from '/pkg/licet.js';

self.onmessage = async ({ data: { id, method, args } }) => {
  let outcome;
  try {
    outcome = { ok: true, value: await LicenseManager[method](...args) };
  } catch (e) {
    outcome = { ok: false, code: e?.code ?? null, message: String(e?.message ?? e) };
  }
  self.postMessage({ id, outcome });
};

await init();
self.postMessage({ ready: true });
