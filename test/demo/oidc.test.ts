/**
 * The customer space's sign-in logic (the browser module, run here in Node): what `/login` sends
 * to `/authorize`, how `/callback` exchanges the code at a stand-in token endpoint, which ID
 * tokens it refuses, and how it reads our namespaced claims.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  beginLogin,
  checkIdToken,
  completeLogin,
  inviteErrorMessage,
  isInviteErrorCode,
  LoginError,
  logoutRedirect,
  sessionView,
} from '../../demo/browser/oidc';
import type { OidcSettings, PendingLogin } from '../../demo/browser/oidc';
import { json, startStandIn, unsignedJwt } from './stand-ins';
import type { StandIn } from './stand-ins';

const NS = 'https://inviteflow.dev/';
const ISSUER = 'https://inviteflow-dev.auth0.local/';
const APP = 'http://localhost:5173';

let tenant: StandIn;
let settings: OidcSettings;

beforeAll(async () => {
  tenant = await startStandIn();
  settings = {
    authorizeUrl: `${tenant.url}/authorize`,
    tokenUrl: `${tenant.url}/oauth/token`,
    logoutUrl: `${tenant.url}/v2/logout`,
    issuer: ISSUER,
    clientId: 'inviteflow-spa',
    audience: 'https://inviteflow/api',
    claimNamespace: NS,
  };
});
afterAll(() => tenant.close());
beforeEach(() => {
  tenant.requests.length = 0;
});

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** Starts a login from `/login` and answers the token request with `claims` in the ID token. */
async function loginWith(claims: (pending: PendingLogin) => Record<string, unknown>) {
  const { pending } = await beginLogin(settings, new URL(`${APP}/login?invite=tok.en`));
  tenant.answer((_req, res) =>
    json(res, 200, {
      access_token: 'at',
      id_token: unsignedJwt(claims(pending)),
      token_type: 'Bearer',
      expires_in: 86400,
    }),
  );
  const callback = new URL(`${APP}/callback?code=the-code&state=${pending.state}`);
  return { pending, result: completeLogin(settings, pending, callback) };
}

const goodClaims = (pending: PendingLogin) => ({
  iss: ISSUER,
  aud: 'inviteflow-spa',
  sub: 'auth0|u1',
  nonce: pending.nonce,
  exp: now() + 3600,
  iat: now(),
  email: 'ada@example.com',
  [`${NS}roles`]: ['member'],
  [`${NS}invite`]: { id: 'inv123', scope: 'workspace:demo' },
  [`${NS}data`]: { source: 'demo-funnel', name: 'Ada' },
});

describe('beginLogin (/login)', () => {
  it('sends code + PKCE S256 with state, nonce and the three forwarded parameters to /authorize', async () => {
    const page = new URL(
      `${APP}/login?invite=eyJ.a-b_c.sig&login_hint=${encodeURIComponent('ada+x@example.com')}&screen_hint=signup`,
    );
    const { authorizeUrl, pending } = await beginLogin(settings, page);
    const url = new URL(authorizeUrl);
    expect(url.origin + url.pathname).toBe(settings.authorizeUrl);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'inviteflow-spa',
      redirect_uri: `${APP}/callback`,
      scope: 'openid profile email',
      audience: 'https://inviteflow/api',
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: s256(pending.codeVerifier),
      code_challenge_method: 'S256',
      invite: 'eyJ.a-b_c.sig',
      login_hint: 'ada+x@example.com',
      screen_hint: 'signup',
    });
    expect(pending.redirectUri).toBe(`${APP}/callback`);
    // RFC 7636: 43 to 128 unreserved characters.
    expect(pending.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
  });

  it('forwards nothing else from the page URL and cannot be steered elsewhere by it', async () => {
    const page = new URL(`${APP}/login?redirect_uri=https://evil.example/cb&client_id=other&foo=bar&invite=`);
    const { authorizeUrl } = await beginLogin({ ...settings, audience: undefined }, page);
    const params = new URL(authorizeUrl).searchParams;
    expect(params.get('redirect_uri')).toBe(`${APP}/callback`);
    expect(params.get('client_id')).toBe('inviteflow-spa');
    for (const name of ['foo', 'audience', 'invite', 'login_hint', 'screen_hint'])
      expect(params.has(name)).toBe(false);
  });

  it('makes fresh state, nonce and verifier for every login', async () => {
    const a = (await beginLogin(settings, new URL(`${APP}/login`))).pending;
    const b = (await beginLogin(settings, new URL(`${APP}/login`))).pending;
    expect(new Set([a.state, a.nonce, a.codeVerifier, b.state, b.nonce, b.codeVerifier]).size).toBe(6);
  });
});

