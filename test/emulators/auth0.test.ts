// The Auth0 emulator on the wire, without the SDK: tokens it issues, the Management API's status
// codes and error bodies, metadata merge rules, the token-bucket rate limit and its headers, and
// the `/__emulator/*` control routes.
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';

const ADMIN = { clientId: 'admin-m2m', clientSecret: 'admin-secret' };

let emu: Auth0Emulator;
let managementAudience: string;

// Wire bodies are whatever the emulator sent; the assertions are what check their shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function json(res: Response): Promise<any> {
  return res.json();
}

async function token(
  opts: { clientId?: string; clientSecret?: string; audience?: string; scope?: string; form?: boolean } = {},
): Promise<Response> {
  const params: Record<string, string> = {
    grant_type: 'client_credentials',
    client_id: opts.clientId ?? 'inviteflow-m2m',
    client_secret: opts.clientSecret ?? 'inviteflow-m2m-secret',
    audience: opts.audience ?? managementAudience,
    ...(opts.scope ? { scope: opts.scope } : {}),
  };
  return fetch(`${emu.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': opts.form ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: opts.form ? new URLSearchParams(params).toString() : JSON.stringify(params),
  });
}

async function accessToken(opts: Parameters<typeof token>[0] = {}): Promise<string> {
  const res = await token(opts);
  expect(res.status).toBe(200);
  return ((await json(res)) as { access_token: string }).access_token;
}

async function api(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<Response> {
  const bearer = opts.token ?? (await accessToken(ADMIN));
  return fetch(`${emu.url}/api/v2${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  });
}

beforeAll(async () => {
  emu = await startAuth0Emulator({
    clients: [
      {
        ...ADMIN,
        grants: [
          {
            audience: 'https://inviteflow-dev.auth0.local/api/v2/',
            scopes: [
              'create:users',
              'read:users',
              'update:users',
              'read:roles',
              'create:roles',
              'update:roles',
              'delete:roles',
              'create:role_members',
            ],
          },
        ],
      },
    ],
  });
  managementAudience = `https://${emu.domain}/api/v2/`;
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

describe('/oauth/token', () => {
  it('issues an RS256 access token that verifies against the published JWKS', async () => {
    const res = await token();
    const body = await json(res);

    expect(res.status).toBe(200);
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 86_400,
      scope: 'read:users update:users read:roles create:roles read:role_members create:role_members',
    });
    const jwks = (await json(await fetch(`${emu.url}/.well-known/jwks.json`))) as JSONWebKeySet;
    const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), {
      issuer: `https://${emu.domain}/`,
      audience: managementAudience,
    });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(protectedHeader.kid).toBe(jwks.keys[0]?.kid);
    expect(payload).toMatchObject({
      sub: 'inviteflow-m2m@clients',
      gty: 'client-credentials',
      azp: 'inviteflow-m2m',
      scope: body.scope,
    });
    expect(payload.exp! - payload.iat!).toBe(86_400);
  });

  it('accepts form bodies (what the SDK sends) and narrows requested scopes', async () => {
    const res = await token({ form: true, scope: 'read:users delete:users' });

    expect(res.status).toBe(200);
    expect((await json(res)).scope).toBe('read:users');
  });

  it('grants our own API the invite scopes', async () => {
    const res = await token({ audience: 'https://api.inviteflow.local' });

    expect(res.status).toBe(200);
    expect((await json(res)).scope).toBe('invites:create invites:read invites:write');
  });

  it('refuses a wrong secret, an unknown client and an ungranted audience like Auth0', async () => {
    const wrongSecret = await token({ clientSecret: 'nope' });
    const unknownClient = await token({ clientId: 'who' });
    const ungranted = await token({ ...ADMIN, audience: 'https://api.inviteflow.local' });

    expect(wrongSecret.status).toBe(401);
    expect(await json(wrongSecret)).toEqual({ error: 'access_denied', error_description: 'Unauthorized' });
    expect(unknownClient.status).toBe(401);
    expect(ungranted.status).toBe(403);
    expect((await json(ungranted)).error).toBe('access_denied');
  });

  it('publishes the discovery document', async () => {
    const doc = await json(await fetch(`${emu.url}/.well-known/openid-configuration`));

    expect(doc).toMatchObject({
      issuer: `https://${emu.domain}/`,
      jwks_uri: `${emu.url}/.well-known/jwks.json`,
      token_endpoint: `${emu.url}/oauth/token`,
    });
  });
});

