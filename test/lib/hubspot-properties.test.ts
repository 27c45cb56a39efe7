// The CRM property catalogue (services/hubspot-properties.ts) over a fake of the one SDK call it
// makes, typed against the real `@hubspot/api-client` (`Pick<coreApi, 'getAll'>`): what it
// answers, how many listings it costs (cached, one refresh per miss, shared under concurrency,
// bounded in age) and what happens when HubSpot does not answer. The same catalogue against the
// emulator through the real SDK is at the end.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiException } from '@hubspot/api-client/lib/codegen/crm/properties';
import type { Property } from '@hubspot/api-client/lib/codegen/crm/properties';
import { createCrmPropertyCatalogue, CrmPropertiesUnavailableError } from '../../services/hubspot-properties';
import type { CrmPropertyCatalogue, PropertiesCoreApi } from '../../services/hubspot-properties';
import { createHubSpotClient } from '../../services/hubspot';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';

const MAX_AGE_MS = 5 * 60_000;
const MISS_REFRESH_MS = 2_000;

/** HubSpot's contact properties, as the fake lists them; tests add and remove names. */
let names: Set<string>;
/** What the next listings do instead of answering, when set. */
let failWith: unknown;
let listings: number;
let objectTypes: string[];
let release: (() => void) | undefined;
let clock: number;
let catalogue: CrmPropertyCatalogue;

const definition = (name: string): Property => ({ name, label: name, type: 'string', fieldType: 'text', description: '', groupName: 'contactinformation', options: [] });

const fake: PropertiesCoreApi = {
  async getAll(objectType) {
    listings++;
    objectTypes.push(objectType);
    const snapshot = [...names];
    if (release === undefined) await Promise.resolve();
    else await new Promise<void>((resolve) => (release = resolve));
    if (failWith !== undefined) throw failWith;
    return { results: snapshot.map(definition) };
  },
};

function newCatalogue(properties: PropertiesCoreApi = fake): CrmPropertyCatalogue {
  return createCrmPropertyCatalogue({ properties, maxAgeMs: MAX_AGE_MS, missRefreshMs: MISS_REFRESH_MS, now: () => clock });
}

async function unavailable(promise: Promise<unknown>): Promise<CrmPropertiesUnavailableError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrmPropertiesUnavailableError);
  return err as CrmPropertiesUnavailableError;
}

beforeEach(() => {
  names = new Set(['email', 'firstname', 'company', 'lifecyclestage', 'inviteflow_invite_id']);
  failWith = undefined;
  listings = 0;
  objectTypes = [];
  release = undefined;
  clock = Date.parse('2026-12-01T10:00:00Z');
  catalogue = newCatalogue();
});

describe('unknownProperties', () => {
  it('asks nothing for no names', async () => {
    expect(await catalogue.unknownProperties([])).toEqual([]);
    expect(listings).toBe(0);
  });

  it('names the properties HubSpot does not have, exactly as spelt, once each, from the contacts’ list', async () => {
    expect(await catalogue.unknownProperties(['company', 'lifecyclestage'])).toEqual([]);
    expect(await catalogue.unknownProperties(['company', 'Company', 'plan_tier', 'plan_tier'])).toEqual(['Company', 'plan_tier']);
    expect(objectTypes).toEqual(['contacts']);
  });

  it('answers from its copy until it is older than the max age, then reads again', async () => {
    expect(await catalogue.unknownProperties(['company'])).toEqual([]);
    clock += MAX_AGE_MS - 1;
    expect(await catalogue.unknownProperties(['lifecyclestage'])).toEqual([]);
    expect(listings).toBe(1);
    // A property archived in HubSpot stops being accepted once the copy is too old.
    names.delete('company');
    clock += 1;
    expect(await catalogue.unknownProperties(['company'])).toEqual(['company']);
    expect(listings).toBe(2);
  });

  it('reads the properties again on a miss, so a property created a moment ago is found', async () => {
    expect(await catalogue.unknownProperties(['company'])).toEqual([]);
    names.add('plan_tier');
    clock += MISS_REFRESH_MS;
    expect(await catalogue.unknownProperties(['plan_tier'])).toEqual([]);
    expect(listings).toBe(2);
  });

  it('refreshes once for many concurrent misses, and not again for a repeated miss right after', async () => {
    expect(await catalogue.unknownProperties(['company'])).toEqual([]);
    clock += 60_000;
    release = () => undefined;
    const pending = Promise.all(Array.from({ length: 25 }, (_, i) => catalogue.unknownProperties([`typo_${i % 3}`, 'company'])));
    await expect.poll(() => listings).toBe(2);
    release();
    expect(await pending).toEqual(Array.from({ length: 25 }, (_, i) => [`typo_${i % 3}`]));
    release = undefined;
    expect(listings).toBe(2);
    for (let i = 0; i < 10; i++) expect(await catalogue.unknownProperties(['typo_1'])).toEqual(['typo_1']);
    expect(listings).toBe(2);
    clock += MISS_REFRESH_MS;
    expect(await catalogue.unknownProperties(['typo_1'])).toEqual(['typo_1']);
    expect(listings).toBe(3);
  });
});

