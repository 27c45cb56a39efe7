// The BUILT post-login Action (the very file Auth0 receives), loaded as a CommonJS module and run
// with Auth0-shaped `event`/`api` objects against a stub of our redemption endpoint: when it calls,
// what it sends and signs, which claims it sets, and how it refuses under each policy.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MockInstance } from 'vitest';
import { buildAction } from '../../actions/build';
import { ACTION_SECRET, postLoginEvent, recordingApi, startStubApi } from './fixtures';
import type { StubApi } from './fixtures';

type Handler = (event: unknown, api: unknown) => Promise<void>;

const NS = 'https://inviteflow.dev/';
const LINK = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJpbnYifQ.c2ln';

let dir: string;
let onExecutePostLogin: Handler;
let api: StubApi;
let consoleLog: MockInstance<typeof console.log>;

beforeAll(async () => {
  const { code } = await buildAction();
  dir = await mkdtemp(join(tmpdir(), 'inviteflow-action-'));
  const file = join(dir, 'post-login.cjs');
  await writeFile(file, code);
  const loaded = createRequire(import.meta.url)(file) as { onExecutePostLogin: Handler };
  onExecutePostLogin = loaded.onExecutePostLogin;
  api = await startStubApi();
});

afterEach(() => {
  consoleLog.mockRestore();
});

afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  // Auth0 keeps what an Action logs in its execution logs; here it is captured and checked.
  consoleLog = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  api.requests.length = 0;
  api.answer = () => ({ status: 500, body: { error: { code: 'internal', message: 'not configured' } } });
});

function secrets(extra: Record<string, string> = {}): Record<string, string> {
  return { INVITEFLOW_API_URL: api.url, INVITEFLOW_ACTION_SECRET: ACTION_SECRET, ...extra };
}

async function login(opts: Parameters<typeof postLoginEvent>[0] = {}) {
  const { api: auth0Api, calls } = recordingApi();
  await onExecutePostLogin(postLoginEvent(opts), auth0Api);
  return calls;
}

const redeemed = {
  inviteId: 'inv_7f3a',
  scope: 'workspace:acme',
  roles: ['member', 'billing'],
  claims: { leadId: 'lead-42', plan: 'pro' },
  redirect: 'https://app.example.com/welcome',
  repeat: false,
};

describe('without an invite', () => {
  it('does nothing on a login without the parameter (self-signup untouched)', async () => {
    const calls = await login({ query: { client_id: 'inviteflow-spa', state: 'xyz' }, secrets: secrets() });

    expect(api.requests).toHaveLength(0);
    expect(calls).toEqual({ idToken: {}, accessToken: {}, appMetadata: {}, userMetadata: {} });
  });

  it('does nothing on a refresh-token exchange, which has no query', async () => {
    const calls = await login({ query: {}, protocol: 'oauth2-refresh-token', secrets: secrets() });

    expect(api.requests).toHaveLength(0);
    expect(calls.idToken).toEqual({});
    expect(calls.denied).toBeUndefined();
  });

  it('does nothing even when its secrets are missing', async () => {
    const calls = await login({ query: { state: 'xyz' }, secrets: {} });

    expect(calls.idToken).toEqual({});
    expect(calls.denied).toBeUndefined();
  });
});

describe('claim by verified email (CLAIM_BY_EMAIL=true)', () => {
  const verified = { user_id: 'google-oauth2|1098', email: 'ada@example.com', email_verified: true };
  const google = { name: 'google-oauth2', strategy: 'google-oauth2' };

  it('asks the API on a login without a link and sets the claims of a claimed invite on both tokens', async () => {
    api.answer = () => ({ status: 200, body: { claimed: true, ...redeemed } });
    const calls = await login({ query: { client_id: 'inviteflow-spa' }, secrets: secrets({ CLAIM_BY_EMAIL: 'true' }), user: verified, connection: google });
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/claims',
      body: { user: { id: 'google-oauth2|1098', email: 'ada@example.com', email_verified: true, connection: 'google-oauth2' } },
    });
    const { payload } = await jwtVerify((api.requests[0]!.headers.authorization as string).slice(7), new TextEncoder().encode(ACTION_SECRET));
    expect(payload.sub).toBe('google-oauth2|1098');
    expect(calls.idToken[`${NS}roles`]).toEqual(['member', 'billing']);
    expect(calls.accessToken[`${NS}invite`]).toMatchObject({ id: 'inv_7f3a', scope: 'workspace:acme' });
    expect(calls.idToken[`${NS}data`]).toEqual({ leadId: 'lead-42', plan: 'pro' });
    expect(consoleLog.mock.calls.flat().join('\n')).not.toContain('ada@example.com');
  });

  it('leaves the login untouched when nothing is claimed, the API fails, or it is too slow', async () => {
    for (const answer of [{ status: 200, body: { claimed: false, reason: 'no_claimable_invite' } }, { status: 500, body: {} }, 'hang' as const]) {
      api.answer = () => answer;
      const calls = await login({
        query: {},
        secrets: secrets({ CLAIM_BY_EMAIL: 'true', REDEMPTION_TIMEOUT_MS: '200' }),
        user: verified,
        connection: google,
      });
      expect(calls).toEqual({ idToken: {}, accessToken: {}, appMetadata: {}, userMetadata: {} });
    }
  });

  it('never asks for an unverified address, on a refresh-token exchange, or when it is off (the default)', async () => {
    api.answer = () => ({ status: 200, body: { claimed: true, ...redeemed } });
    await login({ query: {}, secrets: secrets({ CLAIM_BY_EMAIL: 'true' }), user: { ...verified, email_verified: false } });
    await login({ query: {}, secrets: secrets({ CLAIM_BY_EMAIL: 'true' }), user: verified, connection: google, protocol: 'oauth2-refresh-token' });
    await login({ query: {}, secrets: secrets(), user: verified, connection: google });
    await login({ query: {}, secrets: secrets({ CLAIM_BY_EMAIL: 'yes' }), user: verified, connection: google });
    expect(api.requests).toHaveLength(0);
  });
});

