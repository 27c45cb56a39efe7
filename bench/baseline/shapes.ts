/**
 * Workflow shapes for `bench/server-cost.ts`: each adds one of the things an invite's creation is
 * made of to an empty run, so that what each costs the Temporal server can be read on its own.
 * They live outside `workflows/` with the other baselines.
 */
import { patched, proxyActivities, proxyLocalActivities, sleep } from '@temporalio/workflow';

/** Task queue of the shapes' worker. */
export const SHAPES_TASK_QUEUE = 'bench-shapes';

/** What the shapes call: one no-op, as a regular and as a local activity. */
export interface ShapeActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<ShapeActivities>({ startToCloseTimeout: '10 seconds' });
const local = proxyLocalActivities<ShapeActivities>({ startToCloseTimeout: '10 seconds' });

/** Returns at once. */
export async function shapeEmpty(): Promise<void> {}

/** One patch marker (the SDK also upserts `TemporalChangeVersion`). */
export function shapePatch1(): Promise<void> {
  patched('bench-a');
  return Promise.resolve();
}

/** Four patch markers, as an invite recorded them before `invite-v2`. */
export function shapePatch4(): Promise<void> {
  patched('bench-a');
  patched('bench-b');
  patched('bench-c');
  patched('bench-d');
  return Promise.resolve();
}

/** One activity through the task queue, then returns. */
export async function shapeActivity(): Promise<void> {
  await noop();
}

/** One local activity (run inside the workflow task, recorded as a marker), then returns. */
export async function shapeLocalActivity(): Promise<void> {
  await local.noop();
}

/** Starts a timer and stays open on it, as a pending invite does. */
export async function shapeTimer(): Promise<void> {
  await sleep('1 day');
}
