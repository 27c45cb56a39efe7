/**
 * Races on one invite, through the API against the real workflow on the dev server: two accounts
 * redeeming the same link at the same instant, and a storm of resends. Temporal serializes the
 * updates of one workflow, so exactly one redemption wins and the resend interval holds however
 * many requests arrive together.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveInviteId } from '../../../client/invite-id';
import { inviteWorkflowId, TASK_QUEUE } from '../../../workflows/messages';
import type { InviteInput } from '../../../workflows/messages';
import type { inviteWorkflow } from '../../../workflows/invite';
import { startHarness, uniqueEmail } from '../../support/api-harness';
import type { Harness } from '../../support/api-harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  expect(h.config.TEMPORAL_TASK_QUEUE).not.toBe(TASK_QUEUE);
});

afterAll(async () => {
  await h?.close();
});

/** Starts an invite on the harness worker the way the API would, with test-sized intervals. */
async function startInvite(extra: Partial<InviteInput> = {}) {
  const email = uniqueEmail('race');
  const scope = 'workspace:race';
  const inviteId = deriveInviteId(h.config.INVITE_ID_KEY, email, scope);
  await h.env.client.workflow.start<typeof inviteWorkflow>('inviteWorkflow', {
    taskQueue: h.config.TEMPORAL_TASK_QUEUE,
    workflowId: inviteWorkflowId(inviteId),
    args: [{ inviteId, email, roles: ['member'], data: { plan: 'pro' }, scope, locale: 'en', ...extra }],
  });
  const [first] = await h.emails(inviteId);
  return { inviteId, email, token: await h.linkOf(first!) };
}

describe('concurrent redemptions of one invite', () => {
  it('lets exactly one account win; the other is told the invite is already used', async () => {
    const { inviteId, token } = await startInvite({ emailPolicy: 'any' });
    const users = ['auth0|alice', 'google-oauth2|bob'].map((id, i) => ({
      id,
      email: `racer${i}@example.com`,
      email_verified: true,
      connection: i === 0 ? 'Username-Password-Authentication' : 'google-oauth2',
    }));
    const actionTokens = await Promise.all(users.map(() => h.actionToken()));
    const responses = await Promise.all(
      users.map((user, i) =>
        h.app.inject({ method: 'POST', url: '/v1/redemptions', headers: { authorization: `Bearer ${actionTokens[i]}` }, payload: { token, user } }),
      ),
    );
    const codes = responses.map((r) => r.statusCode).sort();
    expect(codes).toEqual([200, 409]);
    const winner = responses.findIndex((r) => r.statusCode === 200);
    expect(responses[1 - winner]!.json().error.code).toBe('invite_already_used');

    const done = await h.until(inviteId, (s) => s.state === 'completed');
    expect(done.redeemer?.userId).toBe(users[winner]!.id);
    expect(h.fake.calls.roles.filter((r) => r.userId === users[1 - winner]!.id)).toEqual([]);
    expect(h.fake.calls.metadata.filter((m) => m.inviteId === inviteId).map((m) => m.userId)).toEqual([users[winner]!.id]);
  });

  it('answers the same account racing itself with one redemption and one idempotent repeat', async () => {
    const { inviteId, email, token } = await startInvite();
    const user = { id: 'auth0|twice', email, email_verified: true, connection: 'Username-Password-Authentication' };
    const responses = await Promise.all(
      [0, 1].map(async () =>
        h.app.inject({ method: 'POST', url: '/v1/redemptions', headers: { authorization: `Bearer ${await h.actionToken()}` }, payload: { token, user } }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(responses.map((r) => r.json().repeat as boolean).sort()).toEqual([false, true]);
    await h.until(inviteId, (s) => s.state === 'completed');
    expect(h.fake.calls.metadata.filter((m) => m.inviteId === inviteId)).toHaveLength(1);
  });
});

describe('a resend storm', () => {
  it('sends one email for 20 simultaneous resends; the rest are refused as rate limited', async () => {
    const { inviteId } = await startInvite({ resendInterval: '1 second' });
    // Once the workflow has recorded the first email, its resend interval runs: let it pass, so
    // that exactly one resend is due. The interval is what the storm is measured against (no
    // message says when it has passed without spending the resend), not a wait for an event.
    await h.until(inviteId, (s) => s.emails.length === 1);
    await sleep(1000);
    const bearer = await h.bearer('invites:write');
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => h.app.inject({ method: 'POST', url: `/v1/invites/${inviteId}/resend`, headers: { authorization: `Bearer ${bearer}` } })),
    );
    const ok = responses.filter((r) => r.statusCode === 200 || r.statusCode === 202);
    const refused = responses.filter((r) => r.statusCode === 429);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(19);
    for (const r of refused) expect(['resend_rate_limited', 'rate_limited']).toContain(r.json().error.code);
    // Some reached the workflow and met its own interval, not only the API's per-invite limit.
    expect(refused.some((r) => r.json().error.code === 'resend_rate_limited')).toBe(true);

    const status = await h.until(inviteId, (s) => s.emails.length >= 2);
    expect(status.emails.map((e) => e.kind)).toEqual(['invite', 'resend']);
    expect(h.fake.calls.emails.filter((e) => e.inviteId === inviteId).map((e) => e.sequence)).toEqual([1, 2]);
  });
});
