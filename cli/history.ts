/**
 * A readable account of an invite's workflow history: created, each email (with its kind), the
 * operator updates, the redemption, each side effect with its attempts, status changes and the
 * way the run closed. Pure: it reads history events, so recorded histories test it too.
 */
import type { LoadedDataConverter, Payload } from '@temporalio/common';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { decodeArrayFromPayloads, decodeFailure } from '@temporalio/common/lib/internal-non-workflow';
import type { History } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { searchAttributes } from '../workflows/messages';
import type { InviteInput, InviteStatus, Redeemer, SentEmailRecord } from '../workflows/messages';

/** What an entry is about; scripts reading `show --json` switch on it. */
export type HistoryEntryKind =
  'created' | 'email' | 'update' | 'redeemed' | 'revoked' | 'signal' | 'activity' | 'status' | 'closed';

/** One line of the account. */
export interface HistoryEntry {
  /** When the event was recorded (ISO 8601). */
  at: string;
  kind: HistoryEntryKind;
  text: string;
  /** For `activity` and `email` entries: the attempt the outcome came from. */
  attempts?: number;
  /** For `activity` and `email` entries. */
  outcome?: 'completed' | 'failed' | 'timed out' | 'canceled';
}

type Failure = temporal.api.failure.v1.IFailure;

/** Activities that send email; the others are the side effects of a redemption. */
const EMAIL_ACTIVITY = 'sendInviteEmail';

/**
 * Summarizes a history, decoding payloads with the client's data converter (so encrypted
 * payloads read as they do in the worker). `emails` (from the status query) gives each email's
 * kind as the workflow recorded it, since `resend` and `extend` emails look like first invites
 * to the activity.
 */
