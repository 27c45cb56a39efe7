// The BUILT post-login Action (the very file Auth0 receives), loaded as a CommonJS module and run
// with Auth0-shaped `event`/`api` objects against the real API, in-process and listening on a port
// as Auth0 would reach it, on a Temporal dev server running the real invite workflow: which claims
// each outcome puts into the tokens, how a refusal follows the policy, and that a login never
// hangs when the API cannot answer. The last block runs it inside the emulated Universal Login.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTPayload } from 'jose';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MockInstance } from 'vitest';
import { buildAction } from '../../../actions/build';
import type { API, Event } from '../../../actions/post-login';
import { CLAIMS, claimName } from '../../../lib/action-contract';
import { createLinkSigner, generateLinkKey } from '../../../lib/token';
import { expectNoSecretsInLogs, json, startHarness, uniqueEmail } from '../../support/api-harness';
import { WAIT } from '../../support/wait';
import type { Harness } from '../../support/api-harness';
import { postLoginEvent, recordingApi } from '../../actions/fixtures';

type Handler = (event: Event, api: API) => Promise<void>;

const NS = 'https://inviteflow.dev/';
const claim = (name: (typeof CLAIMS)[keyof typeof CLAIMS], ns = NS) => claimName(ns, name);

let h: Harness;
let dir: string;
let code: string;
let onExecutePostLogin: Handler;
/** The real API, listening like the one Auth0 calls. */
let api: FastifyInstance;
let apiUrl: string;
/** `METHOD path` of every request the listening API received. */
const received: string[] = [];
let consoleLog: MockInstance<typeof console.log>;

async function listen(app: FastifyInstance): Promise<string> {
  app.addHook('onRequest', (request, _reply, done) => {
    received.push(`${request.method} ${request.url}`);
    done();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  ({ code } = await buildAction());
  dir = await mkdtemp(join(tmpdir(), 'inviteflow-action-'));
  const file = join(dir, 'post-login.cjs');
  await writeFile(file, code);
  onExecutePostLogin = (createRequire(import.meta.url)(file) as { onExecutePostLogin: Handler }).onExecutePostLogin;
  h = await startHarness();
  api = await h.buildApp();
  apiUrl = await listen(api);
});

afterAll(async () => {
  await h?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  // Auth0 keeps what an Action logs in its execution logs; here it is captured and checked.
  consoleLog = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  received.length = 0;
});

afterEach(() => {
  // Nothing the Action logs may identify the person or carry a secret.
  const logged = consoleLog.mock.calls.flat().join('\n');
  for (const secret of h.secrets) expect(logged).not.toContain(secret);
  expect(logged).not.toMatch(/@example\.com/);
  consoleLog.mockRestore();
});

function secrets(extra: Record<string, string> = {}): Record<string, string> {
  return { INVITEFLOW_API_URL: apiUrl, INVITEFLOW_ACTION_SECRET: h.config.ACTION_SECRET, ...extra };
}

async function login(opts: Parameters<typeof postLoginEvent>[0] = {}) {
  const { api: auth0Api, calls } = recordingApi();
  await onExecutePostLogin(postLoginEvent(opts), auth0Api);
  return calls;
}

/** Creates an invite through the API; answers its id, email and the link of its first email. */
async function invite(body: Record<string, unknown> = {}) {
  const email = (body.email as string | undefined) ?? uniqueEmail();
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/invites',
    headers: { authorization: `Bearer ${await h.bearer()}` },
    payload: { email, roles: ['member', 'billing'], data: { leadId: 'L-7', plan: 'pro' }, ...body },
  });
  expect(res.statusCode).toBe(201);
  const id = json(res).id as string;
  const [sent] = await h.emails(id);
  // The contact is upserted beside the first email; once it is known a redemption answers it.
  await h.until(id, (s) => s.contactId !== undefined);
  return { id, email, token: await h.linkOf(sent!), sent: sent! };
}

const userId = (kind = 'auth0') => `${kind}|${randomBytes(6).toString('hex')}`;
const google = { name: 'google-oauth2', strategy: 'google-oauth2' };
const redemptions = () => received.filter((r) => r === 'POST /v1/redemptions');

