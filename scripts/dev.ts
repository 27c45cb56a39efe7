/**
 * The whole local stack in one command (`npm run dev`): Temporal dev server with the Web UI and
 * our search attributes (SQLite under .data/, so invites survive a restart), the mail catcher
 * with its web inbox, the Auth0 and HubSpot emulators, the worker and the API. Link keys, the
 * payload encryption key and local secrets are generated on first run into .data/. Ctrl-C stops
 * everything.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { buildAction } from '../actions/build';
import { tsProcess, WORKER_ENV, workerProcess } from './ts-process';
import type { LocalStackFile } from '../cli/local-stack';
import { deployAction } from '../actions/deploy';
import { clientCredentialsToken } from '../demo/funnel-token';
import { startDemoApp } from '../demo/server';
import { startAuth0Emulator } from '../emulators/auth0';
import { createManagementClient } from '../services/auth0';
import { startHubSpotEmulator } from '../emulators/hubspot';
import { startMailCatcher } from '../emulators/mail';
import { generateLinkKey } from '../lib/token';
import { generatePayloadKeys } from '../client/codec';
import type { PayloadKey } from '../client/codec';
import { SEARCH_ATTRIBUTE_DEFINITIONS } from '../workflows/messages';
import { provision, ROOT } from './temporal-bin.mjs';

// DEV_DATA_DIR moves it elsewhere (the test that starts and stops the stack uses a fresh one).
const DATA = process.env.DEV_DATA_DIR ?? join(ROOT, '.data');
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ports = {
  temporal: port('DEV_TEMPORAL_PORT', 7233),
  temporalUi: port('DEV_TEMPORAL_UI_PORT', 8233),
  api: port('DEV_API_PORT', 3000),
  auth0: port('DEV_AUTH0_PORT', 4010),
  hubspot: port('DEV_HUBSPOT_PORT', 4020),
  smtp: port('DEV_SMTP_PORT', 1025),
  inbox: port('DEV_INBOX_PORT', 1080),
  app: port('DEV_APP_PORT', 5173),
  workerMetrics: port('DEV_WORKER_METRICS_PORT', 9464),
};

interface LocalSecrets {
  linkKey: Awaited<ReturnType<typeof generateLinkKey>>;
  inviteIdKey: string;
  actionSecret: string;
  /** Encrypts invites in the local Temporal (absent from files made before encryption was on). */
  payloadKeys?: PayloadKey[];
}

