// The dashboard's client of the admin API (/admin/v1/, same origin): the admin token, kept in
// sessionStorage so that it is gone when the tab closes and never written to disk by us, and GET
// requests that carry it as a bearer token and turn every failure into an ApiError.

const TOKEN_KEY = 'licet.adminToken';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A refused or failed request: `status` 0 when the server did not answer at all. */
class ApiError extends Error {
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

/** GET /admin/v1/`path` with `params` as its query; resolves the JSON body. */
export async function get(path, params = {}) {
  const url = new URL(`/admin/v1/${path}`, location.origin);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  let response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${token.get() ?? ''}` }, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK_ERROR', `The server did not answer (${err.message}).`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body?.code ?? `HTTP_${response.status}`, body?.message ?? response.statusText);
  }
  return body;
}
