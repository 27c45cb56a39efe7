// The HubSpot account setup against the emulator with the real `@hubspot/api-client`: on an
// account without our properties the worker's upsert is refused; after one setup run it succeeds;
// a second run only reads. Also the emulator's property groups, which the setup depends on.
import {
  PropertyCreateFieldTypeEnum,
  PropertyCreateTypeEnum,
} from '@hubspot/api-client/lib/codegen/crm/properties/models/PropertyCreate';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHubSpotActivities, HUBSPOT_CONTACT_PROPERTIES } from '../../activities/hubspot';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import { createHubSpotClient } from '../../services/hubspot';
import { PROPERTY_DEFINITIONS, PROPERTY_GROUP, runHubSpotSetup, setupHubSpot } from '../../scripts/setup/hubspot';
import { InviteErrorType } from '../../workflows/errors';

let emu: HubSpotEmulator;

const client = () => createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url });
const OURS = Object.values(HUBSPOT_CONTACT_PROPERTIES);
const link = {
  email: 'Ada@Example.com',
  auth0UserId: 'auth0|abc123',
  inviteId: 'inv_1',
  inviteStatus: 'redeemed',
};

/** Route keys whose count grew between two snapshots, other than reads. */
function writesBetween(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys(after).filter(
    (key) => (after[key] ?? 0) > (before[key] ?? 0) && !key.startsWith('GET '),
  );
}

beforeAll(async () => {
  // An account as HubSpot hands it out: none of our properties yet.
  emu = await startHubSpotEmulator({ customProperties: [] });
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
});