/** Secrets of the local stack: made once, kept in .data/ so links stay valid across restarts. */
async function localSecrets(): Promise<LocalSecrets> {
  const file = join(DATA, 'local-secrets.json');
  const today = new Date().toISOString().slice(0, 10);
  const kept = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LocalSecrets) : undefined;
  // A key is added to secrets made before encryption was on; invites recorded in clear still decode.
  if (kept?.payloadKeys) return kept;
  const secrets: LocalSecrets = {
    linkKey: kept?.linkKey ?? (await generateLinkKey(`local-${today}`)),
    inviteIdKey: kept?.inviteIdKey ?? randomBytes(24).toString('base64url'),
    actionSecret: kept?.actionSecret ?? randomBytes(32).toString('base64url'),
    payloadKeys: generatePayloadKeys(`local-${today}`),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

function waitForPort(portNumber: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(portNumber, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline)
          reject(new Error(`nothing listens on port ${portNumber} after ${timeoutMs} ms`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

/** A child process of the stack, by the name its lines are prefixed with. */
interface Child {
  name: string;
  process: ChildProcess;
}

const children: Child[] = [];
let stopping = false;

/** While stopping, only errors get through: the rest is each component saying goodbye in its own words. */
const isError = (line: string) => /"level":(?:[5-9]\d)|\blevel=(?:ERROR|FATAL|PANIC)\b/.test(line);

function run(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own: Ctrl-C reaches this script only, which stops the children in order
    // (worker and API before the Temporal server they talk to), instead of all of them at once.
    detached: true,
  });
  const prefix = `[${name}] `;
  const forward = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n'))
      if (line.trim() && (!stopping || isError(line))) stream.write(prefix + line + '\n');
  };
  child.stdout?.on('data', forward(process.stdout));
  child.stderr?.on('data', forward(process.stderr));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${prefix}exited (${signal ?? code}); stopping the stack`);
      void shutdown(1);
    }
  });
  children.push({ name, process: child });
  return child;
}

let closers: (() => Promise<void>)[] = [];

/** Stops one child: SIGTERM, then SIGKILL after 10 s; says how it ended in one line. */
async function stop({ name, process: child }: Child): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  let killed = false;
  const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, 10_000);
  const [code, signal] = await ended;
  clearTimeout(timer);
  const clean = code === 0 || (signal === 'SIGTERM' && !killed);
  console.log(`[${name}] ${clean ? 'stopped' : killed ? 'killed after 10 s' : `stopped (${signal ?? `exit ${code}`})`}`);
}

async function shutdown(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping…');
  // Worker and API first (they drain), the Temporal server last.
  for (const child of [...children].reverse()) await stop(child);
  if (closers.length > 0) {
    await Promise.allSettled(closers.map((close) => close()));
    console.log('[emulators, demo] stopped');
  }
  process.exit(code);
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const { cli } = provision();
  const secrets = await localSecrets();
  const payloadKeys = secrets.payloadKeys!;

  run('temporal', cli, [
    'server',
    'start-dev',
    '--db-filename',
    join(DATA, 'temporal.db'),
    '--port',
    String(ports.temporal),
    '--ui-port',
    String(ports.temporalUi),
    '--log-level',
    'warn',
    // The UI decodes invites through the API's codec endpoint (no token needed from this machine).
    '--ui-codec-endpoint',
    `http://localhost:${ports.api}/codec`,
    ...Object.entries(SEARCH_ATTRIBUTE_DEFINITIONS).flatMap(([name, type]) => [
      '--search-attribute',
      `${name}=${type}`,
    ]),
  ]);

  const appName = process.env.APP_NAME?.trim() || 'Acme';
  const [auth0, hubspot, mail] = await Promise.all([
    startAuth0Emulator({
      port: ports.auth0,
      host: '127.0.0.1',
      spa: {
        name: appName,
        callbacks: [`http://localhost:${ports.app}/callback`, `http://127.0.0.1:${ports.app}/callback`],
        // Signing out comes back home, or to a fresh login for an invite's address.
        allowedLogoutUrls: ['localhost', '127.0.0.1'].flatMap((host) => [
          `http://${host}:${ports.app}`,
          `http://${host}:${ports.app}/login`,
        ]),
      },
    }),
    startHubSpotEmulator({ port: ports.hubspot, host: '127.0.0.1', accessToken: 'pat-local-dev' }),
    startMailCatcher({ smtpPort: ports.smtp, httpPort: ports.inbox, host: '127.0.0.1' }),
  ]);
  closers = [() => auth0.close(), () => hubspot.close(), () => mail.close()];
  for (const role of ['member', 'billing', 'admin']) auth0.createRole(role);

  await waitForPort(ports.temporal);
  const publicBaseUrl = `http://localhost:${ports.api}`;
  const shared = {
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
    PUBLIC_BASE_URL: publicBaseUrl,
    // The defaults, spelled out: what invitees see as the product and the sender.
    APP_NAME: 'Acme',
    MAIL_FROM_NAME: 'Acme',
    MAIL_FROM: 'invites@acme.example',
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    // Invitees' emails and data are encrypted in the local Temporal too, as in production.
    PAYLOAD_KEYS: JSON.stringify(payloadKeys),
  };
  // Node itself with tsx's loader, not the tsx CLI: a SIGKILL (after a stuck SIGTERM) then reaches
  // the program instead of a wrapper that would leave it running.
  run('worker', ...workerProcess(), {
    ...WORKER_ENV,
    ...shared,
    LINK_SIGNING_KEY: JSON.stringify(secrets.linkKey.privateJwk),
    SMTP_URL: mail.smtpUrl,
    HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
    HUBSPOT_BASE_PATH: hubspot.url,
    WORKER_METRICS_ADDRESS: `127.0.0.1:${ports.workerMetrics}`,
  });
  run('api', ...tsProcess('api/main.ts'), {
    ...shared,
    PORT: String(ports.api),
    HOST: '127.0.0.1',
    LINK_VERIFICATION_KEYS: JSON.stringify([secrets.linkKey.publicJwk]),
    INVITE_ID_KEY: secrets.inviteIdKey,
    ACTION_SECRET: secrets.actionSecret,
    AUTH_ISSUER: auth0.issuer,
    AUTH_JWKS_URL: `${auth0.url}/.well-known/jwks.json`,
    APP_LOGIN_URL: `http://localhost:${ports.app}/login`,
    CODEC_CORS_ORIGIN: `http://localhost:${ports.temporalUi}`,
    CODEC_LOOPBACK_WITHOUT_TOKEN: 'true',
    // Invites may bind CRM properties: the API checks their names in (emulated) HubSpot.
    HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
    HUBSPOT_BASE_PATH: hubspot.url,
  });
  await waitForPort(ports.api);

  // The post-login Action reaches the emulated tenant the way it reaches a real one.
  const { code } = await buildAction();
  await deployAction({
    management: createManagementClient({
      domain: auth0.domain,
      clientId: 'inviteflow-deploy',
      clientSecret: 'inviteflow-deploy-secret',
      endpoint: auth0.url,
    }),
    name: 'inviteflow-redeem-invite',
    code,
    secrets: {
      INVITEFLOW_API_URL: publicBaseUrl,
      INVITEFLOW_ACTION_SECRET: secrets.actionSecret,
      ON_REFUSAL: 'continue',
    },
  });
  const demo = await startDemoApp({
    port: ports.app,
    host: '127.0.0.1',
    auth0Url: auth0.url,
    issuer: auth0.issuer,
    appName,
    clientId: auth0.spaClientId,
    apiUrl: publicBaseUrl,
    funnelToken: clientCredentialsToken({
      tokenUrl: `${auth0.url}/oauth/token`,
      clientId: 'inviteflow-m2m',
      clientSecret: 'inviteflow-m2m-secret',
      audience: 'https://inviteflow/api',
    }),
  });
  closers.unshift(() => demo.close());

  // The CLI of this checkout reads what its environment lacks from here (cli/local-stack.ts).
  const stackFile: LocalStackFile = {
    temporalAddress: shared.TEMPORAL_ADDRESS,
    apiUrl: publicBaseUrl,
    auth0: {
      url: auth0.url,
      domain: auth0.domain,
      audience: 'https://inviteflow/api',
      clientId: shared.AUTH0_CLIENT_ID,
      clientSecret: shared.AUTH0_CLIENT_SECRET,
    },
    hubspot: { url: hubspot.url, accessToken: hubspot.accessToken },
  };
  writeFileSync(join(DATA, 'local-stack.json'), JSON.stringify(stackFile, null, 2), { mode: 0o600 });

  console.log(`
inviteflow local stack is up
  Temporal UI         http://localhost:${ports.temporalUi}   (gRPC ${shared.TEMPORAL_ADDRESS}, data in .data/temporal.db, decoded by the API's /codec)
  Payload encryption  on, key "${payloadKeys[0]!.id}" in .data/local-secrets.json (the CLI of this checkout reads it)
  API                 ${publicBaseUrl}   (OpenAPI ${publicBaseUrl}/docs)
  Demo funnel         http://localhost:${ports.app}/funnel   (leave an email, then open the mail inbox)
  Customer space      http://localhost:${ports.app}/
  Metrics             ${publicBaseUrl}/metrics (API), http://127.0.0.1:${ports.workerMetrics}/metrics (worker)
  Mail inbox          ${mail.httpUrl}   (SMTP ${mail.smtpUrl})
  Auth0 emulator      ${auth0.url}   (tenant ${auth0.domain}; M2M client inviteflow-m2m / inviteflow-m2m-secret)
  API token           npm run token   (curl -H "authorization: Bearer $(npm run -s token)" ${publicBaseUrl}/v1/invites)
  HubSpot emulator    ${hubspot.url}   (token ${hubspot.accessToken})
Press Ctrl-C to stop.`);
}

// The children are in process groups of their own, so a closed terminal (SIGHUP) must stop them too.
// Listeners stay: a repeated signal (npm and tsx relay Ctrl-C once more) must not end this process
// half-way, leaving the rest of the stack running; each child is SIGKILLed after 10 s anyway.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));
main().catch((err: unknown) => {
  console.error(err);
  void shutdown(1);
});
