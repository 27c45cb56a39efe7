// The HubSpot activity driven through the real `@hubspot/api-client` (built by services/hubspot.ts)
// against the HubSpot emulator: one contact per email whatever the case, and how throttling and
// outages reach Temporal.
import { Client } from '@hubspot/api-client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHubSpotActivities, HUBSPOT_CONTACT_PROPERTIES } from '../../activities/hubspot';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import { createHubSpotClient } from '../../services/hubspot';
import { InviteErrorType } from '../../workflows/errors';

const UPSERT = 'POST /crm/v3/objects/contacts/batch/upsert';

let emu: HubSpotEmulator;
let activities: ReturnType<typeof createHubSpotActivities>;

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(ApplicationFailure);
    return e as ApplicationFailure;
  }
  throw new Error('expected the activity to fail');
}

function expectNoSecrets(failure: ApplicationFailure, secrets: string[]): void {
  const text = `${failure.message}\n${JSON.stringify(failure.details)}\n${failure.stack ?? ''}`;
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/Bearer\s/i);
}

const link = (email: string, inviteStatus = 'redeemed') => ({
  email,
  auth0UserId: 'auth0|abc123',
  inviteId: 'inv_1',
  inviteStatus,
});

beforeAll(async () => {
  emu = await startHubSpotEmulator();
  activities = createHubSpotActivities({
    hubspot: createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url }),
  });
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
});

afterEach(() => {
  vi.useRealTimers();
  emu.setRateLimit(undefined);
});

describe('linkHubSpotContact', () => {
  it('creates the contact with our properties and returns its id', async () => {
    const { contactId } = await activities.linkHubSpotContact(link('ada@example.com'));

    const contact = emu.contactByEmail('ada@example.com');
    expect(contact?.id).toBe(contactId);
    expect(contact?.properties).toMatchObject({
      email: 'ada@example.com',
      [HUBSPOT_CONTACT_PROPERTIES.auth0UserId]: 'auth0|abc123',
      [HUBSPOT_CONTACT_PROPERTIES.inviteId]: 'inv_1',
      [HUBSPOT_CONTACT_PROPERTIES.inviteStatus]: 'redeemed',
    });
    expect(emu.counts[UPSERT]).toBe(1);
  });

  it('writes the attribution given as contact properties and leaves the others as they were', async () => {
    await activities.linkHubSpotContact({ ...link('utm@example.com'), attribution: { utm_source: 'ads', utm_term: 'invites' } });
    await activities.linkHubSpotContact({ ...link('utm@example.com'), attribution: { utm_campaign: 'spring-26' } });
    expect(emu.contactByEmail('utm@example.com')?.properties).toMatchObject({
      [HUBSPOT_CONTACT_PROPERTIES.utmSource]: 'ads',
      [HUBSPOT_CONTACT_PROPERTIES.utmTerm]: 'invites',
      [HUBSPOT_CONTACT_PROPERTIES.utmCampaign]: 'spring-26',
    });
    expect(emu.contactByEmail('utm@example.com')?.properties).not.toHaveProperty(HUBSPOT_CONTACT_PROPERTIES.utmMedium);
  });

  it('marks the contact of a stale invite for follow-up; a later redemption sets the status to redeemed', async () => {
    const { contactId } = await activities.markHubSpotInviteStale({ email: 'stale@example.com', inviteId: 'inv_9' });
    expect(emu.contactByEmail('stale@example.com')).toMatchObject({
      id: contactId,
      properties: {
        [HUBSPOT_CONTACT_PROPERTIES.inviteId]: 'inv_9',
        [HUBSPOT_CONTACT_PROPERTIES.inviteStatus]: 'stale',
        [HUBSPOT_CONTACT_PROPERTIES.followUp]: 'stale_invite',
      },
    });
    await activities.linkHubSpotContact(link('stale@example.com'));
    expect(emu.contactByEmail('stale@example.com')?.properties[HUBSPOT_CONTACT_PROPERTIES.inviteStatus]).toBe('redeemed');
    expect(emu.contacts().filter((c) => c.properties.email === 'stale@example.com')).toHaveLength(1);
  });

  it('upserting twice keeps one contact and updates it', async () => {
    const first = await activities.linkHubSpotContact(link('ada@example.com', 'pending'));
    const second = await activities.linkHubSpotContact(link('ada@example.com', 'redeemed'));

    expect(second).toEqual(first);
    expect(emu.contacts()).toHaveLength(1);
    expect(emu.createdCount('ada@example.com')).toBe(1);
    expect(emu.contactByEmail('ada@example.com')?.properties[HUBSPOT_CONTACT_PROPERTIES.inviteStatus]).toBe(
      'redeemed',
    );
  });

  it('emails that differ only in case are one contact', async () => {
    const first = await activities.linkHubSpotContact(link('Ada.Lovelace@Example.COM'));
    const second = await activities.linkHubSpotContact(link('ada.lovelace@example.com'));

    expect(second.contactId).toBe(first.contactId);
    expect(emu.contacts()).toHaveLength(1);
    expect(emu.createdCount('ADA.LOVELACE@example.com')).toBe(1);
  });

  it('existing contacts created elsewhere are linked, not duplicated', async () => {
    const direct = createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url });
    await direct.crm.contacts.batchApi.upsert({
      inputs: [{ id: 'grace@example.com', idProperty: 'email', properties: { firstname: 'Grace' } }],
    });

    await activities.linkHubSpotContact(link('GRACE@example.com'));

    expect(emu.contacts()).toHaveLength(1);
    expect(emu.contactByEmail('grace@example.com')?.properties).toMatchObject({
      firstname: 'Grace',
      [HUBSPOT_CONTACT_PROPERTIES.inviteId]: 'inv_1',
    });
  });
});

