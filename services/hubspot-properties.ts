/**
 * HubSpot's contact property names, as creating an invite checks them: an invite that binds a CRM
 * property HubSpot does not have is refused at creation (`400 unknown_crm_property`) instead of
 * reading nothing, or failing, once the contact is upserted.
 *
 * A copy of the names is kept in memory (`./name-catalogue`), read with
 * `crm.properties.coreApi.getAll('contacts')` (one request, HubSpot does not page it) and refreshed:
 * - when it is older than `maxAgeMs` (so a property archived in HubSpot stops being accepted by then);
 * - on a miss, a name not in the copy (so a property created a moment ago is found at once), at
 *   most once per `missRefreshMs`: a typo sent again and again does not turn into a listing each time.
 * Concurrent callers share one refresh in flight. When HubSpot cannot answer, the check fails with
 * `CrmPropertiesUnavailableError` (never a silent yes), and no new attempt is made before the wait
 * it names.
 */
import type { Client } from '@hubspot/api-client';
import { CatalogueUnavailableError, createNameCatalogue } from './name-catalogue';
import type { CatalogueTimes } from './name-catalogue';

/** The part of the HubSpot client used: `getAll` of the contact properties. */
export type PropertiesCoreApi = Pick<Client['crm']['properties']['coreApi'], 'getAll'>;

/** Options of `createCrmPropertyCatalogue`. */
export interface CrmPropertyCatalogueOptions extends CatalogueTimes {
  /** `client.crm.properties.coreApi` of the real `@hubspot/api-client`. */
  properties: PropertiesCoreApi;
  /**
   * Longest wait for HubSpot's answer before the check fails as unavailable; default 5 seconds
   * (the SDK has no timeout of its own, and a creation waits for the listing).
   */
  timeoutMs?: number;
}

/** HubSpot could not be asked for its contact properties; retry after `retryAfterSeconds`. */
export class CrmPropertiesUnavailableError extends CatalogueUnavailableError {
  override readonly name = 'CrmPropertiesUnavailableError';
  override readonly code = 'ERR_CRM_PROPERTIES_UNAVAILABLE';
  constructor(retryAfterSeconds: number, options?: { cause?: unknown }) {
    super(retryAfterSeconds, `The contact properties of HubSpot cannot be read right now; retry in ${retryAfterSeconds} s`, options);
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

/** A CRM property catalogue over HubSpot's properties API. */
export function createCrmPropertyCatalogue(opts: CrmPropertyCatalogueOptions): CrmPropertyCatalogue {
  const { properties, timeoutMs = 5_000, ...times } = opts;
  const catalogue = createNameCatalogue({
    ...times,
    async list() {
      // Archived properties are not listed (archived defaults to false): they hold no values to read.
      const { results } = await withTimeout(properties.getAll('contacts'), timeoutMs);
      return results.map((p) => p.name);
    },
    askedWait,
    unavailable: (seconds, cause) => new CrmPropertiesUnavailableError(seconds, { cause }),
  });
  return { unknownProperties: (names) => catalogue.unknown(names) };
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
 * Seconds HubSpot asked to wait after a failed listing: its `Retry-After` when it sent one (a 429
 * from a secondly or daily policy, a 503); the catalogue waits a few seconds when it named none,
 * and 1 to 60 in all.
 */
function askedWait(err: unknown): number | undefined {
  const retryAfter = headerOf(err, 'retry-after');
  return retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
}

/** A response header of an `@hubspot/api-client` error (`ApiException`: `code`, `body`, `headers`). */
function headerOf(err: unknown, name: string): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const headers = (err as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}
