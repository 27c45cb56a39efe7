/**
 * The pages of the emailed link: GET and HEAD consume nothing (the invite stays pending and
 * redeemable), carry the privacy headers, build the Continue URL for the customer space's login
 * route, speak the invite's language, and fail kindly; decline is a confirmed or one-click POST
 * with a way back. Which earlier links still work after a resend or an extend. No token reaches
 * the logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { deriveInviteId } from '../../../client/invite-id';
import { formatDateTime } from '../../../lib/locale';
import { inviteWorkflowId } from '../../../workflows/messages';
import { createLinkSigner, generateLinkKey } from '../../../lib/token';
import { expectNoSecretsInLogs, json, startHarness, uniqueEmail } from '../../support/api-harness';
import type { Harness } from '../../support/api-harness';

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

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"' };
/** What a browser reads in an attribute: numeric and the named entities an escape can produce. */
function unescape(html: string): string {
  return html.replace(/&(#\d+|[a-z]+);/g, (whole, name: string) =>
    name.startsWith('#') ? String.fromCharCode(Number(name.slice(1))) : (NAMED[name] ?? whole),
  );
}

function continueUrl(html: string): URL {
  const href = /<a class="button" href="([^"]+)"/.exec(html)?.[1];
  expect(href).toBeDefined();
  return new URL(unescape(href!));
}

/** A relative link of a page, resolved against the page's own URL, as a browser does. */
function linkOf(html: string, testId: string, pageUrl: string): string {
  const href = new RegExp(`href="([^"]+)"[^>]*data-testid="${testId}"`).exec(html)?.[1];
  expect(href, testId).toBeDefined();
  const url = new URL(unescape(href!), `http://api.test${pageUrl}`);
  return url.pathname;
}

