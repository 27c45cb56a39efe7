/**
 * HubSpot's contact property names, as creating an invite checks them: an invite that binds a CRM
 * property HubSpot does not have is refused at creation (`400 unknown_crm_property`) instead of
 * reading nothing, or failing, once the contact is upserted.
 *
 * A copy of the names is kept in memory, read with `crm.properties.coreApi.getAll('contacts')`
 * (one request, HubSpot does not page it) and refreshed:
 * - when it is older than `maxAgeMs` (so a property archived in HubSpot stops being accepted by then);
 * - on a miss, a name not in the copy (so a property created a moment ago is found at once), at
 *   most once per `missRefreshMs`: a typo sent again and again does not turn into a listing each time.
 * Concurrent callers share one refresh in flight. When HubSpot cannot answer, the check fails with
 * `CrmPropertiesUnavailableError` (never a silent yes), and no new attempt is made before the wait
 * it names.
 */
import type { Client } from '@hubspot/api-client';

/** How long to wait after a failure when HubSpot named no wait. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
const MAX_RETRY_AFTER_SECONDS = 60;

/** The part of the HubSpot client used: `getAll` of the contact properties. */
export type PropertiesCoreApi = Pick<Client['crm']['properties']['coreApi'], 'getAll'>;

/** Options of `createCrmPropertyCatalogue`. */
export interface CrmPropertyCatalogueOptions {
  /** `client.crm.properties.coreApi` of the real `@hubspot/api-client`. */
  properties: PropertiesCoreApi;
  /** A copy older than this is read again before it answers. */
  maxAgeMs: number;
  /** Least time between two refreshes caused by misses; default 2 seconds. */
  missRefreshMs?: number;
  /**
   * Longest wait for HubSpot's answer before the check fails as unavailable; default 5 seconds
   * (the SDK has no timeout of its own, and a creation waits for the listing).
   */
  timeoutMs?: number;
  now?: () => number;
}

/** HubSpot could not be asked for its contact properties; retry after `retryAfterSeconds`. */
export class CrmPropertiesUnavailableError extends Error {
  override readonly name = 'CrmPropertiesUnavailableError';
  readonly code = 'ERR_CRM_PROPERTIES_UNAVAILABLE';
  constructor(
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(`The contact properties of HubSpot cannot be read right now; retry in ${retryAfterSeconds} s`, options);
  }
}

/** Checks contact property names against HubSpot's. */
export interface CrmPropertyCatalogue {
  /**
   * The names among `names` that are not contact properties in HubSpot (internal names, exact), in
   * the order given, without repeats; `[]` when all exist. No request without names. Rejects with
   * `CrmPropertiesUnavailableError` when the copy must be refreshed and HubSpot does not answer.
   */
  unknownProperties(names: readonly string[]): Promise<string[]>;
}

interface Snapshot {
  names: ReadonlySet<string>;
  fetchedAt: number;
}

/** A CRM property catalogue over HubSpot's properties API. */
export function createCrmPropertyCatalogue(opts: CrmPropertyCatalogueOptions): CrmPropertyCatalogue {
  const { properties, maxAgeMs } = opts;
  const missRefreshMs = opts.missRefreshMs ?? 2_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const now = opts.now ?? Date.now;
  let snapshot: Snapshot | undefined;
  let inflight: Promise<Snapshot> | undefined;
  let failure: { error: CrmPropertiesUnavailableError; until: number } | undefined;

  async function fetchAll(): Promise<Snapshot> {
    const startedAt = now();
    // Archived properties are not listed (archived defaults to false): they hold no values to read.
    const { results } = await withTimeout(properties.getAll('contacts'), timeoutMs);
    // Its age counts from the request: a property archived during the listing may still be in it.
    return { names: new Set(results.map((p) => p.name)), fetchedAt: startedAt };
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
        const seconds = retryAfterSeconds(err);
        failure = { error: new CrmPropertiesUnavailableError(seconds, { cause: err }), until: now() + seconds * 1000 };
        throw failure.error;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  const missing = (names: readonly string[], from: Snapshot) => [...new Set(names)].filter((name) => !from.names.has(name));

  return {
    async unknownProperties(names) {
      if (names.length === 0) return [];
      let current = snapshot && now() - snapshot.fetchedAt < maxAgeMs ? snapshot : await refresh();
      let unknown = missing(names, current);
      if (unknown.length > 0 && current === snapshot && now() - current.fetchedAt >= missRefreshMs) {
        // A miss on a copy that is not brand new: the property may have been created since.
        current = await refresh();
        unknown = missing(names, current);
      }
      return unknown;
    },
  };
}

/** `promise`, or a rejection once `ms` have passed without an answer. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HubSpot did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Seconds to wait after a failed listing: HubSpot's `Retry-After` when it sent one (a 429 from a
 * secondly or daily policy, a 503), else a few seconds; between 1 and 60.
 */
function retryAfterSeconds(err: unknown): number {
  const retryAfter = headerOf(err, 'retry-after');
  const seconds = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : DEFAULT_RETRY_AFTER_SECONDS;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, seconds));
}

/** A response header of an `@hubspot/api-client` error (`ApiException`: `code`, `body`, `headers`). */
function headerOf(err: unknown, name: string): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const headers = (err as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}
