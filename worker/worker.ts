/** Builds the Temporal worker of the `invites` task queue from a connection and activities. */
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import type { InviteActivities } from '../activities';

/** Path of the workflow entry point the worker bundles. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Options of `createInviteWorker`; pass `workflowBundle` to reuse a prebuilt bundle in tests. */
export interface InviteWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: InviteActivities;
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxCachedWorkflows?: number;
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

/** A worker for the invite workflow and its activities. */
export async function createInviteWorker(opts: InviteWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
    ...(opts.maxActivitiesPerSecond !== undefined ? { maxActivitiesPerSecond: opts.maxActivitiesPerSecond } : {}),
    dataConverter: opts.dataConverter,
  });
}
