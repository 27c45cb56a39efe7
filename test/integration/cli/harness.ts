/**
 * The CLI under test, in-process, against real servers: the Temporal CLI dev server with a worker
 * running the real invite workflow on fake activities. `cli(...)` runs one command line with the
 * environment an operator would export and captures what it writes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, vi } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { parseCsv } from '../../../cli/csv';
import { run } from '../../../cli/main';
import { startAuth0Emulator } from '../../../emulators/auth0';
import type { Auth0Emulator } from '../../../emulators/auth0';
import type { Output } from '../../../cli/main';
import { createInviteStarter, inviteStartMeta, prepareInvite } from '../../../client/invites';
import type { InviteRequest, StartResult } from '../../../client/invites';
import { inviteWorkflowId, redeemUpdate, statusQuery } from '../../../workflows/messages';
import type { InviteInput, InviteStatus, Redeemer } from '../../../workflows/messages';
import { fakeActivities } from '../../support/fake-activities';
import { devServerEnv, workflowBundle } from '../../support/temporal';
import { TEST_PAYLOAD_ENV, testDataConverter } from '../../support/payload-keys';
import { WAIT } from '../../support/wait';

/** The roles the emulated tenant has from the start. */
export const TENANT_ROLES = ['member', 'billing', 'admin', 'viewer', 'reader'] as const;

export { uniqueEmail } from '../../support/unique-email';

/** What one CLI run did. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as JSON Lines. */
  lines(): Record<string, unknown>[];
}

/** Options of one CLI run. */
export interface CliRunOptions {
  /** Replaces (or, with undefined, removes) environment variables. */
  env?: Record<string, string | undefined>;
  /** Pretend stderr is a terminal (for the progress bar). */
  tty?: boolean;
  signal?: AbortSignal;
}

/** Everything a CLI test file needs; `close()` in `afterAll`. */
export interface CliHarness {
  env: TestWorkflowEnvironment;
  fake: ReturnType<typeof fakeActivities>;
  /** The Auth0 tenant whose roles `bulk` checks; it has `TENANT_ROLES`. */
  auth0: Auth0Emulator;
  taskQueue: string;
  /** The environment the CLI runs with (Temporal address, task queue, INVITE_ID_KEY, the Auth0 application). */
  cliEnv: {
    TEMPORAL_ADDRESS: string;
    TEMPORAL_NAMESPACE: string;
    TEMPORAL_TASK_QUEUE: string;
    INVITE_ID_KEY: string;
    AUTH0_DOMAIN: string;
    AUTH0_CLIENT_ID: string;
    AUTH0_CLIENT_SECRET: string;
    AUTH0_MANAGEMENT_ENDPOINT: string;
  };
  /** A scratch directory, removed on close; the CLI's working directory. */
  dir: string;
  /** Writes a file into `dir` under a name no other call of this harness used; returns that name. */
  file(name: string, text: string): string;
  /** The rows of the CSV report `name` in `dir`, as objects keyed by its header. */
  report(name: string): Record<string, string>[];
  cli(argv: string[], opts?: CliRunOptions): Promise<CliResult>;
  /** Starts an invite the way the API does (the shared starter); `extra` sets input fields the API keeps at their defaults. */
  invite(
    request: InviteRequest,
    extra?: Partial<InviteInput>,
    taskQueue?: string,
  ): Promise<{ id: string } & StartResult>;
  status(inviteId: string): Promise<InviteStatus>;
  /** Redeems with the link of the latest email, as the Auth0 Action would (waits for the email). */
  redeem(inviteId: string, user?: Partial<Redeemer>): Promise<void>;
  /** Polls the status until `predicate` holds. */
  until(inviteId: string, predicate: (s: InviteStatus) => boolean): Promise<InviteStatus>;
  close(): Promise<void>;
}

