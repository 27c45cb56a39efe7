/**
 * The raw-Temporal baselines the benchmarks compare inviteflow against: the least a workflow can
 * do for each measured operation, on its own task queue and worker. They live outside
 * `workflows/` so the product's bundle, lint rules and replay tests never see them.
 */
import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

/** Task queue of the baseline worker. */
export const BASELINE_TASK_QUEUE = 'bench-baseline';

/** Returns at once: what `client.workflow.start` costs with a worker completing the run. */
export async function emptyWorkflow(_input: unknown): Promise<void> {}

/** The baseline of `redeem`: an update answered from workflow state, validator included. */
export const claimUpdate = defineUpdate<
  { roles: string[]; data: Record<string, unknown> },
  [{ linkId: string; userId: string }]
>('claim');

/** Waits for one `claim` update, answers it from its input, then completes (as an invite does after its grant). */
export async function updatableWorkflow(input: {
  roles: string[];
  data: Record<string, unknown>;
  linkId: string;
}): Promise<void> {
  let claimedBy: string | undefined;
  setHandler(
    claimUpdate,
    ({ userId }) => {
      claimedBy = userId;
      return { roles: input.roles, data: input.data };
    },
    {
      validator: ({ linkId }) => {
        if (claimedBy !== undefined || linkId !== input.linkId) throw new Error('refused');
      },
    },
  );
  await condition(() => claimedBy !== undefined);
}