describe('a redeemed invite', () => {
  it('posts the token and the account, then sets roles, invite and data on both tokens', async () => {
    api.answer = () => ({ status: 200, body: redeemed });

    const calls = await login({
      query: { client_id: 'inviteflow-spa', invite: LINK },
      secrets: secrets(),
      user: {
        user_id: 'google-oauth2|109876543210987654321',
        email: 'ada@example.com',
        email_verified: true,
      },
      connection: { name: 'google-oauth2', strategy: 'google-oauth2' },
    });

    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/v1/redemptions');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.body).toEqual({
      token: LINK,
      user: {
        id: 'google-oauth2|109876543210987654321',
        email: 'ada@example.com',
        email_verified: true,
        connection: 'google-oauth2',
      },
    });
    const expected = {
      [`${NS}roles`]: ['member', 'billing'],
      [`${NS}invite`]: {
        id: 'inv_7f3a',
        scope: 'workspace:acme',
        redirect: 'https://app.example.com/welcome',
      },
      [`${NS}data`]: { leadId: 'lead-42', plan: 'pro' },
    };
    expect(calls.idToken).toEqual(expected);
    expect(calls.accessToken).toEqual(expected);
    expect(calls.denied).toBeUndefined();
    const logged = consoleLog.mock.calls.flat().join('\n');
    expect(logged).toContain('inv_7f3a');
    expect(logged).not.toContain(LINK);
    expect(logged).not.toContain('ada@example.com');
  });

  it('signs each call with a fresh short-lived HS256 JWT that verifies with the shared secret', async () => {
    api.answer = () => ({ status: 200, body: { ...redeemed, repeat: true } });

    await login({ query: { invite: LINK }, secrets: secrets() });
    await login({ query: { invite: LINK }, secrets: secrets() });

    const tokens = api.requests.map((r) => String(r.headers.authorization).replace(/^Bearer /, ''));
    expect(tokens).toHaveLength(2);
    const payloads = [];
    for (const token of tokens) {
      expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
      const { payload } = await jwtVerify(token, new TextEncoder().encode(ACTION_SECRET), {
        issuer: 'inviteflow-action',
        audience: 'inviteflow-redemptions',
        algorithms: ['HS256'],
      });
      expect(payload.exp! - payload.iat!).toBe(60);
      expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
      expect(payload.sub).toBe('auth0|65f0c0ffee00000000000001');
      payloads.push(payload);
    }
    expect(payloads[0]?.jti).not.toBe(payloads[1]?.jti);
    await expect(
      jwtVerify(tokens[0]!, new TextEncoder().encode(`${ACTION_SECRET}-other`), { algorithms: ['HS256'] }),
    ).rejects.toThrow();
  });

  it('sets the attribution claim on both tokens when the answer carries it, and not otherwise', async () => {
    api.answer = () => ({ status: 200, body: { ...redeemed, attribution: { utm_source: 'newsletter', utm_campaign: 'spring-26' } } });
    const calls = await login({ query: { invite: LINK }, secrets: secrets() });
    expect(calls.idToken[`${NS}attribution`]).toEqual({ utm_source: 'newsletter', utm_campaign: 'spring-26' });
    expect(calls.accessToken[`${NS}attribution`]).toEqual({ utm_source: 'newsletter', utm_campaign: 'spring-26' });
    api.answer = () => ({ status: 200, body: redeemed });
    const without = await login({ query: { invite: LINK }, secrets: secrets() });
    expect(without.idToken).not.toHaveProperty(`${NS}attribution`);
  });

  it('honours INVITE_PARAM and CLAIM_NAMESPACE, and accepts `data` as the name of our data', async () => {
    const { claims, ...rest } = redeemed;
    api.answer = () => ({ status: 200, body: { ...rest, data: claims } });

    const calls = await login({
      query: { inv: LINK },
      secrets: secrets({ INVITE_PARAM: 'inv', CLAIM_NAMESPACE: 'https://claims.example.com/' }),
    });

    expect(api.requests).toHaveLength(1);
    expect(calls.idToken['https://claims.example.com/data']).toEqual({ leadId: 'lead-42', plan: 'pro' });
    expect(calls.accessToken['https://claims.example.com/roles']).toEqual(['member', 'billing']);
  });
});