/** Collects what is written; `isTTY` as asked. */
export function capture(isTTY = false): Output & { text(): string } {
  const chunks: string[] = [];
  return {
    isTTY,
    columns: 120,
    write(chunk: string) {
      chunks.push(chunk);
      return true;
    },
    text: () => chunks.join(''),
  };
}

/** Starts the dev server and a worker on a task queue of this file's own. */
export async function startCliHarness(): Promise<CliHarness> {
  const [env, auth0] = await Promise.all([devServerEnv(), startAuth0Emulator()]);
  for (const role of TENANT_ROLES) auth0.createRole(role);
  const fake = fakeActivities();
  const taskQueue = `cli-${randomBytes(6).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fake.activities,
    dataConverter: testDataConverter,
  });
  const running = worker.run();
  const dir = mkdtempSync(join(tmpdir(), 'inviteflow-cli-'));
  const cliEnv = {
    ...TEST_PAYLOAD_ENV,
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    INVITE_ID_KEY: randomBytes(24).toString('base64url'),
    AUTH0_DOMAIN: auth0.domain,
    AUTH0_CLIENT_ID: 'inviteflow-m2m',
    AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
  };
  // As the API starts them: with encryption on, InviteEmail holds the keyed hash the CLI searches.
  const start = createInviteStarter(env.client, taskQueue, cliEnv.INVITE_ID_KEY);
  const status = (inviteId: string) =>
    env.client.workflow.getHandle(inviteWorkflowId(inviteId)).query(statusQuery);
  let files = 0;

  return {
    env,
    fake,
    auth0,
    taskQueue,
    cliEnv,
    dir,
    file(name, text) {
      const unique = `${++files}-${name}`;
      writeFileSync(join(dir, unique), text);
      return unique;
    },
    report(name) {
      const [header, ...rows] = parseCsv(readFileSync(join(dir, name), 'utf8'));
      return rows.map((r) => Object.fromEntries(header!.map((column, i) => [column, r[i] ?? ''])));
    },
    async cli(argv, opts = {}) {
      const stdout = capture();
      const stderr = capture(opts.tty ?? false);
      const merged: Record<string, string | undefined> = { ...cliEnv, ...opts.env };
      const code = await run(argv, {
        stdout,
        stderr,
        env: merged,
        cwd: dir,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const out = stdout.text();
      return {
        code,
        stdout: out,
        stderr: stderr.text(),
        lines: () =>
          out
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as Record<string, unknown>),
      };
    },
    async invite(request, extra = {}, queue = taskQueue) {
      const { input, invite } = prepareInvite(cliEnv.INVITE_ID_KEY, request);
      const starter = queue === taskQueue ? start : createInviteStarter(env.client, queue, cliEnv.INVITE_ID_KEY);
      const result = await starter({ ...input, ...extra }, inviteStartMeta(invite));
      return { id: input.inviteId, ...result };
    },
    status,
    async redeem(inviteId, user = {}) {
      const email = await vi.waitFor(() => {
        const latest = fake.calls.emails.filter((e) => e.inviteId === inviteId).at(-1);
        expect(latest, `an email for ${inviteId}`).toBeDefined();
        return latest!;
      }, WAIT);
      const { email: invited } = await status(inviteId);
      await env.client.workflow.getHandle(inviteWorkflowId(inviteId)).executeUpdate(redeemUpdate, {
        args: [
          {
            linkId: email.jti,
            user: {
              userId: `auth0|${inviteId}`,
              email: invited,
              emailVerified: true,
              connection: 'google-oauth2',
              ...user,
            },
          },
        ],
      });
    },
    async until(inviteId, predicate) {
      return vi.waitFor(async () => {
        const s = await status(inviteId);
        expect(predicate(s), `status of ${inviteId}: ${JSON.stringify(s)}`).toBe(true);
        return s;
      }, WAIT);
    },
    async close() {
      worker.shutdown();
      await running;
      await Promise.all([env.teardown(), auth0.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
