/**
 * Everything the API asks Temporal about invites, behind one narrow object: start (telling a new
 * run from an existing one), query, update, signal, list from visibility, and a readiness ping.
 * Every call carries a deadline, so an unreachable server or a missing worker turns into a 503
 * rather than a hung request; Temporal's own errors become `ApiError`s here.
 */
import { createHash } from 'node:crypto';
import {
  compileWorkflowOptions,
  isGrpcServiceError,
  QueryNotRegisteredError,
  ServiceError,
  WorkflowClient,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
} from '@temporalio/client';
import type { Client, CompiledWorkflowOptions, WorkflowExecutionDescription, WorkflowHandle, WorkflowStartOptions, WorkflowUpdateHandle } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { inviteWorkflow } from '../workflows/invite';
import { declineSignal, inviteWorkflowId, searchAttributes, statusQuery } from '../workflows/messages';
import type { InviteInput, InviteState, InviteStatus } from '../workflows/messages';
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

/** What a start did: created a run, or found the open one (workflow-id conflict policy). */
export interface StartResult {
  runId: string;
  started: boolean;
}

/** Extra start options beyond the input. */
export interface StartMeta {
  /** Expected expiry, for the `InviteExpiresAt` search attribute until the workflow publishes its own. */
  expiresAt: Date;
  /** One line for the Temporal UI; must not contain personal data. */
  summary: string;
  /** Shown with the invite (the landing page reads the inviter from here). */
  memo: Record<string, unknown>;
}

/** One row of a list, read from visibility without querying the workflow. */
export interface InviteListItem {
  id: string;
  status?: string;
  email?: string;
  scope?: string;
  expiresAt?: string;
  startTime: string;
  closeTime?: string;
  /** Temporal's execution status (`RUNNING`, `COMPLETED`, `TERMINATED`, …). */
  execution: string;
}

/** A page of a list. */
export interface InviteListPage {
  items: InviteListItem[];
  nextPageToken?: string;
}

/** Filters of a list; every value was validated by the route. */
export interface InviteListFilter {
  status?: InviteState;
  email?: string;
  scope?: string;
}

/** Whether an invite's workflow exists and is open. */
export type InviteExistence = { exists: false } | { exists: true; open: boolean; runId: string };

/** The outcome of an email-sending update: its result, or `pending` when it outlived the wait. */
export type EmailUpdateOutcome<T> = { done: true; result: T } | { done: false };

/** A handle on an invite's latest run. */
export type Handle = WorkflowHandle<typeof inviteWorkflow>;

// `WorkflowClient.start` does not expose the `started` flag of StartWorkflowExecutionResponse, and
// comparing run ids cannot tell two racing creators apart (both see the same run). The request is
// built by the SDK itself, so encoding, search attributes and user metadata stay the SDK's.
class StartReportingClient extends WorkflowClient {
  async startReporting(options: WorkflowStartOptions<typeof inviteWorkflow>): Promise<StartResult> {
    const request = await this.createStartWorkflowRequest({
      // The SDK's own start path adds nothing else to the options (`args` is always set here).
      options: compileWorkflowOptions(options) as unknown as CompiledWorkflowOptions,
      headers: {},
      workflowType: 'inviteWorkflow',
    });
    const response = await this.workflowService.startWorkflowExecution(request);
    return { runId: response.runId, started: response.started === true };
  }
}

/** The gateway's operations. */
export type InviteGateway = ReturnType<typeof createInviteGateway>;

