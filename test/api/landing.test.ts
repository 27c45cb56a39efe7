/**
 * The pages of the emailed link: GET and HEAD consume nothing (the invite stays pending and
 * redeemable), carry the privacy headers, build the Continue URL for the customer space's login
 * route, and fail kindly; decline is a confirmed or one-click POST. No token reaches the logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLinkSigner, generateLinkKey } from '../../lib/token';
import { expectNoSecretsInLogs, json, startHarness, uniqueEmail } from './harness';
import type { Harness } from './harness';

let h: Harness;
let app: FastifyInstance;

beforeAll(async () => {
  h = await startHarness();
  app = h.app;
});

afterAll(async () => {
  await h?.close();
});

async function invite(body: Record<string, unknown> = {}) {
  const email = (body.email as string | undefined) ?? uniqueEmail();
  const res = await app.inject({
    method: 'POST',
    url: '/v1/invites',
    headers: { authorization: `Bearer ${await h.bearer()}` },
    payload: { email, roles: ['member'], inviter: { name: 'Grace <Hopper>' }, ...body },
  });
  expect(res.statusCode).toBe(201);
  const id = json(res).id as string;
  const [sent] = await h.emails(id);
  return { id, email, token: await h.linkOf(sent!) };
}

function continueUrl(html: string): URL {
  const href = /<a class="button" href="([^"]+)"/.exec(html)?.[1];
  expect(href).toBeDefined();
  return new URL(href!.replace(/&#38;/g, '&'));
}

function expectPageHeaders(headers: Record<string, unknown>): void {
  expect(headers['content-type']).toBe('text/html; charset=utf-8');
  expect(headers['referrer-policy']).toBe('no-referrer');
  expect(headers['cache-control']).toBe('no-store');
  expect(headers['x-robots-tag']).toContain('noindex');
  expect(headers['content-security-policy']).toContain("default-src 'none'");
  expect(headers['content-security-policy']).not.toContain('unsafe-inline');
}

async function redeemable(token: string, email: string): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/redemptions',
    headers: { authorization: `Bearer ${await h.actionToken()}` },
    payload: { token, user: { id: `auth0|${email}`, email, email_verified: true, connection: 'Username-Password-Authentication' } },
  });
  expect(res.statusCode).toBe(200);
}

describe('GET and HEAD /i/:token', () => {
  it('shows the invitation with a Continue button to the login route (sign-up hint for a newcomer) and consumes nothing', async () => {
    const { id, email, token } = await invite();
    const res = await app.inject({ method: 'GET', url: `/i/${token}` });
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res.headers);
    expect(res.body).toContain('You&#39;re invited to Acme');
    expect(res.body).toContain('Grace &#60;Hopper&#62;');
    expect(res.body).not.toContain('<Hopper>');
    expect(res.body).toMatch(/expires on .+ UTC/);

    const url = continueUrl(res.body);
    expect(url.origin + url.pathname).toBe('https://app.test/login');
    expect(url.searchParams.get('from')).toBe('email');
    expect(url.searchParams.get('invite')).toBe(token);
    expect(url.searchParams.get('login_hint')).toBe(email);
    expect(url.searchParams.get('screen_hint')).toBe('signup');

    const head = await app.inject({ method: 'HEAD', url: `/i/${token}` });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expectPageHeaders(head.headers);

    const status = await h.status(id);
    expect(status.state).toBe('pending');
    expect(status.optedOutAt).toBeUndefined();
    await redeemable(token, email);
  });

  it('leaves out the sign-up hint when an account exists, or when the lookup fails', async () => {
    const { email, token } = await invite();
    h.auth0.createUser({ email, password: 'Sup3r-secret!', connection: 'Username-Password-Authentication' });
    const known = continueUrl((await app.inject({ method: 'GET', url: `/i/${token}` })).body);
    expect(known.searchParams.get('login_hint')).toBe(email);
    expect(known.searchParams.has('screen_hint')).toBe(false);

    const other = await invite();
    h.auth0.injectFault({ route: 'users-by-email', status: 500 });
    try {
      const res = await app.inject({ method: 'GET', url: `/i/${other.token}` });
      expect(res.statusCode).toBe(200);
      const url = continueUrl(res.body);
      expect(url.searchParams.get('invite')).toBe(other.token);
      expect(url.searchParams.has('screen_hint')).toBe(false);
    } finally {
      h.auth0.clearFaults();
    }
  });

  it('gives no login hint under the "any" policy, where the link may be forwarded', async () => {
    const { token } = await invite({ emailPolicy: 'any' });
    const url = continueUrl((await app.inject({ method: 'GET', url: `/i/${token}` })).body);
    expect(url.searchParams.get('invite')).toBe(token);
    expect(url.searchParams.has('login_hint')).toBe(false);
  });

  it('answers friendly pages with the right status for forged, expired, revoked, used and replaced links', async () => {
    const stranger = await generateLinkKey('stranger');
    const forgedSigner = createLinkSigner({ signingKey: stranger.privateJwk, issuer: h.config.PUBLIC_BASE_URL, audience: h.config.LINK_AUDIENCE });

    const revoked = await invite();
    await app.inject({ method: 'POST', url: `/v1/invites/${revoked.id}/revoke`, headers: { authorization: `Bearer ${await h.bearer()}` }, payload: {} });
    const used = await invite();
    await redeemable(used.token, used.email);
    const replaced = await invite();
    await app.inject({
      method: 'POST',
      url: '/v1/invites',
      headers: { authorization: `Bearer ${await h.bearer()}` },
      payload: { email: replaced.email, replace: true },
    });
    const [sent] = await h.emails(revoked.id);
    const expired = await h.signer.mint({ inviteId: revoked.id, jti: sent!.jti, expiresAt: new Date(Date.now() - 3_600_000) });
    const forged = await forgedSigner.mint({ inviteId: revoked.id, jti: sent!.jti, expiresAt: new Date(Date.now() + 3_600_000) });
    const unknown = await h.signer.mint({ inviteId: 'q'.repeat(26), jti: 'nope', expiresAt: new Date(Date.now() + 3_600_000) });
    for (const t of [expired, forged, unknown]) h.secrets.add(t);

    const cases: [string, string, number, string][] = [
      ['forged', forged, 404, 'This link is not valid'],
      ['malformed', 'definitely-not-a-token', 404, 'This link is not valid'],
      ['unknown invite', unknown, 404, 'This link is not valid'],
      ['expired', expired, 410, 'This invitation has expired'],
      ['revoked', revoked.token, 410, 'This invitation was withdrawn'],
      ['used', used.token, 410, 'already accepted'],
      ['replaced', replaced.token, 410, 'This link was replaced'],
    ];
    for (const [name, token, status, text] of cases) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await app.inject({ method, url: `/i/${token}` });
        expect(res.statusCode, `${method} ${name}`).toBe(status);
        expectPageHeaders(res.headers);
        if (method === 'GET') {
          expect(res.body, name).toContain(text);
          expect(res.body).not.toMatch(/at .+\.ts:\d+|Error:/);
        }
      }
    }
    const usedPage = await app.inject({ method: 'GET', url: `/i/${used.token}` });
    expect(continueUrl(usedPage.body).href).toBe('https://app.test/login?from=email');
  });

  it('answers an unknown page under /i/ with an HTML 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/i/abc/def/ghi' });
    expect(res.statusCode).toBe(404);
    expectPageHeaders(res.headers);
  });
});

describe('decline', () => {
  it('asks on GET (consuming nothing), declines on POST, and answers 200 again when already declined', async () => {
    const { id, email, token } = await invite();
    const confirm = await app.inject({ method: 'GET', url: `/i/${token}/decline` });
    expect(confirm.statusCode).toBe(200);
    expectPageHeaders(confirm.headers);
    expect(confirm.body).toContain('<form method="post"');
    expect((await h.status(id)).optedOutAt).toBeUndefined();

    const post = () =>
      app.inject({
        method: 'POST',
        url: `/i/${token}/decline`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'List-Unsubscribe=One-Click',
      });
    const first = await post();
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('You will not receive any more emails');
    const declined = await h.until(id, (s) => s.optedOutAt !== undefined);
    expect(declined.state).toBe('pending');
    expect((await post()).statusCode).toBe(200);
    // Declining stops emails; the invite itself still works until it expires.
    await redeemable(token, email);
  });

  it('accepts the one-click body as multipart, answers 200 for a closed invite, refuses a POST without it', async () => {
    const { id, token } = await invite();
    const boundary = 'xYzZY';
    const multipart = await app.inject({
      method: 'POST',
      url: `/i/${token}/decline`,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`,
    });
    expect(multipart.statusCode).toBe(200);
    await h.until(id, (s) => s.optedOutAt !== undefined);

    const other = await invite();
    const empty = await app.inject({
      method: 'POST',
      url: `/i/${other.token}/decline`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'something=else',
    });
    expect(empty.statusCode).toBe(400);
    expect((await h.status(other.id)).optedOutAt).toBeUndefined();

    await app.inject({ method: 'POST', url: `/v1/invites/${other.id}/revoke`, headers: { authorization: `Bearer ${await h.bearer()}` }, payload: {} });
    const closed = await app.inject({
      method: 'POST',
      url: `/i/${other.token}/decline`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(closed.statusCode).toBe(200);

    const forged = await app.inject({
      method: 'POST',
      url: '/i/not-a-token/decline',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(forged.statusCode).toBe(404);
  });

  it('rate limits the pages per client IP with a 429 page', async () => {
    const limited = await h.buildApp({ rateLimits: { landingPerIp: { max: 1, windowMs: 60_000 } } });
    const { token } = await invite();
    expect((await limited.inject({ method: 'GET', url: `/i/${token}` })).statusCode).toBe(200);
    const second = await limited.inject({ method: 'GET', url: `/i/${token}` });
    expect(second.statusCode).toBe(429);
    expectPageHeaders(second.headers);
    expect(second.headers['retry-after']).toBeDefined();
  });
});

describe('logs', () => {
  it('never contain a link token, though every request URL above held one', () => {
    const requestLines = h.logs.filter((line) => line.includes('"url":"/i/'));
    expect(requestLines.length).toBeGreaterThan(10);
    for (const line of requestLines) expect(line).toContain('"url":"/i/[redacted]');
    expectNoSecretsInLogs(h);
  });
});
