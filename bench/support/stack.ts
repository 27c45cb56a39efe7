/**
 * The system under benchmark, shaped like a deployment on one machine: the Temporal CLI dev
 * server on a SQLite file (as `npm run dev` runs it, rather than in memory), the API listening on
 * a loopback port, the worker in its own process (with the baseline worker beside it), and the
 * outside world in a third (`services-host.ts`: the mail catcher and the Auth0 and HubSpot
 * emulators, remote services in production). The benchmark's load generator and raw-Temporal
 * baseline client share this process with the API, so both sides pay the same for it.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { buildApp } from '../../api/app';
import { createAccountCheck } from '../../api/accounts';
import type { InboundLimits } from '../../api/inbound-limiter';
import type { NewUser } from '../../emulators/auth0';
import type { HubSpotRateLimit } from '../../emulators/hubspot';
import { createManagementClient } from '../../services/auth0';
import { loadApiConfig } from '../../lib/config';
import type { ApiConfig } from '../../lib/config';
import { createLinkSigner, createLinkVerifier, generateLinkKey } from '../../lib/token';
import type { LinkSigner } from '../../lib/token';
import { requireBinary } from '../../scripts/temporal-bin.mjs';
import { startTemporalCluster } from '../../scripts/cluster';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../scripts/ts-process';
import { registerSearchAttributes } from '../../scripts/setup/temporal';
import { inviteWorkflowId, searchAttributes, statusQuery, TASK_QUEUE } from '../../workflows/messages';
import type { InviteStatus } from '../../workflows/messages';
import type { ServicesAnswer, ServicesCall, ServicesConfig, ServicesReady, StatusSnapshot } from './services-host';
import type { ChildMessage, WorkerHostConfig, WorkerStats } from './worker-host';
import type { DataConverter } from '@temporalio/common';
import { generatePayloadKeys } from '../../client/codec';
import { temporalDataConverter } from '../../client/connection';
import { m2mToken } from '../../test/support/m2m-token';

/** How to start the stack. */
export interface BenchStackOptions {
  /** `real`: nodemailer to the catcher; `fake`: a no-op email activity. */
  email: 'real' | 'fake';
  /** Start the baseline worker too. */
  baseline: boolean;
  /** Auth0's global Management API limit, as the emulator models it (token bucket). */
  auth0RateLimit?: { perSecond: number; burst?: number };
  /** HubSpot's rolling-window limit. */
  hubspotRateLimit?: HubSpotRateLimit;
  /** Put status-counting proxies between the worker and the emulators. */
  countStatuses?: boolean;
  /** The worker's WORKER_MAX_CACHED_WORKFLOWS; default the SDK's. */
  maxCachedWorkflows?: number;
  /** Messages the catcher keeps (default 1000). */
  mailMaxMessages?: number;
  /**
   * The worker's client-side pacing (`activities/outbound-pacer.ts`), configured as a deployment would be:
   * to the limits the emulators enforce (AUTH0_MGMT_RATE_LIMIT and _BURST, HUBSPOT_RATE_LIMIT).
   * Default on; an emulator without an enforced limit gets no pacing (0), and `false` turns it
   * off for both, leaving only the retries on 429.
   */
  pacing?: boolean;
  /** The SDK's per-worker `maxActivitiesPerSecond` (every activity type); default none. */
  maxActivitiesPerSecond?: number;
  /** Profile the worker process: `--cpu-prof` into this folder (default: $BENCH_WORKER_CPU_PROF). */
  workerCpuProfDir?: string;
  /**
   * `file` (default): SQLite on disk, as `npm run dev` runs it, every write synced; `memory`:
   * the dev server's in-memory SQLite, which isolates CPU costs from the disk.
   */
  db?: 'file' | 'memory';
  /**
   * `dev` (default): the CLI dev server (`db`); `cluster`: the production shape, the Temporal
   * server on PostgreSQL with SQL visibility (`scripts/cluster.ts`, as `npm run test:cluster`).
   */
  temporal?: 'dev' | 'cluster';
  /**
   * The worker's settings: `product` (default), as `npm run worker` starts it; `sdk-default`, the
   * sticky cache the SDK sizes from the heap limit (what the product used before it chose its own).
   */
  workerSettings?: 'product' | 'sdk-default';
  /** Report each invite's first link (`BenchStack.links`), as the email activity signs it. */
  recordLinks?: boolean;
}

/** Response statuses seen by a counting proxy, per `METHOD /path-pattern`. */
export interface StatusCounts {
  /** status → count over every route. */
  byStatus: Map<number, number>;
  /** `METHOD /path` (ids collapsed) → status → count. */
  byRoute: Map<string, Map<number, number>>;
}