/** Builds the gateway around a connected client. */
export function createInviteGateway(client: Client, opts: { taskQueue: string; timeouts?: Partial<GatewayTimeouts> }) {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const namespace = client.options.namespace;
  const starter = new StartReportingClient({
    connection: client.connection,
    namespace,
    dataConverter: client.options.dataConverter,
    identity: client.options.identity,
  });
  const within = <T>(ms: number, fn: () => Promise<T>): Promise<T> => client.connection.withDeadline(Date.now() + ms, fn);
  const handle = (inviteId: string, runId?: string): Handle => client.workflow.getHandle<typeof inviteWorkflow>(inviteWorkflowId(inviteId), runId);

  return {
    /**
     * Starts the invite unless one is open for the same id (`USE_EXISTING`); a closed one's id is
     * reused. `started` says which happened, as the server reports it.
     */
    async start(input: InviteInput, meta: StartMeta): Promise<StartResult> {
      const typedSearchAttributes: SearchAttributePair[] = [
        { key: searchAttributes.status, value: 'pending' },
        { key: searchAttributes.email, value: input.email },
        { key: searchAttributes.scope, value: input.scope },
        { key: searchAttributes.expiresAt, value: meta.expiresAt },
      ];
      return guard(() =>
        within(timeouts.readMs, () =>
          starter.startReporting({
            taskQueue: opts.taskQueue,
            workflowId: inviteWorkflowId(input.inviteId),
            args: [input],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'ALLOW_DUPLICATE',
            typedSearchAttributes,
            staticSummary: meta.summary,
            memo: meta.memo,
          }),
        ),
      );
    },

    /** The status query (replayed by a worker when the run is closed); 404 when there is no such invite. */
    async status(inviteId: string, runId?: string): Promise<InviteStatus> {
      return guard(() => within(timeouts.readMs, () => handle(inviteId, runId).query(statusQuery)), notFound);
    },

    /** Whether the latest run is open, and the memo it was started with; 404 when there is none. */
    async describe(inviteId: string): Promise<{ open: boolean; memo: Record<string, unknown> }> {
      const description = await guard(() => within(timeouts.readMs, () => handle(inviteId).describe()), notFound);
      return { open: description.status.name === 'RUNNING', memo: description.memo ?? {} };
    },

    /** Whether the invite's latest run exists and is open. */
    async existence(inviteId: string): Promise<InviteExistence> {
      let description: WorkflowExecutionDescription;
      try {
        description = await guard(() => within(timeouts.readMs, () => handle(inviteId).describe()));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { exists: false };
        throw err;
      }
      return { exists: true, open: description.status.name === 'RUNNING', runId: description.runId };
    },

    /** Waits for a run to close (after a revocation) so its id can be reused. */
    async waitClosed(inviteId: string, runId: string): Promise<void> {
      await guard(() =>
        within(timeouts.updateMs, () =>
          handle(inviteId, runId)
            .result()
            .then(
              () => undefined,
              (err: unknown) => {
                // Closed is all that matters here, however it ended.
                if (err instanceof WorkflowFailedError) return undefined;
                throw err;
              },
            ),
        ),
      );
    },

    /**
     * Executes an update whose handler answers at once. Refusals become their `ApiError`s; a
     * closed (or missing) workflow rejects with `WorkflowNotFoundError` for the caller to explain.
     */
    async update<Ret>(inviteId: string, execute: (handle: Handle) => Promise<Ret>): Promise<Ret> {
      return guard(() => within(timeouts.updateMs, () => execute(handle(inviteId))));
    },

    /**
     * Executes an update whose handler sends an email. Acceptance (or refusal) is awaited in full;
     * the email itself only for `emailUpdateMs`, after which the update carries on in the workflow.
     */
    async emailUpdate<Ret>(
      inviteId: string,
      start: (handle: Handle, waitForStage: typeof WorkflowUpdateStage.ACCEPTED) => Promise<WorkflowUpdateHandle<Ret>>,
    ): Promise<EmailUpdateOutcome<Ret>> {
      const updateHandle = await guard(() =>
        within(timeouts.updateMs, () => start(handle(inviteId), WorkflowUpdateStage.ACCEPTED)),
      );
      try {
        const result = await within(timeouts.emailUpdateMs, () => updateHandle.result());
        return { done: true, result };
      } catch (err) {
        if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadline(err)) return { done: false };
        return guard(() => {
          throw err;
        });
      }
    },

    /** Sends the decline signal; a closed workflow rejects with `WorkflowNotFoundError`. */
    async decline(inviteId: string): Promise<void> {
      await guard(() => within(timeouts.readMs, () => handle(inviteId).signal(declineSignal)));
    },

    /** One page of invites from visibility, newest first. */
    async list(filter: InviteListFilter, pageSize: number, pageToken?: string): Promise<InviteListPage> {
      const query = visibilityQuery(filter);
      const fingerprint = createHash('sha256').update(query).digest('base64url').slice(0, 12);
      let nextPageToken: Uint8Array | undefined;
      if (pageToken !== undefined) {
        const dot = pageToken.indexOf('.');
        if (dot < 0 || pageToken.slice(0, dot) !== fingerprint) {
          throw new ApiError('invalid_request', 'The page token does not belong to this query', [
            { field: 'query.pageToken', message: 'must come from the same query' },
          ]);
        }
        nextPageToken = Buffer.from(pageToken.slice(dot + 1), 'base64url');
      }
      const response = await guard(() =>
        within(timeouts.readMs, () =>
          client.workflowService.listWorkflowExecutions({ namespace, query, pageSize, nextPageToken }),
        ),
      ).catch((err: unknown) => {
        if (pageToken === undefined || !(err instanceof ServiceError) || grpcCode(err) !== GRPC.INVALID_ARGUMENT) throw err;
        // The server refuses a token it cannot decode with INVALID_ARGUMENT.
        throw new ApiError('invalid_request', 'The page token is invalid', [{ field: 'query.pageToken', message: 'is invalid' }]);
      });
      const items = (response.executions ?? []).map((execution): InviteListItem => {
        const attrs = decodeTypedSearchAttributes(execution.searchAttributes?.indexedFields);
        const workflowId = execution.execution?.workflowId ?? '';
        const expiresAt = attrs.get(searchAttributes.expiresAt);
        const closeTime = timestamp(execution.closeTime);
        return {
          id: workflowId.replace(/^invite-/, ''),
          status: attrs.get(searchAttributes.status),
          email: attrs.get(searchAttributes.email),
          scope: attrs.get(searchAttributes.scope),
          ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
          startTime: timestamp(execution.startTime) ?? new Date(0).toISOString(),
          ...(closeTime ? { closeTime } : {}),
          execution: executionStatusName(execution.status),
        };
      });
      const token = response.nextPageToken;
      return {
        items,
        ...(token && token.length > 0 ? { nextPageToken: `${fingerprint}.${Buffer.from(token).toString('base64url')}` } : {}),
      };
    },

    /** A cheap call that succeeds only when the Temporal service answers. */
    async ping(): Promise<void> {
      await guard(() => within(2000, () => client.workflowService.getSystemInfo({})));
    },
  };
}