describe('Management API', () => {
  it('answers 401 with Auth0’s error body without a token and with a token for another API', async () => {
    const missing = await fetch(`${emu.url}/api/v2/users/auth0|1`);
    const otherAudience = await api('GET', '/users/auth0|1', {
      token: await accessToken({ audience: 'https://api.inviteflow.local' }),
    });

    expect(missing.status).toBe(401);
    expect(await json(missing)).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'Missing authentication',
      errorCode: 'missing_authentication',
    });
    expect(missing.headers.get('x-ratelimit-limit')).toMatch(/^\d+$/);
    expect(otherAudience.status).toBe(401);
    expect((await json(otherAudience)).errorCode).toBe('invalid_token');
  });

  it('answers 403 when the token lacks the scope', async () => {
    const readOnly = await accessToken({ scope: 'read:users' });

    const res = await api('PATCH', '/users/auth0|1', { token: readOnly, body: { email_verified: true } });

    expect(res.status).toBe(403);
    expect((await json(res)).errorCode).toBe('insufficient_scope');
  });

  it('creates users with Auth0 ids, lower-case emails, 409 on a duplicate and 400 on a bad body', async () => {
    const created = await api('POST', '/users', {
      body: {
        connection: 'Username-Password-Authentication',
        email: 'Ada@Example.com',
        password: 'Pa55word!',
      },
    });
    const duplicate = await api('POST', '/users', {
      body: {
        connection: 'Username-Password-Authentication',
        email: 'ada@example.COM',
        password: 'Pa55word!',
      },
    });
    const noConnection = await api('POST', '/users', { body: { email: 'b@example.com', password: 'x' } });
    const extra = await api('POST', '/users', {
      body: {
        connection: 'Username-Password-Authentication',
        email: 'c@example.com',
        password: 'x',
        role: 'admin',
      },
    });

    expect(created.status).toBe(201);
    const user = await json(created);
    expect(user.user_id).toMatch(/^auth0\|[0-9a-f]{24}$/);
    expect(user.email).toBe('ada@example.com');
    expect(user).not.toHaveProperty('password');
    expect(duplicate.status).toBe(409);
    expect(await json(duplicate)).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: 'The user already exists.',
      errorCode: 'auth0_idp_error',
    });
    expect(noConnection.status).toBe(400);
    expect((await json(noConnection)).message).toContain('Missing required property: connection');
    expect(extra.status).toBe(400);
    expect((await json(extra)).message).toContain('Additional properties not allowed: role');
  });

  it('answers 404 inexistent_user for an unknown user', async () => {
    const res = await api('GET', '/users/auth0|000000000000000000000000');

    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'The user does not exist.',
      errorCode: 'inexistent_user',
    });
  });

  it('merges metadata at the top level: null removes a key, nested objects are replaced, {} clears', async () => {
    const { user_id: id } = emu.createUser({
      email: 'm@example.com',
      app_metadata: { keep: 1, drop: 2, nested: { a: 1, b: 2 } },
    });

    const patched = await json(
      await api('PATCH', `/users/${id}`, {
        body: { app_metadata: { drop: null, nested: { c: 3 }, added: true } },
      }),
    );
    expect(patched.app_metadata).toEqual({ keep: 1, nested: { c: 3 }, added: true });

    const cleared = await json(await api('PATCH', `/users/${id}`, { body: { app_metadata: {} } }));
    expect(cleared).not.toHaveProperty('app_metadata');
  });

  it('filters fields and finds users by email', async () => {
    const { user_id: id } = emu.createUser({ email: 'f@example.com', app_metadata: { x: 1 } });

    const only = await json(
      await api('GET', `/users/${encodeURIComponent(id)}?fields=app_metadata&include_fields=true`),
    );
    const byEmail = await json(await api('GET', '/users-by-email?email=f%40example.com'));
    const missingEmail = await api('GET', '/users-by-email');

    expect(only).toEqual({ app_metadata: { x: 1 } });
    expect((byEmail as { user_id: string }[]).map((u) => u.user_id)).toEqual([id]);
    expect(missingEmail.status).toBe(400);
  });

  it('creates and lists roles with include_totals and a case-insensitive name_filter', async () => {
    const created = await json(
      await api('POST', '/roles', { body: { name: 'Editor', description: 'Can edit' } }),
    );
    emu.createRole('viewer');

    const filtered = await json(
      await api('GET', '/roles?include_totals=true&per_page=50&page=0&name_filter=edit'),
    );
    const plain = await json(await api('GET', '/roles'));
    const unknown = await api('GET', '/roles/rol_doesnotexist0000');

    expect(created.id).toMatch(/^rol_[A-Za-z0-9]{16}$/);
    expect(filtered).toEqual({
      roles: [{ id: created.id, name: 'Editor', description: 'Can edit' }],
      start: 0,
      limit: 50,
      total: 1,
    });
    expect(plain).toHaveLength(2);
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).errorCode).toBe('inexistent_role');
  });

  it('adds permissions of an API to a role, refusing one the API does not define', async () => {
    emu.createResourceServer({
      identifier: 'https://inviteflow/api',
      scopes: [{ value: 'invites:read' }, { value: 'invites:create' }],
    });
    const role = emu.createRole('operator');
    const permission = {
      resource_server_identifier: 'https://inviteflow/api',
      permission_name: 'invites:read',
    };

    const added = await api('POST', `/roles/${role.id}/permissions`, { body: { permissions: [permission] } });
    const undefinedOne = await api('POST', `/roles/${role.id}/permissions`, {
      body: { permissions: [{ ...permission, permission_name: 'invites:delete' }] },
    });
    const listed = await json(await api('GET', `/roles/${role.id}/permissions`));

    expect(added.status).toBe(201);
    expect(undefinedOne.status).toBe(400);
    expect(listed).toEqual([
      { ...permission, resource_server_name: 'https://inviteflow/api', description: '' },
    ]);
  });

  it('assigns roles idempotently and refuses unknown roles', async () => {
    const { user_id: id } = emu.createUser({ email: 'r@example.com' });
    const role = emu.createRole('editor');

    const first = await api('POST', `/users/${id}/roles`, { body: { roles: [role.id] } });
    const again = await api('POST', `/users/${id}/roles`, { body: { roles: [role.id] } });
    const unknown = await api('POST', `/users/${id}/roles`, { body: { roles: ['rol_nope'] } });
    const empty = await api('POST', `/users/${id}/roles`, { body: { roles: [] } });
    const listed = await json(await api('GET', `/users/${id}/roles?include_totals=true`));

    expect(first.status).toBe(204);
    expect(again.status).toBe(204);
    expect(unknown.status).toBe(404);
    expect(empty.status).toBe(400);
    expect(listed).toEqual({
      roles: [{ id: role.id, name: 'editor', description: 'editor' }],
      start: 0,
      limit: 50,
      total: 1,
    });
  });

  it('deletes a role and takes it from every user who had it; 404 for an unknown one, 403 without the scope', async () => {
    const { user_id: id } = emu.createUser({ email: 'd@example.com' });
    const [keep, gone] = [emu.createRole('keep'), emu.createRole('gone')];
    await api('POST', `/users/${id}/roles`, { body: { roles: [keep.id, gone.id] } });

    const unscoped = await api('DELETE', `/roles/${gone.id}`, { token: await accessToken() });
    const deleted = await api('DELETE', `/roles/${gone.id}`);
    const again = await api('DELETE', `/roles/${gone.id}`);

    expect(unscoped.status).toBe(403);
    expect(deleted.status).toBe(200);
    expect(again.status).toBe(404);
    expect((await json(again)).errorCode).toBe('inexistent_role');
    const left = (await json(await api('GET', '/roles'))) as { name: string }[];
    expect(left.map((r) => r.name)).toEqual(['keep']);
    expect(emu.getUser(id)?.roles).toEqual(['keep']);
  });
});

