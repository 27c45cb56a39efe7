/**
 * Authorization Code + PKCE for the customer space, as a public client does it in the browser:
 * build the `/authorize` URL, check the callback, exchange the code, check the ID token, and read
 * our namespaced claims. No DOM in here, only WebCrypto, `fetch` and URLs, so the same code runs
 * in the browser (served by the demo server) and in Node for the tests.
 */

/** Where the tenant is and who we are; the demo server writes it into the page. */
export interface OidcSettings {
  authorizeUrl: string;
  tokenUrl: string;
  logoutUrl?: string;
  /** The `iss` the tenant puts in its tokens (`https://<domain>/`), not the URL we reach it at. */
  issuer: string;
  clientId: string;
  audience?: string;
  /** Prefix of our custom claims, e.g. `https://inviteflow.dev/`. */
  claimNamespace: string;
}

/** What a started login leaves in sessionStorage until its callback. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
}

/** The tokens of a finished login. */
export interface TokenSet {
  idToken: string;
  accessToken?: string;
}

/** What the customer space shows about the signed-in person. */
export interface SessionView {
  userId: string;
  email?: string;
  /** The connection, when the token names it; otherwise the identity provider from `sub`. */
  connection?: string;
  roles: string[];
  invite?: { id: string; scope: string };
  data?: unknown;
  inviteError?: string;
  /** The account the invite is bound to, when the Action tells us (email mismatch). */
  inviteLoginHint?: string;
}

/** Query parameters of `/login` passed on to `/authorize`; nothing else from the URL is. */
export const FORWARDED_PARAMS = ['invite', 'login_hint', 'screen_hint'] as const;

/** Why a login could not finish; `code` is stable, `message` is for people. */
export class LoginError extends Error {
  override readonly name = 'LoginError';

  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// Browsers' clocks drift; a minute is what OIDC client libraries usually tolerate.
const CLOCK_SKEW_SECONDS = 60;

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A random, URL-safe string of `bytes` bytes of entropy (state, nonce, PKCE verifier). */
export function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The PKCE `S256` challenge of a verifier: base64url(SHA-256(verifier)). */
export async function pkceChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/**
 * Starts a login from the `/login` page at `pageUrl`: the `/authorize` URL to go to and what to
 * keep for the callback. The invite token goes into that URL and nowhere else.
 */
export async function beginLogin(
  settings: OidcSettings,
  pageUrl: URL,
): Promise<{ authorizeUrl: string; pending: PendingLogin }> {
  const pending: PendingLogin = {
    state: randomString(),
    nonce: randomString(),
    codeVerifier: randomString(),
    redirectUri: new URL('/callback', pageUrl.origin).href,
  };
  const url = new URL(settings.authorizeUrl);
  const params = url.searchParams;
  params.set('response_type', 'code');
  params.set('client_id', settings.clientId);
  params.set('redirect_uri', pending.redirectUri);
  params.set('scope', 'openid profile email');
  if (settings.audience) params.set('audience', settings.audience);
  params.set('state', pending.state);
  params.set('nonce', pending.nonce);
  params.set('code_challenge', await pkceChallenge(pending.codeVerifier));
  params.set('code_challenge_method', 'S256');
  for (const name of FORWARDED_PARAMS) {
    const value = pageUrl.searchParams.get(name);
    if (value) params.set(name, value);
  }
  return { authorizeUrl: url.href, pending };
}

/** The `state` of a callback URL, to find the login it belongs to. */
export function callbackState(callbackUrl: URL): string | undefined {
  return callbackUrl.searchParams.get('state') ?? undefined;
}

/**
 * Checks a callback against the login that started it and returns the code. An `error` from the
 * tenant becomes a `LoginError`: an invite refusal under its own code, anything else in the tenant's words.
 */
export function readCallback(callbackUrl: URL, pending: PendingLogin | undefined): string {
  const query = callbackUrl.searchParams;
  // The state check comes first: an error response from a login we did not start is not ours to show.
  if (!pending || query.get('state') !== pending.state)
    throw new LoginError(
      'state_mismatch',
      'This sign-in was not started here, or was already finished. Please sign in again.',
    );
  const error = query.get('error');
  if (error) {
    const description = query.get('error_description') || error;
    // The Action's `deny` policy: Auth0 sends the refusal code as the description of access_denied.
    if (error === 'access_denied' && isInviteErrorCode(description))
      throw new LoginError(description, inviteErrorMessage(description));
    throw new LoginError(error, description);
  }
  const code = query.get('code');
  if (!code) throw new LoginError('invalid_callback', 'The sign-in answer carried no authorization code.');
  return code;
}

/** Exchanges the code at the token endpoint (public client: the PKCE verifier instead of a secret). */
export async function exchangeCode(
  settings: OidcSettings,
  pending: PendingLogin,
  code: string,
  fetchImpl: typeof fetch = fetch,
): Promise<TokenSet> {
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    client_id: settings.clientId,
    code,
    redirect_uri: pending.redirectUri,
    code_verifier: pending.codeVerifier,
  });
  let response: Response;
  try {
    // Form-encoded keeps this a CORS "simple" request: no preflight to the tenant.
    response = await fetchImpl(settings.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  } catch {
    throw new LoginError('token_endpoint_unreachable', 'Could not reach the sign-in service.');
  }
  const json: unknown = await response.json().catch(() => undefined);
  const fields = isRecord(json) ? json : {};
  if (!response.ok) {
    const error = typeof fields.error === 'string' ? fields.error : `http_${response.status}`;
    const description = typeof fields.error_description === 'string' ? fields.error_description : error;
    throw new LoginError(error, description);
  }
  if (typeof fields.id_token !== 'string')
    throw new LoginError('invalid_token_response', 'The sign-in service answered without an ID token.');
  return {
    idToken: fields.id_token,
    ...(typeof fields.access_token === 'string' ? { accessToken: fields.access_token } : {}),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The payload of a compact JWT, unverified. */
export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const parts = jwt.split('.');
  if (parts.length !== 3 || !parts[1]) throw new LoginError('invalid_id_token', 'The ID token is not a JWT.');
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='));
    const payload: unknown = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))),
    );
    if (isRecord(payload)) return payload;
  } catch {
    // Reported below, like a payload that is not an object.
  }
  throw new LoginError('invalid_id_token', 'The ID token payload is not a JSON object.');
}

