/**
 * The Auth0 tenant's role names, as creating an invite checks them: a role that does not exist is
 * refused at creation (`400 unknown_role`) instead of failing the grant after the person signed up.
 *
 * A copy of the roles is kept in memory, read through the Management API (`roles.list`, paged)
 * and refreshed:
 * - when it is older than `maxAgeMs` (so a role deleted in Auth0 stops being accepted by then);
 * - on a miss, a name not in the copy (so a role created a moment ago is found at once), at most
 *   once per `missRefreshMs`: a typo sent again and again does not turn into a listing each time.
 * Concurrent callers share one refresh in flight. When Auth0 cannot answer, the check fails with
 * `RolesUnavailableError` (never a silent yes), and no new attempt is made before the wait it names.
 */
import type { ManagementClient } from 'auth0';

/** Auth0 allows at most 100 roles per page. */
const PER_PAGE = 100;
/** How long to wait after a failure when Auth0 named no wait. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
const MAX_RETRY_AFTER_SECONDS = 60;

/** Options of `createRoleCatalogue`. */
export interface RoleCatalogueOptions {
  /** The part of the `auth0` ManagementClient used: `roles.list`. */
  management: Pick<ManagementClient, 'roles'>;
  /** A copy older than this is read again before it answers. */
  maxAgeMs: number;
  /** Least time between two refreshes caused by misses; default 2 seconds. */
  missRefreshMs?: number;
  now?: () => number;
}

/** Auth0 could not be asked for its roles; retry after `retryAfterSeconds`. */
export class RolesUnavailableError extends Error {
  override readonly name = 'RolesUnavailableError';
  readonly code = 'ERR_ROLES_UNAVAILABLE';
  constructor(
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(`The roles of the Auth0 tenant cannot be read right now; retry in ${retryAfterSeconds} s`, options);
  }
}

/** Checks role names against the tenant's roles. */
export interface RoleCatalogue {
  /**
   * The names among `names` that are not roles of the tenant (exact, case-sensitive names, as
   * the grant assigns them), in the order given; `[]` when all exist. No request without names.
   * Rejects with `RolesUnavailableError` when the copy must be refreshed and Auth0 does not answer.
   */
  unknownRoles(names: readonly string[]): Promise<string[]>;
}

interface Snapshot {
  names: ReadonlySet<string>;
  fetchedAt: number;
}

/** A role catalogue over the Management API. */
export function createRoleCatalogue(opts: RoleCatalogueOptions): RoleCatalogue {
  const { management, maxAgeMs } = opts;
  const missRefreshMs = opts.missRefreshMs ?? 2_000;
  const now = opts.now ?? Date.now;
  let snapshot: Snapshot | undefined;
  let inflight: Promise<Snapshot> | undefined;
  let failure: { error: RolesUnavailableError; until: number } | undefined;

  async function fetchAll(): Promise<Snapshot> {
    const startedAt = now();
    const names = new Set<string>();
    let page = await management.roles.list({ per_page: PER_PAGE, page: 0 });
    for (;;) {
      for (const role of page.data) if (typeof role.name === 'string') names.add(role.name);
      if (!page.hasNextPage()) break;
      page = await page.getNextPage();
    }
    // Its age counts from the first request: a role deleted during the listing may still be in it.
    return { names, fetchedAt: startedAt };
  }

  function refresh(): Promise<Snapshot> {
    if (inflight) return inflight;
    if (failure && failure.until > now()) return Promise.reject(failure.error);
    inflight = fetchAll()
      .then((fresh) => {
        snapshot = fresh;
        failure = undefined;
        return fresh;
      })
      .catch((err: unknown) => {
        const seconds = retryAfterSeconds(err, now());
        failure = { error: new RolesUnavailableError(seconds, { cause: err }), until: now() + seconds * 1000 };
        throw failure.error;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  const missing = (names: readonly string[], from: Snapshot) => [...new Set(names)].filter((name) => !from.names.has(name));

  return {
    async unknownRoles(names) {
      if (names.length === 0) return [];
      let current = snapshot && now() - snapshot.fetchedAt < maxAgeMs ? snapshot : await refresh();
      let unknown = missing(names, current);
      if (unknown.length > 0 && current === snapshot && now() - current.fetchedAt >= missRefreshMs) {
        // A miss on a copy that is not brand new: the role may have been created since.
        current = await refresh();
        unknown = missing(names, current);
      }
      return unknown;
    },
  };
}

/**
 * Seconds to wait after a failed listing: what Auth0 asked for on a 429 (`Retry-After`, else
 * `x-ratelimit-reset`), else a few seconds; between 1 and 60.
 */
function retryAfterSeconds(err: unknown, nowMs: number): number {
  const headers = headersOf(err);
  let seconds: number | undefined;
  const retryAfter = headers?.get('retry-after');
  if (retryAfter && /^\d+$/.test(retryAfter.trim())) seconds = Number(retryAfter);
  const reset = headers?.get('x-ratelimit-reset');
  if (seconds === undefined && reset && /^\d+$/.test(reset.trim()) && headers?.get('x-ratelimit-remaining') === '0') {
    seconds = Math.ceil(Number(reset) - nowMs / 1000);
  }
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, seconds ?? DEFAULT_RETRY_AFTER_SECONDS));
}

function headersOf(err: unknown): { get(name: string): string | null | undefined } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const raw = (err as { rawResponse?: { headers?: unknown } }).rawResponse;
  const headers = raw?.headers;
  if (headers instanceof Headers) return headers;
  if (typeof headers === 'object' && headers !== null) {
    const record = headers as Record<string, unknown>;
    return { get: (name) => (typeof record[name] === 'string' ? record[name] : undefined) };
  }
  return undefined;
}
