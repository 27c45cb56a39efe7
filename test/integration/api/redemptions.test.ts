/**
 * `POST /v1/redemptions` as the Auth0 Action calls it, against the real workflow: the happy path
 * and its idempotent repeat (open and closed), every refusal code, and the Action token checks,
 * none of which may change the invite.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { parseRedemptionAnswer, parseRefusal } from '../../../lib/action-contract';
import { createLinkSigner, generateLinkKey } from '../../../lib/token';
import { expectNoSecretsInLogs, json, startHarness, uniqueEmail } from '../../support/api-harness';
import { WAIT } from '../../support/wait';
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

interface User {
  id: string;
  email: string;
  email_verified: boolean;
  connection: string;
}

const userFor = (email: string, id = `auth0|${email}`): User => ({
  id,
  email,
  email_verified: true,
  connection: 'Username-Password-Authentication',
});

/** Creates an invite through the API and returns its id and the link of its first email. */
async function invite(body: Record<string, unknown> = {}) {
  const email = (body.email as string | undefined) ?? uniqueEmail();
  const res = await app.inject({
    method: 'POST',
    url: '/v1/invites',
    headers: { authorization: `Bearer ${await h.bearer()}` },
    payload: { email, roles: ['member', 'billing'], data: { leadId: 'L-7', plan: 'pro' }, redirect: 'https://app.test/welcome', ...body },
  });
  expect(res.statusCode).toBe(201);
  const id = json(res).id as string;
  const [sent] = await h.emails(id);
  // The contact is upserted beside the first email; once it is known a redemption answers it.
  await h.until(id, (s) => s.contactId !== undefined);
  return { id, email, token: await h.linkOf(sent!) };
}

async function redeem(token: string, user: User, auth?: string, target: FastifyInstance = app) {
  return target.inject({
    method: 'POST',
    url: '/v1/redemptions',
    headers: { authorization: auth ?? `Bearer ${await h.actionToken()}` },
    payload: { token, user },
  });
}