export async function summarizeHistory(
  history: History,
  converter: LoadedDataConverter,
  emails: SentEmailRecord[] = [],
): Promise<HistoryEntry[]> {
  const values = (payloads: { payloads?: Payload[] | null } | null | undefined) =>
    decodeArrayFromPayloads(converter, payloads?.payloads);
  const kinds = new Map(emails.map((e) => [e.sequence, e.kind]));
  const scheduled = new Map<string, { type: string; input: unknown }>();
  const attempts = new Map<string, number>();
  const updates = new Map<string, string>();
  const entries: HistoryEntry[] = [];
  let status: string | undefined;
  let expiresAt: string | undefined;
  let redeemed = false;

  for (const event of history.events ?? []) {
    const at = isoTime(event.eventTime);
    const add = (kind: HistoryEntryKind, text: string, extra: Partial<HistoryEntry> = {}) =>
      entries.push({ at, kind, text, ...extra });

    if (event.workflowExecutionStartedEventAttributes) {
      const [input] = (await values(event.workflowExecutionStartedEventAttributes.input)) as [
        InviteInput | undefined,
      ];
      add('created', input ? createdText(input) : 'created');
      // What the start set; an upsert that repeats it says nothing new.
      const started = decodeTypedSearchAttributes(
        event.workflowExecutionStartedEventAttributes.searchAttributes?.indexedFields,
      );
      status = started.get(searchAttributes.status);
      expiresAt = started.get(searchAttributes.expiresAt)?.toISOString();
    } else if (event.activityTaskScheduledEventAttributes) {
      const attrs = event.activityTaskScheduledEventAttributes;
      const [input] = await values(attrs.input);
      scheduled.set(String(event.eventId), { type: attrs.activityType?.name ?? 'activity', input });
    } else if (event.activityTaskStartedEventAttributes) {
      attempts.set(String(event.eventId), event.activityTaskStartedEventAttributes.attempt ?? 1);
    } else if (event.activityTaskCompletedEventAttributes) {
      const attrs = event.activityTaskCompletedEventAttributes;
      const activity = activityOf(scheduled, attempts, attrs);
      add(...activityEntry(activity, kinds, 'completed'));
    } else if (event.activityTaskFailedEventAttributes) {
      const attrs = event.activityTaskFailedEventAttributes;
      add(...activityEntry(activityOf(scheduled, attempts, attrs), kinds, 'failed', await readableFailure(converter, attrs.failure)));
    } else if (event.activityTaskTimedOutEventAttributes) {
      const attrs = event.activityTaskTimedOutEventAttributes;
      add(...activityEntry(activityOf(scheduled, attempts, attrs), kinds, 'timed out', await readableFailure(converter, attrs.failure)));
    } else if (event.activityTaskCanceledEventAttributes) {
      add(
        ...activityEntry(
          activityOf(scheduled, attempts, event.activityTaskCanceledEventAttributes),
          kinds,
          'canceled',
        ),
      );
    } else if (event.workflowExecutionUpdateAcceptedEventAttributes) {
      const request = event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest;
      const name = request?.input?.name ?? 'update';
      updates.set(request?.meta?.updateId ?? '', name);
      const [arg] = await values(request?.input?.args);
      add(...updateEntry(name, arg, redeemed));
      if (name === 'redeem') redeemed = true;
    } else if (event.workflowExecutionUpdateCompletedEventAttributes) {
      const attrs = event.workflowExecutionUpdateCompletedEventAttributes;
      const failure = await readableFailure(converter, attrs.outcome?.failure);
      if (failure)
        add(
          'update',
          `${updates.get(attrs.meta?.updateId ?? '') ?? 'update'} failed: ${failureText(failure)}`,
        );
    } else if (event.workflowExecutionSignaledEventAttributes) {
      const name = event.workflowExecutionSignaledEventAttributes.signalName ?? 'signal';
      const [arg] = await values(event.workflowExecutionSignaledEventAttributes.input);
      add('signal', signalText(name, arg));
    } else if (event.upsertWorkflowSearchAttributesEventAttributes) {
      const attrs = decodeTypedSearchAttributes(
        event.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields,
      );
      const nextStatus = attrs.get(searchAttributes.status);
      const nextExpiry = attrs.get(searchAttributes.expiresAt)?.toISOString();
      // Runs whose start set no search attributes: the first upsert says what they were.
      if (nextStatus !== undefined && status !== undefined && nextStatus !== status)
        add('status', `status ${status} → ${nextStatus}`);
      if (nextExpiry !== undefined && expiresAt !== undefined && nextExpiry !== expiresAt)
        add('status', `expiry moved to ${nextExpiry}`);
      status = nextStatus ?? status;
      expiresAt = nextExpiry ?? expiresAt;
    } else if (event.workflowExecutionCompletedEventAttributes) {
      const [result] = (await values(event.workflowExecutionCompletedEventAttributes.result)) as [
        InviteStatus | undefined,
      ];
      add('closed', `closed: ${result?.state ?? 'completed'}`);
    } else if (event.workflowExecutionFailedEventAttributes) {
      add('closed', `closed: failed: ${failureText(await readableFailure(converter, event.workflowExecutionFailedEventAttributes.failure))}`);
    } else if (event.workflowExecutionTerminatedEventAttributes) {
      const reason = event.workflowExecutionTerminatedEventAttributes.reason;
      add('closed', `closed: terminated${reason ? ` (${reason})` : ''}`);
    } else if (event.workflowExecutionTimedOutEventAttributes) {
      add('closed', 'closed: timed out');
    } else if (event.workflowExecutionCanceledEventAttributes) {
      add('closed', 'closed: canceled');
    } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
      add(
        'closed',
        `continued as new run ${event.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId ?? ''}`.trim(),
      );
    }
  }
  return entries;
}

interface ActivityOutcome {
  type: string;
  input: unknown;
  attempts: number;
}

function activityOf(
  scheduled: Map<string, { type: string; input: unknown }>,
  attempts: Map<string, number>,
  attrs: { scheduledEventId?: unknown; startedEventId?: unknown },
): ActivityOutcome {
  const activity = scheduled.get(String(attrs.scheduledEventId)) ?? { type: 'activity', input: undefined };
  // Retries are not events: the started event of the final attempt carries its number.
  return { ...activity, attempts: attempts.get(String(attrs.startedEventId)) ?? 1 };
}

function activityEntry(
  activity: ActivityOutcome,
  kinds: Map<number, SentEmailRecord['kind']>,
  outcome: NonNullable<HistoryEntry['outcome']>,
  failure?: Failure | null,
): [HistoryEntryKind, string, Partial<HistoryEntry>] {
  const tries = activity.attempts === 1 ? '1 attempt' : `${activity.attempts} attempts`;
  const why = failure ? `: ${failureText(failure)}` : '';
  const extra = { attempts: activity.attempts, outcome };
  if (activity.type === EMAIL_ACTIVITY) {
    const input = (activity.input ?? {}) as { sequence?: number; kind?: string };
    const kind =
      (input.sequence !== undefined ? kinds.get(input.sequence) : undefined) ?? input.kind ?? 'invite';
    const what = `${kind} email #${input.sequence ?? '?'}`;
    const verb = outcome === 'completed' ? 'sent' : outcome === 'failed' ? 'refused' : outcome;
    return ['email', `${what} ${verb} (${tries})${why}`, extra];
  }
  return ['activity', `${activity.type} ${outcome} (${tries})${why}`, extra];
}