describe('without an invite', () => {
  it('does nothing on a login without the parameter, on a refresh-token exchange, or without secrets', async () => {
    const plain = await login({ query: { client_id: 'inviteflow-spa', state: 'xyz' }, secrets: secrets() });
    const refresh = await login({ query: {}, protocol: 'oauth2-refresh-token', secrets: secrets() });
    const unconfigured = await login({ query: { state: 'xyz' }, secrets: {} });

    for (const calls of [plain, refresh, unconfigured])
      expect(calls).toEqual({ idToken: {}, accessToken: {}, appMetadata: {}, userMetadata: {} });
    expect(received).toEqual([]);
  });
});

describe('a redeemed invite', () => {
  it('puts the roles the account already holds beside the invite\'s, and on a later login without an invite those alone', async () => {
    const { token, email } = await invite({ roles: ['member'] });
    const user = { user_id: userId(), email, email_verified: true };
    const redeemed = await login({ query: { invite: token }, secrets: secrets(), user, roles: ['admin'] });
    expect(redeemed.idToken[claim(CLAIMS.roles)]).toEqual(['admin', 'member']);
    expect(redeemed.accessToken[claim(CLAIMS.roles)]).toEqual(['admin', 'member']);
    const later = await login({ query: { state: 'xyz' }, secrets: secrets(), user, roles: ['admin', 'member'] });
    expect(later).toEqual({
      idToken: { [claim(CLAIMS.roles)]: ['admin', 'member'] },
      accessToken: { [claim(CLAIMS.roles)]: ['admin', 'member'] },
      appMetadata: {},
      userMetadata: {},
    });
    expect(received.filter((r) => r === 'POST /v1/claims')).toEqual([]);
  });

  it('under the account policy link, continues the login as the older account the new one was linked into', async () => {
    const email = uniqueEmail('linked');
    const google = userId('google-oauth2');
    h.fake.setAccounts([
      { userId: 'auth0|older', email, emailVerified: true, createdAt: '2025-01-01T00:00:00.000Z', identities: ['auth0|older'] },
      { userId: google, email, emailVerified: true, createdAt: '2026-12-01T00:00:00.000Z', identities: [google] },
    ]);
    const { token } = await invite({ email, accountPolicy: 'link' });
    const calls = await login({ query: { invite: token }, secrets: secrets(), user: { user_id: google, email, email_verified: true }, connection: { name: 'google-oauth2', strategy: 'google-oauth2' } });
    expect(calls.primaryUser).toBe('auth0|older');
    expect(calls.idToken[claim(CLAIMS.roles)]).toEqual(['member', 'billing']);
  });

  it('sets roles, invite and data on the ID and access tokens, and the invite is redeemed by this account', async () => {
    const { id, email, token } = await invite({ scope: 'workspace:acme', redirect: 'https://app.test/welcome' });
    const user = { user_id: userId('google-oauth2'), email, email_verified: true };

    const calls = await login({ query: { client_id: 'inviteflow-spa', invite: token }, secrets: secrets(), user, connection: google });

    const expected = {
      [claim(CLAIMS.roles)]: ['member', 'billing'],
      [claim(CLAIMS.invite)]: { id, scope: 'workspace:acme', redirect: 'https://app.test/welcome' },
      [claim(CLAIMS.data)]: { leadId: 'L-7', plan: 'pro' },
      [claim(CLAIMS.contactId)]: '101',
    };
    expect(calls.idToken).toEqual(expected);
    expect(calls.accessToken).toEqual(expected);
    expect(calls.denied).toBeUndefined();
    expect(redemptions()).toHaveLength(1);
    const done = await h.until(id, (s) => s.state === 'completed');
    expect(done.redeemer).toMatchObject({ userId: user.user_id, connection: 'google-oauth2' });
    expect(consoleLog.mock.calls.flat().join('\n')).toContain(`invite ${id} redeemed`);
  });

  it('gives the same account the same claims on a repeat, while the invite is open and once it closed, granting once', async () => {
    const { id, email, token } = await invite();
    const user = { user_id: userId(), email };
    const first = await login({ query: { invite: token }, secrets: secrets(), user });
    const again = await login({ query: { invite: token }, secrets: secrets(), user });
    await h.until(id, (s) => s.state === 'completed');
    await expect.poll(async () => (await h.env.client.workflow.getHandle(`invite-${id}`).describe()).status.name, WAIT).toBe('COMPLETED');
    const closed = await login({ query: { invite: token }, secrets: secrets(), user });

    expect(first.idToken[claim(CLAIMS.roles)]).toEqual(['member', 'billing']);
    for (const calls of [again, closed]) {
      expect(calls.idToken).toEqual(first.idToken);
      expect(calls.accessToken).toEqual(first.accessToken);
    }
    expect(h.fake.calls.roles.filter((r) => r.userId === user.user_id)).toHaveLength(1);
    expect(consoleLog.mock.calls.flat().filter((l) => String(l).includes('already redeemed by this account'))).toHaveLength(2);
  });

  it('accepts a fresh, still unverified sign-up with the invited address', async () => {
    const { id, email, token } = await invite();
    const calls = await login({ query: { invite: token }, secrets: secrets(), user: { user_id: userId(), email: email.toUpperCase(), email_verified: false } });

    expect(calls.idToken[claim(CLAIMS.invite)]).toMatchObject({ id });
    expect(calls.idToken).not.toHaveProperty(claim(CLAIMS.inviteError));
  });

  it('sets the attribution on both tokens only when the invite asked for it', async () => {
    const attribution = { utm_source: 'newsletter', utm_campaign: 'spring-26' };
    const asked = await invite({ attribution, attributionInClaims: true });
    const quiet = await invite({ attribution });

    const withIt = await login({ query: { invite: asked.token }, secrets: secrets(), user: { user_id: userId(), email: asked.email } });
    const without = await login({ query: { invite: quiet.token }, secrets: secrets(), user: { user_id: userId(), email: quiet.email } });

    expect(withIt.idToken[claim(CLAIMS.attribution)]).toEqual(attribution);
    expect(withIt.accessToken[claim(CLAIMS.attribution)]).toEqual(attribution);
    expect(without.idToken[claim(CLAIMS.roles)]).toEqual(['member', 'billing']);
    expect(without.idToken).not.toHaveProperty(claim(CLAIMS.attribution));
    expect(without.accessToken).not.toHaveProperty(claim(CLAIMS.attribution));
  });

  it('honours INVITE_PARAM and CLAIM_NAMESPACE', async () => {
    const { email, token } = await invite();
    const ns = 'https://claims.example.com/';

    const calls = await login({ query: { inv: token }, secrets: secrets({ INVITE_PARAM: 'inv', CLAIM_NAMESPACE: ns }), user: { user_id: userId(), email } });

    expect(calls.idToken[claim(CLAIMS.data, ns)]).toEqual({ leadId: 'L-7', plan: 'pro' });
    expect(calls.accessToken[claim(CLAIMS.roles, ns)]).toEqual(['member', 'billing']);
  });

  it('redeems a forwardable invite for an account whose identity provider gave no email', async () => {
    const { id, token } = await invite({ emailPolicy: 'any' });
    const calls = await login({ query: { invite: token }, secrets: secrets(), user: { user_id: userId('sms'), email: undefined } });

    expect(calls.idToken[claim(CLAIMS.invite)]).toMatchObject({ id });
  });
});

