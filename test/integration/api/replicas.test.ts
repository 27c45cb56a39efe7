/**
 * Two API replicas (two apps, each with its own per-process memory) on one Temporal server and
 * one worker: whatever replica A remembers (used Action-token `jti`s, Mailgun tokens, recent
 * clicks, rate-limit counters), the same call replayed on replica B has no second effect on what
 * the person or the invite ends up with, because the invite's workflow is the single authority.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { inviteWorkflowId } from '../../../workflows/messages';
import type { LifecycleEventType } from '../../../workflows/messages';
import { expectNoSecretsInLogs, json, startHarness, uniqueEmail } from '../../support/api-harness';
import type { Harness } from '../../support/api-harness';

const MAILGUN_KEY = `key-${randomBytes(16).toString('hex')}`;

let h: Harness;
let a: FastifyInstance;
let b: FastifyInstance;

beforeAll(async () => {
  h = await startHarness();
  h.secrets.add(MAILGUN_KEY);
  const config = { ...h.config, MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY };
  [a, b] = [await h.buildApp({ config }), await h.buildApp({ config })];
});

afterAll(async () => {
  await h?.close();
});

/** Creates an invite on `replica` and returns its id, address and the link of its first email. */
async function invite(replica: FastifyInstance) {
  const email = uniqueEmail('replica');
  const res = await replica.inject({
    method: 'POST',
    url: '/v1/invites',
    headers: { authorization: `Bearer ${await h.bearer()}` },
    payload: { email, roles: ['member'], data: { plan: 'pro' } },
  });
  expect(res.statusCode).toBe(201);
  const id = json(res).id as string;
  const [sent] = await h.emails(id);
  return { id, email, token: await h.linkOf(sent!) };
}

const userFor = (email: string, id = `auth0|${randomBytes(4).toString('hex')}`) => ({ id, email, email_verified: true, connection: 'Username-Password-Authentication' });

const redeem = (replica: FastifyInstance, actionToken: string, token: string, user: ReturnType<typeof userFor>) =>
  replica.inject({ method: 'POST', url: '/v1/redemptions', headers: { authorization: `Bearer ${actionToken}` }, payload: { token, user } });

/** How many lifecycle events of each type the invite has. */
async function lifecycle(replica: FastifyInstance, id: string): Promise<Partial<Record<LifecycleEventType, number>>> {
  const res = await replica.inject({ method: 'GET', url: `/v1/invites/${id}/history`, headers: { authorization: `Bearer ${await h.bearer()}` } });
  expect(res.statusCode).toBe(200);
  const counts: Partial<Record<LifecycleEventType, number>> = {};
  for (const e of json<{ events: { type: LifecycleEventType }[] }>(res).events) counts[e.type] = (counts[e.type] ?? 0) + 1;
  return counts;
}