describe('setupHubSpot', () => {
  it('creates the group and the properties the worker writes, after which its upsert succeeds', async () => {
    const activities = createHubSpotActivities({ hubspot: client() });
    const refused = await activities.linkHubSpotContact(link).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect((refused as ApplicationFailure).type).toBe(InviteErrorType.Permanent);

    const steps = await setupHubSpot(client());
    const { contactId } = await activities.linkHubSpotContact(link);

    expect(steps).toEqual([
      { kind: 'property group', name: PROPERTY_GROUP.name, outcome: 'created' },
      ...OURS.map((name) => ({ kind: 'property', name, outcome: 'created' })),
    ]);
    for (const name of OURS)
      expect(emu.property(name)).toMatchObject({
        groupName: 'inviteflow',
        type: 'string',
        fieldType: 'text',
        formField: false,
      });
    expect(emu.group('inviteflow')).toMatchObject({ label: 'inviteflow', archived: false });
    expect(emu.contactByEmail('ada@example.com')).toMatchObject({
      id: contactId,
      properties: {
        inviteflow_auth0_user_id: 'auth0|abc123',
        inviteflow_invite_id: 'inv_1',
        inviteflow_invite_status: 'redeemed',
      },
    });
  });

  it('only reads on a second run', async () => {
    await setupHubSpot(client());
    const before = emu.counts;

    const steps = await setupHubSpot(client());

    expect(writesBetween(before, emu.counts)).toEqual([]);
    expect(steps.map((s) => s.outcome)).toEqual(['present', ...OURS.map(() => 'present')]);
  });

  it('says the contact is upserted with the status invited when the invite is created', async () => {
    await setupHubSpot(client());
    const status = emu.property(HUBSPOT_CONTACT_PROPERTIES.inviteStatus)!;
    expect(status.description).toMatch(/^State of the inviteflow invite: invited when the invite is created \(the contact is upserted then/);
    expect(status.description).toContain('then redeemed');
    expect(emu.property(HUBSPOT_CONTACT_PROPERTIES.inviteId)!.description).toContain('set when the invite is created');
    expect(emu.property(HUBSPOT_CONTACT_PROPERTIES.utmSource)!.description).toContain('(set when the invite is created)');
  });

  it('brings the label and description of our properties from an earlier version up to date, once', async () => {
    await setupHubSpot(client());
    // As an earlier setup left it.
    const stale = 'State of the inviteflow invite when the contact was last linked (e.g. redeemed).';
    await client().crm.properties.coreApi.update('contacts', HUBSPOT_CONTACT_PROPERTIES.inviteStatus, { description: stale });

    const steps = await setupHubSpot(client());
    expect(steps.filter((s) => s.outcome !== 'present')).toEqual([{ kind: 'property', name: HUBSPOT_CONTACT_PROPERTIES.inviteStatus, outcome: 'updated' }]);
    expect(emu.property(HUBSPOT_CONTACT_PROPERTIES.inviteStatus)).toMatchObject(PROPERTY_DEFINITIONS.inviteStatus);

    const before = emu.counts;
    await setupHubSpot(client());
    expect(writesBetween(before, emu.counts)).toEqual([]);
  });

  it('leaves properties made by hand where they are and notes a type the worker cannot fill', async () => {
    await client().crm.properties.coreApi.create('contacts', {
      name: HUBSPOT_CONTACT_PROPERTIES.inviteStatus,
      label: 'Status',
      type: PropertyCreateTypeEnum.Enumeration,
      fieldType: PropertyCreateFieldTypeEnum.Select,
      groupName: 'contactinformation',
      options: [{ label: 'Redeemed', value: 'redeemed', displayOrder: 0, hidden: false }],
    });

    const steps = await setupHubSpot(client());

    expect(steps.find((s) => s.name === HUBSPOT_CONTACT_PROPERTIES.inviteStatus)).toMatchObject({
      outcome: 'present',
      note: expect.stringContaining('enumeration'),
    });
    expect(emu.property(HUBSPOT_CONTACT_PROPERTIES.inviteStatus)?.groupName).toBe('contactinformation');
  });
});

describe('the setup CLI', () => {
  it('prints one line per step', async () => {
    const out = await runHubSpotSetup({ HUBSPOT_ACCESS_TOKEN: emu.accessToken, HUBSPOT_BASE_PATH: emu.url });

    expect(out.trim().split('\n')).toEqual([
      'created  property group inviteflow',
      ...OURS.map((name) => `created  property ${name}`),
    ]);
  });

  it('says the token was refused without printing it', async () => {
    const token = 'pat-na1-not-the-right-one';

    const error = await runHubSpotSetup({ HUBSPOT_ACCESS_TOKEN: token, HUBSPOT_BASE_PATH: emu.url }).then(
      () => new Error('expected a refusal'),
      (e: unknown) => e as Error,
    );

    expect(error.message).toMatch(/401/);
    expect(error.message).not.toContain(token);
  });
});

describe('the emulated property groups', () => {
  it('lists the built-in groups and answers 409 for an existing name', async () => {
    const groups = await client().crm.properties.groupsApi.getAll('contacts');
    const duplicate: unknown = await client()
      .crm.properties.groupsApi.create('contacts', { name: 'contactinformation', label: 'again' })
      .catch((e: unknown) => e);

    expect(groups.results.map((g) => g.name)).toContain('contactinformation');
    expect(duplicate).toMatchObject({
      code: 409,
      body: { status: 'error', category: 'OBJECT_ALREADY_EXISTS' },
    });
  });

  it('refuses a property in a group that does not exist', async () => {
    const refused: unknown = await client()
      .crm.properties.coreApi.create('contacts', {
        name: 'inviteflow_scope',
        label: 'Scope',
        type: PropertyCreateTypeEnum.String,
        fieldType: PropertyCreateFieldTypeEnum.Text,
        groupName: 'no_such_group',
      })
      .catch((e: unknown) => e);

    expect(refused).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } });
    expect(emu.property('inviteflow_scope')).toBeUndefined();
  });

  it('finds a group by name and answers 404 for an unknown one', async () => {
    await client().crm.properties.groupsApi.create('contacts', { name: 'inviteflow', label: 'inviteflow' });

    const found = await client().crm.properties.groupsApi.getByName('contacts', 'inviteflow');
    const missing: unknown = await client()
      .crm.properties.groupsApi.getByName('contacts', 'nope')
      .catch((e: unknown) => e);

    expect(found).toMatchObject({
      name: 'inviteflow',
      label: 'inviteflow',
      displayOrder: -1,
      archived: false,
    });
    expect(missing).toMatchObject({ code: 404 });
  });
});
