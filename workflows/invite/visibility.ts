/**
 * What the Temporal UI and the list API see of an invite: its search attributes and the
 * markdown of its current details. Pure: `effects.ts` publishes them.
 */
import type { SearchAttributeUpdatePair, TypedSearchAttributes } from '@temporalio/common';
import type { ResolvedInvite } from '../input';
import { searchAttributes } from '../messages';
import type { InviteInput } from '../messages';
import type { Invite } from './state';

/**
 * The value of `InviteEmail`: the caller's search value (a keyed hash, so visibility holds no
 * address) when it sent a sane one, else the address. Only the value changes, not the upsert
 * commands, so histories recorded before it replay.
 */
export function emailSearchValue(input: InviteInput, invite: ResolvedInvite): string {
  return typeof input.emailSearchValue === 'string' && input.emailSearchValue.length > 0 && input.emailSearchValue.length <= 200
    ? input.emailSearchValue
    : invite.email;
}

/** The invite's search attributes. */
export function inviteSearchAttributes(state: Invite, emailSearch: string): SearchAttributeUpdatePair[] {
  return [
    { key: searchAttributes.status, value: state.status.state },
    { key: searchAttributes.email, value: emailSearch },
    { key: searchAttributes.scope, value: state.status.scope },
    { key: searchAttributes.expiresAt, value: new Date(state.expiresAt) },
  ];
}

/** A key equal for equal search attributes: an upsert that would change nothing is skipped. */
export function searchAttributesKey(state: Invite, emailSearch: string): string {
  return attributesKey(state.status.state, emailSearch, state.status.scope, state.expiresAt);
}

/** The key of the search attributes the run already has (set at its start). */
export function publishedKey(visible: TypedSearchAttributes): string {
  return attributesKey(
    visible.get(searchAttributes.status),
    visible.get(searchAttributes.email),
    visible.get(searchAttributes.scope),
    visible.get(searchAttributes.expiresAt)?.getTime(),
  );
}

/** The current details of an invite still waiting or just redeemed. */
export function currentDetails(state: Invite): string {
  const { status, invite } = state;
  const sent = status.emails.length;
  return [
    `**${status.state}** · ${invite.scope} · roles: ${invite.roles.join(', ') || 'none'}`,
    `${sent} email${sent === 1 ? '' : 's'} sent${status.optedOutAt ? ' · opted out of email' : ''}${status.undeliverable ? ` · undeliverable (${status.undeliverable.kind})` : ''}`,
    state.isOpen() ? `expires ${status.expiresAt}` : '',
    status.redeemer ? `redeemed by ${status.redeemer.userId} (${status.redeemer.connection})` : '',
    status.failure ? `failed: ${status.failure.message}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** The current details of an invite whose grant ended, completed or failed. */
export function closedDetails(state: Invite): string {
  const { status } = state;
  return status.state === 'completed'
    ? `**completed** · redeemed by ${status.redeemer!.userId} (${status.redeemer!.connection})`
    : `**failed** · ${status.failure?.message ?? ''}`;
}

function attributesKey(state?: string, email?: string, scope?: string, expiresAtMs?: number): string {
  return JSON.stringify([state ?? null, email ?? null, scope ?? null, expiresAtMs ?? null]);
}
