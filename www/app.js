// The demo page of `npm start`: initializes the license with the demo license key (served
// as /demo-license-key.txt by scripts/start.mjs), shows the device UUID and the license
// status, and counts one "core" page per click, sending it to the server at once.
import init, { LicenseManager } from '/pkg/licet.js';

const $ = (id) => document.getElementById(id);
const button = $('count');
const result = $('result');

function show(text, isError = false) {
  result.textContent = text;
  result.classList.toggle('error', isError);
}

function showStatus(status) {
  $('state').textContent = status.code ? `${status.state} (${status.code})` : status.state;
  $('offline-until').textContent = status.offlineUntil ? new Date(status.offlineUntil).toLocaleString() : '—';
  $('handshake').textContent = status.handshakeCode ?? '—';
  $('modules').textContent = status.modules.join(', ') || '—';
}

async function main() {
  await init();
  $('device').textContent = await LicenseManager.getDeviceUUID();
  const response = await fetch('/demo-license-key.txt');
  if (!response.ok) throw Object.assign(new Error('no demo license key on this server'), { code: `HTTP ${response.status}` });
  const licenseKey = (await response.text()).trim();
  showStatus(await LicenseManager.initLicense(licenseKey, { deviceFriendlyName: 'Licet demo page' }));
  button.disabled = false;
}

button.addEventListener('click', async () => {
  button.disabled = true;
  try {
    await LicenseManager.countPages('core', 1);
    const { acknowledged, waiting } = await LicenseManager.flush();
    show(`counted 1 page: ${acknowledged} report(s) acknowledged, ${waiting} waiting`);
  } catch (err) {
    show(`failed: ${err.code ?? err.message}`, true);
  } finally {
    showStatus(LicenseManager.status());
    button.disabled = false;
  }
});

main().catch((err) => {
  show(`could not start: ${err.code ?? ''} ${err.message}`, true);
  try {
    showStatus(LicenseManager.status());
  } catch {
    // the module itself did not load: nothing more to show
  }
});