/** A running stack; `close()` stops everything it started. */
export interface BenchStack {
  /** `dev server` or `Temporal <version> on PostgreSQL`. */
  temporal: string;
  client: Client;
  api: FastifyInstance;
  apiUrl: string;
  apiConfig: ApiConfig;
  /** The Auth0 emulator (in the services process). */
  auth0: { url: string; domain: string; createUser(user: NewUser): Promise<{ user_id: string }> };
  /** The mail catcher (in the services process). */
  mail: {
    smtpUrl: string;
    /** Messages accepted so far. */
    count(): Promise<number>;
    /** When the catcher accepted the first message to `to` (ISO 8601), waiting for it. */
    receivedAt(to: string, timeoutMs: number): Promise<string>;
  };
  /** Signs link tokens with the worker's key, as the email activity does. */
  signer: LinkSigner;
  /** The funnel's client-credentials access token (all invite scopes). */
  funnelToken: string;
  /** A fresh Action token (HS256, new `jti`), as the post-login Action makes one per call. */
  actionToken(sub?: string): Promise<string>;
  /** The link id of the invite's first email, once the worker has sent it. */
  firstLink(inviteId: string): Promise<{ linkId: string; expiresAt: Date }>;
  /** Milliseconds each answered request spent inside the API, per `METHOD /route`. */
  apiTimes: Map<string, number[]>;
  /** Memory and sticky-cache numbers of the worker process. */
  workerStats(gc?: boolean): Promise<WorkerStats>;
  maxCachedWorkflows: number;
  /** With `recordLinks`: each invite's first link, as its email carried it. */
  links: Map<string, { linkId: string; expiresAt: Date }>;
  /** What the counting proxies saw so far (empty without `countStatuses`). */
  statuses(): Promise<{ auth0: StatusCounts; hubspot: StatusCounts }>;
  /** Forgets what the counting proxies saw. */
  resetStatuses(): Promise<void>;
  /** Stops the worker first (writing its CPU profile), then the servers. */
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Starts the stack; resolves once the worker polls and the API listens. */
/**
 * The benchmarks' Temporal: the project's provisioned CLI dev server with our search attributes,
 * on a SQLite file in `dataDir` (`file`, as `npm run dev` runs it) or in memory.
 */
export function startBenchTemporal(db: 'file' | 'memory', dataDir: string, dataConverter?: DataConverter): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    ...(dataConverter ? { client: { dataConverter } } : {}),
    server: {
      executable: { type: 'existing-path', path: requireBinary('cli') },
      ...(db === 'memory' ? {} : { dbFilename: join(dataDir, 'temporal.db') }),
      searchAttributes: Object.values(searchAttributes),
      log: { format: 'pretty', level: 'never' },
    },
  });
}

/** The benchmark's Temporal, dev server or cluster, with our search attributes. */
async function startTemporal(opts: BenchStackOptions, dataDir: string, dataConverter: DataConverter): Promise<{ name: string; address: string; client: Client; teardown(): Promise<void> }> {
  if (opts.temporal !== 'cluster') {
    const env = await startBenchTemporal(opts.db ?? 'file', dataDir, dataConverter);
    return { name: `dev server (${opts.db ?? 'file'})`, address: env.address, client: env.client, teardown: () => env.teardown() };
  }
  const cluster = await startTemporalCluster();
  const connection = await Connection.connect({ address: cluster.address });
  await registerSearchAttributes(connection, cluster.namespace);
  return {
    name: `Temporal ${cluster.version} on PostgreSQL (SQL visibility)`,
    address: cluster.address,
    client: new Client({ connection, namespace: cluster.namespace, dataConverter }),
    async teardown() {
      await connection.close();
      await cluster.stop();
    },
  };
}