describe('completeLogin (/callback)', () => {
  it('exchanges the code with its verifier at the token endpoint and returns the checked claims', async () => {
    const { pending, result } = await loginWith(goodClaims);
    const { tokens, claims } = await result;
    expect(tokens.accessToken).toBe('at');
    expect(claims.sub).toBe('auth0|u1');
    expect(tenant.requests).toHaveLength(1);
    const request = tenant.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/oauth/token');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(request.body))).toEqual({
      grant_type: 'authorization_code',
      client_id: 'inviteflow-spa',
      code: 'the-code',
      redirect_uri: `${APP}/callback`,
      code_verifier: pending.codeVerifier,
    });
    // The invite token went to /authorize only, never to the token endpoint.
    expect(request.body).not.toContain('tok.en');
  });

  it.each([
    ['another issuer', { iss: 'https://evil.example/' }, 'invalid_id_token'],
    ['the issuer URL we reach, not the tenant name', { iss: 'http://127.0.0.1:4010/' }, 'invalid_id_token'],
    ['another audience', { aud: 'other-app' }, 'invalid_id_token'],
    ['several audiences and another azp', { aud: ['inviteflow-spa', 'x'], azp: 'x' }, 'invalid_id_token'],
    ['another nonce', { nonce: 'replayed' }, 'invalid_id_token'],
    ['no nonce', { nonce: undefined }, 'invalid_id_token'],
    ['an expiry in the past', { exp: now() - 3600 }, 'id_token_expired'],
    ['no expiry', { exp: undefined }, 'id_token_expired'],
    ['no subject', { sub: '' }, 'invalid_id_token'],
  ])('refuses an ID token with %s', async (_what, override, code) => {
    const { result } = await loginWith((pending) => ({ ...goodClaims(pending), ...override }));
    await expect(result).rejects.toMatchObject({ name: 'LoginError', code });
  });

  it('accepts several audiences when azp names this application', async () => {
    const { result } = await loginWith((pending) => ({
      ...goodClaims(pending),
      aud: ['inviteflow-spa', 'x'],
      azp: 'inviteflow-spa',
    }));
    await expect(result).resolves.toMatchObject({ claims: { sub: 'auth0|u1' } });
  });

  it('refuses a callback whose state it did not start, without calling the token endpoint', async () => {
    const { pending } = await beginLogin(settings, new URL(`${APP}/login`));
    for (const [stored, query] of [
      [pending, `code=c&state=forged`],
      [undefined, `code=c&state=${pending.state}`],
      [pending, `code=c`],
    ] as const) {
      await expect(
        completeLogin(settings, stored, new URL(`${APP}/callback?${query}`)),
      ).rejects.toMatchObject({
        code: 'state_mismatch',
      });
    }
    expect(tenant.requests).toHaveLength(0);
  });

  it("turns the Action's deny (access_denied with a refusal code) into that invite error", async () => {
    const { pending } = await beginLogin(settings, new URL(`${APP}/login`));
    const callback = new URL(
      `${APP}/callback?error=access_denied&error_description=invite_expired&state=${pending.state}`,
    );
    const error = await completeLogin(settings, pending, callback).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(LoginError);
    expect(error).toMatchObject({ code: 'invite_expired', message: inviteErrorMessage('invite_expired') });
    expect(tenant.requests).toHaveLength(0);
  });

  it('passes on any other refusal of the tenant in its own words', async () => {
    const { pending } = await beginLogin(settings, new URL(`${APP}/login`));
    const callback = new URL(
      `${APP}/callback?error=access_denied&error_description=${encodeURIComponent('User is blocked')}&state=${pending.state}`,
    );
    await expect(completeLogin(settings, pending, callback)).rejects.toMatchObject({
      code: 'access_denied',
      message: 'User is blocked',
    });
  });

  it("passes on the token endpoint's OAuth error", async () => {
    const { pending } = await beginLogin(settings, new URL(`${APP}/login`));
    tenant.answer((_req, res) =>
      json(res, 403, { error: 'invalid_grant', error_description: 'Invalid authorization code' }),
    );
    const callback = new URL(`${APP}/callback?code=used&state=${pending.state}`);
    await expect(completeLogin(settings, pending, callback)).rejects.toMatchObject({
      code: 'invalid_grant',
      message: 'Invalid authorization code',
    });
  });

  it('refuses a token answer without an ID token, and an ID token that is not a JWT', async () => {
    for (const body of [{ access_token: 'at' }, { access_token: 'at', id_token: 'not-a-jwt' }]) {
      const { pending } = await beginLogin(settings, new URL(`${APP}/login`));
      tenant.answer((_req, res) => json(res, 200, body));
      const callback = new URL(`${APP}/callback?code=c&state=${pending.state}`);
      await expect(completeLogin(settings, pending, callback)).rejects.toBeInstanceOf(LoginError);
    }
  });
});

