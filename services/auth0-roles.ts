/**
 * The Auth0 tenant's role names, as creating an invite checks them: a role that does not exist is
 * refused at creation (`400 unknown_role`) instead of failing the grant after the person signed up.
 *
 * A copy of the roles is kept in memory (`./name-catalogue`), read through the Management API
 * (`roles.list`, paged) and refreshed:
 * - when it is older than `maxAgeMs` (so a role deleted in Auth0 stops being accepted by then);
 * - on a miss, a name not in the copy (so a role created a moment ago is found at once), at most
 *   once per `missRefreshMs`: a typo sent again and again does not turn into a listing each time.
 * Concurrent callers share one refresh in flight. When Auth0 cannot answer, the check fails with
 * `RolesUnavailableError` (never a silent yes), and no new attempt is made before the wait it names.
 */
import type { ManagementClient } from 'auth0';
import { CatalogueUnavailableError, createNameCatalogue } from './name-catalogue';
import type { CatalogueTimes } from './name-catalogue';

/** Auth0 allows at most 100 roles per page. */
const PER_PAGE = 100;

/** Options of `createRoleCatalogue`. */
export interface RoleCatalogueOptions extends CatalogueTimes {
  /** The part of the `auth0` ManagementClient used: `roles.list`. */
  management: Pick<ManagementClient, 'roles'>;
}

/** Auth0 could not be asked for its roles; retry after `retryAfterSeconds`. */
export class RolesUnavailableError extends CatalogueUnavailableError {
  override readonly name = 'RolesUnavailableError';
  override readonly code = 'ERR_ROLES_UNAVAILABLE';
  constructor(retryAfterSeconds: number, options?: { cause?: unknown }) {
    super(retryAfterSeconds, `The roles of the Auth0 tenant cannot be read right now; retry in ${retryAfterSeconds} s`, options);
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

/** A role catalogue over the Management API. */
export function createRoleCatalogue(opts: RoleCatalogueOptions): RoleCatalogue {
  const { management, ...times } = opts;
  const catalogue = createNameCatalogue({
    ...times,
    async list() {
      const names: string[] = [];
      let page = await management.roles.list({ per_page: PER_PAGE, page: 0 });
      for (;;) {
        for (const role of page.data) if (typeof role.name === 'string') names.push(role.name);
        if (!page.hasNextPage()) break;
        page = await page.getNextPage();
      }
      return names;
    },
    askedWait,
    unavailable: (seconds, cause) => new RolesUnavailableError(seconds, { cause }),
  });
  return { unknownRoles: (names) => catalogue.unknown(names) };
}

/**
 * Seconds Auth0 asked to wait after a failed listing: on a 429, `Retry-After`, else
 * `x-ratelimit-reset` (the catalogue waits a few seconds when it named none, and 1 to 60 in all).
 */
function askedWait(err: unknown, nowMs: number): number | undefined {
  const headers = headersOf(err);
  let seconds: number | undefined;
  const retryAfter = headers?.get('retry-after');
  if (retryAfter && /^\d+$/.test(retryAfter.trim())) seconds = Number(retryAfter);
  const reset = headers?.get('x-ratelimit-reset');
  if (seconds === undefined && reset && /^\d+$/.test(reset.trim()) && headers?.get('x-ratelimit-remaining') === '0') {
    seconds = Math.ceil(Number(reset) - nowMs / 1000);
  }
  return seconds;
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