describe('failures reaching Temporal', () => {
  it('the ten-secondly rolling limit is retryable after the window, tried once by the SDK', async () => {
    // A frozen clock keeps all three calls inside one window however slow the machine is.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    emu.setRateLimit({ max: 2, intervalMs: 10_000 });
    await activities.linkHubSpotContact(link('a@example.com'));
    await activities.linkHubSpotContact(link('b@example.com'));

    const failure = await failureOf(activities.linkHubSpotContact(link('c@example.com')));

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(10_000);
    expect(failure.message).toBe('hubspot 429 RATE_LIMIT: You have reached your ten_secondly_rolling limit.');
    expect(emu.counts[UPSERT]).toBe(3);
    expect(emu.contactByEmail('c@example.com')).toBeUndefined();
    expectNoSecrets(failure, [emu.accessToken]);
  });

  it('an injected 429 waits the window the headers announce', async () => {
    emu.setRateLimit({ max: 50, intervalMs: 2_000 });
    emu.injectFault({ route: UPSERT, status: 429, count: 1 });

    const failure = await failureOf(activities.linkHubSpotContact(link('a@example.com')));

    expect(failure.nextRetryDelay).toBe(2_000);
    expect(failure.details).toEqual([
      expect.objectContaining({ service: 'hubspot', status: 429, code: 'RATE_LIMIT', retryAfterMs: 2_000 }),
    ]);
    expect(emu.counts[UPSERT]).toBe(1);
  });

  it.each([500, 502, 503])('a %i is retryable and tried once', async (status) => {
    emu.injectFault({ route: UPSERT, status, count: 1 });

    const failure = await failureOf(activities.linkHubSpotContact(link('a@example.com')));

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toContain(`hubspot ${status}`);
    expect(emu.counts[UPSERT]).toBe(1);

    await activities.linkHubSpotContact(link('a@example.com'));
    expect(emu.createdCount('a@example.com')).toBe(1);
  });

  it('a missing custom property is a permanent failure that names it', async () => {
    const bare = await startHubSpotEmulator({ customProperties: [] });
    try {
      const bareActivities = createHubSpotActivities({
        hubspot: createHubSpotClient({ accessToken: bare.accessToken, basePath: `${bare.url}/` }),
      });

      const failure = await failureOf(bareActivities.linkHubSpotContact(link('a@example.com')));

      expect(failure.type).toBe(InviteErrorType.Permanent);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toMatch(/^hubspot 400 VALIDATION_ERROR: Property values were not valid/);
      expect(failure.message).toContain('inviteflow_auth0_user_id');
      expect(bare.contacts()).toEqual([]);
    } finally {
      await bare.close();
    }
  });

  it('a wrong token is a permanent failure that echoes neither token', async () => {
    const wrongToken = 'pat-na1-00000000-dead-beef-0000-000000000000';
    const wrong = createHubSpotActivities({
      hubspot: createHubSpotClient({ accessToken: wrongToken, basePath: emu.url }),
    });

    const failure = await failureOf(wrong.linkHubSpotContact(link('a@example.com')));

    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(
      /^hubspot 401 INVALID_AUTHENTICATION: Authentication credentials not found/,
    );
    expectNoSecrets(failure, [wrongToken, emu.accessToken]);
  });

  it('a client built later with SDK retries does not make ours retry', async () => {
    // The SDK's decorators are process-wide; services/hubspot.ts binds ours when the client is built.
    const ours = createHubSpotActivities({
      hubspot: createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url }),
    });
    const other = new Client({ accessToken: emu.accessToken, basePath: emu.url, numberOfApiCallRetries: 3 });
    emu.injectFault({ route: UPSERT, status: 500, count: 1 });

    const failure = await failureOf(ours.linkHubSpotContact(link('a@example.com')));

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(emu.counts[UPSERT]).toBe(1);

    // The same fault against the retrying client is absorbed by a second request.
    emu.injectFault({ route: UPSERT, status: 500, count: 1 });
    await other.crm.contacts.batchApi.upsert({
      inputs: [{ id: 'b@example.com', idProperty: 'email', properties: {} }],
    });
    expect(emu.counts[UPSERT]).toBe(3);
  });
});