describe('checkIdToken', () => {
  it('allows a minute of clock skew and no more', () => {
    const claims = { iss: ISSUER, aud: 'inviteflow-spa', sub: 'u', exp: 1000 };
    expect(() =>
      checkIdToken(claims, { issuer: ISSUER, clientId: 'inviteflow-spa', nowSeconds: 1059 }),
    ).not.toThrow();
    expect(() =>
      checkIdToken(claims, { issuer: ISSUER, clientId: 'inviteflow-spa', nowSeconds: 1060 }),
    ).toThrow(LoginError);
  });
});

describe('sessionView', () => {
  it('reads roles, invite and data under our namespace only', () => {
    const view = sessionView(
      {
        sub: 'google-oauth2|123',
        email: 'ada@example.com',
        roles: ['admin'],
        [`${NS}roles`]: ['member', 42, 'billing'],
        [`${NS}invite`]: { id: 'inv1', scope: 'workspace:demo', redirect: '/welcome' },
        [`${NS}data`]: { plan: 'pro' },
      },
      NS,
    );
    expect(view).toEqual({
      userId: 'google-oauth2|123',
      email: 'ada@example.com',
      connection: 'google-oauth2',
      roles: ['member', 'billing'],
      invite: { id: 'inv1', scope: 'workspace:demo' },
      data: { plan: 'pro' },
    });
  });

  it('shows an invite error and the account the invite waits for, and a named connection over the provider', () => {
    const view = sessionView(
      {
        sub: 'auth0|u2',
        [`${NS}connection`]: 'Username-Password-Authentication',
        [`${NS}invite_error`]: 'invite_email_mismatch',
        [`${NS}invite_login_hint`]: 'ada@example.com',
        [`${NS}roles`]: 'member',
        [`${NS}invite`]: { id: 7 },
      },
      NS,
    );
    expect(view).toEqual({
      userId: 'auth0|u2',
      connection: 'Username-Password-Authentication',
      roles: [],
      inviteError: 'invite_email_mismatch',
      inviteLoginHint: 'ada@example.com',
    });
  });
});

describe('messages and logout', () => {
  it('explains known invite errors and names unknown ones, own keys only', () => {
    expect(inviteErrorMessage('invite_expired')).toMatch(/expired/);
    expect(inviteErrorMessage('invite_brand_new')).toContain('invite_brand_new');
    expect(inviteErrorMessage('constructor')).toContain('(constructor)');
    expect(isInviteErrorCode('misconfigured')).toBe(true);
    expect(isInviteErrorCode('toString')).toBe(false);
    expect(isInviteErrorCode('access_denied')).toBe(false);
  });

  it('logs out at the tenant with the client id and a return address', () => {
    const url = new URL(logoutRedirect(settings, APP)!);
    expect(url.origin + url.pathname).toBe(settings.logoutUrl);
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: 'inviteflow-spa', returnTo: APP });
    expect(logoutRedirect({ ...settings, logoutUrl: undefined }, APP)).toBeUndefined();
  });
});
