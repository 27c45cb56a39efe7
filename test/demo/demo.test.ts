/**
 * The demo server's routes: the customer-space shell and its browser modules (config, CSP, no
 * reflection of the link's parameters), and the funnel, which starts invites through a stand-in
 * inviteflow API with the server-side bearer token and shows the outcome, escaped.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { beginLogin, pkceChallenge } from '../../demo/browser/oidc';
import type { OidcSettings } from '../../demo/browser/oidc';
import { startDemoApp } from '../../demo/server';
import type { DemoApp, DemoAppOptions } from '../../demo/server';
import { json, startStandIn } from './stand-ins';
import type { StandIn } from './stand-ins';

const FUNNEL_TOKEN = 'funnel-m2m-token-3f9a';
const HOSTILE = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;

let tenant: StandIn;
let api: StandIn;
let app: DemoApp;
let tokenCalls = 0;
let tokenFails = false;

function options(overrides: Partial<DemoAppOptions> = {}): DemoAppOptions {
  return {
    authorizeUrl: `${tenant.url}/authorize`,
    tokenUrl: `${tenant.url}/oauth/token`,
    logoutUrl: `${tenant.url}/v2/logout`,
    issuer: 'https://inviteflow-dev.auth0.local/',
    clientId: 'inviteflow-spa',
    audience: 'https://inviteflow/api',
    apiUrl: api.url,
    funnelToken: () => {
      tokenCalls += 1;
      return tokenFails ? Promise.reject(new Error('tenant down')) : Promise.resolve(FUNNEL_TOKEN);
    },
    ...overrides,
  };
}

beforeAll(async () => {
  [tenant, api] = await Promise.all([startStandIn(), startStandIn()]);
  app = await startDemoApp(options());
});
afterAll(async () => {
  await app.close();
  await Promise.all([tenant.close(), api.close()]);
});
beforeEach(() => {
  api.requests.length = 0;
  tenant.requests.length = 0;
  tokenCalls = 0;
  tokenFails = false;
});

/** The settings a served page carries for its script. */
function pageConfig(html: string): OidcSettings {
  const match = /<script type="application\/json" id="spa-config">(.*?)<\/script>/s.exec(html);
  expect(match).not.toBeNull();
  return JSON.parse(match![1]!) as OidcSettings;
}

