/**
 * The worker as operators run it: `worker/main.ts` in its own process, configured only by its
 * environment. It refuses a bad configuration, logs JSON lines that carry the invite id and no
 * link token, exposes Temporal's and our metrics on Prometheus, and stops cleanly on SIGTERM.
 */
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../../worker/worker';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import { startMailCatcher } from '../../emulators/mail';
import type { MailCatcher } from '../../emulators/mail';
import { generateLinkKey } from '../../lib/token';
import { inviteWorkflowId, TASK_QUEUE } from '../../workflows/messages';
import type { inviteWorkflow } from '../../workflows/invite';
import { devServerEnv } from '../support/temporal';
import { tsProcess } from '../../scripts/ts-process';
import { freePort } from '../e2e/stack';
import { TEST_PAYLOAD_ENV } from '../support/payload-keys';
import { WAIT } from '../support/wait';

const ROOT = join(import.meta.dirname, '..', '..');
const [NODE, WORKER_ARGS] = tsProcess('worker/main.ts');

let env: TestWorkflowEnvironment;
let auth0: Auth0Emulator;
let hubspot: HubSpotEmulator;
let mail: MailCatcher;
let workerEnv: Record<string, string>;

beforeAll(async () => {
  [env, auth0, hubspot, mail] = await Promise.all([
    devServerEnv(),
    startAuth0Emulator(),
    startHubSpotEmulator(),
    startMailCatcher({ smtpPort: 0, httpPort: 0 }),
  ]);
  const key = await generateLinkKey('proc-1');
  workerEnv = {
    PATH: process.env.PATH ?? '',
    ...TEST_PAYLOAD_ENV,
    TEMPORAL_ADDRESS: env.address,
    PUBLIC_BASE_URL: 'http://localhost:3998',
    LINK_SIGNING_KEY: JSON.stringify(key.privateJwk),
    SMTP_URL: mail.smtpUrl,
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
    HUBSPOT_ACCESS_TOKEN: hubspot.accessToken,
    HUBSPOT_BASE_PATH: hubspot.url,
  };
});

afterAll(async () => {
  await Promise.all([env?.teardown(), auth0?.close(), hubspot?.close(), mail?.close()]);
});

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('the worker process', () => {
  it('refuses to start on a missing or malformed variable, naming it and not its value', () => {
    const result = spawnSync(NODE, WORKER_ARGS, {
      cwd: ROOT,
      env: { ...workerEnv, AUTH0_CLIENT_ID: '', LINK_SIGNING_KEY: 'not-json-s3cr3t' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('AUTH0_CLIENT_ID');
    expect(result.stderr).toContain('LINK_SIGNING_KEY');
    expect(result.stderr).not.toContain('s3cr3t');
  });

  it('runs invites, logs JSON with the invite id and no token, exports metrics, stops on SIGTERM', async () => {
    const metricsPort = await freePort();
    const child = spawn(NODE, WORKER_ARGS, {
      cwd: ROOT,
      env: { ...workerEnv, WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`, LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exit = exited(child);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));

    const inviteId = randomBytes(10).toString('hex');
    const email = `proc.${inviteId}@example.com`;
    const handle = await env.client.workflow.start<typeof inviteWorkflow>('inviteWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: inviteWorkflowId(inviteId),
      // An address the mail catcher refuses for good: the workflow logs a warning about it.
      args: [{ inviteId, email: `reject-550.${inviteId}@example.com`, roles: [], data: {}, scope: 'proc', locale: 'en' }],
    });
    const second = await env.client.workflow.start<typeof inviteWorkflow>('inviteWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: inviteWorkflowId(`${inviteId}b`),
      args: [{ inviteId: `${inviteId}b`, email, roles: [], data: {}, scope: 'proc', locale: 'en' }],
    });
    const message = await mail.waitForMessage((m) => m.to.includes(email), 60_000);
    const token = /\/i\/([A-Za-z0-9_.-]+)/.exec(message.text)![1]!;

    const metrics = await vi.waitFor(async () => {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text(), () => '');
      expect(text).toMatch(/inviteflow_emails_sent\S*\{[^}]*kind="invite"/);
      return text;
    }, WAIT);
    expect(metrics).toMatch(/inviteflow_emails_sent\S*\{[^}]*kind="invite"[^}]*\} 1/);
    expect(metrics).toMatch(/inviteflow_invite_transitions\S*\{[^}]*state="pending"[^}]*\} 2/);
    expect(metrics).toMatch(/temporal_workflow_task_execution_latency/);

    await vi.waitFor(() => expect(out).toContain('invite email refused'), WAIT);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);

    const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    // The sticky cache the product chose for sleeping invites, not the SDK's heap-sized default.
    expect(lines.find((l) => l.msg === 'worker started')).toMatchObject({ maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS });
    expect(lines.find((l) => l.msg === 'invite email refused')).toMatchObject({ inviteId });
    expect(lines.find((l) => l.msg === 'worker stopped')).toBeDefined();
    expect(out).not.toContain(token);
    expect(out).not.toContain('inviteflow-m2m-secret');
    await handle.terminate('test over');
    await second.terminate('test over');
  });
});
