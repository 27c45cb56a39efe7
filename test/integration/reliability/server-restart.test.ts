/**
 * The Temporal server (1.29.1 on PostgreSQL, `scripts/cluster.ts`) SIGKILLed while the API is
 * answering: every route that asks Temporal answers its caller a retryable `503` with
 * `Retry-After` (a page for the link routes), never a 500, both for requests in flight at the
 * kill and for requests made while it is down; once it is back, the same invite is served and
 * redeemed.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { signActionToken } from '../../../actions/request-token';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { buildApp } from '../../../api/app';
import { createAccountCheck } from '../../../api/accounts';
import { startAuth0Emulator } from '../../../emulators/auth0';
import type { Auth0Emulator } from '../../../emulators/auth0';
import { createManagementClient } from '../../../services/auth0';
import { loadApiConfig } from '../../../lib/config';
import type { ApiConfig } from '../../../lib/config';
import { createLinkSigner, createLinkVerifier, generateLinkKey } from '../../../lib/token';
import type { LinkSigner } from '../../../lib/token';
import { signWebhook } from '../../../lib/webhook-signature';
import { startTemporalCluster } from '../../../scripts/cluster';
import { TEST_PAYLOAD_ENV, testDataConverter } from '../../support/payload-keys';
import type { TemporalCluster } from '../../../scripts/cluster';
import { registerSearchAttributes } from '../../../scripts/setup/temporal';
import { fakeActivities } from '../../support/fake-activities';
import { m2mToken } from '../../support/m2m-token';
import { workflowBundle } from '../../support/temporal';

const MAILGUN_KEY = `key-${randomBytes(16).toString('hex')}`;
const EMAIL_EVENTS_SECRET = randomBytes(32).toString('base64url');

let cluster: TemporalCluster;
let auth0: Auth0Emulator;
let connection: Connection;
let nativeConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let app: FastifyInstance;
let config: ApiConfig;
let signer: LinkSigner;
let bearer: string;
const fake = fakeActivities();

beforeAll(async () => {
  [cluster, auth0] = await Promise.all([startTemporalCluster(), startAuth0Emulator()]);
  auth0.createRole('member');
  connection = await Connection.connect({ address: cluster.address });
  await registerSearchAttributes(connection, cluster.namespace);
  const taskQueue = `restart-${randomBytes(4).toString('hex')}`;
  nativeConnection = await NativeConnection.connect({ address: cluster.address });
  worker = await Worker.create({ connection: nativeConnection, namespace: cluster.namespace, taskQueue, workflowBundle: await workflowBundle(), activities: fake.activities, dataConverter: testDataConverter });
  running = worker.run();

  const key = await generateLinkKey('restart');
  config = loadApiConfig({
    ...TEST_PAYLOAD_ENV,
    PUBLIC_BASE_URL: 'http://invites.test',
    TEMPORAL_NAMESPACE: cluster.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    LINK_VERIFICATION_KEYS: JSON.stringify([key.publicJwk]),
    INVITE_ID_KEY: randomBytes(24).toString('base64url'),
    ACTION_SECRET: randomBytes(32).toString('base64url'),
    AUTH_ISSUER: `https://${auth0.domain}/`,
    AUTH_JWKS_URL: `${auth0.url}/.well-known/jwks.json`,
    APP_LOGIN_URL: 'https://app.test/login',
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
    MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY,
    EMAIL_EVENTS_SECRET,
  });
  signer = createLinkSigner({ signingKey: key.privateJwk, issuer: config.PUBLIC_BASE_URL, audience: config.LINK_AUDIENCE });
  const management = createManagementClient({ domain: config.AUTH0_DOMAIN, clientId: config.AUTH0_CLIENT_ID, clientSecret: config.AUTH0_CLIENT_SECRET, endpoint: config.AUTH0_MANAGEMENT_ENDPOINT });
  app = await buildApp({
    config,
    temporal: new Client({ connection, namespace: cluster.namespace, dataConverter: testDataConverter }),
    linkVerifier: createLinkVerifier({ verificationKeys: config.LINK_VERIFICATION_KEYS, issuer: config.PUBLIC_BASE_URL, audience: config.LINK_AUDIENCE }),
    accountExists: createAccountCheck(management),
    logLevel: 'silent',
  });
  bearer = await m2mToken(auth0.url, config.AUTH_AUDIENCE);
});

afterAll(async () => {
  await app?.close();
  worker?.shutdown();
  await running;
  await nativeConnection?.close();
  await connection?.close();
  await Promise.all([cluster?.stop(), auth0?.close()]);
});

/** Creates an invite and returns its id, address and the link of its email. */
async function invite() {
  const email = `restart.${randomBytes(4).toString('hex')}@example.com`;
  const res = await app.inject({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${bearer}` }, payload: { email, roles: ['member'] } });
  expect(res.statusCode).toBe(201);
  const id = res.json<{ id: string }>().id;
  await expect.poll(() => fake.calls.emails.some((e) => e.inviteId === id), { timeout: 20_000 }).toBe(true);
  const sent = fake.calls.emails.find((e) => e.inviteId === id)!;
  return { id, email, token: await signer.mint({ inviteId: id, jti: sent.jti, expiresAt: new Date(sent.expiresAt) }) };
}

const actionToken = (sub: string) => signActionToken({ secret: config.ACTION_SECRET, subject: sub });

/** Every route that asks Temporal, about this invite, as its callers send them. */
function everyRoute(target: { id: string; email: string; token: string }): Record<string, () => Promise<LightMyRequestResponse>> {
  const auth = { authorization: `Bearer ${bearer}` };
  const user = { id: `auth0|${target.id}`, email: target.email, email_verified: true, connection: 'Username-Password-Authentication' };
  const json = { 'content-type': 'application/json' };
  const mailgun = () => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const token = randomBytes(25).toString('hex');
    return JSON.stringify({
      signature: { timestamp, token, signature: createHmac('sha256', MAILGUN_KEY).update(timestamp + token).digest('hex') },
      'event-data': { event: 'complained', message: { headers: { 'message-id': `invite.${target.id}.1@inviteflow.local` } } },
    });
  };
  const generic = JSON.stringify({ type: 'complaint', inviteId: target.id });
  return {
    'POST /v1/invites': () => app.inject({ method: 'POST', url: '/v1/invites', headers: auth, payload: { email: `new.${randomBytes(4).toString('hex')}@example.com`, roles: ['member'] } }),
    'GET /v1/invites/:id': () => app.inject({ method: 'GET', url: `/v1/invites/${target.id}`, headers: auth }),
    'GET /v1/invites/:id/history': () => app.inject({ method: 'GET', url: `/v1/invites/${target.id}/history`, headers: auth }),
    'GET /v1/invites?status=pending': () => app.inject({ method: 'GET', url: '/v1/invites?status=pending', headers: auth }),
    'POST /v1/invites/:id/resend': () => app.inject({ method: 'POST', url: `/v1/invites/${target.id}/resend`, headers: auth }),
    'POST /v1/invites/:id/extend': () => app.inject({ method: 'POST', url: `/v1/invites/${target.id}/extend`, headers: auth, payload: { ttl: '10 days' } }),
    'POST /v1/invites/:id/revoke': () => app.inject({ method: 'POST', url: `/v1/invites/${target.id}/revoke`, headers: auth, payload: {} }),
    'POST /v1/redemptions': async () => app.inject({ method: 'POST', url: '/v1/redemptions', headers: { authorization: `Bearer ${actionToken(user.id)}` }, payload: { token: target.token, user } }),
    'POST /v1/claims': async () => app.inject({ method: 'POST', url: '/v1/claims', headers: { authorization: `Bearer ${actionToken(user.id)}` }, payload: { user } }),
    'POST /v1/email-events': () => app.inject({ method: 'POST', url: '/v1/email-events', headers: { ...json, 'inviteflow-signature': signWebhook(EMAIL_EVENTS_SECRET, generic, Math.floor(Date.now() / 1000)) }, payload: generic }),
    'POST /v1/email-events/mailgun': () => app.inject({ method: 'POST', url: '/v1/email-events/mailgun', headers: json, payload: mailgun() }),
    'GET /i/:token': () => app.inject({ method: 'GET', url: `/i/${target.token}` }),
    'GET /i/:token/decline': () => app.inject({ method: 'GET', url: `/i/${target.token}/decline` }),
    'POST /i/:token/decline': () => app.inject({ method: 'POST', url: `/i/${target.token}/decline`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' }),
    'GET /readyz': () => app.inject({ method: 'GET', url: '/readyz' }),
  };
}

/** `route → status` for the 5xx answers that are not a retryable 503 with Retry-After. */
function badOutages(answers: [string, LightMyRequestResponse][]): Record<string, number> {
  return Object.fromEntries(answers.filter(([, res]) => res.statusCode >= 500 && !(res.statusCode === 503 && res.headers['retry-after'])).map(([route, res]) => [route, res.statusCode]));
}

const ask = (routes: Record<string, () => Promise<LightMyRequestResponse>>) =>
  Promise.all(Object.entries(routes).map(async ([route, call]) => [route, await call()] as [string, LightMyRequestResponse]));

describe('the Temporal server killed and restarted', () => {
  it('answers a retryable 503 with Retry-After on every route, then serves the same invite again', { timeout: 180_000 }, async () => {
    const [inFlight, down, survivor] = [await invite(), await invite(), await invite()];

    // Requests in flight at the kill: answered, refused, or 503 with Retry-After; never a 500.
    const [during] = await Promise.all([ask(everyRoute(inFlight)), cluster.killServer()]);
    expect(badOutages(during)).toEqual({});

    // Requests while it is down: each route says 503, retry, and JSON callers read the code.
    const whileDown = await ask(everyRoute(down));
    expect(Object.fromEntries(whileDown.map(([route, res]) => [route, [res.statusCode, res.headers['retry-after']]]))).toEqual(
      Object.fromEntries(whileDown.map(([route]) => [route, [503, '1']])),
    );
    for (const [route, res] of whileDown) {
      if (route.includes('/i/')) expect(res.headers['content-type']).toMatch(/^text\/html/);
      else if (route !== 'GET /readyz') expect(res.json<{ error: { code: string } }>().error.code).toBe('service_unavailable');
    }

    await cluster.startServer();
    await expect.poll(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode, { timeout: 60_000 }).toBe(200);
    const routes = everyRoute(survivor);
    await expect.poll(async () => (await routes['GET /v1/invites/:id']!()).statusCode, { timeout: 60_000 }).toBe(200);
    expect((await routes['GET /i/:token']!()).statusCode).toBe(200);
    const redeemed = await routes['POST /v1/redemptions']!();
    expect(redeemed.statusCode).toBe(200);
    expect(redeemed.json()).toMatchObject({ inviteId: survivor.id, roles: ['member'], repeat: false });
  });
});
