/**
 * The demo server against the real other sides: the customer-space shell (its settings for
 * Auth0's SPA SDK, CSP, the bundled app) with the Auth0 emulator as tenant, what `/login` asks
 * the tenant for, and the funnel starting invites through the real API (in-process, on the
 * Temporal dev server) with a client-credentials token the emulator issued. The browser journeys
 * themselves are in test/e2e.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpaConfig } from '../../../demo/browser/app';
import { inviteErrorMessage, inviteLoginUrl, loginRequest, pickLocale, remedyFor, sessionView, TEXT } from '../../../demo/browser/session';
import { startDemoApp } from '../../../demo/server';
import type { DemoApp, DemoAppOptions } from '../../../demo/server';
import { CLAIMS, claimName } from '../../../lib/action-contract';
import { startHarness, uniqueEmail } from '../../support/api-harness';
import type { Harness } from '../../support/api-harness';

const HOSTILE = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;

let h: Harness;
let apiUrl: string;
let app: DemoApp;
let tokenCalls = 0;
let tokenFails = false;

function options(overrides: Partial<DemoAppOptions> = {}): DemoAppOptions {
  return {
    auth0Url: h.auth0.url,
    issuer: h.auth0.issuer,
    clientId: h.auth0.spaClientId,
    audience: 'https://inviteflow/api',
    apiUrl,
    funnelToken: () => {
      tokenCalls += 1;
      return tokenFails ? Promise.reject(new Error('tenant down')) : h.bearer('invites:create');
    },
    ...overrides,
  };
}

beforeAll(async () => {
  h = await startHarness();
  apiUrl = await h.app.listen({ port: 0, host: '127.0.0.1' });
  app = await startDemoApp(options());
  // The tenant's application settings for this customer space, as its setup would make them.
  const spa = h.auth0.store.clients.get(h.auth0.spaClientId)!;
  h.auth0.registerClient({ ...spa, callbacks: [`${app.url}/callback`], allowedLogoutUrls: [app.url] });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await h?.close();
});

/** The settings a served page carries for its script. */
function pageConfig(html: string): SpaConfig {
  const match = /<script type="application\/json" id="spa-config">(.*?)<\/script>/s.exec(html);
  expect(match).not.toBeNull();
  return JSON.parse(match![1]!) as SpaConfig;
}