const refusals = [
  { status: 410, code: 'invite_expired' },
  { status: 410, code: 'invite_revoked' },
  { status: 409, code: 'invite_already_used' },
  { status: 404, code: 'invite_not_found' },
  { status: 400, code: 'invite_invalid' },
  { status: 429, code: 'rate_limited' },
];

describe.each(refusals)('a refusal $code ($status)', ({ status, code }) => {
  it('under `continue` lets the login through with invite_error on the ID token', async () => {
    api.answer = () => ({ status, body: { error: { code, message: 'refused' } } });

    const calls = await login({ query: { invite: LINK }, secrets: secrets() });

    expect(calls.denied).toBeUndefined();
    expect(calls.idToken).toEqual({ [`${NS}invite_error`]: code });
    expect(calls.accessToken).toEqual({});
  });

  it('under `deny` denies the login with the code', async () => {
    api.answer = () => ({ status, body: { error: { code, message: 'refused' } } });

    const calls = await login({ query: { invite: LINK }, secrets: secrets({ ON_REFUSAL: 'deny' }) });

    expect(calls.denied).toBe(code);
    expect(calls.idToken).toEqual({});
  });
});

describe('an email mismatch', () => {
  it('passes the login hint on, so the app can name the account to use', async () => {
    api.answer = () => ({
      status: 403,
      body: {
        error: { code: 'invite_email_mismatch', message: 'other account', details: { login_hint: 'ada@example.com' } },
      },
    });

    const calls = await login({
      query: { invite: LINK },
      secrets: secrets(),
      user: { email: 'other@example.com' },
    });

    expect(calls.idToken).toEqual({
      [`${NS}invite_error`]: 'invite_email_mismatch',
      [`${NS}invite_login_hint`]: 'ada@example.com',
    });
  });
});

describe('an unavailable API', () => {
  const cases: { name: string; answer: StubApi['answer']; extra?: Record<string, string> }[] = [
    {
      name: '5xx',
      answer: () => ({ status: 503, body: { error: { code: 'unavailable', message: 'down' } } }),
    },
    { name: 'a 200 that is not a redemption', answer: () => ({ status: 200, body: { ok: true } }) },
    { name: 'a 4xx without our error body', answer: () => ({ status: 404, raw: '<html>Not Found</html>' }) },
    { name: 'a timeout', answer: () => 'hang', extra: { REDEMPTION_TIMEOUT_MS: '200' } },
  ];

  it.each(cases)('reports invite_unavailable on $name (continue)', async ({ answer, extra }) => {
    api.answer = answer;

    const calls = await login({ query: { invite: LINK }, secrets: secrets(extra) });

    expect(api.requests).toHaveLength(1);
    expect(calls.idToken).toEqual({ [`${NS}invite_error`]: 'invite_unavailable' });
    expect(calls.denied).toBeUndefined();
  });

  it('denies with invite_unavailable on a timeout under `deny`', async () => {
    api.answer = () => 'hang';

    const calls = await login({
      query: { invite: LINK },
      secrets: secrets({ ON_REFUSAL: 'deny', REDEMPTION_TIMEOUT_MS: '200' }),
    });

    expect(calls.denied).toBe('invite_unavailable');
  });

  it('reports invite_unavailable when nothing listens', async () => {
    const closed = await startStubApi();
    const url = closed.url;
    await closed.close();

    const calls = await login({ query: { invite: LINK }, secrets: secrets({ INVITEFLOW_API_URL: url }) });

    expect(calls.idToken).toEqual({ [`${NS}invite_error`]: 'invite_unavailable' });
  });
});

describe('missing or malformed secrets with an invite', () => {
  const cases: { name: string; secrets: Record<string, string> }[] = [
    { name: 'no secrets at all', secrets: {} },
    { name: 'no API URL', secrets: { INVITEFLOW_ACTION_SECRET: ACTION_SECRET } },
    {
      name: 'a short signing secret',
      secrets: { INVITEFLOW_API_URL: 'http://127.0.0.1:9', INVITEFLOW_ACTION_SECRET: 'short' },
    },
    {
      name: 'an unknown refusal policy',
      secrets: {
        INVITEFLOW_API_URL: 'http://127.0.0.1:9',
        INVITEFLOW_ACTION_SECRET: ACTION_SECRET,
        ON_REFUSAL: 'allow',
      },
    },
  ];

  it.each(cases)(
    'follow the refusal policy with `misconfigured` and call nothing ($name)',
    async ({ secrets: s }) => {
      const calls = await login({ query: { invite: LINK }, secrets: s });

      expect(api.requests).toHaveLength(0);
      expect(calls.idToken).toEqual({ [`${NS}invite_error`]: 'misconfigured' });
      expect(calls.denied).toBeUndefined();
    },
  );

  it('deny the login with `misconfigured` under `deny`', async () => {
    const calls = await login({ query: { invite: LINK }, secrets: { ON_REFUSAL: 'deny' } });

    expect(calls.denied).toBe('misconfigured');
  });
});
