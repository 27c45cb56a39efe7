/**
 * `inviteflow show`: one invite's status (the workflow's own query) and a readable account of its
 * history, plus the side effects still being retried. The history is read even when no worker
 * answers the query, since that is exactly when an operator needs it.
 */
import { QueryNotRegisteredError } from '@temporalio/client';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { LoadedDataConverter } from '@temporalio/common';
import type { inviteWorkflow } from '../../workflows/invite';
import { historyQuery, inviteWorkflowId, statusQuery } from '../../workflows/messages';
import type { InviteLifecycle, InviteStatus, LifecycleEvent } from '../../workflows/messages';
import { readableFailure, summarizeHistory } from '../history';
import type { HistoryEntry } from '../history';
import { CliError, EXIT, jsonLine, line } from '../io';
import type { ExitCode } from '../io';
import { DEADLINES, messageOf, orNotFound, resolveInviteId } from '../session';
import type { Session } from '../session';
import type { InviteRef } from './operate';

/** A side effect Temporal is still retrying. */
export interface PendingActivity {
  activity: string;
  attempt: number;
  lastFailure?: string;
}

/** What `show --json` prints. */
export interface ShowResult {
  id: string;
  workflowId: string;
  runId: string;
  /** Temporal's execution status (`RUNNING`, `COMPLETED`, …). */
  execution: string;
  /** The status query's answer (link ids left out), or null when no worker answered it. */
  status:
    (Omit<InviteStatus, 'emails'> & { emails: Omit<InviteStatus['emails'][number], 'linkId'>[] }) | null;
  /** Why `status` is null. */
  statusError?: string;
  /** The `history` query's lifecycle events, or null when no worker answered it. */
  lifecycle: InviteLifecycle | null;
  history: HistoryEntry[];
  pending: PendingActivity[];
}

/** Shows one invite. */
export async function showCommand(session: Session, target: InviteRef): Promise<ExitCode> {
  const id = await resolveInviteId(session, target.ref, target.scope);
  const client = await session.client();
  const handle = client.workflow.getHandle<typeof inviteWorkflow>(inviteWorkflowId(id));
  const description = await orNotFound(() => session.call(DEADLINES.readMs, () => handle.describe()));
  // Pin the run just described, so status and history are of the same run.
  const run = client.workflow.getHandle<typeof inviteWorkflow>(inviteWorkflowId(id), description.runId);

  let status: InviteStatus | null = null;
  let statusError: string | undefined;
  try {
    status = await session.call(DEADLINES.queryMs, () => run.query(statusQuery));
  } catch (err) {
    // A run that refused its input has no query; a missing worker cannot answer one.
    if (
      !(err instanceof QueryNotRegisteredError) &&
      !(err instanceof CliError && err.exit === EXIT.unavailable)
    )
      throw err;
    statusError =
      err instanceof QueryNotRegisteredError
        ? 'the run registered no status query (its input was refused)'
        : messageOf(err);
  }
  // Runs of code older than the query, and runs without a worker, have no lifecycle to show.
  const lifecycle = status
    ? await session
        .call(DEADLINES.queryMs, () => run.query(historyQuery))
        .catch((err: unknown) => {
          if (
            err instanceof QueryNotRegisteredError ||
            (err instanceof CliError && err.exit === EXIT.unavailable)
          )
            return null;
          throw err;
        })
    : null;
  const history = await session.call(DEADLINES.readMs, () => run.fetchHistory());
  const result: ShowResult = {
    id,
    workflowId: description.workflowId,
    runId: description.runId,
    execution: description.status.name,
    status: status && { ...status, emails: status.emails.map(({ linkId: _linkId, ...email }) => email) },
    ...(statusError ? { statusError } : {}),
    lifecycle,
    history: await summarizeHistory(history, client.options.loadedDataConverter, status?.emails),
    pending: await pendingActivities(description, client.options.loadedDataConverter),
  };

  if (session.json) jsonLine(session.io.stdout, result);
  else printShow(session, result);
  return EXIT.ok;
}

async function pendingActivities(description: WorkflowExecutionDescription, converter: LoadedDataConverter): Promise<PendingActivity[]> {
  return Promise.all(
    (description.raw.pendingActivities ?? []).map(async (p) => {
      // Encrypted like every failure message: read with the CLI's keys.
      const lastFailure = await readableFailure(converter, p.lastFailure);
      return {
        activity: p.activityType?.name ?? 'activity',
        attempt: p.attempt ?? 1,
        ...(lastFailure?.message ? { lastFailure: lastFailure.message } : {}),
      };
    }),
  );
}