describe('an email mismatch', () => {
  it('names the invited address in invite_login_hint, keeps the invite redeemable, and the right account then redeems', async () => {
    const { id, email, token } = await invite();

    const wrong = await login({ query: { invite: token }, secrets: secrets(), user: { user_id: userId('google-oauth2'), email: uniqueEmail('personal'), email_verified: true }, connection: google });

    expect(wrong.idToken).toEqual({ [claim(CLAIMS.inviteError)]: 'invite_email_mismatch', [claim(CLAIMS.inviteLoginHint)]: email });
    expect(wrong.accessToken).toEqual({});
    expect(wrong.denied).toBeUndefined();
    expect((await h.status(id)).state).toBe('pending');

    const right = await login({ query: { invite: token }, secrets: secrets(), user: { user_id: userId(), email } });
    expect(right.idToken[claim(CLAIMS.invite)]).toMatchObject({ id });
  });

  it('names the invited address to an account without an email too', async () => {
    const { email, token } = await invite();
    const calls = await login({ query: { invite: token }, secrets: secrets(), user: { user_id: userId('sms'), email: undefined } });

    expect(calls.idToken).toEqual({ [claim(CLAIMS.inviteError)]: 'invite_email_mismatch', [claim(CLAIMS.inviteLoginHint)]: email });
  });
});

