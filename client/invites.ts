/**
 * Creating an invite, shared by the API (`POST /v1/invites`) and the CLI (`inviteflow bulk`): the
 * request is normalized and checked by the workflow's own `resolveInviteInput`, the id is the
 * keyed hash of email and scope, and the start lets Temporal's workflow-id conflict policy keep
 * one open invite per email and scope. Both callers must start invites the same way, or the
 * "one open invite" rule and the UI's search attributes would depend on who started it.
 */
import { emailSearchValue } from './codec';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { inviteWorkflow } from '../workflows/invite';
import { normalizeEmail, resolveInviteInput } from '../workflows/input';
import type { ResolvedInvite } from '../workflows/input';
import { inviteWorkflowId, searchAttributes } from '../workflows/messages';
import type { AccountPolicy, Attribution, EmailPolicy, InviteInput, Inviter, JsonValue } from '../workflows/messages';
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
  /** Which Auth0 accounts of the person get the grant; see `tenantDefaults`. */
  accountPolicy?: AccountPolicy;
  /** HubSpot contact properties bound to the invite; see `tenantDefaults`. */
  crmProperties?: string[];
}

/** The tenant's defaults of a new invite (`ACCOUNT_POLICY`, `HUBSPOT_TOKEN_PROPERTIES`). */
export interface TenantDefaults {
  accountPolicy: AccountPolicy;
  crmProperties: readonly string[];
}

/**
 * The request with the tenant's defaults filled in where it names none. The API and the CLI both
 * write the result into the workflow input, so a later change of a default never changes an
 * invite already running, and the input says what the invite does without the configuration.
 * An invite meant to be forwarded (`emailPolicy: 'any'`) gets the policy `off` by default: the
 * holder of a forwarded link is not the invited person, whose accounts must not be joined to theirs.
 */
export function tenantDefaults<R extends InviteRequest>(request: R, defaults: TenantDefaults): R & Required<Pick<InviteRequest, 'accountPolicy' | 'crmProperties'>> {
  return {
    ...request,
    accountPolicy: request.accountPolicy ?? (request.emailPolicy === 'any' ? 'off' : defaults.accountPolicy),
    crmProperties: request.crmProperties ?? [...defaults.crmProperties],
  };
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
    ...(request.accountPolicy !== undefined ? { accountPolicy: request.accountPolicy } : {}),
    ...(request.crmProperties !== undefined ? { crmProperties: request.crmProperties } : {}),
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

/** Starts before giving up when each finds a run open that has closed by the time it is described. */
const START_ATTEMPTS = 5;

/**
 * A starter on the client's connection and namespace. It starts the invite unless one is open
 * for the same id; a closed one's id is reused (`ALLOW_DUPLICATE`). `started` says which
 * happened. Deadlines are the caller's (`connection.withDeadline`).
 *
 * The start refuses an open run (`FAIL`) rather than returning it (`USE_EXISTING`): the server
 * lets exactly one of several racing starts through, so `started` is true for that one caller
 * only, whichever API replica or CLI it is. (With `USE_EXISTING` every racer gets the same run
 * id and the SDK does not say whose start created it.) A refused start then reads the open run's
 * id; should that run have closed in between, the start is tried again.
 */
export function createInviteStarter(client: Client, taskQueue: string, emailKey?: string): InviteStarter {
  return async (input, meta) => {
    const options = startOptions(taskQueue, input, meta, emailKey);
    for (let attempt = 1; ; attempt++) {
      try {
        const handle = await client.workflow.start<typeof inviteWorkflow>('inviteWorkflow', options);
        return { runId: handle.firstExecutionRunId, started: true };
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      const open = await openRunId(client, options.workflowId);
      if (open) return { runId: open, started: false };
      if (attempt >= START_ATTEMPTS) throw new Error(`Invite ${input.inviteId}: its runs kept closing while it was being started`);
    }
  };
}

/** The start options of an invite: search attributes as the workflow publishes them, summary, memo. */
function startOptions(taskQueue: string, input: InviteInput, meta: StartMeta, emailKey?: string): WorkflowStartOptions<typeof inviteWorkflow> {
  // With payload encryption on, the search attribute holds a keyed hash, never the address.
  const emailValue = emailSearchValue(input.email, emailKey);
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: searchAttributes.status, value: 'pending' },
    { key: searchAttributes.email, value: emailValue },
    { key: searchAttributes.scope, value: input.scope },
    { key: searchAttributes.expiresAt, value: meta.expiresAt },
  ];
  return {
    taskQueue,
    workflowId: inviteWorkflowId(input.inviteId),
    args: [emailKey ? { ...input, emailSearchValue: emailValue } : input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes,
    staticSummary: meta.summary,
    memo: meta.memo,
  };
}

/** The run id of the workflow's latest run while it is open; undefined once it has closed. */
async function openRunId(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return description.status.name === 'RUNNING' ? description.runId : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
