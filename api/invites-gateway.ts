/**
 * Everything the API asks Temporal about invites, behind one narrow object: start (telling a new
 * run from an existing one), query, update, signal, list from visibility, and a readiness ping.
 * Every call carries a deadline, so an unreachable server or a missing worker turns into a 503
 * rather than a hung request; Temporal's own errors become `ApiError`s here.
 */
import { createHash } from 'node:crypto';
import {
  QueryNotRegisteredError,
  ServiceError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
} from '@temporalio/client';
import type { Client, WorkflowExecutionDescription, WorkflowHandle, WorkflowUpdateHandle } from '@temporalio/client';
import { createInviteStarter } from '../client/invites';
import type { InviteStarter, StartMeta, StartResult } from '../client/invites';
import { InvalidFilterError, searchInvites, visibilityQuery } from '../client/invite-search';
import type { InviteListFilter, InviteListItem } from '../client/invite-search';
import { GRPC, grpcCode, isDeadline, isUnavailable } from '../client/grpc-errors';
import type { inviteWorkflow } from '../workflows/invite';
import { auditSignal, declineSignal, deliveryFailedSignal, historyQuery, inviteWorkflowId, linkIssuedQuery, statusQuery } from '../workflows/messages';
import type { AuditNote, DeliveryFailure, InviteInput, InviteLifecycle, InviteStatus } from '../workflows/messages';
import { ApiError, refusalToApiError } from './errors';

/** Deadlines of Temporal calls, in milliseconds. */
export interface GatewayTimeouts {
  /** Queries, describes, signals, lists, starts. */
  readMs: number;
  /** Updates whose handler answers at once (redeem, revoke). */
  updateMs: number;
  /** How long to wait for an update that sends an email (resend, extend) before answering 202. */
  emailUpdateMs: number;
}

const DEFAULT_TIMEOUTS: GatewayTimeouts = { readMs: 5000, updateMs: 5000, emailUpdateMs: 10_000 };

/** A page of a list. */
export interface InviteListPage {
  items: InviteListItem[];
  nextPageToken?: string;
}

/** Whether an invite's workflow exists and is open. */
export type InviteExistence = { exists: false } | { exists: true; open: boolean; runId: string };

/** The outcome of an email-sending update: its result, or `pending` when it outlived the wait. */
export type EmailUpdateOutcome<T> = { done: true; result: T } | { done: false };

/** A handle on an invite's latest run. */
export type Handle = WorkflowHandle<typeof inviteWorkflow>;

/** The gateway's operations. */
export type InviteGateway = ReturnType<typeof createInviteGateway>;

/** What every operation works over: the client, its deadlines, and handles on invites. */
interface GatewayContext {
  client: Client;
  timeouts: GatewayTimeouts;
  emailKey: string | undefined;
  startInvite: InviteStarter;
  /** Runs `fn` with a deadline `ms` from now on every call it makes. */
  within: <T>(ms: number, fn: () => Promise<T>) => Promise<T>;
  /** A handle on the invite's latest run, or on `runId`. */
  handle: (inviteId: string, runId?: string) => Handle;
}

/** Builds the gateway around a connected client. */
export function createInviteGateway(client: Client, opts: { taskQueue: string; emailKey?: string; timeouts?: Partial<GatewayTimeouts> }) {
  const g: GatewayContext = {
    client,
    timeouts: { ...DEFAULT_TIMEOUTS, ...opts.timeouts },
    emailKey: opts.emailKey,
    startInvite: createInviteStarter(client, opts.taskQueue, opts.emailKey),
    within: (ms, fn) => client.connection.withDeadline(Date.now() + ms, fn),
    handle: (inviteId, runId) => client.workflow.getHandle<typeof inviteWorkflow>(inviteWorkflowId(inviteId), runId),
  };
  // Best-effort calls nobody awaits (click and refusal notes); closing the app waits for them, so
  // none is left retrying on a connection that is being closed.
  const inBackground = new Set<Promise<unknown>>();
  return {
    /** Runs `task` in the background, unawaited, but tracked until it settles (`drain`). */
    background(task: () => Promise<unknown>): void {
      const running = task().catch(() => undefined);
      inBackground.add(running);
      void running.finally(() => inBackground.delete(running));
    },
    /** Resolves once every background call settled; each is bounded by its deadline. */
    async drain(): Promise<void> {
      while (inBackground.size > 0) await Promise.allSettled([...inBackground]);
    },
    start: (input: InviteInput, meta: StartMeta) => start(g, input, meta),
    status: (inviteId: string, runId?: string) => status(g, inviteId, runId),
    history: (inviteId: string) => history(g, inviteId),
    note: (inviteId: string, note: AuditNote) => auditNote(g, inviteId, note),
    linkIssued: (inviteId: string, linkId: string) => linkIssued(g, inviteId, linkId),
    describe: (inviteId: string) => describe(g, inviteId),
    existence: (inviteId: string) => existence(g, inviteId),
    waitClosed: (inviteId: string, runId: string) => waitClosed(g, inviteId, runId),
    update: <Ret>(inviteId: string, execute: (handle: Handle) => Promise<Ret>) => update(g, inviteId, execute),
    emailUpdate: <Ret>(inviteId: string, begin: StartEmailUpdate<Ret>) => emailUpdate(g, inviteId, begin),
    deliveryFailed: (inviteId: string, failure: DeliveryFailure) => deliveryFailed(g, inviteId, failure),
    decline: (inviteId: string) => decline(g, inviteId),
    list: (filter: InviteListFilter, pageSize: number, pageToken?: string) => list(g, filter, pageSize, pageToken),
    ping: () => ping(g),
  };
}

