/**
 * A cached copy of the names an outside service knows (Auth0's roles, HubSpot's contact
 * properties), for the checks at invite creation. The copy is read with `list` and refreshed:
 * - when it is older than `maxAgeMs` (so a name removed from the service stops being accepted by then);
 * - on a miss, a name not in the copy (so a name created a moment ago is found at once), at most
 *   once per `missRefreshMs`: a typo sent again and again does not turn into a listing each time.
 * Concurrent callers share one refresh in flight. When the service cannot answer, the check fails
 * with the caller's `CatalogueUnavailableError` (never a silent yes), and no new attempt is made
 * before the wait it names.
 */

/** How long to wait after a failure when the service named no wait. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
const MAX_RETRY_AFTER_SECONDS = 60;

/** The service could not be asked for its names; retry after `retryAfterSeconds`. */
export abstract class CatalogueUnavailableError extends Error {
  /** A stable code callers switch on (`ERR_ROLES_UNAVAILABLE`, …). */
  abstract readonly code: string;
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How long a copy of the names is trusted; the options every catalogue over this one takes. */
export interface CatalogueTimes {
  /** A copy older than this is read again before it answers. */
  maxAgeMs: number;
  /** Least time between two refreshes caused by misses; default 2 seconds. */
  missRefreshMs?: number;
  now?: () => number;
}

/** Options of `createNameCatalogue`. */
export interface NameCatalogueOptions<E extends CatalogueUnavailableError> extends CatalogueTimes {
  /** Reads every name the service knows now. */
  list: () => Promise<Iterable<string>>;
  /** The seconds the service asked to wait when `list` failed with `err`, if it named a wait. */
  askedWait: (err: unknown, nowMs: number) => number | undefined;
  /** The error a check fails with while the service cannot answer. */
  unavailable: (retryAfterSeconds: number, cause: unknown) => E;
}

/** Checks names against a service's names. */
export interface NameCatalogue {
  /**
   * The names among `names` the service does not know (exact, case-sensitive), in the order
   * given, without repeats; `[]` when all exist. No request without names. Rejects with the
   * unavailable error when the copy must be refreshed and the service does not answer.
   */
  unknown(names: readonly string[]): Promise<string[]>;
}

interface Snapshot {
  names: ReadonlySet<string>;
  fetchedAt: number;
}

/** A name catalogue over `list`. */
export function createNameCatalogue<E extends CatalogueUnavailableError>(opts: NameCatalogueOptions<E>): NameCatalogue {
  const { list, maxAgeMs } = opts;
  const missRefreshMs = opts.missRefreshMs ?? 2_000;
  const now = opts.now ?? Date.now;
  let snapshot: Snapshot | undefined;
  let inflight: Promise<Snapshot> | undefined;
  let failure: { error: E; until: number } | undefined;

  async function fetchAll(): Promise<Snapshot> {
    const startedAt = now();
    const names = new Set(await list());
    // Its age counts from the first request: a name removed during the listing may still be in it.
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
        const seconds = retryAfterSeconds(opts.askedWait(err, now()));
        failure = { error: opts.unavailable(seconds, err), until: now() + seconds * 1000 };
        throw failure.error;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  const missing = (names: readonly string[], from: Snapshot) => [...new Set(names)].filter((name) => !from.names.has(name));

  return {
    async unknown(names) {
      if (names.length === 0) return [];
      let current = snapshot && now() - snapshot.fetchedAt < maxAgeMs ? snapshot : await refresh();
      let unknown = missing(names, current);
      if (unknown.length > 0 && current === snapshot && now() - current.fetchedAt >= missRefreshMs) {
        // A miss on a copy that is not brand new: the name may have been created since.
        current = await refresh();
        unknown = missing(names, current);
      }
      return unknown;
    },
  };
}

/** Seconds to wait after a failed listing: what the service asked for, else a few seconds; between 1 and 60. */
function retryAfterSeconds(asked: number | undefined): number {
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, asked ?? DEFAULT_RETRY_AFTER_SECONDS));
}