/**
 * The visibility query of a list. Values were validated by the route (a status from the enum, a
 * normalized email, a scope of `[a-z0-9:._-]`); quoting still escapes backslashes and quotes, so
 * no value can ever end the string literal.
 */
export function visibilityQuery(filter: InviteListFilter): string {
  const clauses = [`WorkflowType = 'inviteWorkflow'`];
  if (filter.status) clauses.push(`${searchAttributes.status.name} = ${quote(filter.status)}`);
  if (filter.email) clauses.push(`${searchAttributes.email.name} = ${quote(filter.email)}`);
  if (filter.scope) clauses.push(`${searchAttributes.scope.name} = ${quote(filter.scope)}`);
  return clauses.join(' AND ');
}

function quote(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters have no place in a filter
  if (/[\x00-\x1f\x7f]/.test(value)) throw new ApiError('invalid_request', 'A filter value contains control characters');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function timestamp(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return undefined;
  const seconds = Number(ts.seconds);
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

const EXECUTION_STATUS = ['UNSPECIFIED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'PAUSED'];

function executionStatusName(code: number | null | undefined): string {
  return EXECUTION_STATUS[code ?? 0] ?? 'UNKNOWN';
}

// gRPC status codes (the numbers are fixed by the gRPC specification).
const GRPC = { CANCELLED: 1, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

function grpcCode(err: unknown): number | undefined {
  const cause = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(cause) ? cause.code : undefined;
}

function isDeadline(err: unknown): boolean {
  const code = grpcCode(err);
  return code === GRPC.DEADLINE_EXCEEDED || code === GRPC.CANCELLED;
}

function isUnavailable(err: unknown): boolean {
  const code = grpcCode(err);
  return (
    err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
    isDeadline(err) ||
    code === GRPC.UNAVAILABLE ||
    code === GRPC.RESOURCE_EXHAUSTED
  );
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
