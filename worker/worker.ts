/** Builds the Temporal worker of the `invites` task queue from a connection and activities. */
import { Worker } from '@temporalio/worker';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import type { InviteActivities } from '../activities';
import { bundleInChildProcess } from './bundle';

export { WORKFLOWS_PATH } from './bundle';

/**
 * Options of `createInviteWorker`; pass `workflowBundle` to reuse a prebuilt bundle (tests), else
 * it is built in a child process (`bundle.ts`).
 */
export interface InviteWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: InviteActivities;
  workflowBundle?: WorkerOptions['workflowBundle'];
  /**
   * Workflows kept in the sticky cache (default `DEFAULT_MAX_CACHED_WORKFLOWS`); `sdk-default`
   * lets the SDK size it from the heap limit, as the benchmarks compare.
   */
  maxCachedWorkflows?: number | 'sdk-default';
  /**
   * The SDK's per-worker cap on activity starts, for every activity type alike; third-party
   * limits are better met by `activities/outbound-pacer.ts`, per service. Benchmarks compare the two.
   */
  maxActivitiesPerSecond?: number;
  /**
   * Must match the clients' (`temporalDataConverter(cfg)`), or neither reads the other's payloads.
   * Required, so no caller runs in clear by forgetting it; a prebuilt `workflowBundle` must be
   * bundled with the same `failureConverterPath`.
   */
  dataConverter: DataConverter;
}

/**
 * The sticky cache of a worker by default. An invite spends nearly all its life asleep on its
 * timers, and a cached sleeping workflow holds memory while saving nothing but a short replay
 * when it wakes (its history is a few dozen events): the SDK's default, sized from the heap limit
 * (2310 workflows with a 4 GiB heap), tripled the worker's memory for nothing. Measured with
 * `npm run bench:scale` (bench/README.md, "bench:scale").
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 200;

/** A worker for the invite workflow and its activities. */
export async function createInviteWorker(opts: InviteWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    // Built apart unless given: bundling in this process would stay resident for its whole life.
    workflowBundle: opts.workflowBundle ?? (await bundleInChildProcess(opts.dataConverter.failureConverterPath)),
    ...(opts.maxCachedWorkflows === 'sdk-default' ? {} : { maxCachedWorkflows: opts.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS }),
    ...(opts.maxActivitiesPerSecond !== undefined ? { maxActivitiesPerSecond: opts.maxActivitiesPerSecond } : {}),
    dataConverter: opts.dataConverter,
  });
}
