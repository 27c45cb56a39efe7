// The HubSpot emulator on the wire (and through the SDK's properties API, which the production
// setup script will use): auth, the rolling-window rate limit and its headers, property
// validation, case-insensitive emails, and the `/__emulator/*` control routes.
import {
  PropertyCreateFieldTypeEnum,
  PropertyCreateTypeEnum,
} from '@hubspot/api-client/lib/codegen/crm/properties/models/PropertyCreate';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import { createHubSpotClient } from '../../services/hubspot';

let emu: HubSpotEmulator;

// Wire bodies are whatever the emulator sent; the assertions are what check their shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function json(res: Response): Promise<any> {
  return res.json();
}

function call(
  method: string,
  path: string,
  body?: unknown,
  token: string | null = emu.accessToken,
): Promise<Response> {
  return fetch(`${emu.url}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const upsert = (inputs: unknown[]) => call('POST', '/crm/v3/objects/contacts/batch/upsert', { inputs });

beforeAll(async () => {
  emu = await startHubSpotEmulator();
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

describe('auth', () => {
  it('answers 401 with HubSpot’s body without the private-app token', async () => {
    const missing = await call('GET', '/crm/v3/properties/contacts', undefined, null);
    const wrong = await call('GET', '/crm/v3/properties/contacts', undefined, 'pat-na1-wrong');

    expect(missing.status).toBe(401);
    expect(await json(missing)).toMatchObject({
      status: 'error',
      category: 'INVALID_AUTHENTICATION',
      correlationId: expect.any(String),
    });
    expect(wrong.status).toBe(401);
  });
});

describe('rate limit', () => {
  it('sends the X-HubSpot-RateLimit headers on every response', async () => {
    const res = await call('GET', '/crm/v3/properties/contacts');

    expect(res.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
    expect(res.headers.get('x-hubspot-ratelimit-max')).toBe('100');
    expect(res.headers.get('x-hubspot-ratelimit-remaining')).toBe('99');
  });

  it('a rolling window of 3 per 10 s refuses the fourth request with HubSpot’s 429 until the window moves', async () => {
    const now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    emu.setRateLimit({ max: 3, intervalMs: 10_000 });

    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('GET', '/crm/v3/properties/contacts')).status);
    const refused = await call('GET', '/crm/v3/properties/contacts');

    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(refused.status).toBe(429);
    expect(await json(refused)).toEqual({
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      correlationId: expect.any(String),
      policyName: 'TEN_SECONDLY_ROLLING',
    });
    expect(refused.headers.get('x-hubspot-ratelimit-max')).toBe('3');
    expect(refused.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
    expect(refused.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');

    vi.setSystemTime(now + 10_001);
    expect((await call('GET', '/crm/v3/properties/contacts')).status).toBe(200);
  });
});

describe('contacts', () => {
  it('upserts by email without regard to case and answers HubSpot’s batch shape', async () => {
    const created = await json(
      await upsert([{ id: 'Ada@Example.com', idProperty: 'email', properties: { firstname: 'Ada' } }]),
    );
    const updated = await json(
      await upsert([{ id: 'ada@example.com', idProperty: 'email', properties: { lastname: 'Lovelace' } }]),
    );

    expect(created).toMatchObject({
      status: 'COMPLETE',
      startedAt: expect.any(String),
      completedAt: expect.any(String),
    });
    expect(created.results[0]).toMatchObject({
      new: true,
      archived: false,
      properties: { email: 'ada@example.com', firstname: 'Ada' },
    });
    expect(updated.results[0]).toMatchObject({
      id: created.results[0].id,
      new: false,
      properties: { firstname: 'Ada', lastname: 'Lovelace' },
    });
    expect(emu.createdCount('ada@example.com')).toBe(1);
  });

  it('reads a contact by id and by email, with null for requested properties without a value', async () => {
    const { results } = await json(
      await upsert([{ id: 'g@example.com', idProperty: 'email', properties: { firstname: 'Grace' } }]),
    );
    const id = results[0].id as string;

    const byId = await json(await call('GET', `/crm/v3/objects/contacts/${id}`));
    const byEmail = await json(
      await call(
        'GET',
        '/crm/v3/objects/contacts/G%40EXAMPLE.com?idProperty=email&properties=firstname&properties=lifecyclestage',
      ),
    );
    const missing = await call('GET', '/crm/v3/objects/contacts/999');

    expect(byId.properties).toMatchObject({
      email: 'g@example.com',
      firstname: 'Grace',
      lastname: null,
      hs_object_id: id,
    });
    expect(byEmail).toMatchObject({ id, properties: { firstname: 'Grace', lifecyclestage: null } });
    expect(missing.status).toBe(404);
    expect((await json(missing)).category).toBe('OBJECT_NOT_FOUND');
  });

  it('refuses unknown and read-only properties with PROPERTY_DOESNT_EXIST / READ_ONLY_VALUE', async () => {
    const unknown = await upsert([
      { id: 'a@example.com', idProperty: 'email', properties: { favourite_colour: 'green' } },
    ]);
    const readOnly = await upsert([
      { id: 'a@example.com', idProperty: 'email', properties: { hs_object_id: '1' } },
    ]);

    expect(unknown.status).toBe(400);
    const body = await json(unknown);
    expect(body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    expect(body.message).toContain('PROPERTY_DOESNT_EXIST');
    expect(body.errors).toEqual([
      expect.objectContaining({
        code: 'PROPERTY_DOESNT_EXIST',
        context: { propertyName: ['favourite_colour'] },
      }),
    ]);
    expect((await json(readOnly)).errors[0].code).toBe('READ_ONLY_VALUE');
    expect(emu.contacts()).toEqual([]);
  });

  it('refuses a batch that names the same email twice', async () => {
    const res = await upsert([
      { id: 'a@example.com', idProperty: 'email', properties: {} },
      { id: 'A@example.com', idProperty: 'email', properties: {} },
    ]);

    expect(res.status).toBe(400);
    expect((await json(res)).message).toContain('Duplicate IDs');
  });
});

describe('properties, through the SDK', () => {
  it('creates a property (201), lists it, and answers 409 for an existing name', async () => {
    const client = createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url });
    const input = {
      name: 'inviteflow_scope',
      label: 'Invite scope',
      type: PropertyCreateTypeEnum.String,
      fieldType: PropertyCreateFieldTypeEnum.Text,
      groupName: 'contactinformation',
    };

    const created = await client.crm.properties.coreApi.create('contacts', input);
    const listed = await client.crm.properties.coreApi.getAll('contacts');
    const duplicate: unknown = await client.crm.properties.coreApi
      .create('contacts', input)
      .catch((e: unknown) => e);

    expect(created).toMatchObject({
      name: 'inviteflow_scope',
      label: 'Invite scope',
      type: 'string',
      fieldType: 'text',
    });
    expect(listed.results.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        'email',
        'firstname',
        'lastname',
        'lifecyclestage',
        'inviteflow_auth0_user_id',
        'inviteflow_invite_id',
        'inviteflow_invite_status',
        'inviteflow_scope',
      ]),
    );
    expect(duplicate).toMatchObject({ code: 409, body: { category: 'OBJECT_ALREADY_EXISTS' } });
  });

  it('refuses an invalid property name', async () => {
    const res = await call('POST', '/crm/v3/properties/contacts', {
      name: 'Bad Name',
      label: 'x',
      type: 'string',
      fieldType: 'text',
      groupName: 'contactinformation',
    });

    expect(res.status).toBe(400);
    expect((await json(res)).category).toBe('VALIDATION_ERROR');
  });
});

describe('/__emulator control routes', () => {
  it('injects faults over HTTP for the next N matching requests', async () => {
    const armed = await call(
      'POST',
      '/__emulator/faults',
      { route: 'batch/upsert', status: 502, count: 1 },
      null,
    );

    const failed = await upsert([{ id: 'a@example.com', idProperty: 'email', properties: {} }]);
    const passed = await upsert([{ id: 'a@example.com', idProperty: 'email', properties: {} }]);

    expect(armed.status).toBe(200);
    expect(failed.status).toBe(502);
    expect((await json(failed)).status).toBe('error');
    expect(passed.status).toBe(200);
  });

  it('a 429 fault looks like the ten-secondly limit', async () => {
    emu.injectFault({ status: 429, count: 1 });

    const res = await call('GET', '/crm/v3/properties/contacts');

    expect(res.status).toBe(429);
    expect((await json(res)).policyName).toBe('TEN_SECONDLY_ROLLING');
    expect(res.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
  });

  it('reports contacts, creations per email and counts, and resets them', async () => {
    await upsert([{ id: 'a@example.com', idProperty: 'email', properties: {} }]);
    await upsert([{ id: 'A@EXAMPLE.COM', idProperty: 'email', properties: {} }]);

    const state = await json(await call('GET', '/__emulator/state', undefined, null));

    expect(state.contacts).toHaveLength(1);
    expect(state.createdByEmail).toEqual({ 'a@example.com': 1 });
    expect(state.counts['POST /crm/v3/objects/contacts/batch/upsert']).toBe(2);
    expect(JSON.stringify(state)).not.toContain(emu.accessToken);

    expect((await call('POST', '/__emulator/reset', undefined, null)).status).toBe(204);
    expect(emu.state()).toMatchObject({ contacts: [], createdByEmail: {}, counts: {} });
  });
});

describe('contacts and their properties, through the SDK', () => {
  const sdk = () => createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url });
  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (e: { code?: number; body?: unknown }) => ({ code: e.code, body: e.body }),
    );

  it('lists the properties every HubSpot account has beside the custom ones, and reads one by name (404 when unknown)', async () => {
    emu.createProperty('plan_tier', 'Plan tier');
    const { results } = await sdk().crm.properties.coreApi.getAll('contacts');
    const names = results.map((p) => p.name);

    for (const builtIn of ['email', 'firstname', 'lastname', 'company', 'lifecyclestage', 'phone', 'jobtitle', 'website', 'city', 'country', 'hs_lead_status', 'createdate', 'lastmodifieddate', 'hs_object_id']) {
      expect(names).toContain(builtIn);
    }
    expect(names).toContain('inviteflow_invite_status');
    expect(names).toContain('plan_tier');
    expect(results.find((p) => p.name === 'company')).toMatchObject({ hubspotDefined: true, type: 'string', groupName: 'contactinformation' });
    expect((await sdk().crm.properties.coreApi.getByName('contacts', 'hs_lead_status')).options.map((o) => o.value)).toContain('NEW');

    const missing = await codeOf(sdk().crm.properties.coreApi.getByName('contacts', 'no_such_property'));
    expect(missing).toMatchObject({ code: 404, body: { status: 'error', category: 'OBJECT_NOT_FOUND', correlationId: expect.any(String) } });
  });

  it('getById answers the requested properties (null when unset) with the identifying ones, by id or by email', async () => {
    await sdk().crm.contacts.batchApi.upsert({ inputs: [{ id: 'Ada@Example.com', idProperty: 'email', properties: { company: 'Analytical' } }] });
    const id = emu.contactByEmail('ada@example.com')!.id;

    const byId = await sdk().crm.contacts.basicApi.getById(id, ['company', 'lifecyclestage', 'no_such_property']);
    expect(byId.id).toBe(id);
    expect(byId.properties).toEqual({
      company: 'Analytical',
      lifecyclestage: null,
      hs_object_id: id,
      createdate: expect.any(String),
      lastmodifieddate: expect.any(String),
    });
    expect(byId.createdAt).toBeInstanceOf(Date);
    expect(byId.updatedAt).toBeInstanceOf(Date);
    expect(byId.archived).toBe(false);

    const byEmail = await sdk().crm.contacts.basicApi.getById('ADA@example.com', ['company'], undefined, undefined, false, 'email');
    expect(byEmail.id).toBe(id);

    const missing = await codeOf(sdk().crm.contacts.basicApi.getById('999', ['company']));
    expect(missing).toMatchObject({ code: 404, body: { status: 'error', category: 'OBJECT_NOT_FOUND' } });
  });

  it('update sets a contact’s properties as a HubSpot user would, and refuses unknown or read-only ones without a change', async () => {
    await sdk().crm.contacts.batchApi.upsert({ inputs: [{ id: 'grace@example.com', idProperty: 'email', properties: {} }] });
    const id = emu.contactByEmail('grace@example.com')!.id;

    const updated = await sdk().crm.contacts.basicApi.update(id, { properties: { lifecyclestage: 'customer', company: 'Navy' } });
    expect(updated.properties).toMatchObject({ lifecyclestage: 'customer', company: 'Navy', hs_object_id: id });
    expect(emu.contactByEmail('grace@example.com')!.properties).toMatchObject({ lifecyclestage: 'customer', company: 'Navy' });
    const byEmail = await sdk().crm.contacts.basicApi.update('GRACE@example.com', { properties: { company: 'COBOL' } }, 'email');
    expect(byEmail.properties.company).toBe('COBOL');

    const unknown = await codeOf(sdk().crm.contacts.basicApi.update(id, { properties: { company: 'Other', no_such_property: 'x' } }));
    expect(unknown).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR', errors: [{ code: 'PROPERTY_DOESNT_EXIST', context: { propertyName: ['no_such_property'] } }] } });
    const readOnly = await codeOf(sdk().crm.contacts.basicApi.update(id, { properties: { hs_object_id: '1' } }));
    expect(readOnly).toMatchObject({ code: 400, body: { errors: [{ code: 'READ_ONLY_VALUE' }] } });
    expect(emu.contactByEmail('grace@example.com')!.properties.company).toBe('COBOL');

    const missing = await codeOf(sdk().crm.contacts.basicApi.update('999', { properties: { company: 'x' } }));
    expect(missing).toMatchObject({ code: 404, body: { category: 'OBJECT_NOT_FOUND' } });
  });

  it('an upsert naming a property that does not exist is refused whole, as HubSpot refuses it', async () => {
    const refused = await codeOf(
      sdk().crm.contacts.batchApi.upsert({ inputs: [{ id: 'alan@example.com', idProperty: 'email', properties: { company: 'Bletchley', plan_tier: 'pro' } }] }),
    );
    expect(refused).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR', errors: [{ code: 'PROPERTY_DOESNT_EXIST' }] } });
    expect(emu.contactByEmail('alan@example.com')).toBeUndefined();
  });
});

describe('property definitions, through the SDK', () => {
  it('updates a custom property’s label and description, and refuses HubSpot’s own and unknown ones', async () => {
    const sdk = createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url }).crm.properties.coreApi;
    const updated = await sdk.update('contacts', 'inviteflow_invite_status', { label: 'Invite status', description: 'invited, then redeemed' });
    expect(updated).toMatchObject({ name: 'inviteflow_invite_status', label: 'Invite status', description: 'invited, then redeemed' });
    expect(emu.property('inviteflow_invite_status')?.description).toBe('invited, then redeemed');

    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: { code?: number }) => e.code,
      );
    expect(await codeOf(sdk.update('contacts', 'email', { label: 'Mail' }))).toBe(400);
    expect(await codeOf(sdk.update('contacts', 'no_such_property', { label: 'x' }))).toBe(404);
    expect(emu.property('email')?.label).toBe('Email');
  });
});

describe('outage', () => {
  it('answers 503 on every HubSpot route for a while, then recovers; control routes keep answering', async () => {
    const res = await call('POST', '/__emulator/outage', { durationMs: 300, retryAfterSeconds: 2 }, null);
    expect(res.status).toBe(204);

    const down = await call('GET', '/crm/v3/properties/contacts');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('2');
    expect(await json(down)).toMatchObject({ status: 'error', correlationId: expect.any(String) });
    const viaSdk = await createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url })
      .crm.properties.coreApi.getAll('contacts')
      .then(
        () => undefined,
        (e: { code?: number }) => e.code,
      );
    expect(viaSdk).toBe(503);
    expect((await json(await call('GET', '/__emulator/state', undefined, null))).outage).toEqual({ until: expect.any(String) });

    await vi.waitFor(async () => expect((await call('GET', '/crm/v3/properties/contacts')).status).toBe(200), { timeout: 5000, interval: 50 });
  });

  it('lasts until ended when no duration is given (in process or over HTTP), and a reset ends it', async () => {
    emu.outage();
    expect((await call('GET', '/crm/v3/properties/contacts')).status).toBe(503);
    emu.endOutage();
    expect((await call('GET', '/crm/v3/properties/contacts')).status).toBe(200);

    await call('POST', '/__emulator/outage', {}, null);
    expect((await call('GET', '/crm/v3/properties/contacts')).status).toBe(503);
    expect((await call('DELETE', '/__emulator/outage', undefined, null)).status).toBe(204);
    expect((await call('GET', '/crm/v3/properties/contacts')).status).toBe(200);

    emu.outage();
    emu.reset();
    expect((await call('GET', '/crm/v3/properties/contacts')).status).toBe(200);
    expect((await call('POST', '/__emulator/outage', { durationMs: -1 }, null)).status).toBe(400);
  });
});
