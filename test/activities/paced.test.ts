// The Auth0 and HubSpot activities paced by activities/outbound-pacer.ts, driven through the real SDKs
// against emulators that enforce a rate limit: concurrent grants meet no 429 and send exactly the
// requests they need, a call refused locally sends nothing, and unpaced the same load is refused.
// Counts only, never durations.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAuth0Activities } from '../../activities/auth0';
import { createHubSpotActivities } from '../../activities/hubspot';
import type { FailureDetails } from '../../activities/failures';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import { createManagementClient } from '../../services/auth0';
import { createHubSpotClient } from '../../services/hubspot';
import { OutboundPacer } from '../../activities/outbound-pacer';
import { paceManagementApi } from '../../worker/clients';
import type { OutboundPacerOptions } from '../../activities/outbound-pacer';
import { InviteErrorType } from '../../workflows/errors';

// Auth0's token bucket of 2, refilled faster than the free tier's 2/s so the test stays short.
const AUTH0_RATE = 10;
const AUTH0_BURST = 2;
const HUBSPOT_LIMIT = { max: 3, intervalMs: 1000 };
const GRANTS = 6;
// Wider than production's 25 ms: a test machine under load (two cores running the suite beside
// other work held requests back by over 100 ms) may hold one request back longer than
// the next, and the emulator counts a request when it lands.
const MARGIN_MS = 250;

let auth0: Auth0Emulator;
let hubspot: HubSpotEmulator;

beforeAll(async () => {
  [auth0, hubspot] = await Promise.all([startAuth0Emulator(), startHubSpotEmulator()]);
});

afterAll(async () => {
  await Promise.all([auth0?.close(), hubspot?.close()]);
});

beforeEach(() => {
  auth0.reset();
  hubspot.reset();
  // Full buckets, enforced.
  auth0.setRateLimit(AUTH0_RATE, AUTH0_BURST);
  hubspot.setRateLimit(HUBSPOT_LIMIT);
});

function auth0Activities(pacing?: Omit<OutboundPacerOptions, 'max' | 'windowMs'>) {
  const pacer = pacing
    ? OutboundPacer.perSecond(AUTH0_RATE, AUTH0_BURST, { name: 'auth0', marginMs: MARGIN_MS, ...pacing })
    : undefined;
  const management = createManagementClient({
    domain: auth0.domain,
    clientId: 'inviteflow-m2m',
    clientSecret: 'inviteflow-m2m-secret',
    endpoint: auth0.url,
    ...(pacer ? { pace: paceManagementApi(pacer) } : {}),
  });
  return { pacer, activities: createAuth0Activities({ management, pacer }) };
}

const managementRequests = () =>
  Object.entries(auth0.counts)
    .filter(([route]) => route.includes(' /api/v2/'))
    .reduce((sum, [, n]) => sum + n, 0);

function newUser(i: number): string {
  return auth0.createUser({
    email: `paced.${i}.${Math.random().toString(36).slice(2)}@example.com`,
    email_verified: false,
  }).user_id;
}

/** What Temporal does with a failed attempt: wait `nextRetryDelay` and try again, if retryable. */
async function withRetries<T>(attempt: () => Promise<T>, failures: ApplicationFailure[]): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof ApplicationFailure) || e.nonRetryable) throw e;
      failures.push(e);
      // The retry delay the failure asks for is part of what is tested (the emulator's bucket
      // refills meanwhile), as Temporal would wait it: a real delay, not a wait for an event.
      await sleep(typeof e.nextRetryDelay === 'number' ? e.nextRetryDelay : 1000);
    }
  }
}

const statusOf = (failure: ApplicationFailure) =>
  (failure.details?.[0] as FailureDetails | undefined)?.status;