const oneClick = (token: string, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: `/i/${token}/decline`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: 'List-Unsubscribe=One-Click',
  });

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
    expect(res.body).toContain('<html lang="en">');
    expect(res.body).toContain('You&#39;re invited to Acme');
    expect(res.body).toContain('Grace &lt;Hopper&gt;');
    expect(res.body).not.toContain('<Hopper>');
    expect(res.body.toLowerCase()).not.toContain('inviteflow');
    // The invitee's time zone (en's default, America/New_York), written as the email writes it.
    const { expiresAt, sendWindow } = await h.status(id);
    expect(sendWindow?.timeZone).toBe('America/New_York');
    expect(unescape(res.body)).toContain(`This invitation expires on ${formatDateTime(expiresAt, 'en', 'America/New_York')}.`);
    expect(res.body).not.toContain('data-testid="link-validity"');

    const url = continueUrl(res.body);
    expect(url.origin + url.pathname).toBe('https://app.test/login');
    // The login route's own query (APP_LOGIN_URL) is kept.
    expect(url.searchParams.get('from')).toBe('email');
    expect(url.searchParams.get('invite')).toBe(token);
    expect(url.searchParams.get('login_hint')).toBe(email);
    expect(url.searchParams.get('screen_hint')).toBe('signup');
    expect(url.searchParams.get('ui_locales')).toBe('en');

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
    expect(confirm.body).toContain('name="List-Unsubscribe" value="One-Click"');
    expect((await h.status(id)).optedOutAt).toBeUndefined();

    const post = () => oneClick(token);
    const first = await post();
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('You will not receive any more emails');
    // The way back: the invitation page, which still works.
    const back = linkOf(first.body, 'back-to-invite', `/i/${token}/decline`);
    expect(back).toBe(`/i/${token}`);
    expect((await app.inject({ method: 'GET', url: back })).statusCode).toBe(200);
    const declined = await h.until(id, (s) => s.optedOutAt !== undefined);
    expect(declined.state).toBe('pending');
    expect((await post()).statusCode).toBe(200);
    // Declining stops emails; the invite itself still works until it expires.
    await redeemable(token, email);
  });

  it('keeps the invitation: the confirmation page links back to it, and neither page changes anything', async () => {
    const { id, email, token } = await invite();
    const confirm = await app.inject({ method: 'GET', url: `/i/${token}/decline` });
    expect(confirm.body).toContain('Keep the invitation');
    expect(confirm.body).toContain('Decline the invitation');
    const keep = linkOf(confirm.body, 'keep', `/i/${token}/decline`);
    expect(keep).toBe(`/i/${token}`);
    const page = await app.inject({ method: 'GET', url: keep });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('You&#39;re invited to Acme');
    const status = await h.status(id);
    expect(status.state).toBe('pending');
    expect(status.optedOutAt).toBeUndefined();
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

describe('Temporal unreachable', () => {
  it('answers a valid link with a 503 page in the browser’s language, with Retry-After, and changes nothing', async () => {
    const { id, email, token } = await invite({ locale: 'fr' });
    // Nothing listens on port 1: every call fails at once, like a Temporal outage. Without the
    // client's own retries, no call is still pending when the connection closes.
    const connection = Connection.lazy({ address: '127.0.0.1:1', interceptors: [] });
    const away = await h.buildApp({ temporal: new Client({ connection }), timeouts: { readMs: 1000, updateMs: 1000 } });
    try {
      // The invite's own language cannot be read without Temporal: the browser's speaks.
      const fr = await away.inject({ method: 'GET', url: `/i/${token}`, headers: { 'accept-language': 'fr-FR,fr;q=0.9' } });
      expect(fr.statusCode).toBe(503);
      expectPageHeaders(fr.headers);
      expect(fr.headers['retry-after']).toBeDefined();
      expect(fr.body).toContain('<html lang="fr">');
      expect(fr.body).toContain('<h1>Service momentanément indisponible</h1>');
      expect(unescape(fr.body)).toContain('Impossible de charger votre invitation. Merci de réessayer dans un instant.');
      const en = await away.inject({ method: 'GET', url: `/i/${token}`, headers: { 'accept-language': 'en-GB' } });
      expect(en.statusCode).toBe(503);
      expect(en.body).toContain('<html lang="en">');
      expect(en.body).toContain('<h1>Temporarily unavailable</h1>');
      expect(en.body).toContain('We could not load your invitation. Please try again in a moment.');
      for (const page of [fr, en]) {
        expect(page.body.toLowerCase()).not.toContain('inviteflow');
        expect(page.body).not.toContain('127.0.0.1');
        expect(page.body).not.toContain(token);
      }
      // The decline confirmation needs the invite too, and says the same.
      const decline = await away.inject({ method: 'GET', url: `/i/${token}/decline`, headers: { 'accept-language': 'fr' } });
      expect(decline.statusCode).toBe(503);
      expect(decline.body).toContain('Service momentanément indisponible');
    } finally {
      await connection.close();
    }
    const status = await h.status(id);
    expect(status.state).toBe('pending');
    expect(status.optedOutAt).toBeUndefined();
    await redeemable(token, email);
  });
});

describe('language', () => {
  it("speaks the invite's language on every page of a French invite, whatever the browser asks", async () => {
    const { id, email, token } = await invite({ locale: 'fr' });
    const english = { 'accept-language': 'en-US,en;q=0.9' };
    const res = await app.inject({ method: 'GET', url: `/i/${token}`, headers: english });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<html lang="fr">');
    expect(res.body).toContain('Invitation à rejoindre Acme');
    expect(res.body).toContain('<strong>Grace &lt;Hopper&gt;</strong> vous invite à rejoindre Acme.');
    const { expiresAt, sendWindow } = await h.status(id);
    expect(sendWindow?.timeZone).toBe('Europe/Paris');
    expect(unescape(res.body)).toContain(`Cette invitation expire le ${formatDateTime(expiresAt, 'fr', 'Europe/Paris')}.`);
    expect(res.body).toContain('>Continuer</a>');
    const url = continueUrl(res.body);
    expect(url.searchParams.get('ui_locales')).toBe('fr');
    expect(url.searchParams.get('login_hint')).toBe(email);

    const confirm = await app.inject({ method: 'GET', url: `/i/${token}/decline`, headers: english });
    expect(confirm.body).toContain('<html lang="fr">');
    expect(confirm.body).toContain('Refuser l’invitation à rejoindre Acme');
    expect(confirm.body).toContain('Garder l’invitation');
    const done = await oneClick(token, english);
    expect(done.body).toContain('<html lang="fr">');
    expect(done.body).toContain('Invitation refusée');

    await app.inject({ method: 'POST', url: `/v1/invites/${id}/revoke`, headers: { authorization: `Bearer ${await h.bearer()}` }, payload: {} });
    const revoked = await app.inject({ method: 'GET', url: `/i/${token}`, headers: english });
    expect(revoked.statusCode).toBe(410);
    expect(revoked.body).toContain('<html lang="fr">');
    expect(revoked.body).toContain('Cette invitation a été retirée');
  });

  it('falls back to the browser for other invite locales and for links that name no invite, then to English', async () => {
    const german = await invite({ locale: 'de' });
    const asFrench = await app.inject({ method: 'GET', url: `/i/${german.token}`, headers: { 'accept-language': 'de-DE, fr;q=0.8, en;q=0.5' } });
    expect(asFrench.body).toContain('<html lang="fr">');
    // The login page gets the invite's own locale; the customer space falls back the same way.
    expect(continueUrl(asFrench.body).searchParams.get('ui_locales')).toBe('de');
    const asDefault = await app.inject({ method: 'GET', url: `/i/${german.token}` });
    expect(asDefault.body).toContain('<html lang="en">');

    const invalid = await app.inject({ method: 'GET', url: '/i/not-a-token', headers: { 'accept-language': 'fr-CA' } });
    expect(invalid.statusCode).toBe(404);
    expect(invalid.body).toContain('<html lang="fr">');
    expect(invalid.body).toContain('Ce lien n’est pas valide');
    const nowhere = await app.inject({ method: 'GET', url: '/i/abc/def/ghi', headers: { 'accept-language': 'fr' } });
    expect(nowhere.statusCode).toBe(404);
    expect(nowhere.body).toContain('Page introuvable');
    expect((await app.inject({ method: 'GET', url: '/i/not-a-token' })).body).toContain('This link is not valid');
  });
});

describe('which links work after a resend or an extend', () => {
  it('every link the invite sent works while it is pending; one sent before an extend stops at the expiry its email gave', async () => {
    // The workflow's resend interval is a minute by default; a short one is set by starting the
    // workflow directly, as an operator tool could.
    const email = uniqueEmail('links');
    const id = deriveInviteId(h.config.INVITE_ID_KEY, email, 'default');
    await h.env.client.workflow.start('inviteWorkflow', {
      taskQueue: h.config.TEMPORAL_TASK_QUEUE,
      workflowId: inviteWorkflowId(id),
      args: [{ inviteId: id, email, roles: ['member'], data: {}, scope: 'default', locale: 'en', ttl: '7 days', resendInterval: 1 }],
    });
    const operator = { authorization: `Bearer ${await h.bearer()}` };
    const [first] = await h.emails(id);
    const resent = await app.inject({ method: 'POST', url: `/v1/invites/${id}/resend`, headers: operator });
    expect(resent.statusCode).toBe(200);
    const extended = await app.inject({ method: 'POST', url: `/v1/invites/${id}/extend`, headers: operator, payload: { ttl: '20 days' } });
    expect(extended.statusCode).toBe(200);
    const sent = await h.emails(id, 3);
    expect(sent.map((e) => e.kind)).toEqual(['invite', 'invite', 'invite']);
    const [original, resend, extend] = await Promise.all(sent.map((e) => h.linkOf(e)));

    // Before the first expiry, all three open the invitation.
    for (const token of [original!, resend!, extend!]) {
      expect((await app.inject({ method: 'GET', url: `/i/${token}` })).statusCode).toBe(200);
    }
    // Links from before the extend say until when they work, and where the longer-lived link is.
    const early = await app.inject({ method: 'GET', url: `/i/${original}` });
    const { expiresAt } = await h.status(id);
    expect(unescape(early.body)).toContain(
      `This invitation was extended to ${formatDateTime(expiresAt, 'en', 'America/New_York')}. This link, from an earlier email, works until ${formatDateTime(first!.expiresAt, 'en', 'America/New_York')};`,
    );
    expect((await app.inject({ method: 'GET', url: `/i/${resend}` })).body).toContain('data-testid="link-validity"');
    expect((await app.inject({ method: 'GET', url: `/i/${extend}` })).body).not.toContain('data-testid="link-validity"');

    // Past its own expiry, the first link (the same link id, its token now expired) is refused,
    // pointing to the newer email; the invite itself is still pending.
    const lapsed = await h.signer.mint({ inviteId: id, jti: first!.jti, expiresAt: new Date(Date.now() - 60_000) });
    h.secrets.add(lapsed);
    const lapsedPage = await app.inject({ method: 'GET', url: `/i/${lapsed}` });
    expect(lapsedPage.statusCode).toBe(410);
    expect(lapsedPage.body).toContain('This link has expired');
    expect(lapsedPage.body).toContain('Use the link in the most recent email about this invitation.');
    expect((await h.status(id)).state).toBe('pending');
    // Its one-click unsubscribe still stops the invite's emails.
    expect((await oneClick(lapsed)).statusCode).toBe(200);
    await h.until(id, (s) => s.optedOutAt !== undefined);

    // Any link still inside its own expiry redeems, the oldest one included.
    await redeemable(original!, email);
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
