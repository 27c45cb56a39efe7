// The Auth0 activities driven through the real `auth0` ManagementClient (built by services/auth0.ts)
// against the Auth0 emulator: idempotence, metadata merging, and how every kind of failure
// reaches Temporal (retryable or not, and after how long).
import { createServer } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAuth0Activities } from '../../activities/auth0';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { createManagementClient } from '../../services/auth0';
import { InviteErrorType } from '../../workflows/errors';

const CLIENT_ID = 'inviteflow-m2m';
const CLIENT_SECRET = 'inviteflow-m2m-secret';

let emu: Auth0Emulator;
let activities: ReturnType<typeof createAuth0Activities>;

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(ApplicationFailure);
    return e as ApplicationFailure;
  }
  throw new Error('expected the activity to fail');
}

// Everything a failure carries to Temporal (and to its UI) must be free of credentials.
function expectNoSecrets(failure: ApplicationFailure, secrets: string[] = [CLIENT_SECRET]): void {
  const text = `${failure.message}\n${JSON.stringify(failure.details)}\n${failure.stack ?? ''}`;
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/Bearer\s/i);
  expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
}

function userWith(appMetadata?: Record<string, unknown>, emailVerified = false): string {
  return emu.createUser({
    email: `u${Math.random().toString(36).slice(2)}@example.com`,
    email_verified: emailVerified,
    ...(appMetadata ? { app_metadata: appMetadata } : {}),
  }).user_id;
}