describe('refusals under ON_REFUSAL=continue (the default)', () => {
  /** Logs in with `token` and expects the login to go on with only `code` on the ID token. */
  async function refusedWith(token: string, code: string, user = { user_id: userId(), email: uniqueEmail() }) {
    const calls = await login({ query: { invite: token }, secrets: secrets(), user });
    expect(calls.denied).toBeUndefined();
    expect(calls.idToken).toEqual({ [claim(CLAIMS.inviteError)]: code });
    expect(calls.accessToken).toEqual({});
  }

  it('invite_expired for a link past its expiry', async () => {
    const { email, sent } = await invite();
    const expired = await h.signer.mint({ inviteId: sent.inviteId, jti: sent.jti, expiresAt: new Date(Date.now() - 3_600_000) });
    h.secrets.add(expired);
    await refusedWith(expired, 'invite_expired', { user_id: userId(), email });
  });

  it('invite_revoked once an operator revoked the invite', async () => {
    const { id, email, token } = await invite();
    const revoke = await h.app.inject({ method: 'POST', url: `/v1/invites/${id}/revoke`, headers: { authorization: `Bearer ${await h.bearer()}` }, payload: {} });
    expect(revoke.statusCode).toBe(200);
    await refusedWith(token, 'invite_revoked', { user_id: userId(), email });
  });

  it('invite_already_used for another account once the invite was redeemed', async () => {
    const { email, token } = await invite({ emailPolicy: 'any' });
    const first = await login({ query: { invite: token }, secrets: secrets(), user: { user_id: userId(), email } });
    expect(first.idToken[claim(CLAIMS.roles)]).toEqual(['member', 'billing']);
    await refusedWith(token, 'invite_already_used');
  });

  it('invite_invalid, invite_unknown_link and invite_not_found for links that are not, or no longer, an invite', async () => {
    const { id, email, token, sent } = await invite();
    const user = { user_id: userId(), email };
    const stranger = await generateLinkKey('stranger');
    const forged = await createLinkSigner({ signingKey: stranger.privateJwk, issuer: h.config.PUBLIC_BASE_URL, audience: h.config.LINK_AUDIENCE }).mint({
      inviteId: id,
      jti: sent.jti,
      expiresAt: new Date(sent.expiresAt),
    });
    const unknownLink = await h.signer.mint({ inviteId: id, jti: 'never-issued', expiresAt: new Date(sent.expiresAt) });
    const unknownInvite = await h.signer.mint({ inviteId: 'z'.repeat(26), jti: sent.jti, expiresAt: new Date(sent.expiresAt) });
    for (const t of [forged, unknownLink, unknownInvite]) h.secrets.add(t);

    await refusedWith('not-a-link', 'invite_invalid', user);
    await refusedWith(forged, 'invite_invalid', user);
    await refusedWith(`${token.slice(0, -4)}AAAA`, 'invite_invalid', user);
    await refusedWith(unknownLink, 'invite_unknown_link', user);
    await refusedWith(unknownInvite, 'invite_not_found', user);
    expect(redemptions()).toHaveLength(5);

    // Far longer than any link: refused without calling the API.
    await refusedWith('x'.repeat(5000), 'invite_invalid', user);
    expect(redemptions()).toHaveLength(5);
    expect((await h.status(id)).state).toBe('pending');
  });

  it('rate_limited when the link was tried too often', async () => {
    const limited = await h.buildApp({ rateLimits: { redeemPerToken: { max: 1, windowMs: 60_000 } } });
    const limitedUrl = await listen(limited);
    const { email, token } = await invite();
    const stranger = { user_id: userId(), email: uniqueEmail('stranger') };
    const first = await login({ query: { invite: token }, secrets: secrets({ INVITEFLOW_API_URL: limitedUrl }), user: stranger });
    expect(first.idToken[claim(CLAIMS.inviteError)]).toBe('invite_email_mismatch');

    const second = await login({ query: { invite: token }, secrets: secrets({ INVITEFLOW_API_URL: limitedUrl }), user: { user_id: userId(), email } });
    expect(second.idToken).toEqual({ [claim(CLAIMS.inviteError)]: 'rate_limited' });
  });
});

