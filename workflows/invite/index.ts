/**
 * The invite workflow: one durable execution per invite. It emails the invitee, reminds them at
 * the offsets, and waits for a redemption, a revocation or the expiry; after a redemption it
 * grants the Auth0 roles and data and links the HubSpot contact, each an idempotent activity.
 * The state and its transitions live in `state.ts`, the commands in `effects.ts`, the patch
 * decisions in `versions.ts`.
 */
import { allHandlersFinished, condition, workflowInfo } from '@temporalio/workflow';
import { inviteCreatedAt } from '../input';
import type { InviteInput, InviteStatus } from '../messages';
import { Effects } from './effects';
import { registerHandlers } from './handlers';
import { Invite, resolveInvite } from './state';
import { decideVersions } from './versions';
import { emailSearchValue } from './visibility';

/** Runs one invite from its first email to a final state; returns the final status. */
export async function inviteWorkflow(input: InviteInput): Promise<InviteStatus> {
  const invite = resolveInvite(input);
  // The caller's creation time when it sent one (the API answers with the status at once), else now.
  const createdAt = inviteCreatedAt(invite, workflowInfo().runStartTime.getTime(), Date.now());
  const versions = decideVersions();
  const state = new Invite(invite, createdAt, versions);
  const effects = new Effects(state, versions, emailSearchValue(input, invite));
  registerHandlers(state, effects);

  effects.started();
  // In the background, beside the first email: a HubSpot outage never holds it.
  if (versions.crmAndAccounts) effects.upsertContact();
  await effects.sendEmail('invite');
  const { escalating } = await waitForOutcome(state, effects);

  const redeemer = state.redeemerToGrant();
  if (redeemer) await effects.closed(await effects.grant(redeemer));
  else await effects.stopContactUpsert();
  await escalating;
  // Let an in-flight update (e.g. an idempotent repeat of `redeem`) finish before the run closes.
  await condition(allHandlersFinished);
  const failure = state.failure();
  if (failure) throw failure;
  return state.status;
}

/**
 * Waits for a redemption, a revocation or the expiry, sending each reminder when it is due on the
 * way; answers the escalation still running in the background, if any (wrapped: an async
 * function answering a promise would wait for it).
 */
async function waitForOutcome(state: Invite, effects: Effects): Promise<{ escalating?: Promise<void> }> {
  let escalating: Promise<void> | undefined;
  while (state.isOpen()) {
    const now = Date.now();
    if (state.isDue(now)) {
      effects.apply(state.expire(now));
      break;
    }
    if (state.reminderDue(now)) await effects.sendEmail('reminder');
    if (!state.isOpen()) break;
    // In the background: a slow mail server or HubSpot must hold neither a redemption's grant nor
    // the expiry. The run waits for it before it closes.
    if (Date.now() >= state.escalateAt()) escalating = effects.escalate();
    const wake = state.nextWake(now);
    const seen = state.wake;
    await condition(() => !state.isOpen() || state.wake !== seen, wake.at - now, { summary: wake.summary });
  }
  return { escalating };
}
