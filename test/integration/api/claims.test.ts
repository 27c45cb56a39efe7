/**
 * `POST /v1/claims` as the Auth0 Action calls it on a login without a link: a verified address
 * claims the newest opted-in open invite found through visibility; unverified addresses, other
 * addresses and invites that did not opt in never claim, and nothing changes for them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClaimAnswer } from '../../../lib/action-contract';
import { expectNoSecretsInLogs, json, startHarness, uniqueEmail } from '../../support/api-harness';
import { WAIT } from '../../support/wait';
import type { Harness } from '../../support/api-harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

async function invite(body: Record<string, unknown>): Promise<string> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/invites',
    headers: { authorization: `Bearer ${await h.bearer()}` },
    payload: { roles: ['member'], data: { plan: 'pro' }, ...body },
  });
  expect(res.statusCode).toBe(201);
  const id = json(res).id as string;
  await h.emails(id);
  return id;
}

async function claim(user: { id: string; email: string; email_verified: boolean; connection?: string }, auth?: string) {
  return h.app.inject({
    method: 'POST',
    url: '/v1/claims',
    headers: { authorization: auth ?? `Bearer ${await h.actionToken({ claims: { sub: user.id } })}` },
    payload: { user: { connection: 'google-oauth2', ...user } },
  });
}

/** Visibility is eventually consistent: wait until the invite can be found by its email. */
async function visible(id: string) {
  await expect.poll(async () => (await h.env.client.workflow.count(`WorkflowId = 'invite-${id}' AND InviteStatus = 'pending'`)).count, WAIT).toBeGreaterThan(0);
}

