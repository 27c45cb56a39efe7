// The Auth0 emulator's APIs, applications and client-grants routes that the tenant setup relies on,
// through the real SDK and on the wire: Auth0's status codes and error bodies, the secret shown
// only on creation or with read:client_keys, offset and checkpoint pagination, and grants that
// really decide what the token endpoint hands out.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { createManagementClient } from '../../services/auth0';

const MANAGEMENT = 'https://inviteflow-dev.auth0.local/api/v2/';
const ADMIN = { clientId: 'admin', clientSecret: 'admin-secret' };
const KEYS_ADMIN = { clientId: 'keys-admin', clientSecret: 'keys-admin-secret' };
const ADMIN_SCOPES = [
  'read:resource_servers',
  'create:resource_servers',
  'update:resource_servers',
  'read:clients',
  'create:clients',
  'read:client_grants',
  'create:client_grants',
  'update:client_grants',
];

let emu: Auth0Emulator;

const sdk = (creds = ADMIN) => createManagementClient({ domain: emu.domain, ...creds, endpoint: emu.url });

async function tokenFor(clientId: string, clientSecret: string, audience: string): Promise<Response> {
  return fetch(`${emu.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      audience,
    }),
  });
}

beforeAll(async () => {
  emu = await startAuth0Emulator({
    clients: [
      { ...ADMIN, name: 'admin', grants: [{ audience: MANAGEMENT, scopes: ADMIN_SCOPES }] },
      { ...KEYS_ADMIN, name: 'keys admin', grants: [{ audience: MANAGEMENT, scopes: ['read:client_keys'] }] },
    ],
  });
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
});

describe('resource servers', () => {
  it('lists the Management API as a system API and filters by identifier', async () => {
    await sdk().resourceServers.create({ identifier: 'https://a.example', scopes: [{ value: 'a:read' }] });

    const all = await sdk().resourceServers.list();
    const filtered = await sdk().resourceServers.list({ identifiers: ['https://a.example'] });

    expect(all.data.map((rs) => [rs.identifier, rs.is_system])).toEqual([
      [MANAGEMENT, true],
      ['https://a.example', false],
    ]);
    expect(filtered.data.map((rs) => rs.identifier)).toEqual(['https://a.example']);
    expect(filtered.response).toMatchObject({ start: 0, total: 1 });
  });

  it('answers 409 with Auth0’s body for a duplicate identifier, the Management API’s included', async () => {
    await sdk().resourceServers.create({ identifier: 'https://a.example' });

    for (const identifier of ['https://a.example', MANAGEMENT]) {
      await expect(sdk().resourceServers.create({ identifier })).rejects.toMatchObject({
        statusCode: 409,
        body: {
          statusCode: 409,
          error: 'Conflict',
          message: 'A resource server with the same identifier already exists',
        },
      });
    }
  });

  it('refuses unknown properties like Auth0 (400 invalid_body)', async () => {
    const res = await fetch(`${emu.url}/api/v2/resource-servers`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${((await (await tokenFor(ADMIN.clientId, ADMIN.clientSecret, MANAGEMENT)).json()) as { access_token: string }).access_token}`,
      },
      body: JSON.stringify({ identifier: 'https://b.example', audience: 'typo' }),
    });

    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      errorCode: 'invalid_body',
      message: expect.stringContaining('audience'),
    });
  });
});

describe('clients', () => {
  it('shows the secret in the create answer, then only to read:client_keys', async () => {
    const created = await sdk().clients.create({
      name: 'm2m',
      app_type: 'non_interactive',
      grant_types: ['client_credentials'],
    });

    const listed = await sdk().clients.list();
    const withKeys = await sdk(KEYS_ADMIN).clients.list();

    expect(created).toMatchObject({
      name: 'm2m',
      app_type: 'non_interactive',
      client_secret: expect.any(String),
    });
    const mine = listed.data.find((c) => c.client_id === created.client_id);
    expect(mine).toBeDefined();
    expect(mine).not.toHaveProperty('client_secret');
    expect(withKeys.data.find((c) => c.client_id === created.client_id)?.client_secret).toBe(
      created.client_secret,
    );
    expect(listed.data.some((c) => c.global === true && c.name === 'All Applications')).toBe(true);
  });

  it('applies fields/include_fields to the list', async () => {
    const listed = await sdk().clients.list({ fields: 'client_id,name', include_fields: true });

    expect(listed.data.length).toBeGreaterThan(0);
    for (const client of listed.data) expect(Object.keys(client).sort()).toEqual(['client_id', 'name']);
  });
});

