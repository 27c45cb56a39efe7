/**
 * The whole system in one process for browser tests: a real Temporal server (the dev server, or
 * the external one `TEST_TEMPORAL_ADDRESS` names: see test/support/temporal.ts), the real worker
 * and activities, the API, the mail catcher, the Auth0 emulator running the built post-login
 * Action (deployed through the Management API, as in production), the HubSpot emulator and the
 * demo pages. Ports are chosen up front because the pieces name each other (links, callbacks).
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { buildAction } from '../../actions/build';
import { deployAction } from '../../actions/deploy';
import { createActivities } from '../../activities';
import { createAccountCheck } from '../../api/accounts';
import { buildApp } from '../../api/app';
import type { InboundLimits } from '../../api/inbound-limiter';
import { historyQuery, inviteWorkflowId, statusQuery } from '../../workflows/messages';
import type { InviteStatus, LifecycleEvent } from '../../workflows/messages';
import { startDemoApp } from '../../demo/server';
import type { DemoApp } from '../../demo/server';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import { startMailCatcher } from '../../emulators/mail';
import type { MailCatcher, ParsedMessage } from '../../emulators/mail';
import { createManagementClient } from '../../services/auth0';
import { loadApiConfig, loadWorkerConfig } from '../../lib/config';
import { createLinkVerifier, generateLinkKey } from '../../lib/token';
import { buildActivityDeps } from '../../worker/clients';
import { createInviteWorker } from '../../worker/worker';
import { realServerEnv, testTaskQueue, workflowBundle } from '../support/temporal';
import { m2mToken } from '../support/m2m-token';
import { TEST_PAYLOAD_ENV } from '../support/payload-keys';
import { temporalDataConverter } from '../../client/connection';

export const CLAIMS = 'https://inviteflow.dev/';
/** The product's name invitees see (the SPA application's name in the tenant). */
export const APP_NAME = 'Acme';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A TCP relay a test can cut: while cut, every connection is reset, as when the service behind it
 * is down or unreachable (the API for the Action's calls, Temporal for an API).
 */
export interface ApiRoute {
  url: string;
  /** The relay's port on 127.0.0.1 (for a gRPC address). */
  port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

async function startRelay(host: string, targetPort: number): Promise<ApiRoute> {
  let cut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (cut) return void client.resetAndDestroy();
    const upstream = connect(targetPort, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Another API process of the same deployment (same settings and keys, so it serves the same
 * links), which reaches Temporal through a relay of its own: `temporal.cut()` makes Temporal
 * unreachable for it alone, as in a network partition or a Temporal restart.
 */
export interface ExtraApi {
  url: string;
  temporal: ApiRoute;
  /** The same link, served by this API. */
  linkTo(link: string): string;
}

/** Everything a browser test touches. */
export interface Stack {
  env: TestWorkflowEnvironment;
  auth0: Auth0Emulator;
  hubspot: HubSpotEmulator;
  mail: MailCatcher;
  api: FastifyInstance;
  apiUrl: string;
  demo: DemoApp;
  /** The Action's way to the API; `cut()` makes the API unreachable for logins. */
  actionRoute: ApiRoute;
  browser: Browser;
  /** Starts another API process, with other inbound limits when given; closed with the stack. */
  startApi(opts?: { rateLimits?: Partial<InboundLimits> }): Promise<ExtraApi>;
  /** Deploys the Action again with another refusal policy (`continue` is deployed at start). */
  deployAction(onRefusal: 'continue' | 'deny'): Promise<unknown>;
  /** A client-credentials token for the API (the funnel's). */
  funnelToken(): Promise<string>;
  /** The link in the newest invite email to `to`. */
  linkFor(to: string, after?: number): Promise<string>;
  /** Creates an invite as the funnel backend does (scope `workspace:acme`, `en` unless given) and returns its id. */
  createInvite(body: Record<string, unknown>): Promise<string>;
  /** The invite's status now (its `status` query). */
  status(inviteId: string): Promise<InviteStatus>;
  /** The invite's lifecycle events so far (its `history` query). */
  events(inviteId: string): Promise<LifecycleEvent[]>;
  /** The invite's status once its run has closed. */
  finalStatus(inviteId: string): Promise<InviteStatus>;
  /** The Auth0 user with this email, with its roles. */
  auth0User(email: string): NonNullable<ReturnType<Auth0Emulator['getUser']>>;
  close(): Promise<void>;
}

/** Starts the stack; `close()` in `afterAll`. */
export async function startStack(): Promise<Stack> {
  const [apiPort, demoPort] = [await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const demoUrl = `http://127.0.0.1:${demoPort}`;
  const actionSecret = randomBytes(32).toString('base64url');

  const [env, auth0, hubspot, mail, key, action] = await Promise.all([
    realServerEnv(),
    startAuth0Emulator({
      spa: {
        name: APP_NAME,
        callbacks: [`${demoUrl}/callback`],
        // Home after signing out, or a fresh login for an invite's address.
        allowedLogoutUrls: [demoUrl, `${demoUrl}/login`],
        allowedOrigins: [demoUrl],
      },
    }),
    startHubSpotEmulator(),
    startMailCatcher({ smtpPort: 0, httpPort: 0 }),
    generateLinkKey('e2e-1'),
    buildAction(),
  ]);
  for (const role of ['member', 'billing']) auth0.createRole(role);

  const common = {
    ...TEST_PAYLOAD_ENV,
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    TEMPORAL_TASK_QUEUE: testTaskQueue(),
    PUBLIC_BASE_URL: apiUrl,
    APP_NAME,
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
  };
  const workerConfig = loadWorkerConfig({
    ...common,
    LINK_SIGNING_KEY: JSON.stringify(key.privateJwk),
    SMTP_URL: mail.smtpUrl,
    HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
    HUBSPOT_BASE_PATH: hubspot.url,
  });
  const clients = buildActivityDeps(workerConfig);
  const worker: Worker = await createInviteWorker({
    connection: env.nativeConnection,
    namespace: workerConfig.TEMPORAL_NAMESPACE,
    taskQueue: workerConfig.TEMPORAL_TASK_QUEUE,
    activities: createActivities(clients.deps),
    workflowBundle: await workflowBundle(),
    dataConverter: temporalDataConverter(workerConfig),
  });
  const running = worker.run();

  const apiConfig = loadApiConfig({
    ...common,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    LINK_VERIFICATION_KEYS: JSON.stringify([key.publicJwk]),
    INVITE_ID_KEY: randomBytes(24).toString('base64url'),
    ACTION_SECRET: actionSecret,
    AUTH_ISSUER: `https://${auth0.domain}/`,
    AUTH_JWKS_URL: `${auth0.url}/.well-known/jwks.json`,
    APP_LOGIN_URL: `${demoUrl}/login`,
    // Invites may bind CRM properties: the API checks their names in the emulated HubSpot.
    HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
    HUBSPOT_BASE_PATH: hubspot.url,
  });
  const management = createManagementClient({
    domain: auth0.domain,
    clientId: 'inviteflow-m2m',
    clientSecret: 'inviteflow-m2m-secret',
    endpoint: auth0.url,
  });
  const api = await buildApp({
    config: apiConfig,
    temporal: env.client,
    linkVerifier: createLinkVerifier({ verificationKeys: apiConfig.LINK_VERIFICATION_KEYS, issuer: apiUrl, audience: apiConfig.LINK_AUDIENCE }),
    accountExists: createAccountCheck(management),
    logLevel: 'silent',
  });
  await api.listen({ port: apiPort, host: '127.0.0.1' });
  const actionRoute = await startRelay('127.0.0.1', apiPort);

  const extras: { app: FastifyInstance; relay: ApiRoute; connection: Connection }[] = [];
  const startApi: Stack['startApi'] = async (opts = {}) => {
    const colon = env.address.lastIndexOf(':');
    const relay = await startRelay(env.address.slice(0, colon), Number(env.address.slice(colon + 1)));
    const connection = Connection.lazy({ address: `127.0.0.1:${relay.port}` });
    const app = await buildApp({
      config: apiConfig,
      temporal: new Client({ connection, namespace: apiConfig.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(apiConfig) }),
      linkVerifier: createLinkVerifier({ verificationKeys: apiConfig.LINK_VERIFICATION_KEYS, issuer: apiUrl, audience: apiConfig.LINK_AUDIENCE }),
      accountExists: createAccountCheck(management),
      logLevel: 'silent',
      ...(opts.rateLimits ? { rateLimits: opts.rateLimits } : {}),
    });
    extras.push({ app, relay, connection });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url,
      temporal: relay,
      linkTo: (link) => `${url}${new URL(link).pathname}`,
    };
  };

  // The Action reaches Auth0 the way production does: built to one file, deployed and bound.
  const deploy = (onRefusal: 'continue' | 'deny') =>
    deployAction({
      management: createManagementClient({ domain: auth0.domain, clientId: 'inviteflow-deploy', clientSecret: 'inviteflow-deploy-secret', endpoint: auth0.url }),
      name: 'inviteflow-redeem-invite',
      code: action.code,
      // Claim by verified email is on for this tenant; each invite still opts in on its own.
      secrets: { INVITEFLOW_API_URL: actionRoute.url, INVITEFLOW_ACTION_SECRET: actionSecret, ON_REFUSAL: onRefusal, CLAIM_NAMESPACE: CLAIMS, CLAIM_BY_EMAIL: 'true' },
    });
  await deploy('continue');

  const tokens = new Map<string, string>();
  const funnelToken = async () => {
    const cached = tokens.get('funnel');
    if (cached) return cached;
    const token = await m2mToken(auth0.url, apiConfig.AUTH_AUDIENCE);
    tokens.set('funnel', token);
    return token;
  };

  const demo = await startDemoApp({
    port: demoPort,
    auth0Url: auth0.url,
    issuer: `https://${auth0.domain}/`,
    appName: APP_NAME,
    clientId: auth0.spaClientId,
    claimNamespace: CLAIMS,
    apiUrl,
    funnelToken,
  });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  const invite = (inviteId: string) => env.client.workflow.getHandle(inviteWorkflowId(inviteId));

  return {
    env,
    auth0,
    hubspot,
    mail,
    api,
    apiUrl,
    demo,
    actionRoute,
    browser,
    startApi,
    deployAction: deploy,
    funnelToken,
    async linkFor(to, after = 0) {
      const message: ParsedMessage = await mail.waitForMessage(
        (m) => m.to.includes(to) && Date.parse(m.receivedAt) >= after,
        30_000,
      );
      const link = new RegExp(`${apiUrl.replace(/[.:/]/g, '\\$&')}/i/[A-Za-z0-9_.-]+`).exec(message.text)?.[0];
      if (!link) throw new Error(`no invite link in the email to ${to}`);
      return link;
    },
    async createInvite(body) {
      const res = await fetch(`${apiUrl}/v1/invites`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await funnelToken()}` },
        body: JSON.stringify({ scope: 'workspace:acme', locale: 'en', ...body }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    },
    status: (inviteId) => invite(inviteId).query(statusQuery),
    events: async (inviteId) => (await invite(inviteId).query(historyQuery)).events,
    async finalStatus(inviteId) {
      await invite(inviteId).result();
      return invite(inviteId).query(statusQuery);
    },
    auth0User(email) {
      const user = auth0.state().users.find((u) => u.email === email);
      if (!user) throw new Error(`no Auth0 user ${email}`);
      return auth0.getUser(user.user_id)!;
    },
    async close() {
      await browser.close();
      await demo.close();
      await actionRoute.close();
      for (const extra of extras) {
        await extra.app.close();
        await extra.connection.close();
        await extra.relay.close();
      }
      await api.close();
      worker.shutdown();
      await running;
      await clients.close();
      await Promise.all([env.teardown(), auth0.close(), hubspot.close(), mail.close()]);
    },
  };
}

/**
 * Starts the stack before a test file's tests (hooks registered later run after it) and closes it
 * after them; `use` receives it once started.
 */
export function useStack(use: (stack: Stack) => void): void {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack();
    use(stack);
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
  });
}

/**
 * Saves a full-page screenshot for a person to look at, after checking what a person would notice
 * first on a phone: nothing wider than the screen (a long address in a button, say).
 */
export async function saveScreenshot(page: Page, path: string): Promise<void> {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, `${path}: the page is ${overflow} px wider than the screen`).toBeLessThanOrEqual(0);
  await page.screenshot({ path, fullPage: true });
}