/**
 * The ID token checks of OpenID Connect Core 3.1.3.7 that a browser client can make: issuer,
 * audience (and `azp` when there are several), nonce and expiry. The signature is not checked:
 * the token came straight from the token endpoint over TLS, which the spec (item 6) accepts in
 * place of a signature check, and a public client holds no secret the signature would protect.
 * APIs that receive our tokens verify signatures themselves.
 */
export function checkIdToken(
  claims: Record<string, unknown>,
  expected: { issuer: string; clientId: string; nonce?: string; nowSeconds?: number },
): void {
  const now = expected.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (claims.iss !== expected.issuer)
    throw new LoginError(
      'invalid_id_token',
      `The ID token was issued by ${String(claims.iss)}, not ${expected.issuer}.`,
    );
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(expected.clientId))
    throw new LoginError('invalid_id_token', 'The ID token was issued for another application.');
  if (audiences.length > 1 && claims.azp !== expected.clientId)
    throw new LoginError('invalid_id_token', 'The ID token names another authorized party.');
  if (expected.nonce !== undefined && claims.nonce !== expected.nonce)
    throw new LoginError('invalid_id_token', 'The ID token does not belong to this sign-in (nonce).');
  if (typeof claims.exp !== 'number' || claims.exp + CLOCK_SKEW_SECONDS <= now)
    throw new LoginError('id_token_expired', 'The ID token has expired.');
  if (typeof claims.sub !== 'string' || claims.sub === '')
    throw new LoginError('invalid_id_token', 'The ID token names no user.');
}

/** The checked login: tokens and the ID token's claims. */
export async function completeLogin(
  settings: OidcSettings,
  pending: PendingLogin | undefined,
  callbackUrl: URL,
  fetchImpl: typeof fetch = fetch,
): Promise<{ tokens: TokenSet; claims: Record<string, unknown> }> {
  const code = readCallback(callbackUrl, pending);
  // readCallback refuses a missing pending login, so it is there.
  const tokens = await exchangeCode(settings, pending!, code, fetchImpl);
  const claims = decodeJwtPayload(tokens.idToken);
  checkIdToken(claims, { issuer: settings.issuer, clientId: settings.clientId, nonce: pending!.nonce });
  return { tokens, claims };
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** What to show from an ID token's claims; our claims are read under `namespace` only. */
export function sessionView(claims: Record<string, unknown>, namespace: string): SessionView {
  const ours = (name: string): unknown => claims[`${namespace}${name}`];
  const roles = ours('roles');
  const invite = ours('invite');
  const data = ours('data');
  const sub = str(claims.sub) ?? '';
  const provider = sub.includes('|') ? sub.slice(0, sub.indexOf('|')) : undefined;
  const view: SessionView = {
    userId: sub,
    roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
  };
  const email = str(claims.email);
  if (email) view.email = email;
  const connection = str(ours('connection')) ?? provider;
  if (connection) view.connection = connection;
  if (isRecord(invite) && str(invite.id) && typeof invite.scope === 'string')
    view.invite = { id: invite.id as string, scope: invite.scope };
  if (data !== undefined) view.data = data;
  const inviteError = str(ours('invite_error'));
  if (inviteError) view.inviteError = inviteError;
  const hint = str(ours('invite_login_hint'));
  if (hint) view.inviteLoginHint = hint;
  return view;
}

/** The tenant's logout URL that comes back to `returnTo`, or undefined when there is none. */
export function logoutRedirect(settings: OidcSettings, returnTo: string): string | undefined {
  if (!settings.logoutUrl) return undefined;
  const url = new URL(settings.logoutUrl);
  url.searchParams.set('client_id', settings.clientId);
  url.searchParams.set('returnTo', returnTo);
  return url.href;
}

const INVITE_ERRORS: Record<string, string> = {
  invite_expired: 'This invitation has expired. Ask for a new one.',
  invite_revoked: 'This invitation was withdrawn.',
  invite_already_used: 'This invitation was already accepted by another account.',
  invite_email_mismatch: 'This invitation was sent to another email address.',
  invite_unknown_link: 'This invitation link was replaced by a newer one; use the latest email.',
  invite_not_found: 'This invitation does not exist.',
  invite_invalid: 'This invitation link is not valid.',
  invite_not_pending: 'This invitation can no longer be accepted.',
  invite_failed: 'This invitation could not be completed.',
  invite_unavailable:
    'We could not check your invitation right now; you are signed in without it. Open the link again later.',
  misconfigured: 'Invitations are not set up correctly; you are signed in without it.',
};

/** Whether an error code from the tenant is an invite refusal (the Action's `deny` policy). */
export function isInviteErrorCode(code: string): boolean {
  return Object.hasOwn(INVITE_ERRORS, code) || code.startsWith('invite_');
}

/** A sentence for an `invite_error` code; unknown codes are shown as such. */
export function inviteErrorMessage(code: string): string {
  return (
    (Object.hasOwn(INVITE_ERRORS, code) ? INVITE_ERRORS[code] : undefined) ??
    `The invitation could not be applied (${code}).`
  );
}
