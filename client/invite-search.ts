/**
 * Searching invites in Temporal visibility, shared by the API's list route and `inviteflow list`.
 * Visibility is eventually consistent: a just-started invite can take a moment to appear, and it
 * can never prove that no invite exists (that is the workflow-id conflict policy's job).
 */
import { emailSearchValue } from './codec';
import type { Client } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { searchAttributes } from '../workflows/messages';
import type { InviteState } from '../workflows/messages';

/** Every state an invite can be in, for validating a filter. */
export const INVITE_STATES: readonly InviteState[] = [
  'pending',
  'undeliverable',
  'redeemed',
  'completed',
  'expired',
  'revoked',
  'failed',
];

/** Filters of a search; callers validate the values, quoting still keeps them inside their literal. */
export interface InviteListFilter {
  status?: InviteState;
  email?: string;
  scope?: string;
}

/** One invite as visibility sees it, without querying the workflow. */
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

/** One page of a search; `nextPageToken` is the server's own, absent on the last page. */
export interface InviteSearchPage {
  items: InviteListItem[];
  nextPageToken?: Uint8Array;
}

/** Thrown for a filter value that no quoting can make safe (control characters). */
export class InvalidFilterError extends Error {
  readonly code = 'ERR_INVALID_FILTER';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidFilterError';
  }
}

/**
 * The visibility query of a search. Quoting escapes backslashes and quotes, so no value can ever
 * end the string literal, whatever the caller let through.
 */
export function visibilityQuery(filter: InviteListFilter, emailKey?: string): string {
  const clauses = [`WorkflowType = 'inviteWorkflow'`];
  if (filter.status) clauses.push(`${searchAttributes.status.name} = ${quote(filter.status)}`);
  if (filter.email) clauses.push(`${searchAttributes.email.name} = ${quote(emailSearchValue(filter.email, emailKey))}`);
  if (filter.scope) clauses.push(`${searchAttributes.scope.name} = ${quote(filter.scope)}`);
  return clauses.join(' AND ');
}

function quote(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters have no place in a filter
  if (/[\x00-\x1f\x7f]/.test(value))
    throw new InvalidFilterError('A filter value contains control characters');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * One page of invites matching a visibility query, newest first. Deadlines are the caller's.
 * `filterEmail`: the normalized email the query filtered on, listed in place of its keyed hash.
 */
export async function searchInvites(
  client: Client,
  query: string,
  pageSize: number,
  nextPageToken?: Uint8Array,
  filterEmail?: string,
): Promise<InviteSearchPage> {
  const response = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query,
    pageSize,
    nextPageToken,
  });
  const items = (response.executions ?? []).map((execution): InviteListItem => {
    const attrs = decodeTypedSearchAttributes(execution.searchAttributes?.indexedFields);
    const workflowId = execution.execution?.workflowId ?? '';
    const expiresAt = attrs.get(searchAttributes.expiresAt);
    const closeTime = timestamp(execution.closeTime);
    return {
      id: workflowId.replace(/^invite-/, ''),
      status: attrs.get(searchAttributes.status),
      email: listedEmail(attrs.get(searchAttributes.email), filterEmail),
      scope: attrs.get(searchAttributes.scope),
      ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
      startTime: timestamp(execution.startTime) ?? new Date(0).toISOString(),
      ...(closeTime ? { closeTime } : {}),
      execution: executionStatusName(execution.status),
    };
  });
  const token = response.nextPageToken;
  return { items, ...(token && token.length > 0 ? { nextPageToken: token } : {}) };
}

/**
 * The email of a listed invite: with payload encryption `InviteEmail` holds a keyed hash, which is
 * no address; the email the search filtered on is then the one it matched, and otherwise none.
 */
function listedEmail(stored: string | undefined, filterEmail: string | undefined): string | undefined {
  if (stored === undefined || !stored.startsWith('sha256:')) return stored;
  return filterEmail;
}

function timestamp(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return undefined;
  const seconds = Number(ts.seconds);
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

const EXECUTION_STATUS = [
  'UNSPECIFIED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
  'PAUSED',
];

function executionStatusName(code: number | null | undefined): string {
  return EXECUTION_STATUS[code ?? 0] ?? 'UNKNOWN';
}