describe('paced Auth0 activities against an enforced Management API limit', () => {
  it(`${GRANTS} concurrent grants meet no 429 and send exactly the minimum of requests`, async () => {
    auth0.createRole('editor');
    auth0.createRole('viewer');
    const { pacer, activities } = auth0Activities({});
    const users = Array.from({ length: GRANTS }, (_, i) => newUser(i));

    // As the workflow runs a grant: verify the email, assign the roles, record the invite.
    await Promise.all(
      users.map(async (userId, i) => {
        await activities.markAuth0EmailVerified({ userId });
        await activities.assignAuth0Roles({ userId, roles: ['editor', 'viewer', 'editor'] });
        await activities.writeAuth0AppMetadata({
          userId,
          inviteId: `inv_${i}`,
          scope: 'workspace:1',
          roles: ['editor', 'viewer'],
          data: { i },
          redeemedAt: '2025-01-01T00:00:00.000Z',
        });
      }),
    );

    // Per grant: read + write (email), 2 role lookups + 1 assignment, read + write (metadata).
    const perGrant = 2 + 3 + 2;
    expect(auth0.counts).toMatchObject({
      'GET /api/v2/roles': GRANTS * 2,
      'POST /api/v2/users/:id/roles': GRANTS,
      'GET /api/v2/users/:id': GRANTS * 2,
      'PATCH /api/v2/users/:id': GRANTS * 2,
    });
    expect(managementRequests()).toBe(GRANTS * perGrant);
    // Every response was a success (a 429 would have failed its activity) and the pacer saw none;
    // the token request took no send time.
    expect(pacer!.stats()).toMatchObject({
      reserved: GRANTS * perGrant,
      released: 0,
      refused: 0,
      throttled: 0,
    });
    expect(auth0.counts['POST /oauth/token']).toBeGreaterThanOrEqual(1);
    for (const userId of users) {
      expect(auth0.getUser(userId)).toMatchObject({ email_verified: true, roles: ['editor', 'viewer'] });
      expect(auth0.getUser(userId)?.app_metadata).toHaveProperty(['inviteflow', 'workspace:1']);
    }
  });

  it('hands back what a repeat does not send: no write when nothing changed', async () => {
    const { pacer, activities } = auth0Activities({});
    const userId = newUser(0);
    await activities.markAuth0EmailVerified({ userId });
    await activities.markAuth0EmailVerified({ userId });

    expect(auth0.counts).toMatchObject({ 'GET /api/v2/users/:id': 2, 'PATCH /api/v2/users/:id': 1 });
    expect(pacer!.stats()).toMatchObject({ reserved: 4, released: 1, refused: 0, throttled: 0 });
  });

  it('a call refused locally sends nothing; retried after its delay, all complete with no 429', async () => {
    // A wait shorter than the queue: most of the concurrent activities are refused at first.
    const { pacer, activities } = auth0Activities({ maxWaitMs: 300 });
    const users = Array.from({ length: GRANTS }, (_, i) => newUser(i));
    const failures: ApplicationFailure[] = [];

    await Promise.all(
      users.map((userId) => withRetries(() => activities.markAuth0EmailVerified({ userId }), failures)),
    );

    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect(failure.type).toBe(InviteErrorType.Transient);
      expect(failure.message).toContain('paced locally');
      expect(failure.nextRetryDelay).toBeGreaterThanOrEqual(1000);
    }
    expect(pacer!.stats()).toMatchObject({ refused: failures.length, throttled: 0 });
    expect(managementRequests()).toBe(GRANTS * 2);
    for (const userId of users) expect(auth0.getUser(userId)?.email_verified).toBe(true);
  });

  it('unpaced, the same concurrent load meets 429s (the limit is enforced)', async () => {
    const { activities } = auth0Activities();
    const users = Array.from({ length: GRANTS }, (_, i) => newUser(i));

    const results = await Promise.allSettled(
      users.map((userId) => activities.markAuth0EmailVerified({ userId })),
    );

    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ApplicationFailure] : []));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.map(statusOf)).toContain(429);
  });
});

describe('paced HubSpot activity against an enforced rolling limit', () => {
  const link = (i: number) => ({
    email: `paced.${i}@example.com`,
    auth0UserId: `auth0|${i}`,
    inviteId: `inv_${i}`,
    inviteStatus: 'redeemed',
  });
  const client = () => createHubSpotClient({ accessToken: hubspot.accessToken, basePath: hubspot.url });
  const upserts = () => hubspot.counts['POST /crm/v3/objects/contacts/batch/upsert'] ?? 0;
  const contacts = HUBSPOT_LIMIT.max * 3;

  it(`${contacts} concurrent links meet no 429 and send one upsert each`, async () => {
    const pacer = new OutboundPacer({
      name: 'hubspot',
      max: HUBSPOT_LIMIT.max,
      windowMs: HUBSPOT_LIMIT.intervalMs,
      marginMs: MARGIN_MS,
    });
    const activities = createHubSpotActivities({ hubspot: client(), pacer });

    const results = await Promise.all(
      Array.from({ length: contacts }, (_, i) => activities.linkHubSpotContact(link(i))),
    );

    expect(new Set(results.map((r) => r.contactId)).size).toBe(contacts);
    expect(upserts()).toBe(contacts);
    expect(pacer.stats()).toMatchObject({ reserved: contacts, released: 0, refused: 0, throttled: 0 });
  });

  it('unpaced, the same load meets 429s', async () => {
    const activities = createHubSpotActivities({ hubspot: client() });

    const results = await Promise.allSettled(
      Array.from({ length: contacts }, (_, i) => activities.linkHubSpotContact(link(i))),
    );

    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ApplicationFailure] : []));
    expect(refused.map(statusOf)).toContain(429);
  });

  it('a 429 that gets through (another process shares the limit) holds the pacer back', async () => {
    // This process believes it has 3 per second; the account has 1 left to it.
    hubspot.setRateLimit({ max: 1, intervalMs: 10_000 });
    const pacer = new OutboundPacer({ name: 'hubspot', max: 3, windowMs: 1000 });
    const activities = createHubSpotActivities({ hubspot: client(), pacer });
    await activities.linkHubSpotContact(link(0));

    const failure = await activities.linkHubSpotContact(link(1)).then(
      () => undefined,
      (e: unknown) => e as ApplicationFailure,
    );

    expect(failure?.nextRetryDelay).toBe(10_000);
    expect(pacer.stats().throttled).toBe(1);
    // Nothing more goes out before HubSpot's interval has passed.
    const next = pacer.reserve(1);
    expect(next.ok).toBe(true);
    if (next.ok) expect(next.at[0]! - Date.now()).toBeGreaterThan(9_000);
  });
});