describe('ON_REFUSAL=deny', () => {
  it('denies the login with the code (and no hint, no claims) on a mismatch and on a revoked invite', async () => {
    const { email, token } = await invite();
    const mismatch = await login({ query: { invite: token }, secrets: secrets({ ON_REFUSAL: 'deny' }), user: { user_id: userId(), email: uniqueEmail('other') } });
    expect(mismatch.denied).toBe('invite_email_mismatch');
    expect(mismatch.idToken).toEqual({});
    expect(mismatch.accessToken).toEqual({});

    const revoked = await invite();
    await h.app.inject({ method: 'POST', url: `/v1/invites/${revoked.id}/revoke`, headers: { authorization: `Bearer ${await h.bearer()}` }, payload: {} });
    const denied = await login({ query: { invite: revoked.token }, secrets: secrets({ ON_REFUSAL: 'deny' }), user: { user_id: userId(), email: revoked.email } });
    expect(denied.denied).toBe('invite_revoked');

    // The policy only decides refusals: the rightful account still gets in with its grants.
    const right = await login({ query: { invite: token }, secrets: secrets({ ON_REFUSAL: 'deny' }), user: { user_id: userId(), email } });
    expect(right.denied).toBeUndefined();
    expect(right.idToken[claim(CLAIMS.roles)]).toEqual(['member', 'billing']);
  });
});

describe('claim by verified email (CLAIM_BY_EMAIL=true)', () => {
  /** Visibility is eventually consistent: wait until the invite can be found by its email. */
  async function visible(id: string) {
    await expect.poll(async () => (await h.env.client.workflow.count(`WorkflowId = 'invite-${id}' AND InviteStatus = 'pending'`)).count, WAIT).toBeGreaterThan(0);
  }
  const claims = () => received.filter((r) => r === 'POST /v1/claims');

  it('claims an opted-in invite on a verified login without a link and sets its claims on both tokens', async () => {
    const { id, email } = await invite({ scope: 'workspace:claim', claimByVerifiedEmail: true });
    await visible(id);
    const user = { user_id: userId('google-oauth2'), email, email_verified: true };

    const calls = await login({ query: { client_id: 'inviteflow-spa' }, secrets: secrets({ CLAIM_BY_EMAIL: 'true' }), user, connection: google });

    expect(calls.idToken[claim(CLAIMS.roles)]).toEqual(['member', 'billing']);
    expect(calls.accessToken[claim(CLAIMS.invite)]).toEqual({ id, scope: 'workspace:claim' });
    expect(calls.idToken[claim(CLAIMS.data)]).toEqual({ leadId: 'L-7', plan: 'pro' });
    const done = await h.until(id, (s) => s.state === 'completed');
    expect(done).toMatchObject({ redeemedVia: 'verified-email', redeemer: { userId: user.user_id } });
  });

  it('leaves the login untouched when the API finds nothing to claim: another address, an invite not opted in, one already used', async () => {
    const notOptedIn = await invite();
    const used = await invite({ claimByVerifiedEmail: true, emailPolicy: 'any' });
    await visible(notOptedIn.id);
    await visible(used.id);
    const first = await login({ query: { invite: used.token }, secrets: secrets(), user: { user_id: userId(), email: uniqueEmail('forwarded') } });
    expect(first.idToken[claim(CLAIMS.roles)]).toBeDefined();

    for (const email of [uniqueEmail('nobody'), notOptedIn.email, used.email]) {
      const calls = await login({ query: {}, secrets: secrets({ CLAIM_BY_EMAIL: 'true' }), user: { user_id: userId('google-oauth2'), email, email_verified: true }, connection: google });
      expect(calls).toEqual({ idToken: {}, accessToken: {}, appMetadata: {}, userMetadata: {} });
    }
    expect(claims()).toHaveLength(3);
    expect((await h.status(notOptedIn.id)).state).toBe('pending');
  });

  it('never asks for an unverified address, on a refresh-token exchange, or when it is off (the default)', async () => {
    const { id, email } = await invite({ claimByVerifiedEmail: true });
    await visible(id);
    const verified = { user_id: userId('google-oauth2'), email, email_verified: true };

    await login({ query: {}, secrets: secrets({ CLAIM_BY_EMAIL: 'true' }), user: { ...verified, email_verified: false } });
    await login({ query: {}, secrets: secrets({ CLAIM_BY_EMAIL: 'true' }), user: verified, connection: google, protocol: 'oauth2-refresh-token' });
    await login({ query: {}, secrets: secrets(), user: verified, connection: google });
    await login({ query: {}, secrets: secrets({ CLAIM_BY_EMAIL: 'yes' }), user: verified, connection: google });

    expect(claims()).toEqual([]);
    expect((await h.status(id)).state).toBe('pending');
  });

  it('leaves the login untouched when the API cannot be reached', async () => {
    const closed = await closedPort();
    const calls = await login({
      query: {},
      secrets: secrets({ CLAIM_BY_EMAIL: 'true', INVITEFLOW_API_URL: closed }),
      user: { user_id: userId('google-oauth2'), email: uniqueEmail(), email_verified: true },
      connection: google,
    });
    expect(calls).toEqual({ idToken: {}, accessToken: {}, appMetadata: {}, userMetadata: {} });
  });
});