describe('POST /v1/redemptions', () => {
  it('redeems and answers the claims; the same account gets an idempotent repeat, also once the invite closed', async () => {
    const { id, email, token } = await invite();
    const user = userFor(email);
    const first = await redeem(token, user);
    expect(first.statusCode).toBe(200);
    expect(json(first)).toEqual({
      inviteId: id,
      scope: 'default',
      roles: ['member', 'billing'],
      claims: { leadId: 'L-7', plan: 'pro' },
      redirect: 'https://app.test/welcome',
      contactId: '101',
      repeat: false,
    });
    // The Action reads it with the contract's parser, which must see all of it.
    expect(parseRedemptionAnswer(json(first))).toEqual(json(first));

    const completed = await h.until(id, (s) => s.state === 'completed');
    expect(completed.redeemer?.userId).toBe(user.id);
    await expect.poll(async () => (await h.env.client.workflow.getHandle(`invite-${id}`).describe()).status.name, WAIT).toBe('COMPLETED');

    const repeat = await redeem(token, user);
    expect(repeat.statusCode).toBe(200);
    expect(json(repeat)).toEqual({ ...json(first), repeat: true });
    expect(h.fake.calls.roles.filter((r) => r.userId === user.id)).toHaveLength(1);
  });

  it('answers the attribution for the tokens when the invite asks, also on a repeat once closed', async () => {
    const attribution = { utm_source: 'newsletter', utm_campaign: 'spring-26' };
    const asked = await invite({ attribution, attributionInClaims: true });
    const res = await redeem(asked.token, userFor(asked.email));
    expect(res.statusCode).toBe(200);
    expect(json(res).attribution).toEqual(attribution);
    await h.until(asked.id, (s) => s.state === 'completed');
    await expect.poll(async () => (await h.env.client.workflow.getHandle(`invite-${asked.id}`).describe()).status.name, WAIT).toBe('COMPLETED');
    const repeat = await redeem(asked.token, userFor(asked.email));
    expect(json(repeat)).toMatchObject({ repeat: true, attribution });
    expect(h.fake.calls.hubspot.find((c) => c.inviteId === asked.id)?.attribution).toEqual(attribution);

    const quiet = await invite({ attribution });
    const plain = await redeem(quiet.token, userFor(quiet.email));
    expect(json(plain)).not.toHaveProperty('attribution');
    expect((await h.status(quiet.id)).attribution).toEqual(attribution);
  });

  it('refuses another account once the invite was used (409 invite_already_used)', async () => {
    const { email, token } = await invite({ emailPolicy: 'any' });
    expect((await redeem(token, userFor(email))).statusCode).toBe(200);
    const other = await redeem(token, userFor(uniqueEmail('other'), 'google-oauth2|other'));
    expect(other.statusCode).toBe(409);
    expect(json(other).error.code).toBe('invite_already_used');
  });

  it('turns away an account with another email (403 with login_hint) without consuming the invite', async () => {
    const { id, email, token } = await invite();
    const mismatch = await redeem(token, userFor(uniqueEmail('personal'), 'google-oauth2|personal'));
    expect(mismatch.statusCode).toBe(403);
    expect(json(mismatch).error).toMatchObject({ code: 'invite_email_mismatch', details: { login_hint: email } });
    expect(parseRefusal(mismatch.statusCode, json(mismatch))).toEqual({ code: 'invite_email_mismatch', loginHint: email });
    expect((await h.status(id)).state).toBe('pending');
    expect((await redeem(token, userFor(email))).statusCode).toBe(200);
  });

  it('accepts a fresh unverified sign-up with the invited email in another case', async () => {
    const { email, token } = await invite();
    const res = await redeem(token, { ...userFor(email.toUpperCase(), 'auth0|fresh'), email_verified: false });
    expect(res.statusCode).toBe(200);
    expect(json(res).repeat).toBe(false);
  });

  it('refuses a revoked invite with 410 invite_revoked', async () => {
    const { id, email, token } = await invite();
    await app.inject({ method: 'POST', url: `/v1/invites/${id}/revoke`, headers: { authorization: `Bearer ${await h.bearer()}` }, payload: {} });
    const res = await redeem(token, userFor(email));
    expect(res.statusCode).toBe(410);
    expect(json(res).error.code).toBe('invite_revoked');
  });

  it('refuses forged, expired, unknown-link and unknown-invite tokens with their codes', async () => {
    const { id, email, token } = await invite();
    const user = userFor(email);
    const [sent] = await h.emails(id);

    const stranger = await generateLinkKey('stranger');
    const forgedSigner = createLinkSigner({ signingKey: stranger.privateJwk, issuer: h.config.PUBLIC_BASE_URL, audience: h.config.LINK_AUDIENCE });
    const forged = await forgedSigner.mint({ inviteId: id, jti: sent!.jti, expiresAt: new Date(sent!.expiresAt) });
    h.secrets.add(forged);
    const cases: [string, string, number, string][] = [
      ['forged', forged, 400, 'invite_invalid'],
      ['garbage', 'not-a-token', 400, 'invite_invalid'],
      ['tampered', `${token.slice(0, -4)}AAAA`, 400, 'invite_invalid'],
      ['expired', await h.signer.mint({ inviteId: id, jti: sent!.jti, expiresAt: new Date(Date.now() - 3_600_000) }), 410, 'invite_expired'],
      ['unknown link', await h.signer.mint({ inviteId: id, jti: 'never-issued', expiresAt: new Date(sent!.expiresAt) }), 404, 'invite_unknown_link'],
      ['unknown invite', await h.signer.mint({ inviteId: 'z'.repeat(26), jti: sent!.jti, expiresAt: new Date(sent!.expiresAt) }), 404, 'invite_not_found'],
    ];
    for (const [name, bad, status, code] of cases) {
      h.secrets.add(bad);
      const res = await redeem(bad, user);
      expect(res.statusCode, name).toBe(status);
      expect(json(res).error.code, name).toBe(code);
      expect(parseRefusal(res.statusCode, json(res)), name).toEqual({ code });
    }
    expect((await h.status(id)).state).toBe('pending');
    expect((await redeem(token, user)).statusCode).toBe(200);
  });

  it('documents the invited address of a mismatch in the OpenAPI document, where the Action reads it', async () => {
    const doc = json(await app.inject({ method: 'GET', url: '/docs/json' }));
    const refusal = doc.paths['/v1/redemptions'].post.responses['403'];
    const schema = refusal.content['application/json'].schema;
    const ref = (schema.allOf?.[0]?.$ref ?? schema.$ref) as string | undefined;
    const resolved = ref ? doc.components.schemas[ref.split('/').pop()!] : schema;
    expect(resolved.properties.error.properties.details.properties).toHaveProperty('login_hint');
    expect(resolved.properties.error.properties.code.enum ?? [resolved.properties.error.properties.code.const]).toEqual(['invite_email_mismatch']);
  });

  it('refuses a body without the user with 400', async () => {
    const { token } = await invite();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/redemptions',
      headers: { authorization: `Bearer ${await h.actionToken()}` },
      payload: { token },
    });
    expect(res.statusCode).toBe(400);
    expect(json(res).error.details).toEqual([expect.objectContaining({ field: 'user' })]);
  });
});