describe('when HubSpot does not answer', () => {
  it('fails with CrmPropertiesUnavailableError, never a yes, and tries again only after the wait', async () => {
    failWith = new ApiException(503, 'HTTP-Code: 503', { status: 'error', message: 'internal error' }, {});
    const err = await unavailable(catalogue.unknownProperties(['company']));
    expect(err.retryAfterSeconds).toBe(5);
    expect(err.code).toBe('ERR_CRM_PROPERTIES_UNAVAILABLE');
    expect(err.cause).toBe(failWith);
    expect(listings).toBe(1);
    await unavailable(catalogue.unknownProperties(['company']));
    await Promise.all(Array.from({ length: 10 }, () => unavailable(catalogue.unknownProperties(['email']))));
    expect(listings).toBe(1);
    failWith = undefined;
    clock += 5_000;
    expect(await catalogue.unknownProperties(['company', 'ghost'])).toEqual(['ghost']);
    expect(listings).toBe(2);
  });

  it('waits as long as HubSpot’s Retry-After asks, within 1 to 60 s', async () => {
    failWith = new ApiException(429, 'HTTP-Code: 429', {}, { 'retry-after': '12' });
    expect((await unavailable(catalogue.unknownProperties(['company']))).retryAfterSeconds).toBe(12);
    failWith = new ApiException(429, 'HTTP-Code: 429', {}, { 'retry-after': '3600' });
    expect((await unavailable(newCatalogue().unknownProperties(['company']))).retryAfterSeconds).toBe(60);
    failWith = new TypeError('fetch failed');
    expect((await unavailable(newCatalogue().unknownProperties(['company']))).retryAfterSeconds).toBe(5);
  });

  it('gives up on a listing that does not answer in time', async () => {
    const hanging: PropertiesCoreApi = { getAll: () => new Promise(() => undefined) };
    const err = await unavailable(createCrmPropertyCatalogue({ properties: hanging, maxAgeMs: MAX_AGE_MS, timeoutMs: 20 }).unknownProperties(['company']));
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.retryAfterSeconds).toBe(5);
  });

  it('refuses a miss it cannot confirm while its copy is fresh, and still answers known names from it', async () => {
    expect(await catalogue.unknownProperties(['company'])).toEqual([]);
    failWith = new ApiException(500, 'HTTP-Code: 500', {}, {});
    clock += MISS_REFRESH_MS;
    await unavailable(catalogue.unknownProperties(['company', 'plan_tier']));
    expect(await catalogue.unknownProperties(['company', 'email'])).toEqual([]);
    clock += MAX_AGE_MS;
    await unavailable(catalogue.unknownProperties(['company']));
  });
});

describe('through the real SDK against the HubSpot emulator', () => {
  let emu: HubSpotEmulator;
  beforeAll(async () => {
    emu = await startHubSpotEmulator();
  });
  afterAll(async () => {
    await emu.close();
  });

  it('knows HubSpot’s own and the custom properties, finds a new one on a miss, and turns an outage into the typed error', async () => {
    const real = newCatalogue(createHubSpotClient({ accessToken: emu.accessToken, basePath: emu.url }).crm.properties.coreApi);
    expect(await real.unknownProperties(['lifecyclestage', 'company', 'inviteflow_invite_status', 'plan_tier'])).toEqual(['plan_tier']);
    emu.createProperty('plan_tier');
    clock += MISS_REFRESH_MS;
    expect(await real.unknownProperties(['plan_tier'])).toEqual([]);
    expect(emu.counts['GET /crm/v3/properties/contacts']).toBe(2);

    emu.outage({ retryAfterSeconds: 7 });
    clock += MAX_AGE_MS;
    const err = await unavailable(real.unknownProperties(['company']));
    expect(err.retryAfterSeconds).toBe(7);
    expect((err.cause as { code?: number }).code).toBe(503);
    emu.endOutage();
  });
});