function printShow(session: Session, r: ShowResult): void {
  const out = session.io.stdout;
  const field = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== '') line(out, `${name.padEnd(10)}${value}`);
  };
  field('invite', `${r.id}  (workflow ${r.workflowId}, run ${r.runId}, ${r.execution.toLowerCase()})`);
  const s = r.status;
  if (s) {
    field('state', s.state);
    field('email', s.email);
    field('scope', s.scope);
    field('roles', s.roles.join(', ') || 'none');
    if (Object.keys(s.data).length > 0) field('data', JSON.stringify(s.data));
    field('policy', s.emailPolicy);
    if (s.attribution)
      field(
        'campaign',
        Object.entries(s.attribution)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
      );
    if (s.sendWindow) field('window', `${s.sendWindow.start}–${s.sendWindow.end} ${s.sendWindow.timeZone}`);
    if (s.claimByVerifiedEmail) field('claim', 'by verified email allowed');
    if (s.accountPolicy) field('accounts', `policy ${s.accountPolicy}`);
    if (s.contactId) field('contact', `HubSpot ${s.contactId}${s.crm ? ` ${JSON.stringify(s.crm)}` : ''}`);
    field('created', s.createdAt);
    field('expires', s.expiresAt);
    field('emails', `${s.emails.length} sent${s.optedOutAt ? `, opted out at ${s.optedOutAt}` : ''}`);
    field('email err', s.emailError);
    if (s.undeliverable)
      field(
        'undeliv.',
        `${s.undeliverable.at} (${s.undeliverable.kind}${s.undeliverable.reason ? `: ${s.undeliverable.reason}` : ''})`,
      );
    field('escalated', s.escalatedAt);
    if (s.redeemer)
      field(
        'redeemed',
        `${s.redeemedAt ?? ''} by ${s.redeemer.userId} <${s.redeemer.email}> via ${s.redeemer.connection}${s.redeemedVia === 'verified-email' ? ' (claimed by verified email, no link)' : ''}`,
      );
    if (s.linkedAccounts) field('linked', `${s.linkedAccounts.secondaryUserIds.join(', ')} into ${s.linkedAccounts.primaryUserId}`);
    if (s.grantedTo) field('granted', s.grantedTo.join(', '));
    field('completed', s.completedAt);
    field('expired', s.expiredAt);
    if (s.revokedAt) field('revoked', `${s.revokedAt}${s.revokeReason ? ` (${s.revokeReason})` : ''}`);
    if (s.failedAt)
      field('failed', `${s.failedAt}: ${s.failure?.message ?? ''}${s.failure ? ` [${s.failure.type}]` : ''}`);
  } else {
    field('state', `unknown: ${r.statusError ?? 'no answer'}`);
  }
  if (r.lifecycle) {
    line(out);
    line(out, 'lifecycle');
    for (const event of r.lifecycle.events) line(out, `  ${event.at}  ${lifecycleText(event)}`);
    if (r.lifecycle.omitted > 0)
      line(out, `  (${r.lifecycle.omitted} more clicks and refusals, not recorded)`);
  }
  line(out);
  line(out, 'history');
  for (const entry of r.history) line(out, `  ${entry.at}  ${entry.text}`);
  if (r.pending.length > 0) {
    line(out);
    line(out, 'in progress');
    for (const p of r.pending) {
      line(
        out,
        `  ${p.activity}: attempt ${p.attempt}${p.lastFailure ? `, last failure: ${p.lastFailure}` : ''}`,
      );
    }
  }
}

/** One lifecycle event as a line: its type, then what it is about. */
export function lifecycleText(e: LifecycleEvent): string {
  const parts: string[] = [e.type.padEnd(13)];
  if (e.sequence !== undefined) {
    const aboutLink = e.type === 'clicked' || e.type === 'refused' || e.type === 'redeemed';
    parts.push(
      e.kind ? `${e.kind} email #${e.sequence}` : `${aboutLink ? 'link of ' : ''}email #${e.sequence}`,
    );
  }
  if (e.event) parts.push(e.event);
  if (e.code) parts.push(e.code);
  if (e.userId) parts.push(`${e.userId}${e.connection ? ` via ${e.connection}` : ''}`);
  if (e.userIds) parts.push(`← ${e.userIds.join(', ')}`);
  if (e.contactId) parts.push(`HubSpot contact ${e.contactId}`);
  if (e.expiresAt) parts.push(`until ${e.expiresAt}`);
  if (e.reason) parts.push(`(${e.reason})`);
  return parts.join(' ').trimEnd();
}