describe('GET /v1/invites/:id/history', () => {
  it('answers the lifecycle with the link click (GET, not HEAD, once) and the refused redemption the workflow never saw', async () => {
    const { id, email, token } = await invite();
    const read = async () =>
      app.inject({ method: 'GET', url: `/v1/invites/${id}/history`, headers: { authorization: `Bearer ${await h.bearer('invites:read')}` } });
    // The notes are sent without making the page or the Action wait: wait for each here.
    const lifecycleWith = (type: string) =>
      vi.waitFor(async () => {
        const res = await read();
        expect(res.statusCode).toBe(200);
        const b = json<{ id: string; omitted: number; events: Record<string, unknown>[] }>(res);
        expect(b.events.map((e) => e.type), `a lifecycle with ${type}`).toContain(type);
        return b;
      }, WAIT);
    await app.inject({ method: 'HEAD', url: `/i/${token}` });
    expect((await app.inject({ method: 'GET', url: `/i/${token}` })).statusCode).toBe(200);
    await lifecycleWith('clicked');
    // A reload within minutes is the same click.
    await app.inject({ method: 'GET', url: `/i/${token}` });
    const other = userFor(uniqueEmail('other'), 'google-oauth2|other');
    expect((await redeem(token, { ...other, connection: 'google-oauth2' })).statusCode).toBe(403);
    await lifecycleWith('refused');
    expect((await redeem(token, userFor(email))).statusCode).toBe(200);
    // The funnel's webhook is sent after the run completed: its note is the lifecycle's last.
    const body = await lifecycleWith('notified');
    expect(body.id).toBe(id);
    expect(body.omitted).toBe(0);
    // The contact upsert at creation runs beside the first email (the invite waited for it).
    expect(body.events.filter((e) => e.type === 'crm_upserted')).toEqual([expect.objectContaining({ contactId: '101' })]);
    const events = body.events.filter((e) => e.type !== 'crm_upserted');
    const types = events.map((e) => e.type);
    expect(types.slice(0, 5)).toEqual(['created', 'emailed', 'clicked', 'refused', 'redeemed']);
    expect(types.slice(5, 7).sort()).toEqual(['granted', 'linked']);
    expect(types.slice(7)).toEqual(['completed', 'notified']);
    expect(events[3]).toMatchObject({ code: 'invite_email_mismatch', userId: 'google-oauth2|other', connection: 'google-oauth2', sequence: 1 });
    expect(JSON.stringify(body)).not.toContain(token);

    const noScope = await app.inject({ method: 'GET', url: `/v1/invites/${id}/history`, headers: { authorization: `Bearer ${await h.bearer('invites:create')}` } });
    expect(noScope.statusCode).toBe(403);
    const unknown = await app.inject({ method: 'GET', url: `/v1/invites/${'0'.repeat(32)}/history`, headers: { authorization: `Bearer ${await h.bearer('invites:read')}` } });
    expect(unknown.statusCode).toBe(404);
    expect(json(unknown).error.code).toBe('invite_not_found');
  });
});

