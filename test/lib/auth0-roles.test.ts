// The role catalogue through the real `auth0` ManagementClient (services/auth0.ts) against the Auth0
// emulator: what it answers, how many listings it costs (paged, cached, one refresh per miss,
// shared under concurrency, bounded in age) and what happens when Auth0 does not answer.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { createManagementClient } from '../../services/auth0';
import { createRoleCatalogue, RolesUnavailableError } from '../../services/auth0-roles';
import type { RoleCatalogue } from '../../services/auth0-roles';

const MAX_AGE_MS = 5 * 60_000;
const MISS_REFRESH_MS = 2_000;

let emu: Auth0Emulator;
let clock: number;
let catalogue: RoleCatalogue;

/** Role listing requests (one per page) since the last reset. */
const listings = () => emu.counts['GET /api/v2/roles'] ?? 0;

function newCatalogue(): RoleCatalogue {
  const management = createManagementClient({ domain: emu.domain, clientId: 'inviteflow-m2m', clientSecret: 'inviteflow-m2m-secret', endpoint: emu.url });
  return createRoleCatalogue({ management, maxAgeMs: MAX_AGE_MS, missRefreshMs: MISS_REFRESH_MS, now: () => clock });
}

async function unavailable(promise: Promise<unknown>): Promise<RolesUnavailableError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RolesUnavailableError);
  return err as RolesUnavailableError;
}

beforeAll(async () => {
  emu = await startAuth0Emulator();
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
  clock = Date.parse('2026-12-01T10:00:00Z');
  catalogue = newCatalogue();
  emu.createRole('member');
  emu.createRole('billing');
});

describe('unknownRoles', () => {
  it('asks nothing for no roles', async () => {
    expect(await catalogue.unknownRoles([])).toEqual([]);
    expect(listings()).toBe(0);
  });

  it('names the roles the tenant does not have, exactly as spelt (the grant matches names exactly)', async () => {
    expect(await catalogue.unknownRoles(['member', 'billing'])).toEqual([]);
    expect(await catalogue.unknownRoles(['member', 'Member', 'admn', 'admn'])).toEqual(['Member', 'admn']);
  });

  it('reads every page of a large tenant once, then answers from its copy', async () => {
    for (let i = 0; i < 230; i++) emu.createRole(`team-${i}`);
    expect(await catalogue.unknownRoles(['team-229', 'member', 'team-0'])).toEqual([]);
    // 232 roles at 100 per page.
    expect(listings()).toBe(3);
    clock += MAX_AGE_MS - 1;
    expect(await catalogue.unknownRoles(['team-17', 'billing'])).toEqual([]);
    expect(listings()).toBe(3);
  });

  it('reads the roles again on a miss, so a role created a moment ago is found', async () => {
    expect(await catalogue.unknownRoles(['member'])).toEqual([]);
    emu.createRole('auditor');
    clock += MISS_REFRESH_MS;
    expect(await catalogue.unknownRoles(['auditor'])).toEqual([]);
    expect(listings()).toBe(2);
  });

  it('refreshes once for many concurrent misses, and not again for a repeated miss right after', async () => {
    expect(await catalogue.unknownRoles(['member'])).toEqual([]);
    clock += 60_000;
    const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => catalogue.unknownRoles([`typo-${i % 3}`, 'member'])));
    expect(answers).toEqual(Array.from({ length: 25 }, (_, i) => [`typo-${i % 3}`]));
    expect(listings()).toBe(2);
    // The same typo again and again: answered from the copy just read.
    for (let i = 0; i < 10; i++) expect(await catalogue.unknownRoles(['typo-1'])).toEqual(['typo-1']);
    expect(listings()).toBe(2);
    // Past the interval, a miss reads again.
    clock += MISS_REFRESH_MS;
    expect(await catalogue.unknownRoles(['typo-1'])).toEqual(['typo-1']);
    expect(listings()).toBe(3);
  });

  it('stops accepting a role deleted in Auth0 once its copy is older than the max age', async () => {
    const auditor = emu.createRole('auditor');
    expect(await catalogue.unknownRoles(['auditor'])).toEqual([]);
    emu.deleteRole(auditor.id);
    clock += MAX_AGE_MS - 1;
    expect(await catalogue.unknownRoles(['auditor'])).toEqual([]);
    clock += 1;
    expect(await catalogue.unknownRoles(['auditor'])).toEqual(['auditor']);
    expect(listings()).toBe(2);
  });
});

describe('when Auth0 does not answer', () => {
  it('fails with RolesUnavailableError, never a yes, and tries again only after the wait', async () => {
    emu.injectFault({ route: 'GET /api/v2/roles', status: 503 });
    const err = await unavailable(catalogue.unknownRoles(['member']));
    expect(err.retryAfterSeconds).toBe(5);
    expect(err.code).toBe('ERR_ROLES_UNAVAILABLE');
    expect(listings()).toBe(1);
    // Within the wait: refused at once, Auth0 is left alone.
    await unavailable(catalogue.unknownRoles(['member']));
    await Promise.all(Array.from({ length: 10 }, () => unavailable(catalogue.unknownRoles(['billing']))));
    expect(listings()).toBe(1);
    emu.clearFaults();
    clock += 5_000;
    expect(await catalogue.unknownRoles(['member', 'ghost'])).toEqual(['ghost']);
    expect(listings()).toBe(2);
  });

  it("waits as long as Auth0's rate limit asks", async () => {
    emu.injectFault({ route: 'GET /api/v2/roles', status: 429, retryAfterSeconds: 12, count: 1 });
    expect((await unavailable(catalogue.unknownRoles(['member']))).retryAfterSeconds).toBe(12);
  });

  it('refuses a miss it cannot confirm while its copy is fresh, and still answers known roles from it', async () => {
    expect(await catalogue.unknownRoles(['member'])).toEqual([]);
    emu.injectFault({ route: 'GET /api/v2/roles', status: 500 });
    clock += MISS_REFRESH_MS;
    await unavailable(catalogue.unknownRoles(['member', 'auditor']));
    expect(await catalogue.unknownRoles(['member', 'billing'])).toEqual([]);
    // Past the max age the copy is not used any more.
    clock += MAX_AGE_MS;
    await unavailable(catalogue.unknownRoles(['member']));
  });
});
