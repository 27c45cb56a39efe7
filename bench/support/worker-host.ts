/**
 * The worker process of a benchmark: the real invite worker (real activities, or a no-op email
 * activity when the email path is not what is measured) and, beside it, the baseline worker.
 * It runs apart from the API and the load generator, as in production, so its memory can be
 * read on its own and it does not share an event loop with the HTTP client that drives it.
 *
 * Started by `stack.ts` with `fork`; configured by the BENCH_WORKER environment variable (JSON);
 * answers `stats` and `stop` messages on the IPC channel.
 */
import { Session } from 'node:inspector';
import { getHeapStatistics } from 'node:v8';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { InviteActivities } from '../../activities';
import { loadWorkerConfig } from '../../lib/config';
import type { OutboundPacerStats } from '../../activities/outbound-pacer';
import { buildActivityDeps } from '../../worker/clients';
import { createInviteWorker, WORKFLOWS_PATH } from '../../worker/worker';
import { BASELINE_TASK_QUEUE } from '../baseline/workflows';
import { temporalDataConverter } from '../../client/connection';

/** What the parent passes in BENCH_WORKER. */
export interface WorkerHostConfig {
  /**
   * Environment of the worker as `loadWorkerConfig` reads it (TEMPORAL_ADDRESS, SMTP_URL, the
   * rate limits it paces Auth0 and HubSpot to, WORKER_MAX_CACHED_WORKFLOWS, …).
   */
  env: Record<string, string>;
  /** `real`: nodemailer to the mail catcher; `fake`: answers at once without SMTP. */
  email: 'real' | 'fake';
  /** Also run the baseline worker. */
  baseline: boolean;
  /** The SDK's per-worker `maxActivitiesPerSecond`, for every activity type; default none. */
  maxActivitiesPerSecond?: number;
  /** `product`: as `npm run worker` configures it; `sdk-default`: the SDK's sticky cache size. */
  workerSettings: 'product' | 'sdk-default';
  /** Tell the parent each invite's first link (`link` messages). */
  recordLinks: boolean;
}

/** A `stats` answer. */
export interface WorkerStats {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  heapLimitBytes: number;
  /** Heap of the workflow thread(s), where the sandboxed workflows live; not in `heapUsedBytes`. */
  workflowHeapUsedBytes: number;
  cachedWorkflows: number;
  maxCachedWorkflows: number;
  /** Email activities completed so far. */
  emailsSent: number;
  /** Calls the product's pacing refused locally (each an activity retry, no request). */
  localRefusals: number;
  /** The worker's outbound pacers (`activities/outbound-pacer.ts`); absent when its pacing is off. */
  rateLimiters: { auth0?: OutboundPacerStats; hubspot?: OutboundPacerStats };
}

export type ParentMessage = { type: 'stats'; gc: boolean } | { type: 'stop' };
export type ChildMessage =
  | { type: 'ready'; maxCachedWorkflows: number }
  | { type: 'link'; inviteId: string; jti: string; expiresAt: string }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'error'; message: string };

