/**
 * Bearer authentication of the API (`api/auth.ts`) against access tokens the Auth0 emulator
 * really issues: people signing in through Universal Login (authorization code with PKCE) to our
 * API with RBAC on, where only the permissions of their roles reach the token, and the funnel's
 * machine-to-machine token. Nothing here is hand-signed.
 */
import { createHash, randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBearerAuth } from '../../api/auth';
import type { Scope } from '../../api/auth';
import { ApiError } from '../../api/errors';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { m2mToken } from '../support/m2m-token';

const API = 'https://inviteflow/api';
const CALLBACK = 'http://127.0.0.1:5173/callback';
const PASSWORD = 'a long and correct password';

let auth0: Auth0Emulator;
let app: FastifyInstance;

beforeAll(async () => {
  auth0 = await startAuth0Emulator({ spa: { callbacks: [CALLBACK] } });
  auth0.createResourceServer({
    identifier: API,
    name: 'inviteflow',
    scopes: ['invites:create', 'invites:read', 'invites:write'].map((value) => ({ value })),
    enforce_policies: true,
    token_dialect: 'access_token_authz',
  });
  const auth = createBearerAuth({
    issuer: auth0.issuer,
    audience: API,
    jwksUrl: `${auth0.url}/.well-known/jwks.json`,
  });
  app = Fastify();
  app.get<{ Querystring: { scope: Scope } }>('/check', async (request, reply) => {
    try {
      const principal = await auth.authorize(request, request.query.scope);
      return { subject: principal.subject, scopes: [...principal.scopes].sort() };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return reply.code(err.statusCode).headers(err.headers).send({ code: err.code });
    }
  });
}, 60_000);
afterAll(async () => {
  await app?.close();
  await auth0?.close();
});

/** A person with `roles` signs in on the emulator's login page; returns the token response. */
async function signIn(roles: string[], scope: string): Promise<Record<string, unknown>> {
  const email = `reader.${randomBytes(4).toString('hex')}@example.com`;
  const user = auth0.createUser({ email, password: PASSWORD, email_verified: true });
  const ids = roles.map((name) => auth0.state().roles.find((r) => r.name === name)!.id);
  if (ids.length > 0) auth0.assignRoles(user.user_id, ids);
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL('/authorize', auth0.url);
  for (const [k, v] of Object.entries({
    client_id: auth0.spaClientId,
    response_type: 'code',
    redirect_uri: CALLBACK,
    scope,
    audience: API,
    state: 'st',
    nonce: 'no',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }))
    authorize.searchParams.set(k, v);
  const toLogin = await fetch(authorize, { redirect: 'manual' });
  const loginPage = new URL(toLogin.headers.get('location')!, auth0.url);
  const tx = loginPage.searchParams.get('state')!;
  const done = await fetch(`${auth0.url}/u/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ state: tx, username: email, password: PASSWORD }),
  });
  const code = new URL(done.headers.get('location')!).searchParams.get('code')!;
  const token = await fetch(`${auth0.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: auth0.spaClientId,
      code,
      code_verifier: verifier,
      redirect_uri: CALLBACK,
    }),
  });
  expect(token.status).toBe(200);
  return (await token.json()) as Record<string, unknown>;
}

const check = (token: string, scope: Scope) =>
  app.inject({ method: 'GET', url: `/check?scope=${scope}`, headers: { authorization: `Bearer ${token}` } });

const payload = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('bearer auth with tokens the tenant issues', () => {
  it("accepts an operator's token for the permissions of their role, and only those", async () => {
    const role = auth0.createRole(`operator-${randomBytes(3).toString('hex')}`);
    auth0.addRolePermissions(role.id, [{ resource_server_identifier: API, permission_name: 'invites:read' }]);
    const tokens = await signIn([role.name], 'openid email invites:read invites:write not:defined');
    const access = payload(tokens.access_token as string);
    // RBAC: of the requested scopes only the defined one the role holds; the rest never reach the token.
    expect(access.scope).toBe('openid email invites:read');
    expect(access.permissions).toEqual(['invites:read']);
    expect(tokens.scope).toBe('openid email invites:read');

    const read = await check(tokens.access_token as string, 'invites:read');
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ subject: access.sub, scopes: ['email', 'invites:read', 'openid'] });
    const write = await check(tokens.access_token as string, 'invites:write');
    expect(write.statusCode).toBe(403);
    expect(write.json()).toEqual({ code: 'insufficient_scope' });
    expect(write.headers['www-authenticate']).toContain('error="insufficient_scope", scope="invites:write"');
  });

  it('grants nothing of our API to a person without a role, even when they ask for it', async () => {
    const tokens = await signIn([], 'openid invites:create invites:read');
    const access = payload(tokens.access_token as string);
    expect(access.scope).toBe('openid');
    expect(access.permissions).toEqual([]);
    for (const scope of ['invites:create', 'invites:read'] as const)
      expect((await check(tokens.access_token as string, scope)).statusCode).toBe(403);
  });

  it('refuses the ID token (issued to the application) and a token with widened scopes with 401', async () => {
    const tokens = await signIn([], 'openid');
    for (const token of [
      tokens.id_token as string,
      await (async () => {
        const t = await signIn([], 'openid invites:read');
        const parts = (t.access_token as string).split('.');
        const claims = { ...payload(t.access_token as string), scope: 'openid invites:read invites:write' };
        return `${parts[0]}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${parts[2]}`;
      })(),
    ]) {
      const res = await check(token, 'invites:read');
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ code: 'unauthorized' });
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    }
  });

  it("accepts the funnel's machine-to-machine token for invites:create", async () => {
    const token = await m2mToken(auth0.url, API, 'invites:create');
    const ok = await check(token, 'invites:create');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ subject: 'inviteflow-m2m@clients', scopes: ['invites:create'] });
    expect((await check(token, 'invites:read')).statusCode).toBe(403);
  });
});