describe('client grants', () => {
  async function api(identifier: string) {
    await sdk().resourceServers.create({ identifier, scopes: [{ value: 'x:read' }, { value: 'x:write' }] });
  }

  it('decide what the token endpoint grants a new application', async () => {
    await api('https://x.example');
    const app = await sdk().clients.create({ name: 'worker', app_type: 'non_interactive' });

    const before = await tokenFor(app.client_id!, app.client_secret!, 'https://x.example');
    await sdk().clientGrants.create({
      client_id: app.client_id!,
      audience: 'https://x.example',
      scope: ['x:read'],
    });
    const after = await tokenFor(app.client_id!, app.client_secret!, 'https://x.example');

    expect(before.status).toBe(403);
    expect(after.status).toBe(200);
    expect(((await after.json()) as { scope: string }).scope).toBe('x:read');
  });

  it('answers 409 for a second grant of one client on one API, 404 for an unknown API, 400 for undefined scopes', async () => {
    await api('https://x.example');
    const app = await sdk().clients.create({ name: 'worker', app_type: 'non_interactive' });
    await sdk().clientGrants.create({
      client_id: app.client_id!,
      audience: 'https://x.example',
      scope: ['x:read'],
    });

    await expect(
      sdk().clientGrants.create({
        client_id: app.client_id!,
        audience: 'https://x.example',
        scope: ['x:write'],
      }),
    ).rejects.toMatchObject({ statusCode: 409, body: { error: 'Conflict' } });
    await expect(
      sdk().clientGrants.create({ client_id: app.client_id!, audience: 'https://nope.example', scope: [] }),
    ).rejects.toMatchObject({ statusCode: 404 });
    await expect(
      sdk().clientGrants.create({
        client_id: app.client_id!,
        audience: MANAGEMENT,
        scope: ['read:everything'],
      }),
    ).rejects.toMatchObject({ statusCode: 400, body: { errorCode: 'invalid_body' } });
  });

  it('pages with from/take/next, which the SDK follows to the end', async () => {
    await api('https://x.example');
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const app = await sdk().clients.create({ name, app_type: 'non_interactive' });
      ids.push(
        (
          await sdk().clientGrants.create({
            client_id: app.client_id!,
            audience: 'https://x.example',
            scope: [],
          })
        ).id!,
      );
    }

    const first = await sdk().clientGrants.list({ audience: 'https://x.example', take: 2 });
    const seen: string[] = [];
    for await (const grant of await sdk().clientGrants.list({ audience: 'https://x.example', take: 1 }))
      seen.push(grant.id!);

    expect(first.data.map((g) => g.id)).toEqual(ids.slice(0, 2));
    expect(first.response.next).toBe(ids[2]);
    expect(seen).toEqual(ids);
  });

  it('replaces the scopes on PATCH', async () => {
    await api('https://x.example');
    const app = await sdk().clients.create({ name: 'worker', app_type: 'non_interactive' });
    const grant = await sdk().clientGrants.create({
      client_id: app.client_id!,
      audience: 'https://x.example',
      scope: ['x:read'],
    });

    const updated = await sdk().clientGrants.update(grant.id!, { scope: ['x:write'] });

    expect(updated.scope).toEqual(['x:write']);
    const res = await tokenFor(app.client_id!, app.client_secret!, 'https://x.example');
    expect(((await res.json()) as { scope: string }).scope).toBe('x:write');
  });
});
