/**
 * The API killed (SIGKILL) and restarted while the funnel keeps creating invites and retrying
 * whatever failed: every email ends with exactly one workflow run, because the invite id is
 * derived from email+scope and Temporal's id-conflict policy, not the API process, decides.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { startAuth0Emulator } from '../../../emulators/auth0';
import type { Auth0Emulator } from '../../../emulators/auth0';
import { generateLinkKey } from '../../../lib/token';
import { inviteWorkflowId } from '../../../workflows/messages';
import { fakeActivities } from '../../support/fake-activities';
import { devServerEnv, workflowBundle } from '../../support/temporal';
import { tsProcess } from '../../../scripts/ts-process';
import { freePort } from '../../e2e/stack';
import { m2mToken } from '../../support/m2m-token';
import { TEST_PAYLOAD_ENV, testDataConverter } from '../../support/payload-keys';
import { WAIT } from '../../support/wait';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const EMAILS = 30;

let env: TestWorkflowEnvironment;
let auth0: Auth0Emulator;
let worker: Worker;
let running: Promise<void>;
let api: ChildProcess | undefined;

beforeAll(async () => {
  [env, auth0] = await Promise.all([devServerEnv(), startAuth0Emulator()]);
  // The role the funnel invites with; the API checks role names in Auth0.
  auth0.createRole('member');
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'api-restart',
    workflowBundle: await workflowBundle(),
    activities: fakeActivities().activities,
    dataConverter: testDataConverter,
  });
  running = worker.run();
});

afterAll(async () => {
  api?.kill('SIGKILL');
  worker?.shutdown();
  await running;
  await Promise.all([env?.teardown(), auth0?.close()]);
});

describe('the API restarted under load', () => {
  it('leaves exactly one workflow per invite while the funnel retries', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const key = await generateLinkKey('restart-1');
    const apiEnv = {
      PATH: process.env.PATH ?? '',
      ...TEST_PAYLOAD_ENV,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: 'api-restart',
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: base,
      LINK_VERIFICATION_KEYS: JSON.stringify([key.publicJwk]),
      INVITE_ID_KEY: randomBytes(24).toString('base64url'),
      ACTION_SECRET: randomBytes(32).toString('base64url'),
      AUTH_ISSUER: `https://${auth0.domain}/`,
      AUTH_JWKS_URL: `${auth0.url}/.well-known/jwks.json`,
      APP_LOGIN_URL: 'http://127.0.0.1:9/login',
      AUTH0_DOMAIN: auth0.domain,
      AUTH0_CLIENT_ID: 'inviteflow-m2m',
      AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
      AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
      LOG_LEVEL: 'warn',
    };
    /** How the current API process ended, once it has. */
    let apiExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
    const startApi = () => {
      const [command, args] = tsProcess('api/main.ts');
      const child = spawn(command, args, { cwd: ROOT, env: apiEnv, stdio: 'ignore' });
      api = child;
      apiExit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    };
    const bearer = await m2mToken(auth0.url, 'https://inviteflow/api');

    startApi();
    const emails = Array.from({ length: EMAILS }, (_, i) => `funnel.${i}.${randomBytes(3).toString('hex')}@example.com`);
    const failures: number[] = [];
    let answered = 0;
    // The funnel: each email is posted twice (a double submit), retrying until the API answers.
    const post = async (email: string) => {
      for (let attempt = 1; attempt <= 400; attempt++) {
        const res = await fetch(`${base}/v1/invites`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
          body: JSON.stringify({ email, scope: 'workspace:restart', roles: ['member'], data: { attempt } }),
        }).catch(() => undefined);
        if (res && (res.status === 200 || res.status === 201)) {
          answered++;
          return ((await res.json()) as { id: string }).id;
        }
        failures.push(res?.status ?? 0);
        // The funnel's own pause between retries, not a wait for the test.
        await sleep(50);
      }
      throw new Error(`the API never answered for ${email}`);
    };
    const funnel = Promise.all(emails.flatMap((email) => [post(email), post(email)]));

    // Kill the API twice while it is answering, i.e. with requests in flight, restarting it each time.
    const exits: { code: number | null; signal: NodeJS.Signals | null }[] = [];
    const answeredAtKill: number[] = [];
    for (let round = 0; round < 2; round++) {
      const before = answered;
      await vi.waitFor(() => expect(answered).toBeGreaterThanOrEqual(Math.min(before + 3, 2 * EMAILS)), WAIT);
      answeredAtKill.push(answered);
      api!.kill('SIGKILL');
      exits.push(await apiExit);
      startApi();
    }
    // Each kill ended a running API (the one that had just answered), not one that had exited.
    expect(exits).toEqual([
      { code: null, signal: 'SIGKILL' },
      { code: null, signal: 'SIGKILL' },
    ]);
    const ids = await funnel;

    // The first kill hit an API that was answering with most requests still to come.
    expect(answeredAtKill[0]).toBeGreaterThan(0);
    expect(answeredAtKill[0]).toBeLessThan(2 * EMAILS);
    expect(failures.length).toBeGreaterThan(0);
    for (let i = 0; i < EMAILS; i++) expect(ids[2 * i]).toBe(ids[2 * i + 1]);
    expect(new Set(ids).size).toBe(EMAILS);
    // One run per invite: count the runs of every workflow id in visibility.
    for (const id of new Set(ids)) {
      await vi.waitFor(async () => {
        let runs = 0;
        for await (const _ of env.client.workflow.list({ query: `WorkflowId = '${inviteWorkflowId(id)}'` })) runs++;
        expect(runs, id).toBe(1);
      }, WAIT);
    }
  });
});
