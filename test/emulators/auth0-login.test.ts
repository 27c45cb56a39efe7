// The emulated Universal Login driven like a browser: plain `fetch`, manual redirects, a cookie
// jar and the HTML forms. Sign up, sign in, social accounts, PKCE and single-use codes, the bound
// post-login Actions (their event, claims, metadata, deny, budget) and silent SSO.
import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { API_AUDIENCE, APP_ORIGIN, Browser, CALLBACK, hidden, loginHelpers } from './universal-login';
import type { Started } from './universal-login';

let emu: Auth0Emulator;
let jwks: ReturnType<typeof createLocalJWKSet>;

const { authorize, exchange, tokensFor, signIn } = loginHelpers(() => ({ emu, jwks }));

beforeAll(async () => {
  emu = await startAuth0Emulator();
  jwks = createLocalJWKSet((await (await fetch(`${emu.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet);
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
});

describe('/authorize', () => {
  it('refuses an unknown client and a callback URL that is not allowed, on a page', async () => {
    const unknown = await authorize(new Browser(emu.url), { client_id: 'nobody' });
    const mismatch = await authorize(new Browser(emu.url), { redirect_uri: 'https://evil.example/callback' });

    expect(unknown.page.res.status).toBe(400);
    expect(unknown.page.html).toContain('Unknown client');
    expect(mismatch.page.res.status).toBe(400);
    expect(mismatch.page.html).toContain('Callback URL mismatch');
  });

  it('sends an application without PKCE back with invalid_request', async () => {
    const started = await authorize(new Browser(emu.url), { code_challenge: '' });

    expect(started.page.callback?.searchParams.get('error')).toBe('invalid_request');
    expect(started.page.callback?.searchParams.get('state')).toBe(started.state);
  });

  it('publishes the login endpoints in the discovery document', async () => {
    const doc = (await (await fetch(`${emu.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;

    expect(doc).toMatchObject({
      authorization_endpoint: `${emu.url}/authorize`,
      userinfo_endpoint: `${emu.url}/userinfo`,
      end_session_endpoint: `${emu.url}/oidc/logout`,
      code_challenge_methods_supported: ['S256'],
    });
  });
});

describe('sign up and sign in', () => {
  it('signs up on the sign-up tab (screen_hint), prefilled from login_hint, with an unverified email', async () => {
    const started = await authorize(new Browser(emu.url), {
      screen_hint: 'signup',
      login_hint: 'new@example.com',
    });
    expect(started.page.html).toContain('data-testid="signup-form"');
    expect(started.page.html).toContain('value="new@example.com"');

    const done = await started.browser.go('/u/signup', {
      state: hidden(started.page.html, 'state'),
      email: 'new@example.com',
      password: 'correct horse battery',
    });
    const { idToken } = await tokensFor(started, done.callback);

    expect(idToken).toMatchObject({ email: 'new@example.com', email_verified: false, nonce: started.nonce });
    expect(idToken.sub).toMatch(/^auth0\|/);
    expect(emu.getUser(idToken.sub!)).toMatchObject({
      email_verified: false,
      identities: [
        expect.objectContaining({ connection: 'Username-Password-Authentication', provider: 'auth0' }),
      ],
      logins_count: 1,
    });
  });

  it('refuses a second sign-up with the same email', async () => {
    emu.createUser({ email: 'taken@example.com', password: 'correct horse battery' });
    const started = await authorize(new Browser(emu.url), { screen_hint: 'signup' });

    const again = await started.browser.go('/u/signup', {
      state: hidden(started.page.html, 'state'),
      email: 'taken@example.com',
      password: 'another password',
    });

    expect(again.res.status).toBe(400);
    expect(again.html).toContain('The user already exists.');
  });

  it('shows the page again on a wrong password, then signs in with the right one', async () => {
    const user = emu.createUser({
      email: 'ada@example.com',
      password: 'correct horse battery',
      email_verified: true,
    });
    const started = await authorize(new Browser(emu.url));
    expect(started.page.html).toContain('data-testid="login-form"');

    const wrong = await signIn(started, 'ada@example.com', 'wrong password');
    expect(wrong.res.status).toBe(400);
    expect(wrong.html).toContain('Wrong email or password.');
    expect(wrong.callback).toBeUndefined();

    const right = await signIn({ ...started, page: wrong }, 'ada@example.com', 'correct horse battery');
    const { idToken } = await tokensFor(started, right.callback);
    expect(idToken).toMatchObject({ sub: user.user_id, email: 'ada@example.com', email_verified: true });
  });

  it('signs in with "Google" as an account whose email differs from the invite’s, verified by the provider', async () => {
    emu.installAction({
      name: 'probe',
      code: `exports.onExecutePostLogin = async (event, api) => {
        api.idToken.setCustomClaim('https://test/event', {
          connection: event.connection.name, strategy: event.connection.strategy, invite: event.request.query.invite,
        });
      };`,
    });
    const started = await authorize(new Browser(emu.url), {
      invite: 'the-link-token',
      login_hint: 'ada@example.com',
    });

    const chooser = await started.browser.go('/u/login', {
      state: hidden(started.page.html, 'state'),
      connection: 'google-oauth2',
    });
    expect(chooser.html).toContain('Sign in with Google');
    const done = await started.browser.go('/emulated-idp/google-oauth2/authorize', {
      state: hidden(chooser.html, 'state'),
      email: 'Ada.Personal@gmail.example',
      name: 'Ada Lovelace',
    });
    const { idToken } = await tokensFor(started, done.callback);

    expect(idToken.sub).toMatch(/^google-oauth2\|\d{21}$/);
    expect(idToken).toMatchObject({
      email: 'ada.personal@gmail.example',
      email_verified: true,
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
      'https://test/event': {
        connection: 'google-oauth2',
        strategy: 'google-oauth2',
        invite: 'the-link-token',
      },
    });
  });

  it('signs in with "Facebook" and finds the same account on the next login', async () => {
    const first = await authorize(new Browser(emu.url));
    const chooser = await first.browser.go('/u/login', {
      state: hidden(first.page.html, 'state'),
      connection: 'facebook',
    });
    const done = await first.browser.go('/emulated-idp/facebook/authorize', {
      state: hidden(chooser.html, 'state'),
      email: 'fb@example.com',
    });
    const { idToken } = await tokensFor(first, done.callback);

    const second = await authorize(new Browser(emu.url));
    const chooserAgain = await second.browser.go('/u/login', {
      state: hidden(second.page.html, 'state'),
      connection: 'facebook',
    });
    expect(chooserAgain.html).toContain('fb@example.com');
    const again = await second.browser.go('/emulated-idp/facebook/authorize', {
      state: hidden(chooserAgain.html, 'state'),
      email: 'fb@example.com',
    });
    const { idToken: idTokenAgain } = await tokensFor(second, again.callback);

    expect(idToken.sub).toMatch(/^facebook\|\d{16}$/);
    expect(idTokenAgain.sub).toBe(idToken.sub);
    expect(emu.getUser(idToken.sub!)?.logins_count).toBe(2);
  });
});

describe('/oauth/token with authorization_code', () => {
  async function codeFor(): Promise<{ started: Started; code: string }> {
    emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const started = await authorize(new Browser(emu.url));
    const done = await signIn(started, 'ada@example.com', 'correct horse battery');
    return { started, code: done.callback?.searchParams.get('code') ?? '' };
  }

  it('refuses a code verifier that does not match the challenge', async () => {
    const { code } = await codeFor();

    const res = await exchange(code, randomBytes(32).toString('base64url'));

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'Failed to verify code verifier',
    });
  });

  it('accepts a code once only', async () => {
    const { started, code } = await codeFor();

    const first = await exchange(code, started.verifier);
    const second = await exchange(code, started.verifier);

    expect(first.status).toBe(200);
    expect(second.status).toBe(403);
    expect(((await second.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('refuses a redirect_uri other than the one the code was issued for', async () => {
    const { started, code } = await codeFor();

    const res = await exchange(code, started.verifier, 'http://127.0.0.1:3000/callback');

    expect(res.status).toBe(403);
  });

  it('answers CORS for the application’s origin only', async () => {
    const { started, code } = await codeFor();

    const allowed = await exchange(code, started.verifier);
    const preflight = await fetch(`${emu.url}/oauth/token`, {
      method: 'OPTIONS',
      headers: { origin: APP_ORIGIN, 'access-control-request-method': 'POST' },
    });
    const foreign = await fetch(`${emu.url}/userinfo`, { headers: { origin: 'https://evil.example' } });

    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses the authorization_code grant to a machine-to-machine client', async () => {
    const res = await fetch(`${emu.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'authorization_code',
        client_id: 'inviteflow-m2m',
        client_secret: 'inviteflow-m2m-secret',
        code: 'x',
      }),
    });

    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized_client');
  });
});

describe('post-login Actions', () => {
  const PROBE = `exports.onExecutePostLogin = async (event, api) => {
    api.idToken.setCustomClaim('https://test/event', {
      protocol: event.transaction.protocol,
      query: event.request.query,
      logins: event.stats.logins_count,
      secret: event.secrets.PROBE_SECRET,
      seen: event.user.app_metadata.seen ?? 0,
      client: event.client.client_id,
      methods: event.authentication.methods.map((m) => m.name),
    });
    api.accessToken.setCustomClaim('https://test/at', 'yes');
    api.user.setAppMetadata('seen', (event.user.app_metadata.seen ?? 0) + 1);
  };`;

  it('runs with a faithful event, puts its claims in the tokens and applies metadata at the end', async () => {
    emu.installAction({ name: 'probe', code: PROBE, secrets: { PROBE_SECRET: 's3cret' } });
    const user = emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const started = await authorize(new Browser(emu.url), { invite: 'tok', audience: API_AUDIENCE });

    const done = await signIn(started, 'ada@example.com', 'correct horse battery');
    const tokens = await tokensFor(started, done.callback);

    expect(tokens.idToken['https://test/event']).toEqual({
      protocol: 'oidc-basic-profile',
      query: expect.objectContaining({ invite: 'tok', client_id: emu.spaClientId, audience: API_AUDIENCE }),
      logins: 1,
      secret: 's3cret',
      seen: 0,
      client: emu.spaClientId,
      methods: ['pwd'],
    });
    const { payload: access } = await jwtVerify(tokens.access_token, jwks, {
      issuer: emu.issuer,
      audience: API_AUDIENCE,
    });
    expect(access['https://test/at']).toBe('yes');
    expect(access.scope).toBe('openid profile email');
    expect(emu.getUser(user.user_id)?.app_metadata).toEqual({ seen: 1 });
  });

  it('redirects with access_denied and the reason when an Action denies, and opens no session', async () => {
    emu.installAction({
      name: 'bouncer',
      code: `exports.onExecutePostLogin = async (event, api) => { api.access.deny('invite_revoked'); };`,
    });
    emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const started = await authorize(new Browser(emu.url));

    const done = await signIn(started, 'ada@example.com', 'correct horse battery');

    expect(done.callback?.searchParams.get('error')).toBe('access_denied');
    expect(done.callback?.searchParams.get('error_description')).toBe('invite_revoked');
    expect(done.callback?.searchParams.get('state')).toBe(started.state);
    expect(done.callback?.searchParams.get('code')).toBeNull();
    expect(started.browser.hasCookie('auth0')).toBe(false);
  });

  it('sends the person back to the application with access_denied when an Action throws', async () => {
    emu.installAction({
      name: 'redirector',
      code: `exports.onExecutePostLogin = async (event, api) => { api.redirect.sendUserTo('https://example.com'); };`,
    });
    emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const started = await authorize(new Browser(emu.url));

    const done = await signIn(started, 'ada@example.com', 'correct horse battery');

    expect(done.callback?.searchParams.get('error')).toBe('access_denied');
    expect(done.callback?.searchParams.get('error_description')).toContain(
      'api.redirect.sendUserTo is not supported',
    );
    expect(done.callback?.searchParams.get('state')).toBe(started.state);
    expect(done.callback?.searchParams.get('code')).toBeNull();
    expect(started.browser.hasCookie('auth0')).toBe(false);
  });

  it('runs again on a refresh-token exchange, without the /authorize query', async () => {
    emu.installAction({ name: 'probe', code: PROBE });
    emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const started = await authorize(new Browser(emu.url), { invite: 'tok', scope: 'openid offline_access' });
    const done = await signIn(started, 'ada@example.com', 'correct horse battery');
    const { refresh_token: refreshToken } = await tokensFor(started, done.callback);
    expect(refreshToken).toBeTruthy();

    const res = await fetch(`${emu.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: emu.spaClientId,
        refresh_token: refreshToken!,
      }).toString(),
    });
    const body = (await res.json()) as { id_token: string };
    const { payload } = await jwtVerify(body.id_token, jwks, {
      issuer: emu.issuer,
      audience: emu.spaClientId,
    });

    expect(res.status).toBe(200);
    expect(payload['https://test/event']).toMatchObject({
      protocol: 'oauth2-refresh-token',
      query: {},
      seen: 1,
    });
  });

  it('sends the person back with access_denied when the flow outlives its time budget', async () => {
    const slow = await startAuth0Emulator({
      actionBudgetMs: 300,
      actions: [{ name: 'stuck', code: 'exports.onExecutePostLogin = () => new Promise(() => {});' }],
    });
    try {
      slow.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
      const browser = new Browser(slow.url);
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: slow.spaClientId,
        redirect_uri: CALLBACK,
        scope: 'openid',
        code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'),
        code_challenge_method: 'S256',
      });
      const page = await browser.go(`/authorize?${query.toString()}`);

      const done = await browser.go('/u/login', {
        state: hidden(page.html, 'state'),
        username: 'ada@example.com',
        password: 'correct horse battery',
      });

      expect(done.callback?.searchParams.get('error')).toBe('access_denied');
      expect(done.callback?.searchParams.get('code')).toBeNull();
      expect(slow.state().flows.map((f) => f.outcome)).toEqual(['failed']);
      expect(slow.state().flows[0]?.failure).toContain('exceeded its 300 ms budget');
    } finally {
      await slow.close();
    }
  });
});

describe('the session cookie', () => {
  it('skips the login page on the next /authorize (silent SSO) but runs the Actions again', async () => {
    emu.installAction({
      name: 'counter',
      code: `exports.onExecutePostLogin = async (event, api) => {
        api.idToken.setCustomClaim('https://test/logins', event.stats.logins_count);
      };`,
    });
    emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const browser = new Browser(emu.url);
    const first = await authorize(browser);
    const done = await signIn(first, 'ada@example.com', 'correct horse battery');
    const firstTokens = await tokensFor(first, done.callback);

    const second = await authorize(browser, { prompt: 'none' });
    const secondTokens = await tokensFor(second, second.page.callback);

    expect(browser.hasCookie('auth0')).toBe(true);
    expect(firstTokens.idToken['https://test/logins']).toBe(1);
    expect(secondTokens.idToken['https://test/logins']).toBe(2);
    expect(secondTokens.idToken.sid).toBe(firstTokens.idToken.sid);
    expect(emu.state().flows).toHaveLength(2);
  });

  it('answers login_required to prompt=none without a session, and logout ends the session', async () => {
    emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const browser = new Browser(emu.url);
    const silent = await authorize(browser, { prompt: 'none' });
    expect(silent.page.callback?.searchParams.get('error')).toBe('login_required');

    const first = await authorize(browser);
    await signIn(first, 'ada@example.com', 'correct horse battery');
    const logout = await browser.request(
      `/v2/logout?client_id=${emu.spaClientId}&returnTo=${encodeURIComponent(APP_ORIGIN)}`,
    );
    const after = await authorize(browser);

    expect(logout.status).toBe(302);
    expect(logout.headers.get('location')).toBe(APP_ORIGIN);
    expect(browser.hasCookie('auth0')).toBe(false);
    expect(after.page.html).toContain('data-testid="login-form"');
  });

  it('refuses a logout returnTo that is not an allowed logout URL', async () => {
    const res = await fetch(
      `${emu.url}/v2/logout?client_id=${emu.spaClientId}&returnTo=https%3A%2F%2Fevil.example`,
      {
        redirect: 'manual',
      },
    );

    expect(res.status).toBe(400);
  });
});

describe('Universal Login language and name', () => {
  it('speaks the first enabled language of ui_locales and names the application', async () => {
    const fr = await authorize(new Browser(emu.url), { ui_locales: 'de fr-CA en' });
    expect(fr.page.html).toContain('<html lang="fr">');
    expect(fr.page.html).toContain('<h1>Bienvenue</h1>');
    expect(fr.page.html).toContain('Connectez-vous à Acme pour continuer.');
    expect(fr.page.html).not.toMatch(/inviteflow/i);

    const signup = await authorize(new Browser(emu.url), { ui_locales: 'fr', screen_hint: 'signup' });
    expect(signup.page.html).toContain('<h1>Créez votre compte</h1>');
    const wrong = await signup.browser.go('/u/signup', {
      state: hidden(signup.page.html, 'state'),
      email: 'ada@example.com',
      password: 'short',
    });
    expect(wrong.res.status).toBe(400);
    expect(wrong.html).toContain('Mot de passe trop faible');

    const en = await authorize(new Browser(emu.url), { ui_locales: 'de' });
    expect(en.page.html).toContain('<html lang="en">');
    expect(en.page.html).toContain('Log in to Acme to continue.');
  });

  it("falls back to the browser's language without ui_locales, and shows a configured name", async () => {
    const named = await startAuth0Emulator({ spa: { name: 'Globex', callbacks: [CALLBACK] } });
    try {
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: named.spaClientId,
        redirect_uri: CALLBACK,
        scope: 'openid',
        code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'),
        code_challenge_method: 'S256',
      });
      const toPage = await fetch(`${named.url}/authorize?${query.toString()}`, { redirect: 'manual' });
      const page = await fetch(new URL(toPage.headers.get('location')!, named.url), {
        headers: { 'accept-language': 'fr-FR,fr;q=0.9,en;q=0.8' },
      });
      const html = await page.text();
      expect(html).toContain('<html lang="fr">');
      expect(html).toContain('Connectez-vous à Globex pour continuer.');
    } finally {
      await named.close();
    }
  });
});

