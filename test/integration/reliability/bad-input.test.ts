/**
 * The abuse corpus: bad requests to every route of the API, each answered with its 4xx and its
 * stable error code, and none changing anything. After the whole table ran, no workflow was
 * started, the open invite is exactly as it was, and no side effect (email, Auth0, HubSpot) and
 * no mutating request to the Auth0 emulator happened.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { InjectOptions } from 'fastify';
import { createLinkSigner, generateLinkKey } from '../../../lib/token';
import { json, startHarness, uniqueEmail } from '../../support/api-harness';
import { WAIT } from '../../support/wait';
import type { Harness } from '../../support/api-harness';
import { inviteWorkflowId } from '../../../workflows/messages';
import type { InviteStatus } from '../../../workflows/messages';

let h: Harness;
let invite: { id: string; email: string; token: string };
const tokens: Record<string, string> = {};

/** One bad request and what it must get; `page` routes answer HTML, so only the status counts. */
interface Case {
  name: string;
  request: () => InjectOptions;
  status: number;
  code?: string;
}

const UNKNOWN_ID = 'a'.repeat(26);
const user = (email: string) => ({ id: 'auth0|abuse', email, email_verified: true, connection: 'Username-Password-Authentication' });

function create(body: unknown, auth = 'all'): () => InjectOptions {
  return () => ({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${tokens[auth]}` }, payload: body as Record<string, unknown> });
}
const valid = () => ({ email: uniqueEmail('bad'), roles: ['member'], data: { plan: 'pro' } });
const redeem = (payload: () => unknown, auth: string) => () =>
  ({ method: 'POST', url: '/v1/redemptions', headers: { authorization: `Bearer ${tokens[auth]}` }, payload: payload() as Record<string, unknown> }) as InjectOptions;

const cases: Case[] = [
  // POST /v1/invites: the body
  { name: 'malformed JSON', request: () => ({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${tokens.all}`, 'content-type': 'application/json' }, payload: '{"email":' }), status: 400, code: 'invalid_request' },
  { name: 'empty JSON body', request: () => ({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${tokens.all}`, 'content-type': 'application/json' }, payload: '' }), status: 400, code: 'invalid_request' },
  { name: 'text/plain body', request: () => ({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${tokens.all}`, 'content-type': 'text/plain' }, payload: 'email=a@b.c' }), status: 415, code: 'unsupported_media_type' },
  { name: 'form body', request: () => ({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${tokens.all}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'email=a@b.c' }), status: 415, code: 'unsupported_media_type' },
  { name: 'huge body', request: create({ ...valid(), data: { blob: 'x'.repeat(64 * 1024) } }), status: 413, code: 'payload_too_large' },
  { name: 'JSON array body', request: create([valid()]), status: 400, code: 'invalid_request' },
  { name: 'missing email', request: create({ roles: ['member'], data: {} }), status: 400, code: 'invalid_request' },
  { name: 'email without @', request: create({ ...valid(), email: 'not-an-email' }), status: 400, code: 'invalid_request' },
  { name: 'email with a space inside', request: create({ ...valid(), email: 'ada lovelace@example.com' }), status: 400, code: 'invalid_request' },
  { name: 'email with a control character', request: create({ ...valid(), email: 'ada\u0000@example.com' }), status: 400, code: 'invalid_request' },
  { name: 'email with a header injection', request: create({ ...valid(), email: 'ada@example.com\r\nBcc: x@evil.test' }), status: 400, code: 'invalid_request' },
  { name: 'email as a number', request: create({ ...valid(), email: 42 }), status: 400, code: 'invalid_request' },
  { name: 'email of 400 characters', request: create({ ...valid(), email: `${'a'.repeat(390)}@example.com` }), status: 400, code: 'invalid_request' },
  { name: 'roles as a string', request: create({ ...valid(), roles: 'admin' }), status: 400, code: 'invalid_request' },
  { name: 'role name with a newline', request: create({ ...valid(), roles: ['bad\nrole'] }), status: 400, code: 'invalid_request' },
  { name: '51 roles', request: create({ ...valid(), roles: Array.from({ length: 51 }, (_, i) => `r${i}`) }), status: 400, code: 'invalid_request' },
  { name: 'data as an array', request: create({ ...valid(), data: [1, 2] }), status: 400, code: 'invalid_request' },
  { name: 'data over 8 kB', request: create({ ...valid(), data: { blob: 'x'.repeat(9000) } }), status: 400, code: 'invalid_request' },
  { name: 'ttl that is no duration', request: create({ ...valid(), ttl: 'forever' }), status: 400, code: 'invalid_request' },
  { name: 'ttl over 30 days', request: create({ ...valid(), ttl: '31 days' }), status: 400, code: 'invalid_request' },
  { name: 'negative ttl', request: create({ ...valid(), ttl: -5 }), status: 400, code: 'invalid_request' },
  { name: 'bad locale', request: create({ ...valid(), locale: 'english!!' }), status: 400, code: 'invalid_request' },
  { name: 'javascript: redirect', request: create({ ...valid(), redirect: 'javascript:alert(1)' }), status: 400, code: 'invalid_request' },
  { name: 'unknown email policy', request: create({ ...valid(), emailPolicy: 'everyone' }), status: 400, code: 'invalid_request' },
  { name: 'unknown field', request: create({ ...valid(), isAdmin: true }), status: 400, code: 'invalid_request' },
  { name: 'scope with spaces and capitals', request: create({ ...valid(), scope: 'Workspace Acme' }), status: 400, code: 'invalid_request' },
  // POST /v1/invites: who asks
  { name: 'no bearer token', request: () => ({ method: 'POST', url: '/v1/invites', payload: valid() }), status: 401, code: 'unauthorized' },
  { name: 'Basic credentials', request: () => ({ method: 'POST', url: '/v1/invites', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' }, payload: valid() }), status: 401, code: 'unauthorized' },
  { name: 'forged bearer token', request: create(valid(), 'forged'), status: 401, code: 'unauthorized' },
  { name: 'bearer token for another audience', request: create(valid(), 'otherAudience'), status: 401, code: 'unauthorized' },
  { name: 'bearer token without invites:create', request: create(valid(), 'read'), status: 403, code: 'insufficient_scope' },
  // GET /v1/invites/:id and the list
  { name: 'malformed invite id', request: () => ({ method: 'GET', url: '/v1/invites/NOT-AN-ID', headers: { authorization: `Bearer ${tokens.all}` } }), status: 400, code: 'invalid_request' },
  { name: 'unknown invite id', request: () => ({ method: 'GET', url: `/v1/invites/${UNKNOWN_ID}`, headers: { authorization: `Bearer ${tokens.all}` } }), status: 404, code: 'invite_not_found' },
  { name: 'read without invites:read', request: () => ({ method: 'GET', url: `/v1/invites/${invite.id}`, headers: { authorization: `Bearer ${tokens.create}` } }), status: 403, code: 'insufficient_scope' },
  { name: 'list with an unknown status', request: () => ({ method: 'GET', url: '/v1/invites?status=bogus', headers: { authorization: `Bearer ${tokens.all}` } }), status: 400, code: 'invalid_request' },
  { name: 'list with pageSize 0', request: () => ({ method: 'GET', url: '/v1/invites?pageSize=0', headers: { authorization: `Bearer ${tokens.all}` } }), status: 400, code: 'invalid_request' },
  { name: 'list with pageSize 1000', request: () => ({ method: 'GET', url: '/v1/invites?pageSize=1000', headers: { authorization: `Bearer ${tokens.all}` } }), status: 400, code: 'invalid_request' },
  { name: 'list with an unknown filter', request: () => ({ method: 'GET', url: '/v1/invites?owner=me', headers: { authorization: `Bearer ${tokens.all}` } }), status: 400, code: 'invalid_request' },
  { name: 'list with a forged page token', request: () => ({ method: 'GET', url: "/v1/invites?pageToken=%27%20OR%201%3D1", headers: { authorization: `Bearer ${tokens.all}` } }), status: 400, code: 'invalid_request' },
  { name: 'list with a query-injection scope', request: () => ({ method: 'GET', url: "/v1/invites?scope=a'%20OR%20InviteStatus%3D'x", headers: { authorization: `Bearer ${tokens.all}` } }), status: 400, code: 'invalid_request' },
  // revoke, resend, extend
  { name: 'revoke with read scope only', request: () => ({ method: 'POST', url: `/v1/invites/${invite.id}/revoke`, headers: { authorization: `Bearer ${tokens.read}` }, payload: {} }), status: 403, code: 'insufficient_scope' },
  { name: 'revoke an unknown invite', request: () => ({ method: 'POST', url: `/v1/invites/${UNKNOWN_ID}/revoke`, headers: { authorization: `Bearer ${tokens.all}` }, payload: {} }), status: 404, code: 'invite_not_found' },
  { name: 'revoke with a reason as a number', request: () => ({ method: 'POST', url: `/v1/invites/${invite.id}/revoke`, headers: { authorization: `Bearer ${tokens.all}` }, payload: { reason: 7 } }), status: 400, code: 'invalid_request' },
  { name: 'resend too soon', request: () => ({ method: 'POST', url: `/v1/invites/${invite.id}/resend`, headers: { authorization: `Bearer ${tokens.all}` } }), status: 429, code: 'resend_rate_limited' },
  { name: 'resend without a token', request: () => ({ method: 'POST', url: `/v1/invites/${invite.id}/resend` }), status: 401, code: 'unauthorized' },
  { name: 'extend with no ttl', request: () => ({ method: 'POST', url: `/v1/invites/${invite.id}/extend`, headers: { authorization: `Bearer ${tokens.all}` }, payload: {} }), status: 400, code: 'invalid_request' },
  { name: 'extend with a ttl that is no duration', request: () => ({ method: 'POST', url: `/v1/invites/${invite.id}/extend`, headers: { authorization: `Bearer ${tokens.all}` }, payload: { ttl: 'soonish' } }), status: 400, code: 'invalid_request' },
  { name: 'extend by 1 second', request: () => ({ method: 'POST', url: `/v1/invites/${invite.id}/extend`, headers: { authorization: `Bearer ${tokens.all}` }, payload: { ttl: '1 second' } }), status: 400, code: 'invalid_request' },
  { name: 'extend by 90 days', request: () => ({ method: 'POST', url: `/v1/invites/${invite.id}/extend`, headers: { authorization: `Bearer ${tokens.all}` }, payload: { ttl: '90 days' } }), status: 400, code: 'invalid_request' },
  // POST /v1/redemptions: the Action's token
  { name: 'redemption without an Action token', request: () => ({ method: 'POST', url: '/v1/redemptions', payload: { token: invite.token, user: user(invite.email) } }), status: 401, code: 'unauthorized' },
  { name: 'Action token signed with another secret', request: redeem(() => ({ token: invite.token, user: user(invite.email) }), 'actionWrongSecret'), status: 401, code: 'unauthorized' },
  { name: 'expired Action token', request: redeem(() => ({ token: invite.token, user: user(invite.email) }), 'actionExpired'), status: 401, code: 'unauthorized' },
  { name: 'replayed Action token', request: redeem(() => ({ token: invite.token, user: user(invite.email) }), 'actionUsed'), status: 401, code: 'unauthorized' },
  { name: 'Action token from another issuer', request: redeem(() => ({ token: invite.token, user: user(invite.email) }), 'actionWrongIssuer'), status: 401, code: 'unauthorized' },
  { name: 'bearer access token instead of an Action token', request: redeem(() => ({ token: invite.token, user: user(invite.email) }), 'all'), status: 401, code: 'unauthorized' },
  // POST /v1/redemptions: the link token and the user
  { name: 'garbage link token', request: redeem(() => ({ token: 'not.a.token', user: user(invite.email) }), 'action2'), status: 400, code: 'invite_invalid' },
  { name: 'link signed by a key we do not trust', request: redeem(() => ({ token: tokens.foreignLink, user: user(invite.email) }), 'action3'), status: 400, code: 'invite_invalid' },
  { name: 'expired link', request: redeem(() => ({ token: tokens.expiredLink, user: user(invite.email) }), 'action4'), status: 410, code: 'invite_expired' },
  { name: 'link id never issued by the invite', request: redeem(() => ({ token: tokens.unknownLink, user: user(invite.email) }), 'action5'), status: 404, code: 'invite_unknown_link' },
  { name: 'link to an invite that does not exist', request: redeem(() => ({ token: tokens.noInviteLink, user: user(invite.email) }), 'action6'), status: 404, code: 'invite_not_found' },
  { name: 'another account under same-email', request: redeem(() => ({ token: invite.token, user: user('mallory@example.com') }), 'action7'), status: 403, code: 'invite_email_mismatch' },
  { name: 'redemption without the user', request: redeem(() => ({ token: invite.token }), 'action8'), status: 400, code: 'invalid_request' },
  { name: 'email_verified as a string', request: redeem(() => ({ token: invite.token, user: { ...user(invite.email), email_verified: 'true' } }), 'action9'), status: 400, code: 'invalid_request' },
  { name: 'link token of 5000 characters', request: redeem(() => ({ token: 'a'.repeat(5000), user: user(invite.email) }), 'action10'), status: 400, code: 'invalid_request' },
  // the link pages (HTML, so only the status)
  { name: 'landing page of a forged link', request: () => ({ method: 'GET', url: `/i/${tokens.foreignLink}` }), status: 404 },
  { name: 'decline of a forged link', request: () => ({ method: 'POST', url: `/i/${tokens.foreignLink}/decline` }), status: 400 },
  { name: 'landing page of garbage', request: () => ({ method: 'GET', url: '/i/%00%00' }), status: 404 },
  // routes that do not exist
  { name: 'DELETE an invite', request: () => ({ method: 'DELETE', url: `/v1/invites/${invite.id}`, headers: { authorization: `Bearer ${tokens.all}` } }), status: 404, code: 'not_found' },
];

interface Snapshot {
  status: InviteStatus;
  workflows: string[];
  effects: Record<string, number>;
  auth0Writes: Record<string, number>;
}

async function snapshot(): Promise<Snapshot> {
  const workflows: string[] = [];
  for await (const wf of h.env.client.workflow.list()) workflows.push(wf.workflowId);
  const calls = h.fake.calls;
  return {
    status: await h.status(invite.id),
    workflows: workflows.sort(),
    effects: { emails: calls.emails.length, roles: calls.roles.length, metadata: calls.metadata.length, verified: calls.verified.length, hubspot: calls.hubspot.length },
    // Reads (JWKS, token endpoint) are allowed; anything that could change the tenant is not.
    auth0Writes: Object.fromEntries(Object.entries(h.auth0.counts).filter(([route]) => !route.startsWith('GET ') && route !== 'POST /oauth/token')),
  };
}

let before: Snapshot;
/** The cases sent since `before` was taken. */
const sent = new Set<string>();

/** Sends one case of the corpus and notes it. */
async function send(c: Case) {
  sent.add(c.name);
  return h.app.inject(c.request());
}

beforeAll(async () => {
  h = await startHarness();
  [tokens.all, tokens.read, tokens.create, tokens.otherAudience] = await Promise.all([
    h.bearer(),
    h.bearer('invites:read'),
    h.bearer('invites:create'),
    h.bearer(undefined, 'https://other.example/api'),
  ]);
  const email = uniqueEmail('target');
  const res = await h.app.inject({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${tokens.all}` }, payload: { email, roles: ['member'], data: { plan: 'pro' } } });
  expect(res.statusCode).toBe(201);
  const id = json(res).id as string;
  const [sent] = await h.emails(id);
  invite = { id, email, token: await h.linkOf(sent!) };

  tokens.forged = `${tokens.all.split('.').slice(0, 2).join('.')}.${randomBytes(64).toString('base64url')}`;
  const now = Math.floor(Date.now() / 1000);
  tokens.actionWrongSecret = await h.actionToken({ secret: randomBytes(32).toString('base64url') });
  tokens.actionExpired = await h.actionToken({ iat: now - 600, lifetimeSeconds: 60 });
  tokens.actionWrongIssuer = await h.actionToken({ claims: { iss: 'someone-else' } });
  for (let i = 2; i <= 10; i++) tokens[`action${i}`] = await h.actionToken();
  // Spend one Action token on a refused redemption; it must not work a second time.
  tokens.actionUsed = await h.actionToken();
  const first = await h.app.inject({ method: 'POST', url: '/v1/redemptions', headers: { authorization: `Bearer ${tokens.actionUsed}` }, payload: { token: invite.token, user: user('first.use@example.com') } });
  expect(json(first).error.code).toBe('invite_email_mismatch');

  const foreign = await generateLinkKey('foreign');
  const foreignSigner = createLinkSigner({ signingKey: foreign.privateJwk, issuer: h.config.PUBLIC_BASE_URL, audience: h.config.LINK_AUDIENCE });
  tokens.foreignLink = await foreignSigner.mint({ inviteId: invite.id, jti: sent!.jti, expiresAt: new Date(Date.now() + 3_600_000) });
  tokens.expiredLink = await h.signer.mint({ inviteId: invite.id, jti: sent!.jti, expiresAt: new Date(Date.now() - 3_600_000) });
  tokens.unknownLink = await h.signer.mint({ inviteId: invite.id, jti: 'never-issued', expiresAt: new Date(Date.now() + 3_600_000) });
  tokens.noInviteLink = await h.signer.mint({ inviteId: UNKNOWN_ID, jti: 'never-issued', expiresAt: new Date(Date.now() + 3_600_000) });
  for (const t of Object.values(tokens)) h.secrets.add(t);
  // The target invite in the list too, so that its own run never counts as a change.
  before = await vi.waitFor(async () => {
    const s = await snapshot();
    expect(s.workflows).toContain(inviteWorkflowId(invite.id));
    return s;
  }, WAIT);
});

afterAll(async () => {
  await h?.close();
});

describe('bad input', () => {
  it('has a corpus over every route', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.each(cases)('$name → $status $code', async (c) => {
    const res = await send(c);
    expect(res.statusCode).toBe(c.status);
    if (c.code) expect(json(res).error.code).toBe(c.code);
    // Nothing about the server leaks into a refusal.
    expect(res.body).not.toMatch(/at \w+ \(|node_modules|\/work\//);
  });

  it('changed nothing: no workflow started, the invite untouched, no side effect', async () => {
    // Run alone (`-t 'changed nothing'`), the corpus has not been sent yet: send it here, so that
    // the comparison below always follows every bad request.
    for (const c of cases) if (!sent.has(c.name)) await send(c);
    expect([...sent].sort()).toEqual(cases.map((c) => c.name).sort());
    const after = await snapshot();
    expect(after.status).toEqual(before.status);
    expect(after.effects).toEqual(before.effects);
    expect(after.auth0Writes).toEqual(before.auth0Writes);
    // Visibility lags: start one invite on purpose and wait for it, so the list is current.
    const sentinel = await h.app.inject({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${tokens.all}` }, payload: valid() });
    expect(sentinel.statusCode).toBe(201);
    const sentinelId = `invite-${json(sentinel).id as string}`;
    const workflows = await vi.waitFor(async () => {
      const now = (await snapshot()).workflows;
      expect(now, 'the sentinel invite in visibility').toContain(sentinelId);
      return now;
    }, WAIT);
    expect(workflows).toEqual([...before.workflows, sentinelId].sort());
  });
});