describe('rate limit', () => {
  it('sends x-ratelimit headers on every response', async () => {
    const res = await api('GET', '/roles');

    expect(res.headers.get('x-ratelimit-limit')).toMatch(/^\d+$/);
    expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(
      Math.floor(Date.now() / 1000),
    );
  });

  it('a token bucket of 2 per second answers the third request at once with 429 and refills', async () => {
    const bearer = await accessToken(ADMIN);
    const now = (Math.floor(Date.now() / 1000) + 10) * 1000;
    vi.useFakeTimers({ toFake: ['Date'], now });
    emu.setRateLimit(2);

    const first = await api('GET', '/roles', { token: bearer });
    const second = await api('GET', '/roles', { token: bearer });
    const third = await api('GET', '/roles', { token: bearer });

    expect([first.status, second.status, third.status]).toEqual([200, 200, 429]);
    expect(second.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(await json(third)).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'Global limit has been reached',
      errorCode: 'too_many_requests',
    });
    expect(third.headers.get('x-ratelimit-limit')).toBe('2');
    expect(third.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(third.headers.get('x-ratelimit-reset')).toBe(String(now / 1000 + 1));

    vi.setSystemTime(now + 500);
    expect((await api('GET', '/roles', { token: bearer })).status).toBe(200);
    expect((await api('GET', '/roles', { token: bearer })).status).toBe(429);
  });

  it('can be switched on over HTTP', async () => {
    const bearer = await accessToken(ADMIN);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const set = await fetch(`${emu.url}/__emulator/rate-limit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ perSecond: 1 }),
    });

    expect(set.status).toBe(204);
    expect((await api('GET', '/roles', { token: bearer })).status).toBe(200);
    expect((await api('GET', '/roles', { token: bearer })).status).toBe(429);
  });
});

describe('/__emulator control routes', () => {
  it('injects a fault for the next N matching requests only', async () => {
    const bearer = await accessToken(ADMIN);
    const armed = await fetch(`${emu.url}/__emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ route: 'GET /api/v2/roles', status: 503, count: 2, retryAfterSeconds: 4 }),
    });

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await api('GET', '/roles', { token: bearer })).status);
    const other = await api('GET', '/users/auth0|x', { token: bearer });

    expect(armed.status).toBe(200);
    expect(statuses).toEqual([503, 503, 200]);
    expect(other.status).toBe(404);
  });

  it('a 429 fault carries Auth0’s body, rate-limit headers and Retry-After', async () => {
    const bearer = await accessToken(ADMIN);
    emu.injectFault({ status: 429, count: 1, retryAfterSeconds: 6 });

    const res = await api('GET', '/roles', { token: bearer });

    expect(res.status).toBe(429);
    expect((await json(res)).errorCode).toBe('too_many_requests');
    expect(res.headers.get('retry-after')).toBe('6');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
  });

  it('a fault with probability 0 never fires', async () => {
    const bearer = await accessToken(ADMIN);
    emu.injectFault({ status: 500, probability: 0 });

    for (let i = 0; i < 5; i++) expect((await api('GET', '/roles', { token: bearer })).status).toBe(200);
  });

  it('rejects a malformed fault rule', async () => {
    const res = await fetch(`${emu.url}/__emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 200 }),
    });

    expect(res.status).toBe(400);
  });

  it('reports state (users with roles, counts, faults) and resets it', async () => {
    const user = emu.createUser({ email: 's@example.com', app_metadata: { a: 1 } });
    const role = emu.createRole('editor');
    emu.assignRoles(user.user_id, [role.id]);
    await api('GET', `/users/${user.user_id}`);
    emu.injectFault({ route: 'nothing-matches', latencyMs: 10 });

    const state = await json(await fetch(`${emu.url}/__emulator/state`));

    expect(state.users).toEqual([
      expect.objectContaining({ user_id: user.user_id, roles: ['editor'], app_metadata: { a: 1 } }),
    ]);
    expect(state.roles).toEqual([role]);
    expect(state.counts['GET /api/v2/users/:id']).toBe(1);
    expect(state.faults.latencies).toEqual([{ route: 'nothing-matches', latencyMs: 10 }]);
    expect(JSON.stringify(state)).not.toContain('inviteflow-m2m-secret');

    expect((await fetch(`${emu.url}/__emulator/reset`, { method: 'POST' })).status).toBe(204);
    const after = emu.state();
    expect(after.users).toEqual([]);
    expect(after.counts).toEqual({});
    expect(after.faults.latencies).toEqual([]);
  });
});