describe('logout', () => {
  async function signedIn(): Promise<{ browser: Browser; idToken: string }> {
    emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const started = await authorize(new Browser(emu.url));
    const done = await signIn(started, 'ada@example.com', 'correct horse battery');
    const tokens = await tokensFor(started, done.callback);
    expect(started.browser.hasCookie('auth0')).toBe(true);
    return { browser: started.browser, idToken: tokens.id_token };
  }

  it('/v2/logout compares returnTo without its query with the Allowed Logout URLs', async () => {
    const withLogin = await startAuth0Emulator({
      spa: { callbacks: [CALLBACK], allowedLogoutUrls: [APP_ORIGIN, `${APP_ORIGIN}/login`] },
    });
    try {
      const back = `${APP_ORIGIN}/login?invite=tok&login_hint=ada%40example.com`;
      const res = await fetch(
        `${withLogin.url}/v2/logout?client_id=${withLogin.spaClientId}&returnTo=${encodeURIComponent(back)}`,
        { redirect: 'manual' },
      );
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(back);
      const other = await fetch(
        `${withLogin.url}/v2/logout?client_id=${withLogin.spaClientId}&returnTo=${encodeURIComponent(`${APP_ORIGIN}/admin`)}`,
        { redirect: 'manual' },
      );
      expect(other.status).toBe(400);
    } finally {
      await withLogin.close();
    }
  });

  it('/oidc/logout ends the session and returns to post_logout_redirect_uri with state', async () => {
    const { browser, idToken } = await signedIn();
    const target = encodeURIComponent(APP_ORIGIN);
    const res = await browser.request(
      `/oidc/logout?id_token_hint=${idToken}&post_logout_redirect_uri=${target}&state=s1`,
    );
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${APP_ORIGIN}/?state=s1`);
    expect(browser.hasCookie('auth0')).toBe(false);
    const again = await authorize(browser);
    expect(again.page.html).toContain('data-testid="login-form"');

    const byClient = await fetch(
      `${emu.url}/oidc/logout?client_id=${emu.spaClientId}&post_logout_redirect_uri=${target}`,
      { redirect: 'manual' },
    );
    expect(byClient.status).toBe(302);
  });

  it('/oidc/logout refuses a redirect without an application, to an unlisted URL, or for a forged hint', async () => {
    const { browser, idToken } = await signedIn();
    const target = encodeURIComponent(APP_ORIGIN);
    const refused = [
      `/oidc/logout?post_logout_redirect_uri=${target}`,
      `/oidc/logout?client_id=${emu.spaClientId}&post_logout_redirect_uri=${encodeURIComponent('https://evil.example')}`,
      `/oidc/logout?id_token_hint=${idToken.slice(0, -4)}AAAA&post_logout_redirect_uri=${target}`,
      `/oidc/logout?id_token_hint=${idToken}&client_id=inviteflow-m2m&post_logout_redirect_uri=${target}`,
    ];
    for (const path of refused) expect((await browser.request(path)).status, path).toBe(400);
    // A refused logout changes nothing.
    expect(browser.hasCookie('auth0')).toBe(true);
  });
});

describe('refresh-token rotation', () => {
  const refresh = (token: string) =>
    fetch(`${emu.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: emu.spaClientId,
        refresh_token: token,
      }),
    });

  it('hands out a new refresh token with each exchange; reusing an old one revokes the family', async () => {
    emu.createUser({ email: 'ada@example.com', password: 'correct horse battery' });
    const started = await authorize(new Browser(emu.url), { scope: 'openid offline_access' });
    const done = await signIn(started, 'ada@example.com', 'correct horse battery');
    const { refresh_token: first } = await tokensFor(started, done.callback);

    const one = await refresh(first!);
    expect(one.status).toBe(200);
    const { refresh_token: second } = (await one.json()) as { refresh_token: string };
    expect(second).toBeTruthy();
    expect(second).not.toBe(first);

    // The first token was used: presenting it again is a reuse, and nothing of the family works.
    const reused = await refresh(first!);
    expect(reused.status).toBe(403);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await refresh(second)).status).toBe(403);
  });
});
