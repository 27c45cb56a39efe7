/**
 * A Temporal service that is down when the API and the worker start: both processes say so in
 * one log line per attempt (no secret in it), keep retrying with a growing wait instead of
 * exiting, and serve as soon as the server comes up on that address; an invite created then is
 * emailed. A worker stopped (SIGTERM) while it waits exits cleanly.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startAuth0Emulator } from '../../../emulators/auth0';
import type { Auth0Emulator } from '../../../emulators/auth0';
import { startHubSpotEmulator } from '../../../emulators/hubspot';
import type { HubSpotEmulator } from '../../../emulators/hubspot';
import { startMailCatcher } from '../../../emulators/mail';
import type { MailCatcher } from '../../../emulators/mail';
import { generateLinkKey } from '../../../lib/token';
import { searchAttributes } from '../../../workflows/messages';
import { freePort } from '../../../scripts/cluster';
import { requireBinary } from '../../../scripts/temporal-bin.mjs';
import { ServiceProcess } from '../../support/service-process';
import { m2mToken } from '../../support/m2m-token';

const UNREACHABLE = /"msg":"Temporal at 127\.0\.0\.1:\d+ is unreachable \((?:connection refused|no answer before the deadline)\); retrying in (\d+) ms"/g;

let auth0: Auth0Emulator;
let hubspot: HubSpotEmulator;
let mail: MailCatcher;
let env: TestWorkflowEnvironment | undefined;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  [auth0, hubspot, mail] = await Promise.all([startAuth0Emulator(), startHubSpotEmulator(), startMailCatcher({ smtpPort: 0, httpPort: 0 })]);
  auth0.createRole('member');
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.kill()));
  await Promise.all([env?.teardown(), auth0?.close(), hubspot?.close(), mail?.close()]);
});

async function processes(temporalPort: number) {
  const key = await generateLinkKey('start-down');
  const apiPort = await freePort();
  const secrets = {
    ACTION_SECRET: randomBytes(32).toString('base64url'),
    INVITE_ID_KEY: randomBytes(24).toString('base64url'),
    PAYLOAD_KEYS: JSON.stringify([{ id: 'start-down', key: randomBytes(32).toString('base64') }]),
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
  };
  const common = {
    PATH: process.env.PATH ?? '',
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    TEMPORAL_TASK_QUEUE: `start-down-${randomBytes(4).toString('hex')}`,
    PAYLOAD_KEYS: secrets.PAYLOAD_KEYS,
    PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: secrets.AUTH0_CLIENT_SECRET,
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
    LOG_LEVEL: 'info',
  };
  const worker = new ServiceProcess('worker/main.ts', 'worker started', {
    ...common,
    LINK_SIGNING_KEY: JSON.stringify(key.privateJwk),
    SMTP_URL: mail.smtpUrl,
    HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
    HUBSPOT_BASE_PATH: hubspot.url,
  });
  const api = new ServiceProcess('api/main.ts', 'api started', {
    ...common,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    LINK_VERIFICATION_KEYS: JSON.stringify([key.publicJwk]),
    INVITE_ID_KEY: secrets.INVITE_ID_KEY,
    ACTION_SECRET: secrets.ACTION_SECRET,
    AUTH_ISSUER: `https://${auth0.domain}/`,
    AUTH_JWKS_URL: `${auth0.url}/.well-known/jwks.json`,
    APP_LOGIN_URL: 'http://127.0.0.1:9/login',
  });
  services.push(worker, api);
  return { worker, api, apiUrl: `http://127.0.0.1:${apiPort}`, secrets: [...Object.values(secrets), JSON.stringify(key.privateJwk), key.privateJwk.d!] };
}

const waits = (output: string) => [...output.matchAll(UNREACHABLE)].map((m) => Number(m[1]));

describe('Temporal down when the services start', () => {
  it('logs one line per attempt, retries with backoff, then serves once the server is up', { timeout: 120_000 }, async () => {
    const temporalPort = await freePort();
    const { worker, api, apiUrl, secrets } = await processes(temporalPort);
    const workerUp = worker.start();
    const apiUp = api.start();
    // A failure to start would reject these before the server exists; keep them observed.
    workerUp.catch(() => undefined);
    apiUp.catch(() => undefined);

    // Both keep waiting, each attempt on one line, each wait longer than the one before.
    await vi.waitFor(() => {
      // The client's connect gives up after its own 10 s deadline; the native one at once.
      expect(waits(worker.output).length).toBeGreaterThanOrEqual(3);
      expect(waits(api.output).length).toBeGreaterThanOrEqual(2);
    }, { timeout: 60_000, interval: 100 });
    for (const service of [worker, api]) {
      expect(service.alive).toBe(true);
      const [first, second] = waits(service.output);
      expect(second).toBeGreaterThan(first!);
      for (const secret of secrets) expect(service.output).not.toContain(secret);
      // Only the retry lines: no stack trace, no other error.
      expect(service.output).not.toMatch(/\bat \S+ \(|Error:/);
    }

    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: requireBinary('cli') },
        port: temporalPort,
        searchAttributes: Object.values(searchAttributes),
        log: { format: 'pretty', level: 'warn' },
      },
    });
    await Promise.all([workerUp, apiUp]);

    const bearer = await m2mToken(auth0.url, 'https://inviteflow/api');
    const email = `late.${randomBytes(4).toString('hex')}@example.com`;
    const res = await fetch(`${apiUrl}/v1/invites`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ email, roles: ['member'] }),
    });
    expect(res.status).toBe(201);
    const message = await mail.waitForMessage((m) => m.to.includes(email), 30_000);
    expect(message.subject).not.toBe('');
  });

  it('lets a waiting worker stop on SIGTERM with a clean exit', async () => {
    const { worker } = await processes(await freePort());
    const up = worker.start();
    up.catch(() => undefined);
    await vi.waitFor(() => expect(waits(worker.output).length).toBeGreaterThanOrEqual(1), { timeout: 30_000, interval: 100 });
    expect(await worker.terminate()).toBe(0);
    expect(worker.output).toContain('"msg":"stopped before Temporal was reached"');
    await expect(up).rejects.toThrow(/exited \(0\) before starting/);
  });
});