describe('Action token', () => {
  it('answers 401 and changes nothing for a missing, wrongly signed, expired, long-lived, mis-addressed or replayed token', async () => {
    const { id, email, token } = await invite();
    const user = userFor(email);
    const now = Math.floor(Date.now() / 1000);
    const replayed = await h.actionToken();
    expect((await redeem(token, userFor(uniqueEmail('x'), 'auth0|x'), `Bearer ${replayed}`)).statusCode).toBe(403);

    const cases: [string, string | undefined][] = [
      ['missing', ''],
      ['not bearer', `Basic ${Buffer.from('a:b').toString('base64')}`],
      ['wrong secret', `Bearer ${await h.actionToken({ secret: 'another-secret-of-at-least-32-characters!!' })}`],
      ['expired', `Bearer ${await h.actionToken({ iat: now - 600, lifetimeSeconds: 120 })}`],
      ['too long-lived', `Bearer ${await h.actionToken({ lifetimeSeconds: 3600 })}`],
      ['wrong audience', `Bearer ${await h.actionToken({ claims: { aud: 'someone-else' } })}`],
      ['wrong issuer', `Bearer ${await h.actionToken({ claims: { iss: 'someone-else' } })}`],
      ['replayed jti', `Bearer ${replayed}`],
      ['bound to another user', `Bearer ${await h.actionToken({ claims: { sub: 'auth0|someone-else' } })}`],
    ];
    for (const [name, auth] of cases) {
      const res = await redeem(token, user, auth);
      expect(res.statusCode, name).toBe(401);
      expect(json(res).error.code, name).toBe('unauthorized');
      expect(res.headers['www-authenticate'], name).toMatch(/^Bearer /);
    }
    expect((await h.status(id)).state).toBe('pending');
    expect((await redeem(token, user, `Bearer ${await h.actionToken({ claims: { sub: user.id } })}`)).statusCode).toBe(200);
  });

  it('rate limits per link token', async () => {
    const limited = await h.buildApp({ rateLimits: { redeemPerToken: { max: 2, windowMs: 60_000 } } });
    const { email, token } = await invite();
    const stranger = userFor(uniqueEmail('stranger'), 'auth0|stranger');
    expect((await redeem(token, stranger, undefined, limited)).statusCode).toBe(403);
    expect((await redeem(token, stranger, undefined, limited)).statusCode).toBe(403);
    const third = await redeem(token, userFor(email), undefined, limited);
    expect(third.statusCode).toBe(429);
    expect(json(third).error.code).toBe('rate_limited');
    // Another link is counted on its own.
    const other = await invite();
    expect((await redeem(other.token, userFor(other.email), undefined, limited)).statusCode).toBe(200);
  });

  it('rate limits per client IP', async () => {
    const limited = await h.buildApp({ rateLimits: { redeemPerIp: { max: 1, windowMs: 60_000 } } });
    const { email, token } = await invite();
    expect((await redeem(token, userFor(email), undefined, limited)).statusCode).toBe(200);
    const second = await redeem(token, userFor(email), undefined, limited);
    expect(second.statusCode).toBe(429);
  });

  it('counts redemptions by outcome in the metrics', async () => {
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/inviteflow_redemptions_total\{outcome="redeemed",code="ok"\} [1-9]/);
    expect(metrics).toMatch(/inviteflow_redemptions_total\{outcome="repeat",code="ok"\} [1-9]/);
    expect(metrics).toMatch(/inviteflow_redemptions_total\{outcome="refused",code="invite_email_mismatch"\} [1-9]/);
    expect(metrics).toMatch(/inviteflow_redemption_duration_seconds_count\{outcome="redeemed"\} [1-9]/);
  });

  it('logs no token', () => {
    expectNoSecretsInLogs(h);
  });
});