const reply = (message: ChildMessage) => process.send?.(message);
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_WORKER ?? '{}') as WorkerHostConfig;
  // Activity retries are the throttling benchmark's subject: counted, not logged.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cfg = loadWorkerConfig(config.env);
  // The product's clients and activities, paced as its configuration says.
  const clients = buildActivityDeps(cfg);
  const activities: InviteActivities = createActivities(clients.deps);
  const realSend = activities.sendInviteEmail.bind(activities);
  const send = (input: Parameters<typeof realSend>[0]) =>
    config.email === 'fake'
      ? Promise.resolve({
          messageId: `<${input.inviteId}.${input.sequence}@bench>`,
          acceptedAt: new Date().toISOString(),
        })
      : realSend(input);
  let emailsSent = 0;
  activities.sendInviteEmail = async (input) => {
    const sent = await send(input);
    emailsSent++;
    // Sent on, not kept: the worker's memory is what the scale benchmark reads.
    if (config.recordLinks && input.sequence === 1) reply({ type: 'link', inviteId: input.inviteId, jti: input.jti, expiresAt: input.expiresAt });
    return sent;
  };
  const connection = await NativeConnection.connect({ address: cfg.TEMPORAL_ADDRESS });
  const dataConverter = temporalDataConverter(cfg);
  const [inviteBundle, baselineBundle] = await Promise.all([
    // Today's product builds the bundle in a child process (`worker/bundle.ts`); the SDK-default
    // setting bundles in this process, as the worker did before.
    config.workerSettings === 'sdk-default'
      ? bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: dataConverter.failureConverterPath, logger: quiet })
      : undefined,
    config.baseline
      ? bundleWorkflowCode({
          workflowsPath: new URL('../baseline/workflows.ts', import.meta.url).pathname,
          logger: quiet,
        })
      : undefined,
  ]);
  const worker = await createInviteWorker({
    connection,
    namespace: cfg.TEMPORAL_NAMESPACE,
    taskQueue: cfg.TEMPORAL_TASK_QUEUE,
    activities,
    ...(inviteBundle ? { workflowBundle: inviteBundle } : {}),
    dataConverter,
    maxCachedWorkflows: config.workerSettings === 'sdk-default' ? 'sdk-default' : cfg.WORKER_MAX_CACHED_WORKFLOWS,
    maxActivitiesPerSecond: config.maxActivitiesPerSecond,
  });
  const baselineOptions: WorkerOptions | undefined = baselineBundle
    ? {
        connection,
        namespace: cfg.TEMPORAL_NAMESPACE,
        taskQueue: BASELINE_TASK_QUEUE,
        workflowBundle: baselineBundle,
        // The baseline's client encrypts its input too: without the converter no run could start.
        dataConverter,
      }
    : undefined;
  const baseline = baselineOptions ? await Worker.create(baselineOptions) : undefined;
  const running = Promise.all([worker.run(), baseline?.run()]);
  const maxCachedWorkflows = worker.options.maxCachedWorkflows;

  // Attached on first use, so a benchmark that never asks runs without an inspector session.
  let threads: ReturnType<typeof workflowThreads> | undefined;
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stats') void stats(message.gc);
    else if (message.type === 'stop') {
      worker.shutdown();
      baseline?.shutdown();
      void running
        .then(() => connection.close())
        .then(() => clients.close())
        .then(() => process.exit(0));
    }
  });
  const stats = async (gc: boolean) => {
    // A collection first, so heap numbers show what is retained, not garbage.
    if (gc) globalThis.gc?.();
    const workflowHeap = await (await (threads ??= workflowThreads())).heapUsed(gc);
    const memory = process.memoryUsage();
    reply({
      type: 'stats',
      stats: {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        externalBytes: memory.external,
        heapLimitBytes: getHeapStatistics().heap_size_limit,
        workflowHeapUsedBytes: workflowHeap,
        cachedWorkflows: worker.getStatus().numCachedWorkflows,
        maxCachedWorkflows,
        emailsSent,
        localRefusals:
          (clients.pacers.auth0?.stats().refused ?? 0) + (clients.pacers.hubspot?.stats().refused ?? 0),
        rateLimiters: {
          ...(clients.pacers.auth0 ? { auth0: clients.pacers.auth0.stats() } : {}),
          ...(clients.pacers.hubspot ? { hubspot: clients.pacers.hubspot.stats() } : {}),
        },
      },
    });
  };
  reply({ type: 'ready', maxCachedWorkflows });
  await running;
}

/**
 * The SDK runs workflows in worker threads, each with its own V8 heap that `process.memoryUsage`
 * does not see. The inspector protocol reaches them without touching the SDK.
 */
async function workflowThreads(): Promise<{ heapUsed(gc: boolean): Promise<number> }> {
  const session = new Session();
  session.connect();
  const sessions: string[] = [];
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 1;
  session.on(
    'NodeWorker.attachedToWorker',
    (m: { params: { sessionId: string } }) => void sessions.push(m.params.sessionId),
  );
  session.on('NodeWorker.receivedMessageFromWorker', (m: { params: { message: string } }) => {
    const answer = JSON.parse(m.params.message) as { id?: number; result?: unknown };
    if (answer.id !== undefined) pending.get(answer.id)?.(answer.result);
    if (answer.id !== undefined) pending.delete(answer.id);
  });
  await new Promise<void>((resolve, reject) =>
    session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  // The threads that already exist are announced right after `enable`.
  await new Promise((r) => setTimeout(r, 200));
  const call = (sessionId: string, method: string) =>
    new Promise<unknown>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      session.post('NodeWorker.sendMessageToWorker', {
        sessionId,
        message: JSON.stringify({ id, method, params: {} }),
      });
    });
  return {
    async heapUsed(gc) {
      let used = 0;
      for (const sessionId of sessions) {
        if (gc) await call(sessionId, 'HeapProfiler.collectGarbage');
        used += ((await call(sessionId, 'Runtime.getHeapUsage')) as { usedSize: number }).usedSize;
      }
      return used;
    },
  };
}

main().catch((err: unknown) => {
  reply({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