export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'inviteflow-bench-'));
  // Payload encryption on, as in production: its cost is part of what the benchmarks measure.
  const payloadKeys = generatePayloadKeys('bench');
  const [env, services, key] = await Promise.all([
    startTemporal(opts, dataDir, temporalDataConverter({ PAYLOAD_KEYS: payloadKeys })),
    startServicesHost({
      ...(opts.auth0RateLimit ? { auth0RateLimit: opts.auth0RateLimit } : {}),
      ...(opts.hubspotRateLimit ? { hubspotRateLimit: opts.hubspotRateLimit } : {}),
      mailMaxMessages: opts.mailMaxMessages ?? 1000,
      countStatuses: opts.countStatuses === true,
    }),
    generateLinkKey('bench-1'),
  ]);
  const { auth0, hubspot, proxies } = services.ready;
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const common = {
    PAYLOAD_KEYS: JSON.stringify(payloadKeys),
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    PUBLIC_BASE_URL: apiUrl,
    APP_NAME: 'Acme',
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    AUTH0_MANAGEMENT_ENDPOINT: proxies?.auth0 ?? auth0.url,
  };

  const hostConfig: WorkerHostConfig = {
    env: {
      ...common,
      LINK_SIGNING_KEY: JSON.stringify(key.privateJwk),
      SMTP_URL: services.ready.smtpUrl,
      HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
      HUBSPOT_BASE_PATH: proxies?.hubspot ?? hubspot.url,
      LOG_LEVEL: 'warn',
      ...workerPacingEnv(opts),
      ...(opts.maxCachedWorkflows !== undefined
        ? { WORKER_MAX_CACHED_WORKFLOWS: String(opts.maxCachedWorkflows) }
        : {}),
    },
    email: opts.email,
    baseline: opts.baseline,
    workerSettings: opts.workerSettings ?? 'product',
    recordLinks: opts.recordLinks === true,
    ...(opts.maxActivitiesPerSecond !== undefined
      ? { maxActivitiesPerSecond: opts.maxActivitiesPerSecond }
      : {}),
  };
  const links = new Map<string, { linkId: string; expiresAt: Date }>();
  const host = await startWorkerHost(hostConfig, opts.workerCpuProfDir ?? process.env.BENCH_WORKER_CPU_PROF, (link) =>
    links.set(link.inviteId, { linkId: link.jti, expiresAt: new Date(link.expiresAt) }),
  );

  const apiConfig = loadApiConfig({
    ...common,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    LINK_VERIFICATION_KEYS: JSON.stringify([key.publicJwk]),
    INVITE_ID_KEY: randomBytes(24).toString('base64url'),
    ACTION_SECRET: randomBytes(32).toString('base64url'),
    AUTH_ISSUER: `https://${auth0.domain}/`,
    AUTH_JWKS_URL: `${auth0.url}/.well-known/jwks.json`,
    APP_LOGIN_URL: 'http://127.0.0.1:5173/login',
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
  });
  // The API limits redemptions per client address (600/min by default, sized for Auth0's few
  // egress addresses); every benchmark request comes from 127.0.0.1, so that one limit is lifted
  // here. The check itself still runs on every request.
  const rateLimits: Partial<InboundLimits> = { redeemPerIp: { max: 1_000_000, windowMs: 60_000 } };
  const api = await buildApp({
    config: apiConfig,
    temporal: env.client,
    linkVerifier: createLinkVerifier({
      verificationKeys: apiConfig.LINK_VERIFICATION_KEYS,
      issuer: apiUrl,
      audience: apiConfig.LINK_AUDIENCE,
    }),
    accountExists: createAccountCheck(
      createManagementClient({
        domain: auth0.domain,
        clientId: 'inviteflow-m2m',
        clientSecret: 'inviteflow-m2m-secret',
        endpoint: auth0.url,
      }),
    ),
    // Production logs one line per request at info: the serialisation stays on the measured
    // path, only the output is dropped.
    logLevel: 'info',
    logStream: { write() {} },
    rateLimits,
  });
  // Time spent inside the API per route (Fastify's own clock, from the request's arrival to the
  // last byte of the answer), to tell the API's share of a round trip from the network's.
  const apiTimes = new Map<string, number[]>();
  api.addHook('onResponse', async (request, reply) => {
    const route = `${request.method} ${request.routeOptions.url ?? 'unmatched'}`;
    const list = apiTimes.get(route) ?? [];
    list.push(reply.elapsedTime);
    apiTimes.set(route, list);
  });
  await api.listen({ port: apiPort, host: '127.0.0.1' });

  const funnelToken = await m2mToken(auth0.url, apiConfig.AUTH_AUDIENCE);
  const actionKey = new TextEncoder().encode(apiConfig.ACTION_SECRET);
  const signer = createLinkSigner({
    signingKey: key.privateJwk,
    issuer: apiUrl,
    audience: apiConfig.LINK_AUDIENCE,
  });

  return {
    temporal: env.name,
    client: env.client,
    api,
    apiUrl,
    apiConfig,
    auth0: { ...auth0, createUser: (user) => services.call({ method: 'createUser', user }) },
    mail: {
      smtpUrl: services.ready.smtpUrl,
      count: () => services.call({ method: 'mailCount' }),
      receivedAt: (to, timeoutMs) => services.call({ method: 'mailReceivedAt', to, timeoutMs }),
    },
    signer,
    funnelToken,
    actionToken(sub) {
      const iat = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...(sub ? { sub } : {}) })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer('inviteflow-action')
        .setAudience('inviteflow-redemptions')
        .setJti(randomUUID())
        .setIssuedAt(iat)
        .setExpirationTime(iat + 60)
        .sign(actionKey);
    },
    async firstLink(inviteId) {
      const handle = env.client.workflow.getHandle(inviteWorkflowId(inviteId));
      for (let attempt = 0; attempt < 600; attempt++) {
        const status: InviteStatus = await handle.query(statusQuery);
        const first = status.emails[0];
        if (first) return { linkId: first.linkId, expiresAt: new Date(status.expiresAt) };
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no email was sent for invite ${inviteId}`);
    },
    apiTimes,
    workerStats: (gc = true) => host.stats(gc),
    maxCachedWorkflows: host.maxCachedWorkflows,
    links,
    async statuses() {
      const seen = await services.call<{ auth0: StatusSnapshot; hubspot: StatusSnapshot } | undefined>({ method: 'statuses' });
      return { auth0: statusCounts(seen?.auth0), hubspot: statusCounts(seen?.hubspot) };
    },
    resetStatuses: () => services.call({ method: 'resetStatuses' }),
    async close() {
      await host.stop();
      await api.close();
      await Promise.all([env.teardown(), services.stop()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The worker's pacing variables for the emulators' limits (see `BenchStackOptions.pacing`). */
function workerPacingEnv(opts: BenchStackOptions): Record<string, string> {
  const auth0 = opts.pacing === false ? undefined : opts.auth0RateLimit;
  const hubspot = opts.pacing === false ? undefined : opts.hubspotRateLimit;
  return {
    AUTH0_MGMT_RATE_LIMIT: auth0 ? String(auth0.perSecond) : '0',
    ...(auth0?.burst ? { AUTH0_MGMT_RATE_BURST: String(auth0.burst) } : {}),
    HUBSPOT_RATE_LIMIT: hubspot ? `${hubspot.max}/${hubspot.intervalMs}ms` : '0',
  };
}

interface WorkerHost {
  maxCachedWorkflows: number;
  stats(gc: boolean): Promise<WorkerStats>;
  stop(): Promise<void>;
}

async function startWorkerHost(
  config: WorkerHostConfig,
  cpuProfDir: string | undefined,
  onLink: (link: Extract<ChildMessage, { type: 'link' }>) => void,
): Promise<WorkerHost> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./worker-host.ts', import.meta.url)), [], {
    cwd: ROOT,
    execArgv: [
      // The product's worker runs with its Node flags and environment; the SDK-default setting
      // runs as the worker did before it had them.
      ...(config.workerSettings === 'product' ? WORKER_NODE_FLAGS : []),
      '--import',
      import.meta.resolve('tsx'),
      '--expose-gc',
      ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []),
    ],
    env: { ...process.env, ...(config.workerSettings === 'product' ? WORKER_ENV : {}), BENCH_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T extends ChildMessage['type']>(type: T) =>
    new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
      const onMessage = (message: ChildMessage) => {
        if (message.type === 'error') reject(new Error(`worker process: ${message.message}`));
        else if (message.type === type) resolve(message as Extract<ChildMessage, { type: T }>);
        else return;
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onExit = (code: number | null) => reject(new Error(`worker process exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  child.on('message', (message: ChildMessage) => {
    if (message.type === 'link') onLink(message);
  });
  const ready = await next('ready');
  return {
    maxCachedWorkflows: ready.maxCachedWorkflows,
    async stats(gc) {
      const answer = next('stats');
      child.send({ type: 'stats', gc });
      return (await answer).stats;
    },
    async stop() {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' });
      await exited;
    },
  };
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function statusCounts(seen: StatusSnapshot | undefined): StatusCounts {
  return {
    byStatus: new Map(seen?.byStatus ?? []),
    byRoute: new Map((seen?.byRoute ?? []).map(([route, statuses]) => [route, new Map(statuses)])),
  };
}

interface ServicesHost {
  ready: ServicesReady;
  call<T>(call: DistributiveOmit<ServicesCall, 'id'>): Promise<T>;
  stop(): Promise<void>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

async function startServicesHost(config: ServicesConfig): Promise<ServicesHost> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./services-host.ts', import.meta.url)), [], {
    cwd: ROOT,
    execArgv: ['--import', import.meta.resolve('tsx')],
    env: { ...process.env, BENCH_SERVICES: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let ids = 0;
  const ready = await new Promise<ServicesReady>((resolve, reject) => {
    child.on('message', (message: ServicesAnswer) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'error') reject(new Error(`services process: ${message.message}`));
      else {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.error !== undefined) waiter?.reject(new Error(`services process: ${message.error}`));
        else waiter?.resolve(message.value);
      }
    });
    child.once('exit', (code) => {
      const err = new Error(`services process exited with ${code}`);
      reject(err);
      for (const waiter of pending.values()) waiter.reject(err);
      pending.clear();
    });
  });
  const call = <T>(message: DistributiveOmit<ServicesCall, 'id'>) =>
    new Promise<T>((resolve, reject) => {
      const id = ++ids;
      pending.set(id, { resolve: resolve, reject });
      child.send({ ...message, id });
    });
  return {
    ready,
    call,
    async stop() {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await call({ method: 'stop' }).catch(() => undefined);
      await exited;
    },
  };
}
