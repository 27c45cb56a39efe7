/**
 * Auth0 side effects of a redeemed invite: roles, the invite's record in `app_metadata`, and the
 * verified email. Each activity is idempotent, so Temporal may retry any attempt, and every SDK
 * error goes through `toActivityFailure` so Temporal knows whether and when to try again.
 * Each activity declares the most Management API requests it makes, beside the code that makes
 * them, so that an outbound pacer can reserve them all before the first (`activities/outbound-pacer.ts`).
 */
import type { ManagementClient } from 'auth0';
import { pacedActivity } from './outbound-pacer';
import type { OutboundPacer } from './outbound-pacer';
import { toActivityFailure } from './failures';

/** Dependencies of the Auth0 activities. */
export interface Auth0ActivityDeps {
  management: ManagementClient;
  /**
   * The pacer `management` was built with (`createManagementClient`'s `pacer`): each
   * activity then reserves its requests before its first and sends them at the reserved times.
   */
  pacer?: OutboundPacer;
}

/** Input of `assignAuth0Roles`. */
export interface AssignAuth0RolesInput {
  userId: string;
  /** Role names as configured in the Auth0 tenant. */
  roles: string[];
}

/** What `assignAuth0Roles` did. */
export interface AssignAuth0RolesResult {
  /** Ids of the roles assigned. */
  roleIds: string[];
  /** Names that are not roles of the tenant (any more): not assigned. */
  missing: string[];
}

/** Input of `writeAuth0AppMetadata`. */
export interface WriteAuth0AppMetadataInput {
  userId: string;
  inviteId: string;
  /** The invite's scope (e.g. a workspace id); one record per scope. */
  scope: string;
  roles: string[];
  data: Record<string, unknown>;
  /** ISO 8601. */
  redeemedAt: string;
  hubspotContactId?: string;
  crm?: Record<string, string | null>;
}

/** What `writeAuth0AppMetadata` keeps per scope under `app_metadata.inviteflow`. */
export interface InviteflowScopeRecord {
  inviteId: string;
  roles: string[];
  data: Record<string, unknown>;
  redeemedAt: string;
  /** The HubSpot contact of the invited address, when known. */
  hubspotContactId?: string;
  /** The contact's properties bound to the invite, when read. */
  crm?: Record<string, string | null>;
}

/** One Auth0 user with an address, as `findAuth0Accounts` answers it. */
export interface Auth0Account {
  userId: string;
  /** The user's (root profile) email, lower-case. */
  email: string;
  emailVerified: boolean;
  /** ISO 8601; the oldest account of a person becomes the primary when accounts are linked. */
  createdAt: string;
  /** `provider|user_id` of every identity the user holds (its own first, then linked ones). */
  identities: string[];
}

/** Input of `linkAuth0Accounts`. */
export interface LinkAuth0AccountsInput {
  primaryUserId: string;
  /** Linked in this order; the first refusal stops the rest. */
  secondaryUserIds: string[];
}

/** What `linkAuth0Accounts` did. */
export interface LinkAuth0AccountsResult {
  /** The secondaries that are now identities of the primary (linked now or before). */
  linked: string[];
  /** The secondary Auth0 refused to link for good, and why; the ones after it were not tried. */
  refused?: { userId: string; reason: string };
}

/** Our one top-level key in `app_metadata`; everything else there belongs to others. */
export const APP_METADATA_KEY = 'inviteflow';

// Role lookups page through name_filter matches; Auth0 allows at most 100 per page.
const ROLES_PER_PAGE = 100;

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure('auth0', err);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Key order differs between what we send and what Auth0 returns, so compare structurally.
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return false;
}

const distinctRoles = (input: AssignAuth0RolesInput) => [...new Set(input.roles)];

