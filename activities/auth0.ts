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
}

/** What `writeAuth0AppMetadata` keeps per scope under `app_metadata.inviteflow`. */
export interface InviteflowScopeRecord {
  inviteId: string;
  roles: string[];
  data: Record<string, unknown>;
  redeemedAt: string;
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
        };
        if (sameJson(ours[input.scope], record)) return;
        await call(() =>
          management.users.update(input.userId, {
            app_metadata: { [APP_METADATA_KEY]: { ...ours, [input.scope]: record } },
          }),
        );
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