/**
 * Starts the invite unless one is open for the same id; a closed one's id is reused. `started`
 * says which happened.
 */
async function start(g: GatewayContext, input: InviteInput, meta: StartMeta): Promise<StartResult> {
  return guard(() => g.within(g.timeouts.readMs, () => g.startInvite(input, meta)));
}

/** The status query (replayed by a worker when the run is closed); 404 when there is no such invite. */
async function status(g: GatewayContext, inviteId: string, runId?: string): Promise<InviteStatus> {
  return guard(() => g.within(g.timeouts.readMs, () => g.handle(inviteId, runId).query(statusQuery)), notFound);
}

/** The `history` query: the invite's lifecycle as events; 404 when there is no such invite. */
async function history(g: GatewayContext, inviteId: string): Promise<InviteLifecycle> {
  return guard(() => g.within(g.timeouts.readMs, () => g.handle(inviteId).query(historyQuery)), notFound);
}

/**
 * Tells the open run of an invite about a click or a refused redemption. Best effort and never
 * awaited by a caller that answers someone: a closed invite or a slow server only loses the note.
 */
async function auditNote(g: GatewayContext, inviteId: string, note: AuditNote): Promise<void> {
  await guard(() => g.within(g.timeouts.readMs, () => g.handle(inviteId).signal(auditSignal, note)));
}

/** Whether the invite issued this link id (also while its email is still being sent). */
async function linkIssued(g: GatewayContext, inviteId: string, linkId: string): Promise<boolean> {
  return guard(() => g.within(g.timeouts.readMs, () => g.handle(inviteId).query(linkIssuedQuery, linkId)), notFound);
}

/** Whether the latest run is open, and the memo it was started with; 404 when there is none. */
async function describe(g: GatewayContext, inviteId: string): Promise<{ open: boolean; memo: Record<string, unknown> }> {
  const description = await guard(() => g.within(g.timeouts.readMs, () => g.handle(inviteId).describe()), notFound);
  return { open: description.status.name === 'RUNNING', memo: description.memo ?? {} };
}

/** Whether the invite's latest run exists and is open. */
async function existence(g: GatewayContext, inviteId: string): Promise<InviteExistence> {
  let description: WorkflowExecutionDescription;
  try {
    description = await guard(() => g.within(g.timeouts.readMs, () => g.handle(inviteId).describe()));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { exists: false };
    throw err;
  }
  return { exists: true, open: description.status.name === 'RUNNING', runId: description.runId };
}

/** Waits for a run to close (after a revocation) so its id can be reused. */
async function waitClosed(g: GatewayContext, inviteId: string, runId: string): Promise<void> {
  const closed = () =>
    g
      .handle(inviteId, runId)
      .result()
      .then(
        () => undefined,
        (err: unknown) => {
          // Closed is all that matters here, however it ended.
          if (err instanceof WorkflowFailedError) return undefined;
          throw err;
        },
      );
  await guard(() => g.within(g.timeouts.updateMs, closed));
}

/**
 * Executes an update whose handler answers at once. Refusals become their `ApiError`s; a
 * closed (or missing) workflow rejects with `WorkflowNotFoundError` for the caller to explain.
 */
async function update<Ret>(g: GatewayContext, inviteId: string, execute: (handle: Handle) => Promise<Ret>): Promise<Ret> {
  return guard(() => g.within(g.timeouts.updateMs, () => execute(g.handle(inviteId))));
}

