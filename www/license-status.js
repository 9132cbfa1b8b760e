// What the demo page says about the license: turns LicenseManager.status() (and the code of a
// failed initLicense) into a headline, a plain-language explanation and a tone for its colours.
// The explanations follow docs/errors.md, written for the person in front of the page.

/** @import { LicenseStatus } from './pkg/licet.js' */

/**
 * What the page shows for a status: `tone` picks the colours of the pill and the banner.
 * @typedef {object} StatusView
 * @property {string} pill
 * @property {'ok' | 'info' | 'warn' | 'bad' | 'neutral'} tone
 * @property {string} title
 * @property {string} explanation
 */

/**
 * Plain-language explanations of the codes a page can meet, by code.
 * @type {Readonly<Record<string, string | undefined>>}
 */
const EXPLAIN = {
  DOMAIN_MISMATCH: 'This website is not one the license is bound to. The SDK vendor can issue a license for this domain.',
  QUOTA_EXHAUSTED: 'The scans or pages this license sells are used up, tolerance included. Adding quota to the same license key unblocks it.',
  LICENSE_EXPIRED: 'The license has expired, and so have the 7 days of tolerance after it.',
  DEVICE_LIMIT_REACHED: 'Every seat of this license is held by another device.',
  CONCURRENT_LIMIT_REACHED: 'As many devices as the license allows are in use right now. Try again in a few minutes.',
  NO_LICENSE: 'The project of this license key has no license assigned on the license server.',
  UNKNOWN_PROJECT: 'The license server does not know the project this license key names.',
  ORGANIZATION_MISMATCH: 'The handshake code of this license key belongs to another organization.',
  WRONG_SESSION_PASSWORD: 'The session password does not match the one set for this project.',
  TRIAL_UNAVAILABLE: 'This license server offers no public trial.',
  TRIAL_USED: 'This device has already used its trial.',
  UNKNOWN_DEVICE: 'The license server does not know this device. Reloading the page authorizes it again.',
  GRACE_EXPIRED: 'This device has been offline for longer than the license allows. Scanning resumes as soon as the license server can be reached; nothing counted so far is lost.',
  NETWORK_ERROR: 'The license server cannot be reached. Counts are kept on this device and sent when it is back.',
  RATE_LIMITED: 'The license server is busy. The module tries again by itself.',
  INVALID_LICENSE_KEY: 'The license key given to the page is not a Licet license key.',
  STORAGE_ERROR: 'The browser does not let this page use IndexedDB, where the license and the counts are kept (private mode or blocked storage).',
  BAD_SIGNATURE: 'An answer from the license server did not carry a valid signature and was refused.',
  CLOCK_SET_BACK: 'The device clock was set back. Licensing keeps to the latest trusted time.',
  CLOCK_SKEW: 'The device clock is more than 5 minutes away from the license server\'s time; licensing uses the server\'s time.',
};

/**
 * `code` explained in plain words (the code itself when it has no entry).
 * @param {string} code
 */
export function explainCode(code) {
  return EXPLAIN[code] ?? `The license module reported ${code}.`;
}

/**
 * "6 d 23 h", "2 h 05 min", "4 min 10 s": a remaining duration in its two largest units.
 * @param {number} ms
 */
export function remaining(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return `${m} min ${String(s % 60).padStart(2, '0')} s`;
}

/**
 * What to show for `status` at `now`, given `blockedCode`, the code initLicense failed with (or
 * null): `{ pill, tone, title, explanation }`, tone one of ok, info, warn, bad, neutral.
 * @param {LicenseStatus} status
 * @param {string | null} blockedCode
 * @param {number} now
 * @returns {StatusView}
 */
export function describe(status, blockedCode, now) {
  if (blockedCode) {
    return { pill: 'Blocked', tone: 'bad', title: `Blocked: ${blockedCode}`, explanation: explainCode(blockedCode) };
  }
  if (status.state === 'uninitialized') {
    return { pill: 'Connecting…', tone: 'neutral', title: 'Connecting to the license server…', explanation: 'The module is getting an authorization for this device.' };
  }
  if (status.state === 'expired') {
    return { pill: 'Blocked', tone: 'bad', title: 'Blocked: GRACE_EXPIRED', explanation: explainCode('GRACE_EXPIRED') };
  }
  if (!status.online) {
    const left = status.offlineUntil ? remaining(status.offlineUntil - now) : 'no time';
    return {
      pill: `Offline grace · ${left} left`,
      tone: 'warn',
      title: `Offline grace: ${left} left`,
      explanation: 'The license server cannot be reached. The SDK keeps working on its cached authorization until the time below; counts are kept on this device and sent when it is back online.',
    };
  }
  if (status.state === 'tolerance') {
    return {
      pill: 'Tolerance',
      tone: 'warn',
      title: 'Tolerance: the license needs attention',
      explanation: `The quota or the term of the license is used up. The SDK keeps working for a little longer (5% more usage, or 7 days past expiry) before it stops.${status.code ? ` ${explainCode(status.code)}` : ''}`,
    };
  }
  if (status.state === 'trial') {
    return { pill: 'Trial', tone: 'info', title: 'Trial license', explanation: 'This device runs on the license server\'s public trial. Usage is counted and reported like a paid license.' };
  }
  return {
    pill: 'Licensed',
    tone: status.code ? 'warn' : 'ok',
    title: 'Licensed',
    explanation: status.code
      ? explainCode(status.code)
      : 'This device holds a valid authorization. Every unique scan and page is counted and reported to the license server.',
  };
}