function updateEntry(name: string, arg: unknown, redeemedBefore: boolean): [HistoryEntryKind, string] {
  const value = (arg ?? {}) as Record<string, unknown>;
  switch (name) {
    case 'redeem': {
      const user = value.user as Redeemer | undefined;
      const who = user
        ? ` by ${user.userId} <${user.email}> via ${user.connection}${user.emailVerified ? '' : ' (email unverified)'}`
        : '';
      // The validator only lets the same account in again: an idempotent repeat, not a second use.
      return redeemedBefore
        ? ['update', `redemption repeated${who} (idempotent)`]
        : ['redeemed', `redeemed${who}`];
    }
    case 'revoke':
      return ['revoked', `revoked${typeof value.reason === 'string' ? `: ${value.reason}` : ''}`];
    case 'extend':
      return ['update', `extend requested (ttl ${String(value.ttl)})`];
    case 'resend':
      return ['update', 'resend requested'];
    default:
      return ['update', `update ${name}`];
  }
}

function signalText(name: string, arg: unknown): string {
  const value = (arg ?? {}) as Record<string, unknown>;
  const text = (key: string): string | undefined => {
    const v = value[key];
    return typeof v === 'string' ? v : undefined;
  };
  switch (name) {
    case 'decline':
      return 'declined: the invitee asked for no more email';
    case 'audit':
      if (value.type === 'clicked') return 'link opened (noted by the API)';
      if (value.type === 'refused') {
        const who = text('userId')
          ? ` for ${text('userId')}${text('connection') ? ` via ${text('connection')}` : ''}`
          : '';
        return `redemption refused: ${text('code') ?? 'unknown'}${who} (noted by the API)`;
      }
      return 'audit note';
    case 'deliveryFailed':
      return `mail provider reported ${text('kind') ?? 'a failure'}${text('reason') ? `: ${text('reason')}` : ''}`;
    default:
      return `signal ${name}`;
  }
}

function createdText(input: InviteInput): string {
  const roles = input.roles.length > 0 ? input.roles.join(', ') : 'none';
  const ttl = input.ttl !== undefined ? `, ttl ${String(input.ttl)}` : '';
  return `created for ${input.email} in scope ${input.scope}, roles: ${roles}${ttl}`;
}

/**
 * A failure as it was raised: with payload encryption its message and stack trace are stored as
 * "Encoded failure" plus an encrypted `encodedAttributes` payload; decrypted with the client's
 * keys and put back (causes too). A failure recorded in clear comes back as it is.
 */
export async function readableFailure(converter: LoadedDataConverter, failure: Failure | null | undefined): Promise<Failure | undefined> {
  if (!failure) return undefined;
  const restore = (f: Failure): Failure => {
    let attrs: { message?: unknown; stack_trace?: unknown } | undefined;
    try {
      attrs = f.encodedAttributes ? converter.payloadConverter.fromPayload<typeof attrs>(f.encodedAttributes) : undefined;
    } catch {
      attrs = undefined; // not ours to read (another converter): keep what is stored
    }
    return {
      ...f,
      ...(typeof attrs?.message === 'string' ? { message: attrs.message } : {}),
      ...(typeof attrs?.stack_trace === 'string' ? { stackTrace: attrs.stack_trace } : {}),
      ...(f.cause ? { cause: restore(f.cause) } : {}),
    };
  };
  return restore(await decodeFailure(converter.payloadCodecs, failure));
}

function failureText(failure: Failure | null | undefined): string {
  if (!failure) return 'unknown failure';
  // An activity failure wraps the application's own; its message is the one that explains.
  const inner = failure.cause ?? failure;
  const type = inner.applicationFailureInfo?.type;
  return `${inner.message ?? failure.message ?? 'failed'}${type ? ` [${type}]` : ''}`;
}

// Seconds are a Long from the server and a number from a JSON history; Number() reads both.
function isoTime(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): string {
  const ms = ts ? Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6) : 0;
  return new Date(ms).toISOString();
}