describe('the same invite created on both replicas at once', () => {
  it('starts one run: exactly one creator is told 201, every other 200 with the same invite', async () => {
    const bearer = await h.bearer();
    for (const email of [uniqueEmail('race'), uniqueEmail('race'), uniqueEmail('race')]) {
      const create = (replica: FastifyInstance) =>
        replica.inject({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${bearer}` }, payload: { email, roles: ['member'] } });
      const responses = await Promise.all([a, b, a, b, a, b].map(create));
      expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 201]);
      const created = responses.find((r) => r.statusCode === 201)!;
      expect(created.headers.location).toBe(`/v1/invites/${json(created).id}`);
      for (const res of responses) {
        expect(json(res).id).toBe(json(created).id);
        expect(json(res).status).toMatchObject({ state: 'pending', createdAt: json(created).status.createdAt });
      }
      const description = await h.env.client.workflow.getHandle(inviteWorkflowId(json(created).id)).describe();
      expect(description.status.name).toBe('RUNNING');
    }
  });
});

describe('the same call replayed on the other replica', () => {
  it('an Action token: the same account gets the repeat answer, roles are granted once; another account gets nothing', async () => {
    const { id, email, token } = await invite(a);
    const user = userFor(email);
    const bound = await h.actionToken({ claims: { sub: user.id } });

    const first = await redeem(a, bound, token, user);
    expect(first.statusCode).toBe(200);
    expect(json(first)).toMatchObject({ inviteId: id, roles: ['member'], claims: { plan: 'pro' }, repeat: false });
    // Replica A remembers the jti; replica B does not, and lets it through to the workflow.
    expect(json(await redeem(a, bound, token, user)).error.code).toBe('unauthorized');
    const replayed = await redeem(b, bound, token, user);
    expect(replayed.statusCode).toBe(200);
    expect(json(replayed)).toMatchObject({ inviteId: id, roles: ['member'], repeat: true });

    // The token names its account: on B it cannot redeem for anyone else.
    const stranger = userFor(email, 'google-oauth2|stranger');
    expect(json(await redeem(b, bound, token, stranger)).error.code).toBe('unauthorized');
    // Even a token without `sub`, replayed on B for another account, meets the workflow's refusal.
    const unbound = await h.actionToken();
    expect((await redeem(a, unbound, token, user)).statusCode).toBe(200);
    expect(json(await redeem(b, unbound, token, stranger)).error.code).toBe('invite_already_used');

    const done = await h.until(id, (s) => s.state === 'completed');
    expect(done.redeemer?.userId).toBe(user.id);
    expect(h.fake.calls.roles.filter((c) => c.userId === user.id)).toHaveLength(1);
    expect(await lifecycle(b, id)).toMatchObject({ redeemed: 1, granted: 1, completed: 1 });
  });

  it('a Mailgun event: the invite is marked undeliverable once and the funnel told once', async () => {
    const { id } = await invite(a);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const mgToken = randomBytes(25).toString('hex');
    const body = JSON.stringify({
      signature: { timestamp, token: mgToken, signature: createHmac('sha256', MAILGUN_KEY).update(timestamp + mgToken).digest('hex') },
      'event-data': {
        event: 'failed',
        severity: 'permanent',
        reason: 'bounce',
        'delivery-status': { code: 550 },
        message: { headers: { 'message-id': `invite.${id}.1@inviteflow.local` } },
      },
    });
    const post = (replica: FastifyInstance) =>
      replica.inject({ method: 'POST', url: '/v1/email-events/mailgun', headers: { 'content-type': 'application/json' }, payload: body });

    expect((await post(a)).statusCode).toBe(202);
    expect(json(await post(a)).error.code).toBe('invalid_signature');
    // B has not seen the token; the workflow takes a delivery failure only while pending.
    expect((await post(b)).statusCode).toBe(202);

    const status = await h.until(id, (s) => s.state === 'undeliverable');
    expect(status.undeliverable).toMatchObject({ kind: 'bounce', reason: 'mailgun: bounce 550' });
    // The funnel's webhook runs after the signal; once its step is recorded, it ran only once.
    await expect.poll(async () => (await lifecycle(a, id)).notified ?? 0).toBeGreaterThan(0);
    expect(await lifecycle(b, id)).toMatchObject({ undeliverable: 1, notified: 1 });
    expect(h.fake.calls.webhooks.filter((w) => w.invite.id === id && w.type === 'invite.undeliverable')).toHaveLength(1);
    expect(h.fake.calls.emails.filter((e) => e.inviteId === id)).toHaveLength(1);
  });

  it('a click: one note in the invite’s lifecycle whichever replica the reload lands on; the resend interval holds on both', async () => {
    const { id, token } = await invite(a);
    const open = async (replica: FastifyInstance) => {
      const res = await replica.inject({ method: 'GET', url: `/i/${token}` });
      expect(res.statusCode).toBe(200);
    };
    const said = (msg: string) => h.logs.filter((line) => line.includes(id) && line.includes(`"msg":"${msg}"`)).length;
    await open(a);
    await expect.poll(() => said('click noted')).toBe(1);
    // B has no memory of it and asks the invite's lifecycle; A and B then answer from memory.
    await open(b);
    await expect.poll(() => said('click noted') + said('click already noted')).toBe(2);
    await open(a);
    await open(b);
    expect(said('click noted')).toBe(1);
    expect(said('click already noted')).toBe(1);
    const resend = await b.inject({ method: 'POST', url: `/v1/invites/${id}/resend`, headers: { authorization: `Bearer ${await h.bearer()}` } });
    // The workflow's own resend interval holds on every replica (the HTTP limit is per process).
    expect(json(resend).error.code).toBe('resend_rate_limited');
    expect(await lifecycle(b, id)).toMatchObject({ clicked: 1, emailed: 1 });
  });

  it('keeps every secret out of both replicas’ logs', () => {
    expectNoSecretsInLogs(h);
  });
});