/** Builds the Auth0 activities around an injected Management API client. */
export function createAuth0Activities(deps: Auth0ActivityDeps) {
  const { management, pacer } = deps;
  // `requests(input)`: the most Management API requests the activity makes for that input.
  const paced = <I, R>(requests: (input: I) => number, activity: (input: I) => Promise<R>) =>
    pacer ? pacedActivity(pacer, requests, activity, { clientPaced: true }) : activity;

  async function findRoleId(name: string): Promise<string | undefined> {
    // name_filter is a case-insensitive match Auth0 does not promise to be exact, so the exact
    // name is picked here.
    const page = await call(() => management.roles.list({ name_filter: name, per_page: ROLES_PER_PAGE }));
    let current = page;
    for (;;) {
      const match = current.data.find((role) => role.name === name);
      if (match?.id) return match.id;
      if (!current.hasNextPage()) return undefined;
      current = await call(() => current.getNextPage());
    }
  }

  return {
    /**
     * Assigns the named roles that exist to the user and reports the others as `missing`. Names
     * are checked when the invite is created, so a missing role was deleted in Auth0 since: the
     * invite still completes with the rest, rather than failing after the person signed up.
     */
    assignAuth0Roles: paced(
      // One lookup per distinct role and one assignment; none without roles. (A lookup's second
      // page, past 100 name matches, is paced on its own.)
      (input: AssignAuth0RolesInput) => {
        const lookups = distinctRoles(input).length;
        return lookups === 0 ? 0 : lookups + 1;
      },
      async (input: AssignAuth0RolesInput): Promise<AssignAuth0RolesResult> => {
        const names = distinctRoles(input);
        const roleIds: string[] = [];
        const missing: string[] = [];
        for (const name of names) {
          const id = await findRoleId(name);
          if (id) roleIds.push(id);
          else missing.push(name);
        }
        // Assigning a role the user already has is accepted by Auth0, so a retry is harmless.
        if (roleIds.length > 0) await call(() => management.users.roles.assign(input.userId, { roles: roleIds }));
        return { roleIds, missing };
      },
    ),

    /**
     * Records the invite under `app_metadata.inviteflow[scope]`. Auth0 merges only top-level keys
     * and replaces nested objects, so the current `inviteflow` object is read, merged and written
     * back whole; other top-level keys are left to Auth0's merge. Two invites for the same user
     * written at the same instant could still race (Auth0 has no conditional update).
     */
    writeAuth0AppMetadata: paced(
      // A read, and a write unless the record is already there.
      () => 2,
      async (input: WriteAuth0AppMetadataInput): Promise<void> => {
        const user = await call(() =>
          management.users.get(input.userId, { fields: 'app_metadata', include_fields: true }),
        );
        const appMetadata: unknown = user.app_metadata;
        const current: unknown = isRecord(appMetadata) ? appMetadata[APP_METADATA_KEY] : undefined;
        const ours = isRecord(current) ? current : {};
        const record: InviteflowScopeRecord = {
          inviteId: input.inviteId,
          roles: input.roles,
          data: input.data,
          redeemedAt: input.redeemedAt,
          ...(input.hubspotContactId !== undefined ? { hubspotContactId: input.hubspotContactId } : {}),
          ...(input.crm !== undefined ? { crm: input.crm } : {}),
        };
        if (sameJson(ours[input.scope], record)) return;
        await call(() =>
          management.users.update(input.userId, {
            app_metadata: { [APP_METADATA_KEY]: { ...ours, [input.scope]: record } },
          }),
        );
      },
    ),

    /**
     * The Auth0 users whose email is this address (`GET /api/v2/users-by-email`), with whether each
     * verified it. Linked secondaries are not users any more: they show as identities of their primary.
     */
    findAuth0Accounts: paced(
      () => 1,
      async (input: { email: string }): Promise<Auth0Account[]> => {
        const users = await call(() => management.users.listUsersByEmail({ email: input.email }));
        return users
          .filter((user) => typeof user.user_id === 'string')
          .map((user) => ({
            userId: user.user_id!,
            email: (user.email ?? '').toLowerCase(),
            emailVerified: user.email_verified === true,
            createdAt: user.created_at ?? '',
            identities: (user.identities ?? []).map((identity) => `${identity.provider}|${identity.user_id}`),
          }));
      },
    ),

    /**
     * Links each secondary user into the primary (`POST /api/v2/users/{primary}/identities`), in order.
     * Idempotent: the primary's identities are read first and a secondary already among them is not
     * linked again. A refusal for good (a 4xx other than 429) stops there and is answered, not thrown,
     * so the workflow records it and grants where the accounts really are; anything else is retried.
     */
    linkAuth0Accounts: paced(
      (input: LinkAuth0AccountsInput) => 1 + input.secondaryUserIds.length,
      async (input: LinkAuth0AccountsInput): Promise<LinkAuth0AccountsResult> => {
        const primary = await call(() => management.users.get(input.primaryUserId, { fields: 'identities', include_fields: true }));
        const held = new Set((primary.identities ?? []).map((identity) => `${identity.provider}|${identity.user_id}`));
        const linked: string[] = [];
        for (const userId of input.secondaryUserIds) {
          if (!held.has(userId)) {
            const bar = userId.indexOf('|');
            try {
              await management.users.identities.link(input.primaryUserId, {
                provider: userId.slice(0, bar) as never,
                user_id: userId.slice(bar + 1),
              });
            } catch (err) {
              const failure = toActivityFailure('auth0', err);
              if (failure.nonRetryable) return { linked, refused: { userId, reason: failure.message } };
              throw failure;
            }
          }
          linked.push(userId);
        }
        return { linked };
      },
    ),

    /** Marks the user's email verified; the invite link proved the address. No write when it already is. */
    markAuth0EmailVerified: paced(
      // A read, and a write unless the email is already verified.
      () => 2,
      async (input: { userId: string }): Promise<void> => {
        const user = await call(() =>
          management.users.get(input.userId, { fields: 'email_verified', include_fields: true }),
        );
        if (user.email_verified === true) return;
        await call(() => management.users.update(input.userId, { email_verified: true }));
      },
    ),
  };
}