function postFunnel(fields: Record<string, string>): Promise<Response> {
  return fetch(`${app.url}/funnel`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}

function created(email: string, state = 'pending') {
  return {
    id: 'a1b2c3d4e5f6a7b8',
    status: { inviteId: 'a1b2c3d4e5f6a7b8', state, email, expiresAt: '2030-01-08T10:00:00.000Z' },
    links: { self: '/v1/invites/a1b2c3d4e5f6a7b8' },
  };
}

describe('customer space', () => {
  it('serves the app shell on /, /login and /callback with its settings and without echoing the link', async () => {
    const invite = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln';
    for (const path of [
      '/',
      `/login?invite=${invite}&login_hint=ada%40example.com&screen_hint=signup`,
      '/callback?code=c&state=s',
    ]) {
      const res = await fetch(app.url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await res.text();
      expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
      expect(html).toContain('id="app"');
      expect(pageConfig(html)).toEqual({
        authorizeUrl: `${tenant.url}/authorize`,
        tokenUrl: `${tenant.url}/oauth/token`,
        logoutUrl: `${tenant.url}/v2/logout`,
        issuer: 'https://inviteflow-dev.auth0.local/',
        clientId: 'inviteflow-spa',
        audience: 'https://inviteflow/api',
        claimNamespace: 'https://inviteflow.dev/',
      });
      // The script reads the parameters from its own URL; the server never writes them into a page.
      expect(html).not.toContain(invite);
      expect(html).not.toContain('ada@example.com');
    }
  });

  it("hands /login's parameters to /authorize through the page's own settings", async () => {
    const loginUrl = `${app.url}/login?invite=tok.en.sig&login_hint=ada%40example.com&screen_hint=signup`;
    const config = pageConfig(await (await fetch(loginUrl)).text());
    const { authorizeUrl, pending } = await beginLogin(config, new URL(loginUrl));
    const url = new URL(authorizeUrl);
    expect(url.origin + url.pathname).toBe(`${tenant.url}/authorize`);
    const params = Object.fromEntries(url.searchParams);
    expect(params).toMatchObject({
      invite: 'tok.en.sig',
      login_hint: 'ada@example.com',
      screen_hint: 'signup',
      code_challenge: await pkceChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      redirect_uri: `${app.url}/callback`,
    });
  });

  it('sends a CSP that allows only itself, its stylesheet and the token endpoint, and no referrer', async () => {
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
      'connect-src': `'self' ${tenant.url}`,
      'form-action': "'self'",
      'frame-ancestors': "'none'",
    });
    expect(csp).not.toContain('unsafe-inline');
    // The inline stylesheet is allowed by its hash, so it must be exactly the one on the page.
    const style = /<style>(.*?)<\/style>/s.exec(await res.text())![1]!;
    expect(directives['style-src']).toBe(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const funnel = await fetch(`${app.url}/funnel`);
    expect(funnel.headers.get('content-security-policy')).toBe(csp);
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

  it('serves type-stripped browser modules whose imports all resolve, carrying every test id', async () => {
    const sources = new Map<string, string>();
    const queue = ['/assets/app.js'];
    while (queue.length > 0) {
      const path = queue.shift()!;
      if (sources.has(path)) continue;
      const res = await fetch(app.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      const code = await res.text();
      sources.set(path, code);
      for (const [, specifier] of code.matchAll(/\bfrom\s+["']([^"']+)["']/g)) {
        expect(specifier, `${path} imports ${specifier}`).toMatch(/^\.\//);
        queue.push(new URL(specifier!, app.url + path).pathname);
      }
    }
    expect([...sources.keys()].sort()).toEqual(['/assets/app.js', '/assets/oidc.js']);
    const app_js = sources.get('/assets/app.js')!;
    expect(app_js).not.toMatch(/import type|: SpaConfig|as const/);
    for (const id of [
      'signed-in-email',
      'user-id',
      'roles',
      'invite-scope',
      'invite-id',
      'data',
      'invite-error',
      'sign-in',
      'sign-up',
      'sign-out',
    ])
      expect(app_js).toContain(`"${id}"`);
    // Rendering goes through text nodes; no HTML parsing of anything from a token.
    expect(app_js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    expect((await fetch(`${app.url}/nope`)).status).toBe(404);
    expect((await fetch(`${app.url}/assets/server.js`)).status).toBe(404);
    const post = await fetch(`${app.url}/login`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
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
    expect(html).toContain('Leave your email to get access');
  });

  it('starts the invite server-side with the bearer token and the demo body, and says to check the inbox', async () => {
    api.answer((req, res) => json(res, 201, created(JSON.parse(req.body).email)));
    const res = await postFunnel({ email: 'Ada@Example.com', name: 'Ada Lovelace' });
    expect(res.status).toBe(200);
    expect(tokenCalls).toBe(1);
    expect(api.requests).toHaveLength(1);
    const request = api.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/invites');
    expect(request.headers.authorization).toBe(`Bearer ${FUNNEL_TOKEN}`);
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({
      email: 'Ada@Example.com',
      scope: 'workspace:demo',
      roles: ['member'],
      data: { source: 'demo-funnel', name: 'Ada Lovelace' },
      locale: 'en',
    });
    const html = await res.text();
    expect(html).toMatch(
      /<div class="notice ok" data-testid="funnel-result" data-outcome="sent"[^>]*>\s*<h1>Check your inbox<\/h1>/,
    );
    expect(html).toContain('We sent an invitation to <strong>Ada@Example.com</strong>');
    // No time zone in the answer: UTC, said so.
    expect(html).toMatch(/The link is valid until January 8, 2030 at 10:00\sAM UTC\./);
    // The browser never sees the funnel's bearer token.
    expect(html).not.toContain(FUNNEL_TOKEN);
  });

  it('leaves the name out of the data when none is given', async () => {
    api.answer((req, res) => json(res, 201, created(JSON.parse(req.body).email)));
    expect((await postFunnel({ email: 'bo@example.com', name: '  ' })).status).toBe(200);
    expect(JSON.parse(api.requests[0]!.body).data).toEqual({ source: 'demo-funnel' });
  });

  it('says so when an invite for this email was already open (200 from the API)', async () => {
    api.answer((_req, res) => json(res, 200, created('ada@example.com')));
    const html = await (await postFunnel({ email: 'ada@example.com' })).text();
    expect(html).toContain('data-testid="funnel-result" data-outcome="sent"');
    expect(html).toContain('already on its way to <strong>ada@example.com</strong>');
  });

  it('sends a hostile name to the API verbatim and shows nothing of it unescaped', async () => {
    api.answer((req, res) => json(res, 201, created(JSON.parse(req.body).email)));
    const ok = await (await postFunnel({ email: 'eve@example.com', name: HOSTILE })).text();
    expect(JSON.parse(api.requests[0]!.body).data.name).toBe(HOSTILE);
    expect(ok).not.toContain('<script>alert(1)');

    api.answer((_req, res) =>
      json(res, 503, { error: { code: 'service_unavailable', message: 'Temporal is unavailable' } }),
    );
    const failed = await postFunnel({ email: `eve${HOSTILE}@example.com`, name: HOSTILE });
    const html = await failed.text();
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    // The form comes back filled in, the values escaped inside their attributes.
    expect(html).toContain(
      `value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;&#60;img src=x onerror=alert(2)&#62;" data-testid="funnel-name"`,
    );
  });

  it("ties the API's field problems to the fields, in the page's words, with the API's 4xx status and code", async () => {
    api.answer((_req, res) =>
      json(res, 400, {
        error: {
          code: 'invalid_request',
          message: 'The request is <b>invalid</b> & $& wrong',
          details: [{ field: 'body.email', message: 'must be an <email>' }],
        },
      }),
    );
    const res = await postFunnel({ email: 'not-an-email@example.com' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(/data-testid="funnel-result" data-outcome="error" data-code="invalid_request"/);
    expect(html).toContain('<li><a href="#email">Enter an email address in the right format, like name@example.com.</a></li>');
    expect(html).toContain('<input aria-invalid="true" aria-describedby="email-error" id="email"');
    expect(html).toContain('<code>invalid_request</code>');
    // The API's own message is for programs.
    expect(html).not.toContain('invalid</b>');
    expect(html).toContain('value="not-an-email@example.com" data-testid="funnel-email"');
  });

  it('reports a failing or unreachable API as 502 with its own code', async () => {
    api.answer((_req, res) =>
      json(res, 503, { error: { code: 'service_unavailable', message: 'Temporal is unavailable' } }),
    );
    const unavailable = await postFunnel({ email: 'ada@example.com' });
    expect(unavailable.status).toBe(502);
    expect(await unavailable.text()).toContain('data-code="service_unavailable"');

    api.answer((_req, res) => res.socket?.destroy());
    const unreachable = await postFunnel({ email: 'ada@example.com' });
    expect(unreachable.status).toBe(502);
    expect(await unreachable.text()).toContain('data-code="api_unreachable"');
  });

  it('calls no API without an email or without a token', async () => {
    const noEmail = await postFunnel({ email: '  ', name: 'x' });
    expect(noEmail.status).toBe(400);
    expect(await noEmail.text()).toContain('data-code="invalid_request"');
    const malformed = await postFunnel({ email: 'ada at example' });
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toContain('id="email-error"');
    expect(tokenCalls).toBe(0);

    tokenFails = true;
    const noToken = await postFunnel({ email: 'ada@example.com' });
    expect(noToken.status).toBe(502);
    expect(await noToken.text()).toContain('data-code="token_unavailable"');
    expect(api.requests).toHaveLength(0);
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
    expect(api.requests).toHaveLength(0);
  });
});