beforeAll(async () => {
  emu = await startAuth0Emulator();
  const management = createManagementClient({
    domain: emu.domain,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    endpoint: emu.url,
  });
  activities = createAuth0Activities({ management });
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

describe('assignAuth0Roles', () => {
  it('resolves names to ids, assigns them, and a repeat assigns nothing twice', async () => {
    const editor = emu.createRole('editor');
    const viewer = emu.createRole('viewer');
    const userId = userWith();

    const first = await activities.assignAuth0Roles({ userId, roles: ['editor', 'viewer'] });
    const second = await activities.assignAuth0Roles({ userId, roles: ['editor', 'viewer'] });

    expect(first).toEqual({ roleIds: [editor.id, viewer.id], missing: [] });
    expect(second).toEqual(first);
    expect(emu.getUser(userId)?.roles).toEqual(['editor', 'viewer']);
    expect(emu.counts['POST /api/v2/users/:id/roles']).toBe(2);
  });

  it('picks the exact name although name_filter also matches longer names', async () => {
    emu.createRole('editor-admin');
    const editor = emu.createRole('editor');
    const userId = userWith();

    const { roleIds } = await activities.assignAuth0Roles({ userId, roles: ['editor'] });

    expect(roleIds).toEqual([editor.id]);
    expect(emu.getUser(userId)?.roles).toEqual(['editor']);
  });

  it('makes no call at all for an empty role list', async () => {
    const userId = userWith();

    await expect(activities.assignAuth0Roles({ userId, roles: [] })).resolves.toEqual({ roleIds: [], missing: [] });

    expect(Object.keys(emu.counts).filter((k) => k.includes('/api/v2/'))).toEqual([]);
  });

  it('assigns the roles that exist and reports a role deleted in Auth0 as missing, without failing', async () => {
    const editor = emu.createRole('editor');
    const auditor = emu.createRole('auditor');
    const userId = userWith();
    // Checked when the invite was created; deleted by an administrator before the redemption.
    emu.deleteRole(auditor.id);

    const result = await activities.assignAuth0Roles({ userId, roles: ['editor', 'auditor'] });

    expect(result).toEqual({ roleIds: [editor.id], missing: ['auditor'] });
    expect(emu.getUser(userId)?.roles).toEqual(['editor']);
  });

  it('assigns nothing, and makes no assignment call, when every role is gone', async () => {
    const userId = userWith();

    await expect(activities.assignAuth0Roles({ userId, roles: ['ghost'] })).resolves.toEqual({ roleIds: [], missing: ['ghost'] });

    expect(emu.counts['POST /api/v2/users/:id/roles']).toBeUndefined();
    expect(emu.getUser(userId)?.roles).toEqual([]);
  });

  it('fails permanently when the user does not exist', async () => {
    emu.createRole('editor');

    const failure = await failureOf(
      activities.assignAuth0Roles({ userId: 'auth0|000000000000000000000000', roles: ['editor'] }),
    );

    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('404');
    expect(failure.details).toEqual([{ service: 'auth0', status: 404, code: 'inexistent_user' }]);
    expectNoSecrets(failure);
  });
});

describe('writeAuth0AppMetadata', () => {
  const input = (userId: string, scope: string, inviteId = 'inv_1') => ({
    userId,
    inviteId,
    scope,
    roles: ['editor'],
    data: { plan: 'team', seats: 3 },
    redeemedAt: '2026-01-02T03:04:05.000Z',
  });

  it('merges under inviteflow[scope], keeping other keys and other scopes', async () => {
    const userId = userWith({
      billing: { customer: 'cus_1' },
      inviteflow: { 'ws-other': { inviteId: 'inv_0' } },
    });

    await activities.writeAuth0AppMetadata(input(userId, 'ws-1'));

    expect(emu.getUser(userId)?.app_metadata).toEqual({
      billing: { customer: 'cus_1' },
      inviteflow: {
        'ws-other': { inviteId: 'inv_0' },
        'ws-1': {
          inviteId: 'inv_1',
          roles: ['editor'],
          data: { plan: 'team', seats: 3 },
          redeemedAt: '2026-01-02T03:04:05.000Z',
        },
      },
    });
  });

  it('works for a user without any app_metadata', async () => {
    const userId = userWith();

    await activities.writeAuth0AppMetadata(input(userId, 'ws-1'));

    expect(emu.getUser(userId)?.app_metadata).toEqual({
      inviteflow: {
        'ws-1': {
          inviteId: 'inv_1',
          roles: ['editor'],
          data: { plan: 'team', seats: 3 },
          redeemedAt: '2026-01-02T03:04:05.000Z',
        },
      },
    });
  });

  it('is idempotent: a repeat leaves the same metadata and writes nothing', async () => {
    const userId = userWith({ billing: 'keep' });

    await activities.writeAuth0AppMetadata(input(userId, 'ws-1'));
    const after = emu.getUser(userId)?.app_metadata;
    await activities.writeAuth0AppMetadata(input(userId, 'ws-1'));

    expect(emu.getUser(userId)?.app_metadata).toEqual(after);
    expect(emu.counts['PATCH /api/v2/users/:id']).toBe(1);
  });

  it('replaces the record of the same scope when another invite is redeemed', async () => {
    const userId = userWith();

    await activities.writeAuth0AppMetadata(input(userId, 'ws-1', 'inv_1'));
    await activities.writeAuth0AppMetadata(input(userId, 'ws-2', 'inv_2'));
    await activities.writeAuth0AppMetadata(input(userId, 'ws-1', 'inv_3'));

    const ours = emu.getUser(userId)?.app_metadata?.inviteflow as Record<string, { inviteId: string }>;
    expect(Object.keys(ours).sort()).toEqual(['ws-1', 'ws-2']);
    expect(ours['ws-1']?.inviteId).toBe('inv_3');
    expect(ours['ws-2']?.inviteId).toBe('inv_2');
  });

  it('fails permanently for an unknown user', async () => {
    const failure = await failureOf(
      activities.writeAuth0AppMetadata(input('auth0|ffffffffffffffffffffffff', 'ws-1')),
    );

    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/^auth0 404 inexistent_user: The user does not exist\.$/);
  });
});

describe('markAuth0EmailVerified', () => {
  it('sets email_verified, and a repeat does not write again', async () => {
    const userId = userWith();

    await activities.markAuth0EmailVerified({ userId });
    await activities.markAuth0EmailVerified({ userId });

    expect(emu.getUser(userId)?.email_verified).toBe(true);
    expect(emu.counts['PATCH /api/v2/users/:id']).toBe(1);
  });

  it('does not write for an already verified user', async () => {
    const userId = userWith(undefined, true);

    await activities.markAuth0EmailVerified({ userId });

    expect(emu.counts['PATCH /api/v2/users/:id']).toBeUndefined();
  });

  it('fails permanently for an unknown user', async () => {
    const failure = await failureOf(
      activities.markAuth0EmailVerified({ userId: 'auth0|ffffffffffffffffffffffff' }),
    );

    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
  });
});

describe('failures reaching Temporal', () => {
  it('a 429 with Retry-After is retryable after exactly that wait, and the SDK does not retry by itself', async () => {
    const userId = userWith();
    emu.injectFault({ route: 'GET /api/v2/users/:id', status: 429, count: 1, retryAfterSeconds: 7 });

    const failure = await failureOf(activities.markAuth0EmailVerified({ userId }));

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(7_000);
    expect(failure.message).toBe('auth0 429 too_many_requests: Global limit has been reached');
    expect(emu.counts['GET /api/v2/users/:id']).toBe(1);
    expectNoSecrets(failure);

    await activities.markAuth0EmailVerified({ userId });
    expect(emu.getUser(userId)?.email_verified).toBe(true);
    expect(emu.counts['GET /api/v2/users/:id']).toBe(2);
  });

  it('a 429 from the token bucket waits until x-ratelimit-reset', async () => {
    // A frozen clock makes the bucket's reset time, and so the delay, exact.
    const now = (Math.floor(Date.now() / 1000) + 5) * 1000;
    vi.useFakeTimers({ toFake: ['Date'], now });
    const userId = userWith();
    // One request per 4 s, bucket of one: the GET passes, the PATCH right after it is refused.
    emu.setRateLimit(0.25, 1);

    const failure = await failureOf(activities.markAuth0EmailVerified({ userId }));

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nextRetryDelay).toBe(4_000);
    expect(emu.counts['GET /api/v2/users/:id']).toBe(1);
    expect(emu.counts['PATCH /api/v2/users/:id']).toBe(1);
    expect(emu.getUser(userId)?.email_verified).toBe(false);
  });

  it.each([500, 503])('a %i is retryable and tried once', async (status) => {
    const userId = userWith();
    emu.injectFault({ route: 'PATCH /api/v2/users/:id', status, count: 1 });

    const failure = await failureOf(activities.markAuth0EmailVerified({ userId }));

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    // The rate-limit headers on a 5xx still show requests left, so they are no reason to wait.
    expect(failure.nextRetryDelay).toBeUndefined();
    expect(failure.message).toContain(`auth0 ${status}`);
    expect(emu.counts['PATCH /api/v2/users/:id']).toBe(1);
    expectNoSecrets(failure);
  });

  it('a 503 with Retry-After carries that wait', async () => {
    const userId = userWith();
    emu.injectFault({ route: 'users/:id', status: 503, count: 1, retryAfterSeconds: 30 });

    const failure = await failureOf(activities.markAuth0EmailVerified({ userId }));

    expect(failure.nextRetryDelay).toBe(30_000);
  });

  it('a refused token request fails permanently without echoing the secret', async () => {
    const wrongSecret = 'not-the-secret-4f9a1c';
    const management = createManagementClient({
      domain: emu.domain,
      clientId: CLIENT_ID,
      clientSecret: wrongSecret,
      endpoint: emu.url,
    });
    const failure = await failureOf(
      createAuth0Activities({ management }).markAuth0EmailVerified({ userId: userWith() }),
    );

    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe('auth0 401 access_denied: Unauthorized');
    expectNoSecrets(failure, [wrongSecret, CLIENT_SECRET]);
  });

  it('a token endpoint outage is retryable', async () => {
    emu.injectFault({ route: 'POST /oauth/token', status: 503, count: 1 });
    const management = createManagementClient({
      domain: emu.domain,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      endpoint: emu.url,
    });

    const failure = await failureOf(
      createAuth0Activities({ management }).markAuth0EmailVerified({ userId: userWith() }),
    );

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(emu.counts['POST /oauth/token']).toBe(1);
  });

  it('an unreachable service is a retryable network failure', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const management = createManagementClient({
      domain: emu.domain,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      endpoint: `http://127.0.0.1:${port}`,
    });

    const failure = await failureOf(
      createAuth0Activities({ management }).markAuth0EmailVerified({ userId: 'auth0|x' }),
    );

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe('auth0 unreachable (ECONNREFUSED)');
    expectNoSecrets(failure);
  });

  it('a response slower than the client timeout is a retryable timeout', async () => {
    const userId = userWith();
    const management = createManagementClient({
      domain: emu.domain,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      endpoint: emu.url,
      timeoutSeconds: 1,
    });
    emu.injectFault({ route: 'GET /api/v2/users/:id', latencyMs: 3_000, count: 1 });

    const failure = await failureOf(createAuth0Activities({ management }).markAuth0EmailVerified({ userId }));

    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.message).toBe('auth0 request timed out');
  });
});
