// The dashboard's client of the admin API (/admin/v1/, same origin): the admin token, kept in
// sessionStorage so that it is gone when the tab closes and never written to disk by us, and GET
// requests that carry it as a bearer token and turn every failure into an ApiError.

const TOKEN_KEY = 'licet.adminToken';

// What the admin API answers (crates/server/src/admin_api/openapi.json): times are Unix ms.

/**
 * How much of one quota a license used: `item` is `scans` or the module whose pages it counts.
 * @typedef {object} QuotaUse
 * @property {string} item
 * @property {number} quota
 * @property {number} used
 * @property {number} left
 */

/**
 * A license file's content, as `licet-server decode` shows it (its times as RFC 3339 text).
 * @typedef {object} LicenseFile
 * @property {string} id
 * @property {string} organizationId
 * @property {string} product
 * @property {'per-scan' | 'per-page' | 'per-device' | 'concurrent' | 'per-domain'} type
 * @property {('core' | 'webcam' | 'pdfr' | 'ocr')[]} modules
 * @property {number | null} [quota]
 * @property {number | null} [devices]
 * @property {string | null} [active]
 * @property {string[]} domains
 * @property {boolean} allowDevHosts
 * @property {string} issuedAt
 * @property {string} expiresAt
 * @property {number} offlineGraceMs
 * @property {'seat' | 'fixed'} offlinePeriod
 * @property {{ quotaPermille: number, devicesPermille: number, expiryMs: number }} tolerance
 */

/**
 * An imported license with its use.
 * @typedef {object} License
 * @property {string} id
 * @property {string} type
 * @property {string} organizationId
 * @property {number} expiresAt
 * @property {boolean} expired
 * @property {LicenseFile} license
 * @property {string[]} projects the handshake codes it is assigned to
 * @property {QuotaUse[]} quotas empty for a type without a quota
 * @property {number | null} seatsHeld devices holding a seat now (per-device licenses only)
 * @property {Record<string, number>} pages pages counted per module
 * @property {Record<string, number>} scans scans counted per symbology
 */

/**
 * @typedef {object} Project
 * @property {string} handshakeCode
 * @property {string} organizationId
 * @property {boolean} isDefault
 * @property {boolean} hasSessionPassword
 * @property {number} createdAt
 * @property {string} licenseKey what applications pass to initLicense
 * @property {string[]} licenses license ids in assignment order
 * @property {string[]} domains the domain patterns its licenses bind
 * @property {boolean} allowDevHosts
 */

/**
 * @typedef {object} Device
 * @property {string} deviceId
 * @property {string} handshakeCode
 * @property {string} domain
 * @property {string | null} name
 * @property {string} product
 * @property {string} sdkVersion
 * @property {number} firstSeen
 * @property {number} lastSeen
 * @property {number | null} seatHeldUntil null without a seat
 */

/**
 * One webhook delivery of an alert.
 * @typedef {object} Delivery
 * @property {string} webhook scheme and host only
 * @property {number} attempts
 * @property {number | null} deliveredAt
 * @property {number} nextAttemptAt
 * @property {boolean} gaveUp
 * @property {string | null} lastError
 */

/**
 * @typedef {object} Alert
 * @property {number} id
 * @property {'usage' | 'expiry' | 'authorization-failures'} kind
 * @property {string} subject the license or project it is about
 * @property {string} message
 * @property {number} firedAt
 * @property {Delivery[]} deliveries
 */

/**
 * The usage of one license in one bucket.
 * @typedef {object} UsageBucket
 * @property {number} start
 * @property {string} licenseId
 * @property {Record<string, number>} pages pages per module
 * @property {Record<string, number>} scans scans per symbology
 */

/**
 * The usage of the buckets that start in [from, to); buckets without usage are absent.
 * @typedef {object} UsageSeries
 * @property {'day' | 'slot'} bucket
 * @property {number} bucketMs
 * @property {number} from
 * @property {number} to
 * @property {UsageBucket[]} series
 */

/**
 * The answer of each GET route this client uses, by path.
 * @typedef {object} Answers
 * @property {{ licenses: License[] }} licenses
 * @property {{ projects: Project[] }} projects
 * @property {{ devices: Device[] }} devices
 * @property {{ alerts: Alert[] }} alerts
 * @property {UsageSeries} usage
 */

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  /** @param {string} value */
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A refused or failed request: `status` 0 when the server did not answer at all. */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** No token, or one the server does not hold (mistyped or revoked). */
  get unauthorized() {
    return this.status === 401;
  }
}

/**
 * GET /admin/v1/`path` with `params` as its query; resolves the JSON body.
 * @template {keyof Answers} P
 * @param {P} path
 * @param {Record<string, string>} [params]
 * @returns {Promise<Answers[P]>}
 */
export async function get(path, params = {}) {
  const url = new URL(`/admin/v1/${path}`, location.origin);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  let response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${token.get() ?? ''}` }, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK_ERROR', `The server did not answer (${/** @type {Error} */ (err).message}).`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body?.code ?? `HTTP_${response.status}`, body?.message ?? response.statusText);
  }
  return body;
}
