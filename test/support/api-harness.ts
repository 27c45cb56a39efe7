/**
 * The API under test, in-process, against real servers: the Temporal CLI dev server with a
 * worker running the real invite workflow (fake activities record the emails, whose `jti` is
 * the link id), and the Auth0 emulator for bearer tokens and the account lookup. Log lines are
 * captured so tests can check that no secret reaches them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect, vi } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { buildApp } from '../../api/app';
import type { AppDeps } from '../../api/app';
import { createAccountCheck } from '../../api/accounts';
import { loadApiConfig } from '../../lib/config';
import type { ApiConfig } from '../../lib/config';
import { createManagementClient } from '../../services/auth0';
import { createLinkSigner, createLinkVerifier, generateLinkKey } from '../../lib/token';
import type { LinkSigner } from '../../lib/token';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { inviteWorkflowId, statusQuery } from '../../workflows/messages';
import type { InviteStatus } from '../../workflows/messages';
import type { SendInviteEmailInput } from '../../activities/email';
import { fakeActivities } from './fake-activities';
import { devServerEnv, workflowBundle } from './temporal';
import { TEST_PAYLOAD_ENV, testDataConverter } from './payload-keys';
import { m2mToken } from './m2m-token';
import { WAIT } from './wait';
import { signActionToken } from '../../actions/request-token';
import { ACTION_TOKEN } from '../../lib/action-contract';

/** Everything a test file needs; `close()` in `afterAll`. */
export interface Harness {
  env: TestWorkflowEnvironment;
  auth0: Auth0Emulator;
  fake: ReturnType<typeof fakeActivities>;
  config: ApiConfig;
  app: FastifyInstance;
  signer: LinkSigner;
  /** Every captured log line (JSON text). */
  logs: string[];
  /** Every secret a test used (link tokens, bearer and Action tokens): none may be logged. */
  secrets: Set<string>;
  /** Another app on the same servers, e.g. with other rate limits; closed with the harness. */
  buildApp(overrides?: Partial<AppDeps>): Promise<FastifyInstance>;
  /** A bearer access token from the emulator; `scope` narrows it. */
  bearer(scope?: string, audience?: string): Promise<string>;
  /** A signed Action token; `claims` and `secret` override the valid defaults. */
  actionToken(opts?: { claims?: Record<string, unknown>; secret?: string; lifetimeSeconds?: number; iat?: number }): Promise<string>;
  /** The emails sent for an invite, waiting until there are at least `count`. */
  emails(inviteId: string, count?: number): Promise<SendInviteEmailInput[]>;
  /** The link token of an email, as the worker would have minted it. */
  linkOf(email: SendInviteEmailInput): Promise<string>;
  /** The status query of the invite's latest run. */
  status(inviteId: string): Promise<InviteStatus>;
  /** Polls the status until `predicate` holds. */
  until(inviteId: string, predicate: (s: InviteStatus) => boolean): Promise<InviteStatus>;
  /** Whether a workflow exists for the invite id. */
  exists(inviteId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** The roles the emulated tenant has from the start. */
export const TENANT_ROLES = ['member', 'billing', 'admin'] as const;

export { uniqueEmail } from './unique-email';

/** JSON body of a response. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are read loosely in tests
export function json<T = Record<string, any>>(res: LightMyRequestResponse): T {
  return res.json<T>();
}

/** Starts the servers, a worker and the app. */
export async function startHarness(): Promise<Harness> {
  const [env, auth0, key] = await Promise.all([devServerEnv(), startAuth0Emulator(), generateLinkKey('test-key')]);
  // The tenant's roles: invites may only name these (`POST /v1/invites` checks them in Auth0).
  for (const role of TENANT_ROLES) auth0.createRole(role);
  const fake = fakeActivities();
  const taskQueue = `api-${randomBytes(6).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fake.activities,
    dataConverter: testDataConverter,
  });
  const running = worker.run();

  const config = loadApiConfig({
    ...TEST_PAYLOAD_ENV,
    PUBLIC_BASE_URL: 'http://invites.test',
    TEMPORAL_TASK_QUEUE: taskQueue,
    LINK_VERIFICATION_KEYS: JSON.stringify([key.publicJwk]),
    INVITE_ID_KEY: randomBytes(24).toString('base64url'),
    ACTION_SECRET: randomBytes(32).toString('base64url'),
    AUTH_ISSUER: `https://${auth0.domain}/`,
    AUTH_JWKS_URL: `${auth0.url}/.well-known/jwks.json`,
    APP_LOGIN_URL: 'https://app.test/login?from=email',
    APP_NAME: 'Acme',
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
  });
  const signer = createLinkSigner({ signingKey: key.privateJwk, issuer: config.PUBLIC_BASE_URL, audience: config.LINK_AUDIENCE });
  const management = createManagementClient({
    domain: config.AUTH0_DOMAIN,
    clientId: config.AUTH0_CLIENT_ID,
    clientSecret: config.AUTH0_CLIENT_SECRET,
    endpoint: config.AUTH0_MANAGEMENT_ENDPOINT,
  });

