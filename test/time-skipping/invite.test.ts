/**
 * The invite workflow, path by path, on the time-skipping test server with fake activities.
 * With RECORD_HISTORIES=1 each path's history is written for the replay tests.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { fakeActivities } from '../support/fake-activities';
import { recordHistory, timeSkippingEnv, workflowBundle } from '../support/temporal';
import { testDataConverter } from '../support/payload-keys';
import { WAIT } from '../support/wait';
import { InviteErrorType } from '../../workflows/errors';
import { localMinutes } from '../../workflows/send-window';
import type { inviteWorkflow } from '../../workflows/invite';
import {
  auditSignal,
  claimUpdate,
  declineSignal,
  deliveryFailedSignal,
  extendUpdate,
  historyQuery,
  MAX_NOTES,
  inviteWorkflowId,
  linkIssuedQuery,
  redeemUpdate,
  resendUpdate,
  revokeUpdate,
  searchAttributes,
  statusQuery,
} from '../../workflows/messages';
import type { InviteInput, InviteStatus, Redeemer } from '../../workflows/messages';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  [env] = await Promise.all([timeSkippingEnv(), workflowBundle()]);
});

afterAll(async () => {
  await env?.teardown();
});

const invited: Redeemer = {
  userId: 'auth0|invited',
  email: 'ada@example.com',
  emailVerified: true,
  connection: 'Username-Password-Authentication',
};

function input(overrides: Partial<InviteInput> = {}): InviteInput {
  return {
    inviteId: randomBytes(10).toString('hex'),
    email: 'ada@example.com',
    roles: ['member', 'billing'],
    data: { leadId: 'L-42', plan: 'pro' },
    scope: 'workspace:acme',
    locale: 'en',
    inviter: { name: 'Acme team' },
    ...overrides,
  };
}

/** An Etc/GMT zone (Etc/GMT-N is UTC+N) where the test server's clock, plus `aheadMs`, reads `localHour`. */
async function zoneWhere(localHour: number, aheadMs = 0): Promise<string> {
  const utcHour = new Date((await env.currentTimeMs()) + aheadMs).getUTCHours();
  const offset = ((localHour - utcHour + 36) % 24) - 12;
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

/**
 * Reminders wait for the invitee's daytime. The test server's clock starts at the real time, so
 * tests that are not about send windows put the invitee where it is noon, with the widest window:
 * their whole-day offsets then always fall inside it, whenever the suite runs.
 */
async function daytime(overrides: Partial<InviteInput>): Promise<Partial<InviteInput>> {
  return {
    ...(overrides.timeZone === undefined ? { timeZone: await zoneWhere(12) } : {}),
    ...(overrides.sendWindow === undefined ? { sendWindow: { start: '07:00', end: '22:00' } } : {}),
    ...overrides,
  };
}

type Fake = ReturnType<typeof fakeActivities>;
type Handle = WorkflowHandle<typeof inviteWorkflow>;

/** Starts an invite with a worker running fake activities, and runs `body` against it. */
async function withInvite(
  overrides: Partial<InviteInput>,
  body: (handle: Handle, fake: Fake) => Promise<void>,
  fake: Fake = fakeActivities(),
): Promise<void> {
  const taskQueue = `test-${randomBytes(6).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fake.activities,
    dataConverter: testDataConverter,
  });
  const args = input(await daytime(overrides));
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start('inviteWorkflow', {
      taskQueue,
      workflowId: inviteWorkflowId(args.inviteId),
      args: [args],
    });
    await body(handle as Handle, fake);
  });
}

/** Starts an invite with the search attributes `client/invites.ts` sets at the start. */
function startWithSearchAttributes(taskQueue: string, args: InviteInput, expiresAt: Date): Promise<Handle> {
  return env.client.workflow.start('inviteWorkflow', {
    taskQueue,
    workflowId: inviteWorkflowId(args.inviteId),
    args: [args],
    typedSearchAttributes: [
      { key: searchAttributes.status, value: 'pending' },
      { key: searchAttributes.email, value: args.email },
      { key: searchAttributes.scope, value: args.scope },
      { key: searchAttributes.expiresAt, value: expiresAt },
    ],
  }) as Promise<Handle>;
}

/** Polls the status query until `predicate` holds; time does not skip while polling. */
async function until(handle: Handle, predicate: (s: InviteStatus) => boolean): Promise<InviteStatus> {
  return vi.waitFor(async () => {
    const status = await handle.query(statusQuery);
    expect(predicate(status), `condition not reached; last status: ${JSON.stringify(status)}`).toBe(true);
    return status;
  }, WAIT);
}

const firstEmail = (handle: Handle) => until(handle, (s) => s.emails.length >= 1);

/** The refusal carried by a failed update: its ApplicationFailure type and details. */
async function refusal(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

describe('invite workflow', () => {
  it('emails a link, accepts a redemption, grants roles and data, links HubSpot, completes', async () => {
    await withInvite({}, async (handle, fake) => {
      const status = await firstEmail(handle);
      expect(status.state).toBe('pending');
      expect(fake.calls.emails[0]).toMatchObject({ kind: 'invite', to: 'ada@example.com', sequence: 1, locale: 'en' });
      expect(fake.calls.emails[0]!.expiresAt).toBe(status.expiresAt);

      const answer = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
      expect(answer).toMatchObject({ roles: ['member', 'billing'], data: { leadId: 'L-42', plan: 'pro' }, scope: 'workspace:acme', repeat: false });

      const final = await handle.result();
      expect(final.state).toBe('completed');
      expect(final.redeemer).toEqual(invited);
      expect(fake.calls.roles).toEqual([{ userId: 'auth0|invited', roles: ['member', 'billing'] }]);
      expect(fake.calls.metadata).toEqual([
        expect.objectContaining({ userId: 'auth0|invited', scope: 'workspace:acme', roles: ['member', 'billing'], data: { leadId: 'L-42', plan: 'pro' } }),
      ]);
      expect(fake.calls.hubspot).toEqual([
        expect.objectContaining({ email: 'ada@example.com', auth0UserId: 'auth0|invited', inviteStatus: 'redeemed' }),
      ]);
      // A verified account needs no verification write.
      expect(fake.calls.verified).toEqual([]);
      await recordHistory('redeem', handle);
    });
  });

  it('marks a fresh, unverified sign-up with the invited email as verified', async () => {
    await withInvite({}, async (handle, fake) => {
      const status = await firstEmail(handle);
      await handle.executeUpdate(redeemUpdate, {
        args: [{ linkId: status.emails[0]!.linkId, user: { ...invited, email: 'Ada@Example.com', emailVerified: false } }],
      });
      expect((await handle.result()).state).toBe('completed');
      expect(fake.calls.verified).toEqual([{ userId: 'auth0|invited' }]);
      await recordHistory('redeem-unverified', handle);
    });
  });

  it('answers an idempotent repeat by the same account with the same result, granting once', async () => {
    const fake = fakeActivities();
    const release = fake.hold('assignAuth0Roles');
    await withInvite(
      {},
      async (handle) => {
        const status = await firstEmail(handle);
        const req = { linkId: status.emails[0]!.linkId, user: invited };
        const first = await handle.executeUpdate(redeemUpdate, { args: [req] });
        const again = await handle.executeUpdate(redeemUpdate, { args: [req] });
        expect(again).toEqual({ ...first, repeat: true });
        release();
        expect((await handle.result()).state).toBe('completed');
        expect(fake.calls.roles).toHaveLength(1);
        await recordHistory('redeem-repeat', handle);
      },
      fake,
    );
  });

  it('turns away an account with another email without consuming the invite', async () => {
    await withInvite({}, async (handle, fake) => {
      const status = await firstEmail(handle);
      const linkId = status.emails[0]!.linkId;
      const refused = await refusal(
        handle.executeUpdate(redeemUpdate, { args: [{ linkId, user: { ...invited, userId: 'google-oauth2|1', email: 'ada.personal@example.org' } }] }),
      );
      expect(refused.type).toBe(InviteErrorType.EmailMismatch);
      expect(refused.details).toEqual([{ loginHint: 'ada@example.com' }]);
      expect((await handle.query(statusQuery)).state).toBe('pending');

      await handle.executeUpdate(redeemUpdate, { args: [{ linkId, user: invited }] });
      expect((await handle.result()).redeemer?.userId).toBe('auth0|invited');
      expect(fake.calls.roles).toHaveLength(1);
      await recordHistory('mismatch-then-redeem', handle);
    });
  });

  it('lets any account redeem under the "any" policy, and refuses a second account afterwards', async () => {
    const fake = fakeActivities();
    const release = fake.hold('linkHubSpotContact');
    await withInvite(
      { emailPolicy: 'any' },
      async (handle) => {
        const status = await firstEmail(handle);
        const linkId = status.emails[0]!.linkId;
        const other: Redeemer = { userId: 'facebook|7', email: 'someone@else.net', emailVerified: true, connection: 'facebook' };
        await handle.executeUpdate(redeemUpdate, { args: [{ linkId, user: other }] });
        const refused = await refusal(handle.executeUpdate(redeemUpdate, { args: [{ linkId, user: invited }] }));
        expect(refused.type).toBe(InviteErrorType.AlreadyUsed);
        release();
        const final = await handle.result();
        expect(final.redeemer).toEqual(other);
        // The other address is not the invited one, so it is not marked verified.
        expect(fake.calls.verified).toEqual([]);
        await recordHistory('any-policy', handle);
      },
      fake,
    );
  });

  it('refuses a link it did not issue', async () => {
    await withInvite({}, async (handle) => {
      const status = await firstEmail(handle);
      expect(await handle.query(linkIssuedQuery, status.emails[0]!.linkId)).toBe(true);
      expect(await handle.query(linkIssuedQuery, 'not-a-link')).toBe(false);
      const refused = await refusal(handle.executeUpdate(redeemUpdate, { args: [{ linkId: 'not-a-link', user: invited }] }));
      expect(refused.type).toBe(InviteErrorType.UnknownLink);
      expect((await handle.query(statusQuery)).state).toBe('pending');
      await handle.executeUpdate(revokeUpdate, { args: [{}] });
      await handle.result();
    });
  });

  it('revokes a pending invite; a later redemption is refused', async () => {
    await withInvite({}, async (handle, fake) => {
      const status = await firstEmail(handle);
      const revoked = await handle.executeUpdate(revokeUpdate, { args: [{ reason: 'sent to the wrong person' }] });
      expect(revoked).toMatchObject({ state: 'revoked', revokeReason: 'sent to the wrong person' });
      const final = await handle.result();
      expect(final.state).toBe('revoked');
      expect(fake.calls.roles).toEqual([]);
      expect(status.emails).toHaveLength(1);
      await recordHistory('revoke', handle);
    });
  });

  it('resends with a fresh link, rate-limited, and every issued link stays valid', async () => {
    await withInvite({ maxResends: 2 }, async (handle, fake) => {
      const first = await firstEmail(handle);
      const tooSoon = await refusal(handle.executeUpdate(resendUpdate));
      expect(tooSoon.type).toBe(InviteErrorType.ResendRateLimited);

      await env.sleep('1 minute');
      const sent = await handle.executeUpdate(resendUpdate);
      expect(sent).toMatchObject({ sequence: 2, kind: 'resend' });
      expect(sent.linkId).not.toBe(first.emails[0]!.linkId);
      expect(fake.calls.emails.map((e) => e.jti)).toEqual([first.emails[0]!.linkId, sent.linkId]);

      await env.sleep('1 minute');
      await handle.executeUpdate(resendUpdate);
      await env.sleep('1 minute');
      const exhausted = await refusal(handle.executeUpdate(resendUpdate));
      expect(exhausted.type).toBe(InviteErrorType.ResendRateLimited);
      expect(exhausted.message).toContain('at most 2');

      // The first link still redeems: a resend adds a link, it does not cancel the earlier one.
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: first.emails[0]!.linkId, user: invited }] });
      expect((await handle.result()).state).toBe('completed');
      await recordHistory('resend', handle);
    });
  });

  it('extends the expiry and emails a link that carries the new expiry', async () => {
    await withInvite({ reminders: [] }, async (handle, fake) => {
      const before = await firstEmail(handle);
      const tooShort = await refusal(handle.executeUpdate(extendUpdate, { args: [{ ttl: '1 day' }] }));
      expect(tooShort.type).toBe(InviteErrorType.InvalidInput);

      const extended = await handle.executeUpdate(extendUpdate, { args: [{ ttl: '20 days' }] });
      expect(Date.parse(extended.expiresAt)).toBeGreaterThan(Date.parse(before.expiresAt));
      expect(fake.calls.emails[1]).toMatchObject({ sequence: 2, expiresAt: extended.expiresAt });

      await env.sleep('8 days');
      const later = await handle.query(statusQuery);
      expect(later.state).toBe('pending');
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: later.emails[1]!.linkId, user: invited }] });
      expect((await handle.result()).state).toBe('completed');
      await recordHistory('extend', handle);
    });
  });

  it('sends each reminder at its offset, then expires', async () => {
    await withInvite({}, async (handle, fake) => {
      await firstEmail(handle);
      await env.sleep('1 day');
      expect(fake.calls.emails).toHaveLength(1);
      await env.sleep('1 day');
      await until(handle, (s) => s.emails.length === 2);
      expect(fake.calls.emails[1]).toMatchObject({ kind: 'reminder', sequence: 2 });
      expect(fake.calls.emails[1]!.jti).not.toBe(fake.calls.emails[0]!.jti);
      await env.sleep('2 days');
      expect(fake.calls.emails).toHaveLength(2);
      await env.sleep('1 day');
      await until(handle, (s) => s.emails.length === 3);

      const final = await handle.result();
      expect(final.state).toBe('expired');
      expect(Date.parse(final.expiredAt!)).toBeGreaterThanOrEqual(Date.parse(final.expiresAt));
      expect(fake.calls.emails.map((e) => e.kind)).toEqual(['invite', 'reminder', 'reminder']);
      expect(fake.calls.roles).toEqual([]);
      await recordHistory('reminders-expiry', handle);
    });
  });

  it('stops reminders and resends when the invitee declines email, and stays redeemable', async () => {
    await withInvite({}, async (handle, fake) => {
      const status = await firstEmail(handle);
      await handle.signal(declineSignal);
      await until(handle, (s) => s.optedOutAt !== undefined);
      await env.sleep('6 days');
      expect(fake.calls.emails).toHaveLength(1);
      const refused = await refusal(handle.executeUpdate(resendUpdate));
      expect(refused.type).toBe(InviteErrorType.EmailOptedOut);
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
      expect((await handle.result()).state).toBe('completed');
      await recordHistory('decline', handle);
    });
  });

  it('retries a transient side-effect failure until it succeeds', async () => {
    const fake = fakeActivities();
    fake.fail('linkHubSpotContact', { times: 2, retryable: true });
    await withInvite(
      {},
      async (handle) => {
        const status = await firstEmail(handle);
        await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
        expect((await handle.result()).state).toBe('completed');
        expect(fake.attempts.get('linkHubSpotContact')).toBe(3);
        expect(fake.calls.hubspot).toHaveLength(1);
        await recordHistory('transient-retry', handle);
      },
      fake,
    );
  });

  it('surfaces a permanently refused side effect as a failed invite', async () => {
    const fake = fakeActivities();
    fake.fail('assignAuth0Roles', { times: 1, retryable: false, type: InviteErrorType.UnknownRole });
    await withInvite(
      {},
      async (handle) => {
        const status = await firstEmail(handle);
        await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
        const err = await handle.result().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
        expect(cause.type).toBe(InviteErrorType.SideEffectRefused);
        const final = await handle.query(statusQuery);
        expect(final).toMatchObject({ state: 'failed', failure: { type: InviteErrorType.UnknownRole } });
        expect(fake.attempts.get('assignAuth0Roles')).toBe(1);
        await recordHistory('side-effect-refused', handle);
      },
      fake,
    );
  });

  it('completes with the other roles and the data when a role was deleted in Auth0 after creation, and says so', async () => {
    const fake = fakeActivities();
    fake.deleteRole('billing');
    await withInvite(
      {},
      async (handle) => {
        const status = await firstEmail(handle);
        await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
        const final = await handle.result();
        expect(final).toMatchObject({ state: 'completed', roles: ['member', 'billing'], rolesNotGranted: ['billing'] });
        expect(fake.calls.roles).toEqual([{ userId: invited.userId, roles: ['member', 'billing'] }]);
        // app_metadata records what the account was given.
        expect(fake.calls.metadata).toEqual([expect.objectContaining({ roles: ['member'], data: { leadId: 'L-42', plan: 'pro' } })]);
        expect(fake.calls.hubspot).toHaveLength(1);
        const { events } = await handle.query(historyQuery);
        expect(events.find((e) => e.type === 'granted')).toMatchObject({ userId: invited.userId, reason: 'not granted, no longer in Auth0: billing' });
        expect(events.map((e) => e.type)).toContain('completed');
        expect(events.map((e) => e.type)).not.toContain('failed');
        await recordHistory('role-deleted', handle);
      },
      fake,
    );
  });

  it('keeps the invite pending and says why when the mail server refuses the address', async () => {
    const fake = fakeActivities();
    fake.fail('sendInviteEmail', { times: 1, retryable: false });
    await withInvite(
      {},
      async (handle) => {
        const status = await until(handle, (s) => s.emailError !== undefined);
        expect(status.state).toBe('pending');
        expect(status.emails).toEqual([]);
        expect(status.emailError).toContain('injected');
        await handle.executeUpdate(revokeUpdate, { args: [{}] });
        await handle.result();
        await recordHistory('email-refused', handle);
      },
      fake,
    );
  });

  it('keeps the InviteEmail search attribute at the value the starter gave (a keyed hash under encryption)', async () => {
    await withInvite({ emailSearchValue: 'sha256:0123456789abcdef' }, async (handle) => {
      const status = await firstEmail(handle);
      const described = await handle.describe();
      expect(described.typedSearchAttributes.get(searchAttributes.email)).toBe('sha256:0123456789abcdef');
      expect(status.email).toBe('ada@example.com');
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
      expect((await handle.result()).state).toBe('completed');
      expect((await handle.describe()).typedSearchAttributes.get(searchAttributes.email)).toBe('sha256:0123456789abcdef');
      await recordHistory('email-search-value', handle);
    });
  });

  it('takes the creation time the starter sent, and upserts search attributes only when they change', async () => {
    const taskQueue = `test-${randomBytes(6).toString('hex')}`;
    const fake = fakeActivities();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: fake.activities,
      dataConverter: testDataConverter,
    });
    // The test server's clock has skipped ahead with the earlier tests: the starter's clock is it.
    const createdAtMs = (await env.currentTimeMs()) - 1500;
    const args = input(await daytime({ ttl: '3 days', reminders: ['1 day'], createdAt: new Date(createdAtMs).toISOString() }));
    const expiresAt = new Date(createdAtMs + 3 * 86_400_000);
    await worker.runUntil(async () => {
      const handle = await startWithSearchAttributes(taskQueue, args, expiresAt);
      const status = await firstEmail(handle);
      expect(status.createdAt).toBe(args.createdAt);
      expect(status.expiresAt).toBe(expiresAt.toISOString());
      // Upserts of the invite's own attributes (the patch marker upserts TemporalChangeVersion once).
      const upserts = async () =>
        (await handle.fetchHistory()).events!.filter((e) =>
          Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}).some((k) =>
            k.startsWith('Invite'),
          ),
        ).length;
      // The start set them and the email left them as they were: nothing to upsert.
      expect(await upserts()).toBe(0);
      // The reminder (a day later) changes nothing either; expiry does.
      await env.sleep('1 day');
      await until(handle, (s) => s.emails.length === 2);
      expect(await upserts()).toBe(0);
      await handle.executeUpdate(extendUpdate, { args: [{ ttl: '5 days' }] });
      await until(handle, (s) => s.emails.length === 3);
      expect(await upserts()).toBe(1);
      const described = await handle.describe();
      expect(described.typedSearchAttributes.get(searchAttributes.expiresAt)?.getTime()).toBe(
        Date.parse((await handle.query(statusQuery)).expiresAt),
      );
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
      expect((await handle.result()).state).toBe('completed');
      expect((await handle.describe()).typedSearchAttributes.get(searchAttributes.status)).toBe('completed');
      await recordHistory('created-at-quiet-upserts', handle);
    });
  });

  it('records two patch markers per new run (invite-v2 stands for the four earlier changes, then crm-and-accounts), each of which still acts', async () => {
    const fake = fakeActivities();
    const taskQueue = `test-${randomBytes(6).toString('hex')}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: fake.activities, dataConverter: testDataConverter });
    const createdAtMs = await env.currentTimeMs();
    const args = input(
      await daytime({
        ttl: '4 days',
        reminders: ['1 day'],
        escalateBefore: '2 days',
        inviter: { name: 'Grace', email: 'grace@acme.example' },
        createdAt: new Date(createdAtMs).toISOString(),
      }),
    );
    const expiresAt = new Date(createdAtMs + 4 * 86_400_000);
    await worker.runUntil(async () => {
      const handle = await startWithSearchAttributes(taskQueue, args, expiresAt);
      await firstEmail(handle);
      await env.sleep('1 day');
      await until(handle, (s) => s.emails.length === 2);
      await env.sleep('1 day');
      await until(handle, (s) => s.escalatedAt !== undefined);
      const { emails } = await until(handle, () => fake.calls.webhooks.some((w) => w.type === 'invite.stale'));
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: emails[1]!.linkId, user: invited }] });
      expect((await handle.result()).state).toBe('completed');

      const events = (await handle.fetchHistory()).events!;
      const markers = events
        .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
        .map((e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data!).toString()) as unknown);
      expect(markers).toEqual([
        { id: 'invite-v2', deprecated: false },
        { id: 'crm-and-accounts', deprecated: false },
      ]);
      const upserted = events.map((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {})).filter((k) => k.length > 0);
      // The SDK upserts TemporalChangeVersion once per patch marker.
      expect(upserted.filter((k) => k.includes('TemporalChangeVersion'))).toHaveLength(2);
      // skip-unchanged-search-attributes: neither the emails nor the escalation upsert; redeemed and completed do.
      expect(upserted.filter((k) => k.some((name) => name.startsWith('Invite')))).toHaveLength(2);
      // stale-escalation and funnel-webhook:
      expect(fake.calls.escalations).toHaveLength(1);
      expect(fake.calls.webhooks.map((w) => w.type)).toEqual(['invite.stale', 'invite.completed']);
      // send-windows: the status carries the window the reminder waited for.
      expect((await handle.query(statusQuery)).sendWindow).toMatchObject({ timeZone: args.timeZone, ...args.sendWindow });
      await recordHistory('single-patch-marker', handle);
    });
  });

  it('answers the lifecycle as events: created, emailed, clicked, refused, reminded, redeemed, granted, linked, completed', async () => {
    await withInvite({}, async (handle) => {
      const status = await firstEmail(handle);
      const linkId = status.emails[0]!.linkId;
      await handle.signal(auditSignal, { type: 'clicked', linkId });
      // A link this invite never issued, and a note of no known kind, are ignored.
      await handle.signal(auditSignal, { type: 'clicked', linkId: 'not-a-link' });
      await handle.signal(auditSignal, { type: 'opened', linkId } as never);
      await handle.signal(auditSignal, {
        type: 'refused',
        code: 'invite_email_mismatch',
        linkId,
        userId: 'google-oauth2|9',
        connection: 'google-oauth2',
      });
      await env.sleep('2 days');
      const reminded = await until(handle, (s) => s.emails.length === 2);
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: reminded.emails[1]!.linkId, user: invited }] });
      await handle.result();
      const { inviteId, events: all, omitted } = await handle.query(historyQuery);
      expect(inviteId).toBe(status.inviteId);
      expect(omitted).toBe(0);
      // The contact upsert at creation runs beside the first email: its place among the first events varies.
      expect(all.filter((e) => e.type === 'crm_upserted').map(({ at: _at, ...e }) => e)).toEqual([{ type: 'crm_upserted', contactId: '101' }]);
      const events = all.filter((e) => e.type !== 'crm_upserted');
      expect(events[0]).toEqual({ at: status.createdAt, type: 'created' });
      expect(events.slice(1, 6).map(({ at: _at, ...e }) => e)).toEqual([
        { type: 'emailed', sequence: 1, kind: 'invite' },
        { type: 'clicked', sequence: 1 },
        { type: 'refused', sequence: 1, code: 'invite_email_mismatch', userId: 'google-oauth2|9', connection: 'google-oauth2' },
        { type: 'reminded', sequence: 2, kind: 'reminder' },
        { type: 'redeemed', sequence: 2, userId: 'auth0|invited', connection: invited.connection },
      ]);
      // Auth0 and HubSpot run in parallel: their relative order is not part of the contract.
      expect(events.slice(6, 8).map((e) => e.type).sort()).toEqual(['granted', 'linked']);
      expect(events.find((e) => e.type === 'linked')?.contactId).toBe('101');
      expect(events.slice(8).map(({ at: _at, ...e }) => e)).toEqual([{ type: 'completed' }, { type: 'notified', event: 'invite.completed' }]);
      const times = events.map((e) => Date.parse(e.at));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      await recordHistory('lifecycle', handle);
    });
  });

  it('records at most MAX_NOTES clicks and refusals and counts the rest; revocation and expiry are events', async () => {
    await withInvite({ reminders: [] }, async (handle) => {
      const status = await firstEmail(handle);
      const linkId = status.emails[0]!.linkId;
      for (let i = 0; i < MAX_NOTES + 3; i++) await handle.signal(auditSignal, { type: 'refused', code: 'invite_email_mismatch', linkId });
      await handle.executeUpdate(revokeUpdate, { args: [{ reason: 'wrong person' }] });
      await handle.result();
      const { events, omitted } = await handle.query(historyQuery);
      expect(events.filter((e) => e.type === 'refused')).toHaveLength(MAX_NOTES);
      expect(omitted).toBe(3);
      expect(events.at(-1)).toMatchObject({ type: 'revoked', reason: 'wrong person' });
    });
    await withInvite({ reminders: [], ttl: '1 day' }, async (handle) => {
      await firstEmail(handle);
      await handle.signal(declineSignal);
      await env.sleep('1 day');
      await handle.result();
      const { events } = await handle.query(historyQuery);
      expect(events.map((e) => e.type).filter((type) => type !== 'crm_upserted')).toEqual(['created', 'emailed', 'declined', 'expired']);
      expect(events.filter((e) => e.type === 'crm_upserted')).toHaveLength(1);
    });
  });

  it('carries the attribution to HubSpot on redemption, and into the answer only when the invite asks', async () => {
    const attribution = { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring-26' };
    await withInvite({ attribution, attributionInClaims: true }, async (handle, fake) => {
      const status = await firstEmail(handle);
      expect(status.attribution).toEqual(attribution);
      const answer = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
      expect(answer.attribution).toEqual(attribution);
      expect((await handle.result()).state).toBe('completed');
      expect(fake.calls.hubspot).toEqual([expect.objectContaining({ inviteId: status.inviteId, attribution })]);
      await recordHistory('attribution', handle);
    });
    await withInvite({ attribution }, async (handle, fake) => {
      const status = await firstEmail(handle);
      const answer = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
      expect(answer).not.toHaveProperty('attribution');
      await handle.result();
      expect(fake.calls.hubspot).toEqual([expect.objectContaining({ attribution })]);
    });
  });

  it('turns a bounce into undeliverable: no more emails, the funnel told once, a delivered link still redeems', async () => {
    await withInvite({ reminders: ['1 day', '3 days'] }, async (handle, fake) => {
      const status = await firstEmail(handle);
      await handle.signal(deliveryFailedSignal, { kind: 'bounce', sequence: 1, reason: '550 5.1.1 user unknown' });
      const undeliverable = await until(handle, (s) => s.state === 'undeliverable');
      expect(undeliverable.undeliverable).toMatchObject({ kind: 'bounce', reason: '550 5.1.1 user unknown' });
      // The provider retries its webhook; a repeat changes nothing.
      await handle.signal(deliveryFailedSignal, { kind: 'complaint' });
      await env.sleep('4 days');
      expect(fake.calls.emails).toHaveLength(1);
      expect((await refusal(handle.executeUpdate(resendUpdate))).type).toBe(InviteErrorType.Undeliverable);
      const extended = await handle.executeUpdate(extendUpdate, { args: [{ ttl: '10 days' }] });
      expect(extended.state).toBe('undeliverable');
      expect(fake.calls.emails).toHaveLength(1);
      expect(fake.calls.webhooks).toEqual([
        expect.objectContaining({
          type: 'invite.undeliverable',
          invite: expect.objectContaining({ id: status.inviteId, email: 'ada@example.com', state: 'undeliverable', data: { leadId: 'L-42', plan: 'pro' } }),
          detail: { kind: 'bounce', reason: '550 5.1.1 user unknown' },
        }),
      ]);
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
      expect((await handle.result()).state).toBe('completed');
      expect(fake.calls.webhooks.map((w) => w.type)).toEqual(['invite.undeliverable', 'invite.completed']);
      expect(fake.calls.webhooks[1]).toMatchObject({ detail: { userId: invited.userId, connection: invited.connection } });
      expect(new Set(fake.calls.webhooks.map((w) => w.id)).size).toBe(2);
      const { events } = await handle.query(historyQuery);
      expect(events.filter((e) => ['undeliverable', 'notified'].includes(e.type)).map(({ at: _at, ...e }) => e)).toEqual([
        { type: 'undeliverable', event: 'bounce', sequence: 1, reason: '550 5.1.1 user unknown' },
        { type: 'notified', event: 'invite.undeliverable' },
        { type: 'notified', event: 'invite.completed' },
      ]);
      await recordHistory('undeliverable-then-redeem', handle);
    });
  });

  it('lets an undeliverable invite expire, and a refused funnel webhook neither holds nor fails the invite', async () => {
    const fake = fakeActivities();
    fake.fail('notifyFunnel', { times: 1, retryable: false });
    await withInvite(
      { ttl: '2 days' },
      async (handle) => {
        await firstEmail(handle);
        await handle.signal(deliveryFailedSignal, { kind: 'complaint' });
        await until(handle, (s) => s.state === 'undeliverable');
        const final = await handle.result();
        expect(final).toMatchObject({ state: 'expired', undeliverable: { kind: 'complaint' } });
        expect(fake.calls.emails).toHaveLength(1);
        const { events } = await handle.query(historyQuery);
        expect(events.find((e) => e.type === 'notify_failed')).toMatchObject({ event: 'invite.undeliverable', reason: 'notifyFunnel failed (injected)' });
        expect(events.at(-1)?.type).toBe('expired');
        await recordHistory('undeliverable-expiry', handle);
      },
      fake,
    );
  });

  it('escalates an invite still pending N days before expiry: inviter emailed, HubSpot contact marked, funnel told', async () => {
    await withInvite({ inviter: { name: 'Grace', email: 'Grace@Acme.example' }, escalateBefore: '2 days' }, async (handle, fake) => {
      const status = await firstEmail(handle);
      await env.sleep('4 days');
      expect(fake.calls.escalations).toEqual([]);
      await env.sleep('1 day');
      const escalated = await until(handle, (s) => s.escalatedAt !== undefined);
      expect(Date.parse(escalated.escalatedAt!)).toBeGreaterThanOrEqual(Date.parse(status.expiresAt) - 2 * 86_400_000);
      expect(Date.parse(escalated.escalatedAt!)).toBeLessThan(Date.parse(status.expiresAt) - 2 * 86_400_000 + 60_000);
      await until(handle, () => fake.calls.webhooks.some((w) => w.type === 'invite.stale'));
      expect(fake.calls.escalations).toEqual([
        // The invite's time zone, in which the email writes the expiry.
        { inviteId: status.inviteId, to: 'grace@acme.example', invitee: 'ada@example.com', locale: 'en', timeZone: status.sendWindow!.timeZone, scope: 'workspace:acme', expiresAt: status.expiresAt },
      ]);
      expect(fake.calls.stale).toEqual([{ email: 'ada@example.com', inviteId: status.inviteId }]);
      const final = await handle.result();
      expect(final.state).toBe('expired');
      // Once per invite; the second reminder (day 5) still went to the invitee.
      expect(fake.calls.escalations).toHaveLength(1);
      expect(fake.calls.emails.map((e) => e.kind)).toEqual(['invite', 'reminder', 'reminder']);
      const { events } = await handle.query(historyQuery);
      expect(events.find((e) => e.type === 'escalated')).toMatchObject({ reason: 'inviter emailed; HubSpot contact marked' });
      await recordHistory('escalation', handle);
    });
  });

  it('keeps a redemption’s grant moving while the escalation’s side effects are still being retried', async () => {
    const fake = fakeActivities();
    await withInvite(
      { inviter: { email: 'grace@acme.example' }, escalateBefore: '2 days' },
      async (handle) => {
        const status = await firstEmail(handle);
        const release = fake.hold('markHubSpotInviteStale');
        await env.sleep('5 days');
        await until(handle, (s) => s.escalatedAt !== undefined);
        expect(fake.attempts.get('markHubSpotInviteStale')).toBe(1);
        // HubSpot is slow to take the mark: the redemption is granted all the same.
        await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
        expect((await until(handle, (s) => s.state === 'completed')).completedAt).toBeDefined();
        expect(fake.calls.roles).toHaveLength(1);
        expect(fake.calls.stale).toEqual([]);
        // The run closes only once the escalation is done.
        expect((await handle.describe()).status.name).toBe('RUNNING');
        release();
        expect((await handle.result()).state).toBe('completed');
        expect(fake.calls.stale).toHaveLength(1);
        const { events } = await handle.query(historyQuery);
        expect(events.find((e) => e.type === 'escalated')).toMatchObject({ reason: 'inviter emailed; HubSpot contact marked' });
      },
      fake,
    );
  });

  it('does not escalate an invite redeemed, declined or revoked before the time, or with escalation off', async () => {
    const quiet: Partial<InviteInput> = { ttl: '3 days', reminders: [], escalateBefore: '1 day', inviter: { email: 'grace@acme.example' } };
    const noEscalation = (fake: Fake) => {
      expect(fake.calls.escalations).toEqual([]);
      expect(fake.calls.stale).toEqual([]);
      expect(fake.calls.webhooks.map((w) => w.type)).not.toContain('invite.stale');
    };
    await withInvite(quiet, async (handle, fake) => {
      const status = await firstEmail(handle);
      await env.sleep('1 day');
      await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
      expect((await handle.result()).state).toBe('completed');
      noEscalation(fake);
    });
    await withInvite(quiet, async (handle, fake) => {
      await firstEmail(handle);
      await handle.signal(declineSignal);
      await until(handle, (s) => s.optedOutAt !== undefined);
      expect((await handle.result()).state).toBe('expired');
      noEscalation(fake);
    });
    await withInvite(quiet, async (handle, fake) => {
      await firstEmail(handle);
      await env.sleep('1 day');
      await handle.executeUpdate(revokeUpdate, { args: [{}] });
      expect((await handle.result()).state).toBe('revoked');
      noEscalation(fake);
    });
    await withInvite({ ...quiet, escalateBefore: false }, async (handle, fake) => {
      await firstEmail(handle);
      expect((await handle.result()).state).toBe('expired');
      noEscalation(fake);
    });
    // Without an inviter address, HubSpot and the funnel still hear of it.
    await withInvite({ ...quiet, inviter: { name: 'Acme team' } }, async (handle, fake) => {
      await firstEmail(handle);
      expect((await handle.result()).state).toBe('expired');
      expect(fake.calls.escalations).toEqual([]);
      expect(fake.calls.stale).toHaveLength(1);
      const { events } = await handle.query(historyQuery);
      expect(events.find((e) => e.type === 'escalated')).toMatchObject({ reason: 'no inviter email to tell; HubSpot contact marked' });
    });
  });

  it('sends each reminder in the invitee’s local daytime: at once where it is day, at 09:00 where it is night', async () => {
    // The test server's clock is wherever earlier tests left it: pick zones around it.
    const night = await zoneWhere(2, 86_400_000);
    const day = await zoneWhere(14, 86_400_000);
    const taskQueue = `test-${randomBytes(6).toString('hex')}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: fakeActivities().activities, dataConverter: testDataConverter });
    await worker.runUntil(async () => {
      const start = async (timeZone: string) => {
        const args = input({ timeZone, reminders: ['1 day'], ttl: '3 days', escalateBefore: false });
        return (await env.client.workflow.start('inviteWorkflow', { taskQueue, workflowId: inviteWorkflowId(args.inviteId), args: [args] })) as Handle;
      };
      const [atNight, atDay] = [await start(night), await start(day)];
      const created = await firstEmail(atNight);
      await firstEmail(atDay);
      expect(created.sendWindow).toEqual({ timeZone: night, start: '09:00', end: '20:00' });

      await env.sleep('1 day');
      await until(atDay, (s) => s.emails.length === 2);
      expect((await atNight.query(statusQuery)).emails).toHaveLength(1);
      await env.sleep('8 hours');
      await until(atNight, (s) => s.emails.length === 2);

      const remindedAt = async (handle: Handle) => Date.parse((await handle.query(historyQuery)).events.find((e) => e.type === 'reminded')!.at);
      const due = Date.parse(created.createdAt) + 86_400_000;
      // Where it was day, on time; where it was night, when the window opened, not a minute later.
      expect((await remindedAt(atDay)) - (Date.parse((await atDay.query(statusQuery)).createdAt) + 86_400_000)).toBeLessThan(60_000);
      const nightSent = await remindedAt(atNight);
      expect(nightSent).toBeGreaterThan(due + 6 * 3_600_000);
      expect(localMinutes(nightSent, night)).toBeGreaterThanOrEqual(9 * 60);
      expect(localMinutes(nightSent, night)).toBeLessThan(9 * 60 + 1);
      expect(localMinutes(await remindedAt(atDay), day)).toBeGreaterThanOrEqual(9 * 60);
      expect(localMinutes(await remindedAt(atDay), day)).toBeLessThan(20 * 60);

      await atDay.executeUpdate(revokeUpdate, { args: [{}] });
      await atNight.executeUpdate(revokeUpdate, { args: [{}] });
      // One at a time: each result() unlocks and relocks the test server's time skipping.
      await atDay.result();
      await atNight.result();
      await recordHistory('send-window', atNight);
    });
  });

  it('drops a reminder that could only go out after the expiry', async () => {
    // Due 1 hour before expiry at local 02:00: the window opens after the invite is gone.
    const timeZone = await zoneWhere(2, 23 * 3_600_000);
    await withInvite({ timeZone, sendWindow: { start: '09:00', end: '20:00' }, ttl: '1 day', reminders: ['23 hours'], escalateBefore: false }, async (handle, fake) => {
      await firstEmail(handle);
      expect((await handle.result()).state).toBe('expired');
      expect(fake.calls.emails).toHaveLength(1);
    });
  });

  it('lets a verified account with the invited email claim an opted-in invite without the link; refuses the rest without a trace', async () => {
    const claim = (handle: Handle, user: Redeemer) => handle.executeUpdate(claimUpdate, { args: [{ user }] });
    await withInvite({}, async (handle) => {
      await firstEmail(handle);
      expect((await refusal(claim(handle, invited))).type).toBe(InviteErrorType.ClaimRefused);
      await handle.executeUpdate(revokeUpdate, { args: [{}] });
      await handle.result();
    });
    await withInvite({ claimByVerifiedEmail: true }, async (handle, fake) => {
      await firstEmail(handle);
      expect((await refusal(claim(handle, { ...invited, emailVerified: false }))).message).toContain('unverified');
      expect((await refusal(claim(handle, { ...invited, userId: 'google-oauth2|2', email: 'someone@else.net' }))).type).toBe(InviteErrorType.ClaimRefused);
      expect((await handle.query(statusQuery)).state).toBe('pending');
      const google: Redeemer = { userId: 'google-oauth2|1', email: 'Ada@Example.com', emailVerified: true, connection: 'google-oauth2' };
      const answer = await claim(handle, google);
      expect(answer).toMatchObject({ roles: ['member', 'billing'], data: { leadId: 'L-42', plan: 'pro' }, repeat: false });
      expect(await claim(handle, google)).toMatchObject({ repeat: true });
      const final = await handle.result();
      expect(final).toMatchObject({ state: 'completed', redeemer: google, redeemedVia: 'verified-email' });
      expect(fake.calls.roles).toEqual([{ userId: 'google-oauth2|1', roles: ['member', 'billing'] }]);
      expect(fake.calls.verified).toEqual([]);
      const { events } = await handle.query(historyQuery);
      expect(events.find((e) => e.type === 'redeemed')).toMatchObject({ userId: 'google-oauth2|1', event: 'verified-email' });
      await recordHistory('claim-by-email', handle);
    });
  });

  // The tests below leave an invite open without a worker: its timers then hold the test server's
  // time skipping, so tests that skip time come before them.
  it('falls back to its own clock when the starter’s creation time is implausible', async () => {
    const createdAt = new Date(Date.parse('2020-01-01T00:00:00Z')).toISOString();
    await withInvite({ createdAt }, async (handle) => {
      const status = await firstEmail(handle);
      expect(status.createdAt).not.toBe(createdAt);
      expect(Math.abs(Date.parse(status.createdAt) - (await env.currentTimeMs()))).toBeLessThan(60_000);
    });
  });

  it('fails at once on invalid input, listing every problem', async () => {
    await withInvite({ email: 'not an email', ttl: '90 days', roles: ['ok', '<bad>'] }, async (handle, fake) => {
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe(InviteErrorType.InvalidInput);
      expect(cause.message).toMatch(/email.*roles\.1.*ttl/s);
      expect(fake.calls.emails).toEqual([]);
    });
  });
});

describe('the CRM at creation and the account policy', () => {
  const google: Redeemer = { userId: 'google-oauth2|1001', email: 'ada@example.com', emailVerified: true, connection: 'google-oauth2' };
  /** The person's older password account, verified. */
  const password = { userId: 'auth0|ada', email: 'ada@example.com', emailVerified: true, createdAt: '2025-03-01T10:00:00.000Z', identities: ['auth0|ada'] };
  /** A password account someone made with Ada's address and never verified (maybe not Ada). */
  const unverified = { userId: 'auth0|squatter', email: 'ada@example.com', emailVerified: false, createdAt: '2024-01-01T10:00:00.000Z', identities: ['auth0|squatter'] };
  const googleAccount = { userId: google.userId, email: google.email, emailVerified: true, createdAt: '2026-12-01T10:00:00.000Z', identities: [google.userId] };

  it('upserts the contact beside the first email and answers it with the CRM properties in the first redemption', async () => {
    const fake = fakeActivities();
    fake.setContactProperties({ lifecyclestage: 'customer', company: 'Acme' });
    await withInvite(
      { crmProperties: ['lifecyclestage', 'company', 'jobtitle'], attribution: { utm_source: 'newsletter' } },
      async (handle) => {
        const status = await until(handle, (s) => s.emails.length >= 1 && s.contactId !== undefined);
        expect(fake.calls.invitees).toEqual([
          { email: 'ada@example.com', inviteId: status.inviteId, attribution: { utm_source: 'newsletter' }, properties: ['lifecyclestage', 'company', 'jobtitle'] },
        ]);
        const crm = { lifecyclestage: 'customer', company: 'Acme', jobtitle: null };
        expect(status).toMatchObject({ contactId: '101', crm, crmProperties: ['lifecyclestage', 'company', 'jobtitle'] });

        const answer = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
        expect(answer).toMatchObject({ contactId: '101', crm, repeat: false });
        expect(answer.primaryUserId).toBeUndefined();
        const final = await handle.result();
        expect(final.state).toBe('completed');
        expect(fake.calls.metadata).toEqual([expect.objectContaining({ userId: invited.userId, hubspotContactId: '101', crm })]);
        // The link at redemption comes after the upsert at creation, so `redeemed` is the contact's last word.
        expect(fake.calls.hubspot).toEqual([expect.objectContaining({ auth0UserId: invited.userId, inviteStatus: 'redeemed' })]);
        expect(final.grantedTo).toEqual([invited.userId]);
        await recordHistory('crm-at-creation', handle);
      },
      fake,
    );
  });

  it('sends the email while HubSpot is down at creation, links later, and gives app_metadata the contact then', async () => {
    const fake = fakeActivities();
    // HubSpot hangs, then refuses three times before it answers.
    const hubspotBack = fake.hold('upsertHubSpotInvitee');
    fake.fail('upsertHubSpotInvitee', { times: 3, retryable: true });
    await withInvite(
      {},
      async (handle) => {
        const status = await firstEmail(handle);
        // The email did not wait for HubSpot, and the first redemption has no contact yet.
        expect(status.contactId).toBeUndefined();
        const answer = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
        expect(answer.contactId).toBeUndefined();
        hubspotBack();
        const final = await handle.result();
        expect(final.state).toBe('completed');
        expect(fake.attempts.get('upsertHubSpotInvitee')).toBe(4);
        expect(final.contactId).toBe('101');
        // The grant wrote app_metadata before the contact was known, then again with it.
        expect(fake.calls.metadata.map((m) => m.hubspotContactId)).toEqual([undefined, '101']);
        const { events } = await handle.query(historyQuery);
        const types = events.map((e) => e.type);
        expect(types.indexOf('crm_upserted')).toBeLessThan(types.indexOf('linked'));
        await recordHistory('crm-down-at-creation', handle);
      },
      fake,
    );
  });

  it('records a contact HubSpot refuses at creation and still completes; CRM properties past the data limits are not bound', async () => {
    const refused = fakeActivities();
    refused.fail('upsertHubSpotInvitee', { times: 1, retryable: false });
    await withInvite(
      {},
      async (handle) => {
        const status = await until(handle, (s) => s.emails.length >= 1);
        await vi.waitFor(async () => expect((await handle.query(historyQuery)).events.map((e) => e.type)).toContain('crm_failed'), WAIT);
        await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: invited }] });
        expect((await handle.result()).state).toBe('completed');
      },
      refused,
    );
    const big = fakeActivities();
    big.setContactProperties({ notes: 'x'.repeat(9000) });
    await withInvite(
      { crmProperties: ['notes'] },
      async (handle) => {
        const status = await until(handle, (s) => s.contactId !== undefined);
        expect(status.crm).toBeUndefined();
        const { events } = await handle.query(historyQuery);
        expect(events.find((e) => e.type === 'crm_failed')?.reason).toMatch(/do not fit beside data/);
        await handle.signal(declineSignal);
        await handle.executeUpdate(revokeUpdate, { args: [{}] });
        await handle.result();
      },
      big,
    );
  });

  it('all-verified: grants every verified account of the address, never an unverified one', async () => {
    const fake = fakeActivities();
    fake.setAccounts([password, unverified, googleAccount]);
    await withInvite(
      { accountPolicy: 'all-verified' },
      async (handle) => {
        const status = await firstEmail(handle);
        const answer = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: google }] });
        expect(answer.primaryUserId).toBeUndefined();
        const final = await handle.result();
        expect(final.state).toBe('completed');
        expect(final.grantedTo).toEqual([google.userId, password.userId]);
        expect(fake.calls.roles.map((r) => r.userId)).toEqual([google.userId, password.userId]);
        expect(fake.calls.metadata.map((m) => m.userId)).toEqual([google.userId, password.userId]);
        expect(fake.calls.links).toEqual([]);
        const granted = (await handle.query(historyQuery)).events.filter((e) => e.type === 'granted').map((e) => e.userId);
        expect(granted).toEqual([google.userId, password.userId]);
        await recordHistory('all-verified', handle);
      },
      fake,
    );
  });

  it('link: links the new account into the oldest verified one, grants that user, and names it in the answer', async () => {
    const fake = fakeActivities();
    fake.setAccounts([password, unverified, googleAccount]);
    await withInvite(
      { accountPolicy: 'link' },
      async (handle) => {
        const status = await firstEmail(handle);
        const answer = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: google }] });
        expect(answer.primaryUserId).toBe(password.userId);
        const final = await handle.result();
        expect(final.state).toBe('completed');
        expect(fake.calls.links).toEqual([{ primaryUserId: password.userId, secondaryUserIds: [google.userId] }]);
        expect(final.linkedAccounts).toEqual({ primaryUserId: password.userId, secondaryUserIds: [google.userId] });
        // The unverified account is neither linked nor granted; the primary holds the grant.
        expect(fake.accounts().map((a) => a.userId).sort()).toEqual([password.userId, unverified.userId]);
        expect(final.grantedTo).toEqual([password.userId]);
        expect(fake.calls.roles.map((r) => r.userId)).toEqual([password.userId]);
        expect(fake.calls.hubspot).toEqual([expect.objectContaining({ auth0UserId: password.userId })]);
        const { events } = await handle.query(historyQuery);
        expect(events.find((e) => e.type === 'linked_accounts')).toMatchObject({ userId: password.userId, userIds: [google.userId] });
        await recordHistory('link-accounts', handle);
      },
      fake,
    );
  });

  it('link: a login of the primary user afterwards is the same person repeating; another account is still refused', async () => {
    const fake = fakeActivities();
    fake.setAccounts([password, googleAccount]);
    await withInvite(
      { accountPolicy: 'link', ttl: '1 day' },
      async (handle) => {
        const status = await firstEmail(handle);
        await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: google }] });
        await until(handle, (s) => s.linkedAccounts !== undefined);
        const primary: Redeemer = { ...google, userId: password.userId, connection: 'Username-Password-Authentication' };
        const repeat = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: primary }] });
        expect(repeat).toMatchObject({ repeat: true, primaryUserId: password.userId });
        const other: Redeemer = { ...google, userId: 'auth0|someone-else' };
        const refused = await refusal(handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: other }] }));
        expect(refused.type).toBe(InviteErrorType.AlreadyUsed);
        expect((await handle.result()).state).toBe('completed');
      },
      fake,
    );
  });

  it('link: a link Auth0 refuses is recorded and the redeeming account alone gets the grant, never a half-linked one', async () => {
    const fake = fakeActivities();
    fake.setAccounts([password, googleAccount]);
    fake.refuseLink(google.userId);
    await withInvite(
      { accountPolicy: 'link' },
      async (handle) => {
        const status = await firstEmail(handle);
        const answer = await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: google }] });
        expect(answer.primaryUserId).toBeUndefined();
        const final = await handle.result();
        expect(final.state).toBe('completed');
        expect(final.linkedAccounts).toBeUndefined();
        expect(final.grantedTo).toEqual([google.userId]);
        const { events } = await handle.query(historyQuery);
        expect(events.find((e) => e.type === 'link_refused')).toMatchObject({ userId: google.userId, reason: expect.stringMatching(/refused/) });
        await recordHistory('link-refused', handle);
      },
      fake,
    );
  });

  it('link: an unverified fresh sign-up with the invited address is verified by the link first, then linked', async () => {
    const fake = fakeActivities();
    const fresh: Redeemer = { userId: 'auth0|fresh', email: 'ada@example.com', emailVerified: false, connection: 'Username-Password-Authentication' };
    // The lookup runs after the verification: the emulated tenant shows the fresh account verified by then.
    fake.setAccounts([
      { ...googleAccount, createdAt: '2024-06-01T10:00:00.000Z' },
      { userId: fresh.userId, email: fresh.email, emailVerified: true, createdAt: '2026-12-01T11:00:00.000Z', identities: [fresh.userId] },
    ]);
    await withInvite(
      { accountPolicy: 'link' },
      async (handle) => {
        const status = await firstEmail(handle);
        await handle.executeUpdate(redeemUpdate, { args: [{ linkId: status.emails[0]!.linkId, user: fresh }] });
        const final = await handle.result();
        expect(fake.calls.verified).toEqual([{ userId: fresh.userId }]);
        expect(final.linkedAccounts).toEqual({ primaryUserId: google.userId, secondaryUserIds: [fresh.userId] });
        expect(final.grantedTo).toEqual([google.userId]);
      },
      fake,
    );
  });

  it('refuses a policy other than off for an invite anyone with the link may redeem', async () => {
    const fake = fakeActivities();
    await withInvite(
      { accountPolicy: 'link', emailPolicy: 'any' },
      async (handle) => {
        const err = await handle.result().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toMatch(/accountPolicy: all-verified and link need emailPolicy "same-email"/);
      },
      fake,
    );
    expect(fake.calls.emails).toEqual([]);
  });
});
