/**
 * `inviteflow revoke | resend | extend`: the workflow's operator updates. A refusal by the
 * workflow's validator, or an invite that is already closed, exits 1 with the same stable code
 * the API answers (`invite_not_pending`, `resend_rate_limited`, …).
 */
import {
  QueryNotRegisteredError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
} from '@temporalio/client';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { msToNumber } from '@temporalio/common/lib/time';
import { closedRefusal, refusalOf } from '../../client/invite-refusals';
import type { Refusal } from '../../client/invite-refusals';
import type { inviteWorkflow } from '../../workflows/invite';
import {
  extendUpdate,
  inviteWorkflowId,
  resendUpdate,
  revokeUpdate,
  statusQuery,
} from '../../workflows/messages';
import type { InviteStatus, SentEmailRecord } from '../../workflows/messages';
import { CliError, EXIT, jsonLine, line, usageError } from '../io';
import type { ExitCode } from '../io';
import { DEADLINES, notFound, resolveInviteId } from '../session';
import type { Session } from '../session';

type Handle = WorkflowHandle<typeof inviteWorkflow>;

/** Where an invite is named: its id or email, and the scope that goes with an email. */
export interface InviteRef {
  ref: string;
  scope?: string;
}

/** Revokes a pending invite. */
export async function revokeCommand(
  session: Session,
  target: InviteRef,
  opts: { reason?: string },
): Promise<ExitCode> {
  const id = await resolveInviteId(session, target.ref, target.scope);
  const status = await onOpenInvite(session, id, (client) =>
    session.call(DEADLINES.updateMs, () =>
      handle(client, id).executeUpdate(revokeUpdate, { args: [opts.reason ? { reason: opts.reason } : {}] }),
    ),
  );
  if (session.json) jsonLine(session.io.stdout, status);
  else
    line(
      session.io.stdout,
      `Revoked invite ${id}${status.revokeReason ? ` (reason: ${status.revokeReason})` : ''}.`,
    );
  return EXIT.ok;
}

/** Emails the invite again with a fresh link (rate limited by the workflow). */
export async function resendCommand(session: Session, target: InviteRef): Promise<ExitCode> {
  const id = await resolveInviteId(session, target.ref, target.scope);
  const outcome = await onOpenInvite(session, id, (client) =>
    emailUpdate(session, () =>
      handle(client, id).startUpdate(resendUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED }),
    ),
  );
  const { stdout } = session.io;
  if (session.json) {
    jsonLine(stdout, outcome.done ? { id, sent: publicEmail(outcome.result) } : { id, pending: true });
  } else if (outcome.done) {
    line(
      stdout,
      `Resent invite ${id}: email #${outcome.result.sequence} accepted by the mail server at ${outcome.result.at}.`,
    );
  } else {
    line(
      stdout,
      `Resend of invite ${id} accepted; the email is still being sent (see \`inviteflow show ${id}\`).`,
    );
  }
  return EXIT.ok;
}

/** Moves the expiry to ttl from now and emails a fresh link. */
export async function extendCommand(
  session: Session,
  target: InviteRef,
  opts: { ttl: string },
): Promise<ExitCode> {
  try {
    msToNumber(opts.ttl);
  } catch {
    throw usageError(`--ttl "${opts.ttl}" is not a duration like "14 days" or "36h"`);
  }
  const id = await resolveInviteId(session, target.ref, target.scope);
  const outcome = await onOpenInvite(session, id, (client) =>
    emailUpdate(session, () =>
      handle(client, id).startUpdate(extendUpdate, {
        args: [{ ttl: opts.ttl }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      }),
    ),
  );
  const { stdout } = session.io;
  if (session.json) {
    jsonLine(stdout, outcome.done ? outcome.result : { id, pending: true });
  } else if (outcome.done) {
    line(
      stdout,
      `Extended invite ${id}: it now expires at ${outcome.result.expiresAt}; a fresh link was emailed.`,
    );
  } else {
    line(stdout, `Extension of invite ${id} accepted; the email with the new link is still being sent.`);
  }
  return EXIT.ok;
}

function handle(client: Client, inviteId: string): Handle {
  return client.workflow.getHandle<typeof inviteWorkflow>(inviteWorkflowId(inviteId));
}

/** Link ids stay inside Temporal, as in the API. */
function publicEmail({ linkId: _linkId, ...email }: SentEmailRecord): Omit<SentEmailRecord, 'linkId'> {
  return email;
}

type EmailOutcome<T> = { done: true; result: T } | { done: false };

/**
 * Waits for acceptance (or refusal) in full, then for the email for a while: a slow mail server
 * leaves the update running in the workflow, which is not a failure.
 */
async function emailUpdate<T>(
  session: Session,
  start: () => Promise<{ result(): Promise<T> }>,
): Promise<EmailOutcome<T>> {
  const update = await session.call(DEADLINES.updateMs, start);
  try {
    return { done: true, result: await session.call(DEADLINES.emailMs, () => update.result()) };
  } catch (err) {
    if (err instanceof CliError && err.exit === EXIT.unavailable) return { done: false };
    throw err;
  }
}

/**
 * Runs an update and explains its failures: a refusal keeps its code; an update on a closed run
 * (which Temporal reports as "not found") says why the invite is over; a missing invite exits 3.
 */
async function onOpenInvite<T>(
  session: Session,
  inviteId: string,
  run: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await session.client();
  try {
    return await run(client);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err.cause);
      if (refusal) throw refused(refusal);
    }
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  let status: InviteStatus;
  try {
    status = await session.call(DEADLINES.readMs, () => handle(client, inviteId).query(statusQuery));
  } catch (err) {
    // A run whose input was refused at once never registered its query: there is no invite.
    if (err instanceof WorkflowNotFoundError || err instanceof QueryNotRegisteredError) throw notFound();
    throw err;
  }
  throw refused(closedRefusal(status));
}

function refused(refusal: Refusal): CliError {
  return new CliError(EXIT.failed, refusal.code, refusal.message, refusal.details);
}
