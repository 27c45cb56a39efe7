/**
 * Does an Auth0 account exist for an email? The landing page asks so that a newcomer's Continue
 * button opens the sign-up screen (`screen_hint=signup`). Answers are cached briefly: mail
 * scanners and reloads would otherwise spend the Management API's small rate limit.
 */

/** The narrow part of the `auth0` ManagementClient used here. */
export interface UsersByEmail {
  users: {
    listUsersByEmail(request: { email: string; fields?: string; include_fields?: boolean }): Promise<unknown[]>;
  };
}

const TTL_MS = 60_000;
const MAX_ENTRIES = 1000;

/** Builds `accountExists(email)` over the Management API's users-by-email; failures reject. */
export function createAccountCheck(management: UsersByEmail, now: () => number = Date.now): (email: string) => Promise<boolean> {
  const cache = new Map<string, { exists: boolean; until: number }>();
  return async (email) => {
    const hit = cache.get(email);
    if (hit && hit.until > now()) return hit.exists;
    const users = await management.users.listUsersByEmail({ email, fields: 'user_id', include_fields: true });
    const exists = users.length > 0;
    cache.delete(email);
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(email, { exists, until: now() + TTL_MS });
    return exists;
  };
}