function postFunnel(fields: Record<string, string>, to = app): Promise<Response> {
  return fetch(`${to.url}/funnel`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('customer space', () => {
  it('serves the app shell on /, /login and /callback with the SDK settings, never echoing the link', async () => {
    const invite = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln';
    for (const path of [
      '/',
      `/login?invite=${invite}&login_hint=ada%40example.com&screen_hint=signup&ui_locales=fr`,
      '/callback?code=c&state=s',
    ]) {
      const res = await fetch(app.url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await res.text();
      expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
      expect(pageConfig(html)).toEqual({
        domain: h.auth0.url,
        issuer: h.auth0.issuer,
        clientId: 'inviteflow-spa',
        audience: 'https://inviteflow/api',
        claimNamespace: 'https://inviteflow.dev/',
        appName: 'Acme',
      });
      // The script reads the parameters from its own URL; the server never writes them into a page.
      expect(html).not.toContain(invite);
      expect(html).not.toContain('ada@example.com');
    }
  });

  it('points the SDK at a tenant that answers what it asks for', async () => {
    const { domain, issuer } = pageConfig(await (await fetch(`${app.url}/`)).text());
    const discovery = (await (await fetch(`${domain}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    // spa-js builds its URLs from `domain` and compares `iss` with `issuer`.
    expect(discovery).toMatchObject({
      issuer,
      authorization_endpoint: `${domain}/authorize`,
      token_endpoint: `${domain}/oauth/token`,
    });
    // The SDK's token call sends an Auth0-Client header, so the browser asks first.
    const preflight = await fetch(`${domain}/oauth/token`, {
      method: 'OPTIONS',
      headers: {
        origin: app.url,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'auth0-client,content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(app.url);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('auth0-client');
  });

  it('sends a CSP that allows only itself, its stylesheet and the tenant, and no referrer', async () => {
    const res = await fetch(`${app.url}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = Object.fromEntries(
      csp.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')];
      }),
    );
    expect(directives).toMatchObject({
      'default-src': "'none'",
      'script-src': "'self'",
      'connect-src': `'self' ${h.auth0.url}`,
      'form-action': "'self'",
      'frame-ancestors': "'none'",
    });
    expect(csp).not.toContain('unsafe-inline');
    const style = /<style>(.*?)<\/style>/s.exec(await res.text())![1]!;
    expect(directives['style-src']).toBe(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('keeps settings with markup inside the JSON, where no script can be started from them', async () => {
    const hostile = await startDemoApp(options({ clientId: `spa</script><script>alert(1)</script>` }));
    try {
      const html = await (await fetch(`${hostile.url}/`)).text();
      expect(html).not.toContain('</script><script>alert(1)');
      expect(pageConfig(html).clientId).toBe(`spa</script><script>alert(1)</script>`);
    } finally {
      await hostile.close();
    }
  });

  it('serves one bundled module with the Auth0 SPA SDK in it and every test id', async () => {
    const res = await fetch(`${app.url}/assets/app.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await res.text();
    // Bundled: nothing left for the browser to resolve.
    expect(code).not.toMatch(/^\s*import\s/m);
    expect(code).toContain('auth0-spa-js');
    expect(code).toContain('/v2/logout');
    for (const id of [
      'signed-in-email',
      'user-id',
      'roles',
      'invite-scope',
      'invite-id',
      'data',
      'invite-error',
      'invite-for',
      'switch-account',
      'retry-invite',
      'sign-in',
      'sign-up',
      'sign-out',
    ])
      expect(code).toContain(`"${id}"`);
    expect((await fetch(`${app.url}/assets/oidc.js`)).status).toBe(404);
  });

  it('names the configured application in the header and title of every page, in the page’s language', async () => {
    const globex = await startDemoApp(options({ appName: 'Globex & Co' }));
    try {
      const shell = await (await fetch(`${globex.url}/`)).text();
      expect(shell).toContain('<title>Globex &amp; Co customer space</title>');
      expect(shell).toContain('<header><a href="/">Globex &amp; Co customer space</a><a class="muted" href="/funnel">Get access</a></header>');
      expect(pageConfig(shell).appName).toBe('Globex & Co');
      const funnel = await (await fetch(`${globex.url}/funnel`, { headers: { 'accept-language': 'fr-FR' } })).text();
      expect(funnel).toContain('<html lang="fr">');
      expect(funnel).toContain('<title>Obtenir l’accès</title>');
      expect(funnel).toContain('<header><a href="/">Espace client Globex &amp; Co</a><a class="muted" href="/funnel">Obtenir l’accès</a></header>');
      const refused = await postFunnel({ email: 'not-an-email' }, globex);
      expect(await refused.text()).toContain('<a href="/">Globex &amp; Co customer space</a>');
      const missing = await (await fetch(`${globex.url}/nope`)).text();
      expect(missing).toContain('<a href="/">Globex &amp; Co customer space</a>');
      for (const html of [shell, funnel, missing]) expect(html).not.toContain('Acme');
    } finally {
      await globex.close();
    }
  });

  it('says the same thing in both languages: the invited address and what to do, a labelled code, French typography', () => {
    for (const locale of ['en', 'fr'] as const) {
      const t = TEXT[locale];
      // The generic wrong-account sentence says what to do, not only that the address differs.
      expect(inviteErrorMessage('invite_email_mismatch', locale)).toMatch(locale === 'fr' ? /connectez-vous avec l’adresse/ : /sign in with the address/);
      // A code a person sees is labelled for support; an unknown one is not put into the sentence.
      expect(t.code).toBe(locale === 'fr' ? 'Code pour le support\u00a0: ' : 'Code for support: ');
      expect(inviteErrorMessage('invite_something_new', locale)).not.toContain('invite_something_new');
    }
    // The deny policy's notice (no session, so no signed-in address) says what the English one says.
    expect(TEXT.en.mismatchNoAddress).toBe('You signed in with another address, so it was not applied.');
    expect(TEXT.fr.mismatchNoAddress).toBe('Vous vous êtes connecté avec une autre adresse\u00a0: elle n’a donc pas été appliquée.');
    expect(TEXT.fr.getAccess).toBe('Obtenir l’accès');
    // Every French sentence: the typographic apostrophe, a no-break space before : ; ? !
    const french = JSON.stringify(TEXT.fr, (_key, value: unknown) =>
      typeof value === 'function' ? (value as (a: string) => string)('ada@example.com') : value,
    );
    expect(french).not.toMatch(/[A-Za-zÀ-ÿ]'[A-Za-zÀ-ÿ]/);
    expect(french).not.toMatch(/ [:;?!]/);
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    expect((await fetch(`${app.url}/nope`)).status).toBe(404);
    const post = await fetch(`${app.url}/login`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('what /login asks the tenant for', () => {
  it('forwards the invite, hints and language, and forces the account choice for an invite', () => {
    const url = new URL(
      'http://app.test/login?invite=tok.en.sig&login_hint=ada%40example.com&screen_hint=signup&ui_locales=fr&prompt=none&redirect_uri=https://evil.test',
    );
    const { authorizationParams, invite } = loginRequest(url, ['en-US']);
    expect(authorizationParams).toEqual({
      invite: 'tok.en.sig',
      login_hint: 'ada@example.com',
      screen_hint: 'signup',
      ui_locales: 'fr',
      prompt: 'login',
    });
    expect(invite).toEqual({
      token: 'tok.en.sig',
      loginHint: 'ada@example.com',
      screenHint: 'signup',
      locale: 'fr',
    });
    // The switch to the invited address comes back to the same kind of login.
    const again = new URL(inviteLoginUrl('http://app.test', invite!, 'ada@example.com'));
    expect(loginRequest(again).authorizationParams).toEqual(authorizationParams);
  });

  it('asks for no prompt without an invite, and falls back to the browser language, then English', () => {
    expect(loginRequest(new URL('http://app.test/login?screen_hint=signup'))).toEqual({
      authorizationParams: { screen_hint: 'signup' },
    });
    const { invite, authorizationParams } = loginRequest(new URL('http://app.test/login?invite=t'), [
      'fr-CA',
      'en',
    ]);
    expect(invite?.locale).toBe('fr');
    expect(authorizationParams).toEqual({ invite: 't', prompt: 'login', ui_locales: 'fr' });
    expect(pickLocale('de', 'it-IT')).toBe('en');
  });

  it('reads the claim names of the contract, and offers one control per refusal', () => {
    const ns = 'https://inviteflow.dev/';
    const view = sessionView(
      {
        sub: 'facebook|123',
        email: 'bob@example.com',
        [claimName(ns, CLAIMS.inviteError)]: 'invite_email_mismatch',
        [claimName(ns, CLAIMS.inviteLoginHint)]: 'ada@example.com',
        'https://other.example/roles': ['admin'],
      },
      ns,
    );
    expect(view).toEqual({
      userId: 'facebook|123',
      email: 'bob@example.com',
      connection: 'facebook',
      roles: [],
      inviteError: 'invite_email_mismatch',
      inviteLoginHint: 'ada@example.com',
    });
    expect(remedyFor('invite_email_mismatch')).toBe('switch-account');
    expect(remedyFor('invite_unavailable')).toBe('retry');
    expect(remedyFor('invite_expired')).toBe('none');
  });

  it('shows the HubSpot contact id and the CRM properties of the claims, under the namespace only', () => {
    const ns = 'https://inviteflow.dev/';
    const view = sessionView(
      {
        sub: 'google-oauth2|1',
        email: 'ada@example.com',
        [claimName(ns, CLAIMS.roles)]: ['member'],
        [claimName(ns, CLAIMS.contactId)]: '151',
        [claimName(ns, CLAIMS.crm)]: { lifecyclestage: 'customer', company: 'Acme', jobtitle: null, bad: 3 },
        'https://other.example/hubspot_contact_id': '999',
      },
      ns,
    );
    expect(view).toEqual({
      userId: 'google-oauth2|1',
      email: 'ada@example.com',
      connection: 'google-oauth2',
      roles: ['member'],
      contactId: '151',
      crm: { lifecyclestage: 'customer', company: 'Acme', jobtitle: null },
    });
    // Claims of another shape, or under another namespace, show nothing.
    const other = sessionView(
      {
        sub: 'auth0|2',
        [claimName(ns, CLAIMS.contactId)]: 151,
        [claimName(ns, CLAIMS.crm)]: ['customer'],
        'https://other.example/crm': { company: 'Evil' },
      },
      ns,
    );
    expect(other).toEqual({ userId: 'auth0|2', connection: 'auth0', roles: [] });
  });
});

describe('funnel', () => {
  it('shows the form with its test ids, posting to itself', async () => {
    const res = await fetch(`${app.url}/funnel`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<form method="post" action="/funnel" novalidate>');
    for (const id of ['funnel-email', 'funnel-name', 'funnel-submit'])
      expect(html).toContain(`data-testid="${id}"`);
  });

  it('starts the invite through the API with its token and says to check the inbox', async () => {
    const email = uniqueEmail('ada');
    const res = await postFunnel({ email, name: 'Ada Lovelace' });
    expect(res.status).toBe(200);
    const html = await res.text();
    const inviteId = /data-outcome="sent" data-invite-id="([^"]+)"/.exec(html)?.[1];
    expect(inviteId).toBeDefined();
    expect(html).toContain(`<strong>${email}</strong>`);
    const status = await h.status(inviteId!);
    expect(status).toMatchObject({
      state: 'pending',
      email,
      scope: 'workspace:demo',
      roles: ['member'],
      data: { source: 'demo-funnel', name: 'Ada Lovelace' },
    });
    expect(html).toMatch(/<div class="notice ok" data-testid="funnel-result" data-outcome="sent"[^>]*>\s*<h1>Check your inbox<\/h1>/);
    expect(html).toContain(`We sent an invitation to <strong>${email}</strong>`);
    // In the invitee's time zone (an `en` invite's default, New York), the zone named.
    const until = new Intl.DateTimeFormat('en', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'America/New_York' }).format(new Date(status.expiresAt));
    expect(html).toMatch(new RegExp(`The link is valid until ${until} at \\d{1,2}:\\d{2}\\s[AP]M E[SD]T\\.`));
    // The browser never sees the funnel's bearer token.
    expect(html).not.toContain(await h.bearer('invites:create'));
  });

  it('says so when an invite for this email was already open', async () => {
    const email = uniqueEmail('again');
    expect((await postFunnel({ email })).status).toBe(200);
    const html = await (await postFunnel({ email })).text();
    expect(html).toContain('data-outcome="sent"');
    expect(html).toContain(`already on its way to <strong>${email}</strong>`);
  });

  it('sends a hostile name to the API verbatim and shows nothing of it unescaped', async () => {
    const email = uniqueEmail('eve');
    const ok = await (await postFunnel({ email, name: HOSTILE })).text();
    expect(ok).not.toContain('<script>alert(1)');
    const inviteId = /data-invite-id="([^"]+)"/.exec(ok)![1]!;
    expect((await h.status(inviteId)).data).toEqual({ source: 'demo-funnel', name: HOSTILE });

    const failed = await postFunnel({ email: `eve${HOSTILE}@example.com`, name: HOSTILE });
    expect(failed.status).toBe(400);
    const html = await failed.text();
    expect(html).toContain('data-code="invalid_request"');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain(
      `value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" data-testid="funnel-name"`,
    );
  });

  it("ties the API's field problems to the fields, in the page's words, with the API's 4xx status and code", async () => {
    const res = await postFunnel({ email: 'not-an-email' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(/data-testid="funnel-result" data-outcome="error" data-code="invalid_request"/);
    expect(html).toContain('<li><a href="#email">Enter an email address in the right format, like name@example.com.</a></li>');
    expect(html).toContain('<input aria-invalid="true" aria-describedby="email-error" id="email"');
    // The code sits under the message, labelled for support as in the customer space.
    expect(html).toContain('<p class="muted">Code for support: <code>invalid_request</code></p>');
    expect(html).toContain('value="not-an-email" data-testid="funnel-email"');
  });

  it('reports an unreachable API as 502 api_unreachable', async () => {
    const offline = await startDemoApp(options({ apiUrl: `http://127.0.0.1:${await closedPort()}` }));
    try {
      const res = await postFunnel({ email: uniqueEmail('offline') }, offline);
      expect(res.status).toBe(502);
      expect(await res.text()).toContain('data-code="api_unreachable"');
    } finally {
      await offline.close();
    }
  });

  it('starts nothing without an email or without a token', async () => {
    tokenCalls = 0;
    const noEmail = await postFunnel({ email: '  ', name: 'x' });
    expect(noEmail.status).toBe(400);
    expect(await noEmail.text()).toContain('data-code="invalid_request"');
    const malformed = await postFunnel({ email: 'ada at example' });
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toContain('id="email-error"');
    expect(tokenCalls).toBe(0);

    tokenFails = true;
    try {
      const sent = h.fake.calls.emails.length;
      const noToken = await postFunnel({ email: uniqueEmail('notoken') });
      expect(noToken.status).toBe(502);
      expect(await noToken.text()).toContain('data-code="token_unavailable"');
      expect(h.fake.calls.emails.length).toBe(sent);
    } finally {
      tokenFails = false;
    }
  });

  it('refuses bodies that are not a form or too large for one', async () => {
    const asJson = await fetch(`${app.url}/funnel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com' }),
    });
    expect(asJson.status).toBe(415);
    const huge = await postFunnel({ email: 'ada@example.com', name: 'x'.repeat(20_000) });
    expect(huge.status).toBe(413);
  });
});
