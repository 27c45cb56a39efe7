/**
 * Creating an invite, shared by the API (`POST /v1/invites`) and the CLI (`inviteflow bulk`): the
 * request is normalized and checked by the workflow's own `resolveInviteInput`, the id is the
 * keyed hash of email and scope, and the start lets Temporal's workflow-id conflict policy keep
 * one open invite per email and scope. Both callers must start invites the same way, or the
 * "one open invite" rule and the UI's search attributes would depend on who started it.
 */
import { emailSearchValue } from './codec';
import { compileWorkflowOptions, WorkflowClient } from '@temporalio/client';
import type { Client, CompiledWorkflowOptions, WorkflowStartOptions } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { inviteWorkflow } from '../workflows/invite';
import { normalizeEmail, resolveInviteInput } from '../workflows/input';
import type { ResolvedInvite } from '../workflows/input';
import { inviteWorkflowId, searchAttributes } from '../workflows/messages';
import type { Attribution, EmailPolicy, InviteInput, Inviter, JsonValue } from '../workflows/messages';
import { deriveInviteId } from './invite-id';

/** Scope of an invite whose request names none. */
export const DEFAULT_SCOPE = 'default';

/** Locale of an invite whose request names none. */
export const DEFAULT_LOCALE = 'en';

/** What a caller asks for; the email may be raw (it is trimmed and lower-cased here). */
export interface InviteRequest {
  email: string;
  scope?: string;
  roles?: string[];
  data?: Record<string, JsonValue>;
  locale?: string;
  /** A duration such as `'7 days'`, or milliseconds. */
  ttl?: string | number;
  reminders?: (string | number)[];
  escalateBefore?: string | number | false;
  timeZone?: string;
  sendWindow?: { start: string; end: string };
  emailPolicy?: EmailPolicy;
  redirect?: string;
  inviter?: Inviter;
  attribution?: Attribution;
  attributionInClaims?: boolean;
  claimByVerifiedEmail?: boolean;
}

/** The workflow input of a request, and the same input with every default resolved. */
export interface PreparedInvite {
  input: InviteInput;
  invite: ResolvedInvite;
}

/**
 * Builds the workflow input of a request and runs the workflow's own validation on it, so a bad
 * request starts nothing. Throws `InvalidInviteInput` listing every problem.
 */
export function prepareInvite(idKey: string, request: InviteRequest, now: number = Date.now()): PreparedInvite {
  const email = normalizeEmail(request.email);
  const scope = request.scope ?? DEFAULT_SCOPE;
  const { inviter } = request;
  const input: InviteInput = {
    inviteId: deriveInviteId(idKey, email, scope),
    email,
    roles: request.roles ?? [],
    data: request.data ?? {},
    scope,
    locale: request.locale ?? DEFAULT_LOCALE,
    // Absent rather than undefined: the input is recorded in history as JSON.
    ...(inviter
      ? { inviter: { ...inviter, ...(inviter.email ? { email: normalizeEmail(inviter.email) } : {}) } }
      : {}),
    ...(request.ttl !== undefined ? { ttl: request.ttl } : {}),
    ...(request.reminders ? { reminders: request.reminders } : {}),
    ...(request.escalateBefore !== undefined ? { escalateBefore: request.escalateBefore } : {}),
    ...(request.timeZone !== undefined ? { timeZone: request.timeZone } : {}),
    ...(request.sendWindow !== undefined ? { sendWindow: request.sendWindow } : {}),
    ...(request.emailPolicy ? { emailPolicy: request.emailPolicy } : {}),
    ...(request.redirect !== undefined ? { redirect: request.redirect } : {}),
    ...(request.attribution !== undefined ? { attribution: request.attribution } : {}),
    ...(request.attributionInClaims ? { attributionInClaims: true } : {}),
    ...(request.claimByVerifiedEmail ? { claimByVerifiedEmail: true } : {}),
    // The workflow takes this as the creation time, so the caller can answer with the status now.
    createdAt: new Date(now).toISOString(),
  };
  return { input, invite: resolveInviteInput(input) };
}

/** The same invite created at `now` instead: for a caller that checks early and starts later (bulk import). */
export function restampInvite(prepared: PreparedInvite, now: number = Date.now()): PreparedInvite {
  return {
    input: { ...prepared.input, createdAt: new Date(now).toISOString() },
    invite: { ...prepared.invite, createdAtMs: now },
  };
}

/** Start options beyond the input. */
export interface StartMeta {
  /** Expected expiry, for the `InviteExpiresAt` search attribute until the workflow publishes its own. */
  expiresAt: Date;
  /** One line for the Temporal UI; must not contain personal data. */
  summary: string;
  /** Shown with the invite (the landing page reads the inviter from here). */
  memo: Record<string, unknown>;
}

/**
 * The start options of a resolved invite: expiry (from the invite's creation time when it has one,
 * so the start's search attribute is the workflow's), a summary without personal data, the memo.
 */
export function inviteStartMeta(invite: ResolvedInvite, now: number = Date.now()): StartMeta {
  return {
    expiresAt: new Date((invite.createdAtMs ?? now) + invite.ttlMs),
    summary: `Invite to ${invite.scope} · roles: ${invite.roles.join(', ') || 'none'}`.slice(0, 200),
    memo: invite.inviter ? { inviter: invite.inviter } : {},
  };
}

/** What a start did: created a run, or found the open one (workflow-id conflict policy). */
export interface StartResult {
  runId: string;
  started: boolean;
}

/** Starts an invite unless one is open for the same id; see `createInviteStarter`. */
export type InviteStarter = (input: InviteInput, meta: StartMeta) => Promise<StartResult>;

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

/**
 * A starter on the client's connection and namespace. It starts the invite unless one is open
 * for the same id (`USE_EXISTING`); a closed one's id is reused. `started` says which happened,
 * as the server reports it. Deadlines are the caller's (`connection.withDeadline`).
 */
export function createInviteStarter(client: Client, taskQueue: string, emailKey?: string): InviteStarter {
  const starter = new StartReportingClient({
    connection: client.connection,
    namespace: client.options.namespace,
    dataConverter: client.options.dataConverter,
    identity: client.options.identity,
  });
  return (input, meta) => {
    // With payload encryption on, the search attribute holds a keyed hash, never the address.
    const emailValue = emailSearchValue(input.email, emailKey);
    const typedSearchAttributes: SearchAttributePair[] = [
      { key: searchAttributes.status, value: 'pending' },
      { key: searchAttributes.email, value: emailValue },
      { key: searchAttributes.scope, value: input.scope },
      { key: searchAttributes.expiresAt, value: meta.expiresAt },
    ];
    return starter.startReporting({
      taskQueue,
      workflowId: inviteWorkflowId(input.inviteId),
      args: [emailKey ? { ...input, emailSearchValue: emailValue } : input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes,
      staticSummary: meta.summary,
      memo: meta.memo,
    });
  };
}
