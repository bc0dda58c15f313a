// The API client and the session. The credential lives in this module's variables
// only: never in web storage, a cookie or the URL. Calls go to the
// page's own origin.

const BUILTIN = ['keys:read', 'keys:write', 'keys:revoke', 'keys:verify', 'audit:read', 'tokens:introspect'];
export { BUILTIN };

let session = null; // {kind, secret, keyId, accessToken, refreshToken, expiresAt, who}

/** ApiError is an answer of the API that was not a success. */
export class ApiError extends Error {
  constructor(status, code, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.title = title || '';
    this.detail = detail || '';
  }
  /** readable is the message shown to the user: what happened and the problem code. */
  readable() {
    const head = this.title && this.detail ? `${this.title}: ${this.detail}` : (this.detail || this.title || `HTTP ${this.status}`);
    return this.code ? `${head} (code ${this.code})` : head;
  }
}

// A key string: a prefix (letters, digits, underscores, ending in _), then 66 URL-safe
// characters: the 16-character key id, the secret and the checksum.
const KEY_SHAPE = /^[a-z][a-z0-9]*_([a-z0-9]+_)?[A-Za-z0-9_-]{66}$/;

/** keyIdOf is the key id (the OAuth client_id) a key string carries, or "". */
export function keyIdOf(secret) {
  if (!KEY_SHAPE.test(secret)) return '';
  return secret.slice(secret.length - 66, secret.length - 50);
}

async function problemOf(resp) {
  let body = null;
  try { body = await resp.json(); } catch { /* not JSON */ }
  if (body && (body.code || body.title)) return new ApiError(resp.status, body.code, body.title, body.detail);
  if (body && body.error) return new ApiError(resp.status, body.error, '', body.error_description);
  if (body && body.message) return new ApiError(resp.status, '', body.message, '');
  return new ApiError(resp.status, '', `HTTP ${resp.status}`, '');
}

async function tokenRequest(form) {
  const resp = await fetch('/v1/oauth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    credentials: 'omit',
    cache: 'no-store',
  });
  if (!resp.ok) throw await problemOf(resp);
  return resp.json();
}

function applyToken(s, tok) {
  s.accessToken = tok.access_token;
  s.refreshToken = tok.refresh_token || '';
  s.expiresAt = Date.now() + (tok.expires_in || 300) * 1000;
}

// stale reports whether the access token has less than 30 s left.
function stale(s) { return s.kind === 'key' && Date.now() >= s.expiresAt - 30000; }

// fresh gives s an access token with at least 30 s left: a refresh (which rotates the
// refresh token), or a new exchange if the refresh is refused.
async function fresh(s) {
  const client = { client_id: s.keyId, client_secret: s.secret };
  try {
    applyToken(s, await tokenRequest({ grant_type: 'refresh_token', refresh_token: s.refreshToken, ...client }));
  } catch {
    applyToken(s, await tokenRequest({ grant_type: 'client_credentials', ...client }));
  }
}

/** signIn trades a key for an access token (a root credential is used as it is) and
 * learns who the caller is. */
export async function signIn(credential) {
  const secret = credential.trim();
  if (!secret) throw new ApiError(0, 'missing_credential', '', 'Paste an API key or the root credential.');
  const keyId = keyIdOf(secret);
  const s = { kind: keyId ? 'key' : 'root', secret, keyId };
  if (keyId) {
    applyToken(s, await tokenRequest({ grant_type: 'client_credentials', client_id: keyId, client_secret: secret }));
    s.who = await call(s, 'GET', '/v1/whoami');
  } else {
    // The root credential is not an OAuth client, and the authorizer in front of
    // /v1/whoami refuses it: a list of one key proves it instead.
    await call(s, 'GET', '/v1/keys?limit=1');
    s.who = { key_id: '', owner: '', scopes: ['*'], auth: 'root' };
  }
  session = s;
  return s.who;
}

/** signOut forgets the credential and revokes the refresh token (best effort). */
export function signOut() {
  const s = session;
  session = null;
  if (s && s.kind === 'key' && s.refreshToken) {
    const form = { token: s.refreshToken, token_type_hint: 'refresh_token', client_id: s.keyId, client_secret: s.secret };
    fetch('/v1/oauth/revoke', {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(), credentials: 'omit', keepalive: true,
    }).catch(() => {});
  }
  if (s) { s.secret = ''; s.accessToken = ''; s.refreshToken = ''; }
}

/** who is the signed-in caller ({key_id, owner, scopes, auth}), or null. */
export function who() { return session ? session.who : null; }

// call starts the request at once when the token is fresh (no await before fetch, so
// a page that calls first and builds its DOM after does not delay the request).
async function call(s, method, path, body) {
  if (stale(s)) await fresh(s);
  const headers = { Authorization: `Bearer ${s.kind === 'key' ? s.accessToken : s.secret}` };
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (!resp.ok) throw await problemOf(resp);
  if (resp.status === 204) return null;
  return resp.json();
}

/** api calls a management route as the signed-in caller. */
export function api(method, path, body) {
  if (!session) return Promise.reject(new ApiError(401, 'signed_out', '', 'You are signed out.'));
  return call(session, method, path, body);
}

/** query renders a query string from the non-empty values of params. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
