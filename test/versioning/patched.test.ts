/**
 * The versioning rule, proven on the real workflow: a change that adds a command (here a timer
 * before the first email) keeps every recorded history replaying when it is guarded by
 * `patched()`, and breaks replay with a DeterminismViolationError when it is not. The changed
 * copies of `workflows/invite/index.ts` are generated under the git-ignored `.data/` (the bundler
 * skips TypeScript inside node_modules), importing the real modules beside it, and bundled as a
 * worker would bundle them; the real workflow code is untouched.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { inviteWorkflowId, redeemUpdate } from '../../workflows/messages';
import { fakeActivities } from '../support/fake-activities';
import { HISTORIES_DIR } from '../support/histories';
import { timeSkippingEnv, workflowBundle } from '../support/temporal';
import { testDataConverter } from '../support/payload-keys';
import { FAILURE_CONVERTER_PATH } from '../../client/codec';

const WORKFLOWS_DIR = join(import.meta.dirname, '..', '..', 'workflows');
const INVITE_DIR = join(WORKFLOWS_DIR, 'invite');
const ANCHOR = '  effects.started();\n';

const histories = readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ workflowId: f, history: historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, f), 'utf8'))) }));

let tmp: string;

/** A copy of the invite workflow with `change` inserted before the first email, bundled. */
async function changedBundle(name: string, change: string): Promise<WorkflowBundleWithSourceMap> {
  const source = readFileSync(join(INVITE_DIR, 'index.ts'), 'utf8');
  // The test would prove nothing if the anchor moved and no change were made.
  expect(source).toContain(ANCHOR);
  const changed = source
    .replace(ANCHOR, `${change}\n${ANCHOR}`)
    .replace(/from '(\.\.?\/[\w/-]+)'/g, (_m, mod: string) => `from '${join(INVITE_DIR, mod)}'`);
  const file = join(tmp, `${name}.ts`);
  writeFileSync(file, `import { patched as __patched, sleep as __sleep } from '@temporalio/workflow';\n${changed}`);
  const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  return bundleWorkflowCode({ workflowsPath: file, failureConverterPath: FAILURE_CONVERTER_PATH, logger: silent });
}

async function replayAll(bundle: WorkflowBundleWithSourceMap) {
  const failures: { workflowId: string; error: unknown }[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
    if (result.error) failures.push({ workflowId: result.workflowId, error: result.error });
  }
  return failures;
}

let guarded: WorkflowBundleWithSourceMap;
let unguarded: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  const cache = join(WORKFLOWS_DIR, '..', '.data');
  mkdirSync(cache, { recursive: true });
  tmp = mkdtempSync(join(cache, 'inviteflow-versioning-'));
  [guarded, unguarded] = await Promise.all([
    changedBundle('guarded', "  if (__patched('versioning-test-pause')) await __sleep('1 second');"),
    changedBundle('unguarded', "  await __sleep('1 second');"),
  ]);
}, 60_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('changing the workflow', () => {
  it('keeps every recorded history replaying when the change is guarded by patched()', async () => {
    expect(histories.length).toBeGreaterThanOrEqual(13);
    expect(await replayAll(guarded)).toEqual([]);
  });

  it('breaks replay with a DeterminismViolationError when the same change is not guarded', async () => {
    const failures = await replayAll(unguarded);
    // Every path sends the first email, so every history meets the new timer.
    expect(failures.map((f) => f.workflowId)).toEqual(histories.map((h) => h.workflowId));
    for (const { error } of failures) expect(error).toBeInstanceOf(DeterminismViolationError);
  });

  describe('the new path', () => {
    let env: TestWorkflowEnvironment;
    let history: temporal.api.history.v1.IHistory;

    beforeAll(async () => {
      env = await timeSkippingEnv();
      const fake = fakeActivities();
      const taskQueue = `versioning-${randomBytes(4).toString('hex')}`;
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: guarded, activities: fake.activities, dataConverter: testDataConverter });
      const inviteId = randomBytes(13).toString('hex');
      history = await worker.runUntil(async () => {
        const handle = await env.client.workflow.start('inviteWorkflow', {
          taskQueue,
          workflowId: inviteWorkflowId(inviteId),
          args: [{ inviteId, email: 'new.path@example.com', roles: ['member'], data: {}, scope: 'workspace:acme', locale: 'en' }],
        });
        while (!fake.calls.emails.some((e) => e.inviteId === inviteId)) await env.sleep('1 second');
        const jti = fake.calls.emails.find((e) => e.inviteId === inviteId)!.jti;
        await handle.executeUpdate(redeemUpdate, {
          args: [{ linkId: jti, user: { userId: 'auth0|new', email: 'new.path@example.com', emailVerified: true, connection: 'Username-Password-Authentication' } }],
        });
        await handle.result();
        return handle.fetchHistory();
      });
    }, 60_000);

    afterAll(async () => {
      await env?.teardown();
    });

    it('records a marker and the timer, and replays through the guarded code', async () => {
      const patchIds = history
        .events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
        .map((e) =>
          Object.values(e.markerRecordedEventAttributes!.details ?? {})
            .flatMap((p) => p.payloads ?? [])
            .map((p) => Buffer.from(p.data ?? []).toString())
            .join(' '),
        );
      // The demonstration's own marker, beside the workflow's (`invite-v2`).
      expect(patchIds.filter((d) => d.includes('versioning-test-pause'))).toHaveLength(1);
      expect(history.events!.some((e) => e.timerStartedEventAttributes)).toBe(true);
      await Worker.runReplayHistory({ workflowBundle: guarded, dataConverter: testDataConverter }, history, 'new-path');
    });

    it('cannot be replayed by the code from before the change, which is why old workers must drain first', async () => {
      await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle(), dataConverter: testDataConverter }, history, 'new-path')).rejects.toBeInstanceOf(
        DeterminismViolationError,
      );
    });
  });
});