describe('missing or malformed secrets with an invite', () => {
  const cases: { name: string; secrets: () => Record<string, string> }[] = [
    { name: 'no secrets at all', secrets: () => ({}) },
    { name: 'no API URL', secrets: () => ({ INVITEFLOW_ACTION_SECRET: h.config.ACTION_SECRET }) },
    { name: 'a short signing secret', secrets: () => secrets({ INVITEFLOW_ACTION_SECRET: 'short' }) },
    { name: 'an unknown refusal policy', secrets: () => secrets({ ON_REFUSAL: 'allow' }) },
  ];

  it.each(cases)('follow the refusal policy with `misconfigured` and call nothing ($name)', async ({ secrets: s }) => {
    const { email, token } = await invite();
    const calls = await login({ query: { invite: token }, secrets: s(), user: { user_id: userId(), email } });

    expect(received).toEqual([]);
    expect(calls.idToken).toEqual({ [claim(CLAIMS.inviteError)]: 'misconfigured' });
    expect(calls.denied).toBeUndefined();
  });

  it('report `misconfigured` when the API does not take the Action’s signature (the secrets differ)', async () => {
    const { id, email, token } = await invite();
    const calls = await login({ query: { invite: token }, secrets: secrets({ INVITEFLOW_ACTION_SECRET: 'another-secret-of-at-least-32-characters!!' }), user: { user_id: userId(), email } });

    expect(redemptions()).toHaveLength(1);
    expect(calls.idToken).toEqual({ [claim(CLAIMS.inviteError)]: 'misconfigured' });
    expect((await h.status(id)).state).toBe('pending');
  });

  it('deny the login with `misconfigured` under `deny`', async () => {
    const calls = await login({ query: { invite: 'a.b.c' }, secrets: { ON_REFUSAL: 'deny' } });
    expect(calls.denied).toBe('misconfigured');
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A server that accepts connections and never answers (a stuck network path, not our API). */
async function silentServer(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer(() => undefined);
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the API unreachable or not answering in time', () => {
  it('reports invite_unavailable when nothing listens, and the invite stays redeemable', async () => {
    const { id, email, token } = await invite();
    const calls = await login({ query: { invite: token }, secrets: secrets({ INVITEFLOW_API_URL: await closedPort() }), user: { user_id: userId(), email } });

    expect(calls.idToken).toEqual({ [claim(CLAIMS.inviteError)]: 'invite_unavailable' });
    expect(calls.denied).toBeUndefined();
    expect((await h.status(id)).state).toBe('pending');
  });

  it('gives up after REDEMPTION_TIMEOUT_MS on a connection that never answers: invite_unavailable, or denied under `deny`', async () => {
    const silent = await silentServer();
    try {
      const { email, token } = await invite();
      const user = { user_id: userId(), email };
      const calls = await login({ query: { invite: token }, secrets: secrets({ INVITEFLOW_API_URL: silent.url, REDEMPTION_TIMEOUT_MS: '200' }), user });
      expect(calls.idToken).toEqual({ [claim(CLAIMS.inviteError)]: 'invite_unavailable' });
      const tried = silent.connections();
      expect(tried).toBeGreaterThan(0);

      const denied = await login({ query: { invite: token }, secrets: secrets({ INVITEFLOW_API_URL: silent.url, REDEMPTION_TIMEOUT_MS: '200', ON_REFUSAL: 'deny' }), user });
      expect(denied.denied).toBe('invite_unavailable');
      expect(silent.connections()).toBeGreaterThan(tried);

      // Once the API answers again, the same link redeems.
      const later = await login({ query: { invite: token }, secrets: secrets(), user });
      expect(later.idToken[claim(CLAIMS.roles)]).toEqual(['member', 'billing']);
    } finally {
      await silent.close();
    }
  });

  it('reports invite_unavailable when a proxy in front of the API answers with its own error page', async () => {
    // A load balancer's 502, not an answer of ours: the Action must not mistake it for a refusal.
    const proxy = createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>502 Bad Gateway</body></html>');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { email, token } = await invite();
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const calls = await login({ query: { invite: token }, secrets: secrets({ INVITEFLOW_API_URL: url }), user: { user_id: userId(), email } });
      expect(calls.idToken).toEqual({ [claim(CLAIMS.inviteError)]: 'invite_unavailable' });
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});

describe('inside the emulated Universal Login', () => {
  const CALLBACK = 'http://localhost:3000/callback';

  /** A browser without a page: a cookie jar and manual redirects, stopping at the app's callback. */
  async function signIn(query: Record<string, string>, email: string, password: string): Promise<JWTPayload> {
    const jar = new Map<string, string>();
    const request = async (url: URL, form?: Record<string, string>) => {
      const res = await fetch(url, {
        method: form ? 'POST' : 'GET',
        redirect: 'manual',
        headers: {
          ...(jar.size > 0 ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(form ? { body: new URLSearchParams(form).toString() } : {}),
      });
      for (const cookie of res.headers.getSetCookie()) {
        const pair = cookie.split(';')[0] ?? '';
        jar.set(pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1).trim());
      }
      return res;
    };
    const go = async (start: URL, form?: Record<string, string>): Promise<{ html: string; callback?: URL }> => {
      let current = start;
      let res = await request(current, form);
      while (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location') ?? '', current);
        if (next.origin !== new URL(h.auth0.url).origin) return { html: '', callback: next };
        current = next;
        res = await request(current);
      }
      return { html: await res.text() };
    };

    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL('/authorize', h.auth0.url);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: h.auth0.spaClientId,
      redirect_uri: CALLBACK,
      scope: 'openid profile email',
      state: randomBytes(8).toString('hex'),
      nonce: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...query,
    }).toString();
    const page = await go(authorize);
    const state = /name="state" value="([^"]*)"/.exec(page.html)?.[1];
    expect(state).toBeTruthy();
    const done = await go(new URL('/u/login', h.auth0.url), { state: state!, username: email, password });
    const authCode = done.callback?.searchParams.get('code');
    expect(authCode, done.callback?.href ?? done.html).toBeTruthy();

    const res = await fetch(`${h.auth0.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(CALLBACK).origin },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: h.auth0.spaClientId, code: authCode!, code_verifier: verifier, redirect_uri: CALLBACK }).toString(),
    });
    expect(res.status).toBe(200);
    const { id_token: idToken } = (await res.json()) as { id_token: string };
    const jwks = createLocalJWKSet((await (await fetch(`${h.auth0.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet);
    return (await jwtVerify(idToken, jwks, { issuer: h.auth0.issuer, audience: h.auth0.spaClientId })).payload;
  }

  it('puts the roles and data into the first ID token, and the invited address into it after a refusal', async () => {
    h.auth0.installAction({ name: 'inviteflow-redeem-invite', code, secrets: secrets() });
    const { id, email, token } = await invite();
    const other = uniqueEmail('other');
    h.auth0.createUser({ email: other, password: 'correct horse battery' });
    h.auth0.createUser({ email, password: 'correct horse battery' });

    const refused = await signIn({ invite: token }, other, 'correct horse battery');
    expect(refused[claim(CLAIMS.inviteError)]).toBe('invite_email_mismatch');
    expect(refused[claim(CLAIMS.inviteLoginHint)]).toBe(email);
    expect(refused).not.toHaveProperty(claim(CLAIMS.roles));

    const redeemed = await signIn({ invite: token, login_hint: email, prompt: 'login' }, email, 'correct horse battery');
    expect(redeemed[claim(CLAIMS.roles)]).toEqual(['member', 'billing']);
    expect(redeemed[claim(CLAIMS.invite)]).toEqual({ id, scope: 'default' });
    expect(redeemed[claim(CLAIMS.data)]).toEqual({ leadId: 'L-7', plan: 'pro' });
    expect(redeemed).not.toHaveProperty(claim(CLAIMS.inviteError));
  });
});

describe('logs', () => {
  it('the API logged no token', () => {
    expectNoSecretsInLogs(h);
  });
});