/** Starts an email-sending update on a handle, waiting for the stage given. */
export type StartEmailUpdate<Ret> = (handle: Handle, waitForStage: typeof WorkflowUpdateStage.ACCEPTED) => Promise<WorkflowUpdateHandle<Ret>>;

/**
 * Executes an update whose handler sends an email. Acceptance (or refusal) is awaited in full;
 * the email itself only for `emailUpdateMs`, after which the update carries on in the workflow.
 */
async function emailUpdate<Ret>(g: GatewayContext, inviteId: string, begin: StartEmailUpdate<Ret>): Promise<EmailUpdateOutcome<Ret>> {
  const updateHandle = await guard(() => g.within(g.timeouts.updateMs, () => begin(g.handle(inviteId), WorkflowUpdateStage.ACCEPTED)));
  try {
    const result = await g.within(g.timeouts.emailUpdateMs, () => updateHandle.result());
    return { done: true, result };
  } catch (err) {
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadline(err)) return { done: false };
    return guard(() => {
      throw err;
    });
  }
}

/** Sends the delivery-failure signal; a closed workflow rejects with `WorkflowNotFoundError`. */
async function deliveryFailed(g: GatewayContext, inviteId: string, failure: DeliveryFailure): Promise<void> {
  await guard(() => g.within(g.timeouts.readMs, () => g.handle(inviteId).signal(deliveryFailedSignal, failure)));
}

/** Sends the decline signal; a closed workflow rejects with `WorkflowNotFoundError`. */
async function decline(g: GatewayContext, inviteId: string): Promise<void> {
  await guard(() => g.within(g.timeouts.readMs, () => g.handle(inviteId).signal(declineSignal)));
}

/** One page of invites from visibility, newest first. */
async function list(g: GatewayContext, filter: InviteListFilter, pageSize: number, pageToken?: string): Promise<InviteListPage> {
  let query: string;
  try {
    query = visibilityQuery(filter, g.emailKey);
  } catch (err) {
    if (err instanceof InvalidFilterError) throw new ApiError('invalid_request', err.message);
    throw err;
  }
  const fingerprint = createHash('sha256').update(query).digest('base64url').slice(0, 12);
  const nextPageToken = pageToken === undefined ? undefined : decodePageToken(pageToken, fingerprint);
  const page = await guard(() => g.within(g.timeouts.readMs, () => searchInvites(g.client, query, pageSize, nextPageToken, filter.email))).catch((err: unknown) => {
    if (pageToken === undefined || !(err instanceof ServiceError) || grpcCode(err) !== GRPC.INVALID_ARGUMENT) throw err;
    // The server refuses a token it cannot decode with INVALID_ARGUMENT.
    throw new ApiError('invalid_request', 'The page token is invalid', [{ field: 'query.pageToken', message: 'is invalid' }]);
  });
  const token = page.nextPageToken;
  return {
    items: page.items,
    ...(token ? { nextPageToken: `${fingerprint}.${Buffer.from(token).toString('base64url')}` } : {}),
  };
}

/** The server's page token inside ours (`<query fingerprint>.<token>`), refused when from another query. */
function decodePageToken(pageToken: string, fingerprint: string): Uint8Array {
  const dot = pageToken.indexOf('.');
  if (dot < 0 || pageToken.slice(0, dot) !== fingerprint) {
    throw new ApiError('invalid_request', 'The page token does not belong to this query', [
      { field: 'query.pageToken', message: 'must come from the same query' },
    ]);
  }
  return Buffer.from(pageToken.slice(dot + 1), 'base64url');
}

/** A cheap call that succeeds only when the Temporal service answers. */
async function ping(g: GatewayContext): Promise<void> {
  await guard(() => g.within(2000, () => g.client.workflowService.getSystemInfo({})));
}

const notFound = new ApiError('invite_not_found', 'No invite has this id');

/**
 * Runs a Temporal call and translates its errors: refusals to their codes, an unreachable or
 * slow service to 503; `WorkflowNotFoundError` passes through unless `missing` replaces it.
 */
async function guard<T>(fn: () => Promise<T>, missing?: ApiError): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof WorkflowNotFoundError) throw missing ?? err;
    // A run that failed validation at once never registered its query handler.
    if (err instanceof QueryNotRegisteredError && missing) throw missing;
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalToApiError(err.cause);
      if (refusal) throw refusal;
    }
    if (isUnavailable(err)) {
      throw new ApiError('service_unavailable', 'The invite service is temporarily unavailable', undefined, { 'retry-after': '1' });
    }
    throw err;
  }
}