  const logs: string[] = [];
  const secrets = new Set<string>([config.ACTION_SECRET, config.INVITE_ID_KEY]);
  const apps: FastifyInstance[] = [];
  const build = async (overrides: Partial<AppDeps> = {}) => {
    const app = await buildApp({
      config,
      temporal: env.client,
      linkVerifier: createLinkVerifier({ verificationKeys: config.LINK_VERIFICATION_KEYS, issuer: config.PUBLIC_BASE_URL, audience: config.LINK_AUDIENCE }),
      accountExists: createAccountCheck(management),
      logLevel: 'debug',
      logStream: { write: (line: string) => void logs.push(line) },
      ...overrides,
    });
    apps.push(app);
    return app;
  };
  const app = await build();

  const tokens = new Map<string, string>();
  const status = (inviteId: string) => env.client.workflow.getHandle(inviteWorkflowId(inviteId)).query(statusQuery);

  return {
    env,
    auth0,
    fake,
    config,
    app,
    signer,
    logs,
    secrets,
    buildApp: build,
    async bearer(scope, audience = config.AUTH_AUDIENCE) {
      const cacheKey = `${scope ?? '*'} ${audience}`;
      let token = tokens.get(cacheKey);
      if (!token) {
        token = await m2mToken(auth0.url, audience, scope);
        tokens.set(cacheKey, token);
        secrets.add(token);
      }
      return token;
    },
    async actionToken(opts = {}) {
      const { sub, ...forged } = opts.claims ?? {};
      const secret = opts.secret ?? config.ACTION_SECRET;
      // The Action's own signer, so the API is tested against the tokens the Action sends; claims
      // the Action never sets (another iss or aud) make a forgery, signed here with jose.
      const token =
        Object.keys(forged).length === 0
          ? signActionToken({ secret, ...(typeof sub === 'string' ? { subject: sub } : {}), ...(opts.iat === undefined ? {} : { iat: opts.iat }), ...(opts.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: opts.lifetimeSeconds }) })
          : await new SignJWT({ iss: ACTION_TOKEN.issuer, aud: ACTION_TOKEN.audience, jti: randomUUID(), iat: opts.iat ?? Math.floor(Date.now() / 1000), exp: (opts.iat ?? Math.floor(Date.now() / 1000)) + (opts.lifetimeSeconds ?? 60), ...opts.claims })
              .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
              .sign(new TextEncoder().encode(secret));
      secrets.add(token);
      return token;
    },
    async emails(inviteId, count = 1) {
      return vi.waitFor(() => {
        const sent = fake.calls.emails.filter((e) => e.inviteId === inviteId);
        expect(sent.length, `emails for ${inviteId}`).toBeGreaterThanOrEqual(count);
        return sent;
      }, WAIT);
    },
    async linkOf(email) {
      const token = await signer.mint({ inviteId: email.inviteId, jti: email.jti, expiresAt: new Date(email.expiresAt) });
      secrets.add(token);
      return token;
    },
    status,
    async until(inviteId, predicate) {
      return vi.waitFor(async () => {
        const s = await status(inviteId);
        expect(predicate(s), `status of ${inviteId}: ${JSON.stringify(s)}`).toBe(true);
        return s;
      }, WAIT);
    },
    async exists(inviteId) {
      try {
        await env.client.workflow.getHandle(inviteWorkflowId(inviteId)).describe();
        return true;
      } catch (err) {
        if (err instanceof Error && err.name === 'WorkflowNotFoundError') return false;
        throw err;
      }
    },
    async close() {
      await Promise.all(apps.map((a) => a.close()));
      worker.shutdown();
      await running;
      await Promise.all([env.teardown(), auth0.close()]);
    },
  };
}

/** Asserts that no captured log line contains any of the secrets. */
export function expectNoSecretsInLogs(h: Harness): void {
  expect(h.logs.length).toBeGreaterThan(0);
  for (const secret of h.secrets) {
    const leaking = h.logs.filter((line) => line.includes(secret));
    expect(leaking, 'a secret appears in the logs').toEqual([]);
  }
}