describe('POST /v1/claims', () => {
  it('claims an opted-in invite for a verified account with the invited email, and answers the claims', async () => {
    const email = uniqueEmail('claim');
    const id = await invite({ email, scope: 'workspace:acme', claimByVerifiedEmail: true });
    await visible(id);
    const res = await claim({ id: 'google-oauth2|111', email: email.toUpperCase(), email_verified: true });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({ claimed: true, inviteId: id, scope: 'workspace:acme', roles: ['member'], claims: { plan: 'pro' }, repeat: false });
    // The Action reads it with the contract's parser, which must see all of it.
    expect(parseClaimAnswer(json(res))).toEqual(json(res));
    const done = await h.until(id, (s) => s.state === 'completed');
    expect(done).toMatchObject({ redeemedVia: 'verified-email', redeemer: { userId: 'google-oauth2|111', connection: 'google-oauth2' } });
  });

  it('never claims for an unverified address, another address, or an invite that did not opt in', async () => {
    const email = uniqueEmail('noclaim');
    const optedOut = await invite({ email, scope: 'workspace:one' });
    const optedIn = await invite({ email, scope: 'workspace:two', claimByVerifiedEmail: true });
    await visible(optedOut);
    await visible(optedIn);
    const unverified = json(await claim({ id: 'auth0|u1', email, email_verified: false }));
    expect(unverified).toEqual({ claimed: false, reason: 'email_unverified' });
    expect(parseClaimAnswer(unverified)).toEqual(unverified);
    expect(json(await claim({ id: 'auth0|u2', email: uniqueEmail('other'), email_verified: true }))).toEqual({ claimed: false, reason: 'no_claimable_invite' });
    expect((await h.status(optedOut)).state).toBe('pending');
    expect((await h.status(optedIn)).state).toBe('pending');
    // The verified owner gets the one that opted in; the other keeps waiting for its link.
    const res = await claim({ id: 'auth0|owner', email, email_verified: true });
    expect(json(res)).toMatchObject({ claimed: true, inviteId: optedIn, scope: 'workspace:two' });
    expect((await h.status(optedOut)).state).toBe('pending');
  });

  it('opts whole scopes in with CLAIM_BY_EMAIL_SCOPES, unless the request says otherwise', async () => {
    const app = await h.buildApp({ config: { ...h.config, CLAIM_BY_EMAIL_SCOPES: ['workspace:open'] } });
    const create = async (payload: Record<string, unknown>) =>
      json<{ status: Record<string, unknown> }>(await app.inject({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${await h.bearer()}` }, payload })).status;
    expect(await create({ email: uniqueEmail('s1'), scope: 'workspace:open' })).toMatchObject({ claimByVerifiedEmail: true });
    expect(await create({ email: uniqueEmail('s2'), scope: 'workspace:open', claimByVerifiedEmail: false })).not.toHaveProperty('claimByVerifiedEmail');
    expect(await create({ email: uniqueEmail('s3'), scope: 'workspace:closed' })).not.toHaveProperty('claimByVerifiedEmail');
  });

  it('refuses a missing or forged Action token, a token bound to another user, and a bad body', async () => {
    const user = { id: 'auth0|x', email: uniqueEmail('tok'), email_verified: true };
    expect((await claim(user, 'Bearer not-a-token')).statusCode).toBe(401);
    expect((await claim(user, `Bearer ${await h.actionToken({ secret: 'x'.repeat(40) })}`)).statusCode).toBe(401);
    expect((await claim(user, `Bearer ${await h.actionToken({ claims: { sub: 'auth0|someone-else' } })}`)).statusCode).toBe(401);
    const bad = await h.app.inject({
      method: 'POST',
      url: '/v1/claims',
      headers: { authorization: `Bearer ${await h.actionToken()}` },
      payload: { user: { id: 'auth0|x', email: 'not an email', email_verified: true, connection: 'c' } },
    });
    expect(bad.statusCode).toBe(400);
    expect(json(bad).error.code).toBe('invalid_request');
  });

  it('answers a lost claim again to the same account, while granting and once completed, before claiming another', async () => {
    const email = uniqueEmail('reclaim');
    const first = await invite({ email, scope: 'workspace:first', claimByVerifiedEmail: true });
    await visible(first);
    const owner = { id: 'auth0|reclaim', email, email_verified: true };
    const release = h.fake.hold('assignAuth0Roles');
    try {
      const claimed = json(await claim(owner));
      expect(claimed).toMatchObject({ claimed: true, inviteId: first, repeat: false });
      // A newer invite of the same address waits to be claimed too.
      const second = await invite({ email, scope: 'workspace:second', claimByVerifiedEmail: true });
      await visible(second);
      await expect.poll(async () => (await h.env.client.workflow.count(`WorkflowId = 'invite-${first}' AND InviteStatus = 'redeemed'`)).count, WAIT).toBeGreaterThan(0);
      // The answer was lost; the next login, while the grant is held, gets the same claims back.
      expect(json(await claim(owner))).toEqual({ ...claimed, repeat: true });
      // Another account with the address is passed over the redeemed one and claims the newer one.
      expect(json(await claim({ id: 'auth0|other', email, email_verified: true }))).toMatchObject({ claimed: true, inviteId: second, repeat: false });
    } finally {
      release();
    }
    await h.until(first, (s) => s.state === 'completed');
    await expect.poll(async () => (await h.env.client.workflow.count(`WorkflowId = 'invite-${first}' AND ExecutionStatus = 'Completed'`)).count, WAIT).toBeGreaterThan(0);
    // Completed a moment ago: still the same answer for its account, nothing for anyone else.
    const again = json(await claim(owner));
    expect(again).toMatchObject({ claimed: true, inviteId: first, scope: 'workspace:first', roles: ['member'], claims: { plan: 'pro' }, repeat: true });
    expect(parseClaimAnswer(again)).toEqual(again);
    expect(json(await claim({ id: 'auth0|third', email, email_verified: true }))).toEqual({ claimed: false, reason: 'no_claimable_invite' });
  });

  it('logs no token', () => {
    expectNoSecretsInLogs(h);
  });
});
