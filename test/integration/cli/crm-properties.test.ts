/**
 * The account policy and CRM properties on the CLI's create paths, `inviteflow create` and
 * `inviteflow bulk`, on the real dev server and the HubSpot emulator through the real SDK: the
 * options, CSV columns and the tenant's defaults are written into the invite, unknown policies
 * and properties are refused as the API refuses them (also on --dry-run), and HubSpot down at
 * the check starts nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveInviteId } from '../../../client/invite-id';
import { startHubSpotEmulator } from '../../../emulators/hubspot';
import type { HubSpotEmulator } from '../../../emulators/hubspot';
import { startCliHarness, uniqueEmail } from './harness';
import type { CliHarness, CliRunOptions } from './harness';

let h: CliHarness;
let hubspot: HubSpotEmulator;

beforeAll(async () => {
  [h, hubspot] = await Promise.all([startCliHarness(), startHubSpotEmulator()]);
});

afterAll(async () => {
  await h?.close();
  await hubspot?.close();
});

/** Runs the CLI with the API's HubSpot private app (the emulator) and `env` on top. */
function cli(argv: string[], env: CliRunOptions['env'] = {}) {
  return h.cli(argv, { env: { HUBSPOT_ACCESS_TOKEN: hubspot.accessToken, HUBSPOT_BASE_PATH: hubspot.url, ...env } });
}

const id = (email: string, scope = 'default') => deriveInviteId(h.cliEnv.INVITE_ID_KEY, email, scope);
const listings = () => hubspot.counts['GET /crm/v3/properties/contacts'] ?? 0;

async function expectNotStarted(email: string, scope = 'default'): Promise<void> {
  await expect(h.env.client.workflow.getHandle(`invite-${id(email, scope)}`).describe()).rejects.toThrow(/not found/i);
}

describe('create', () => {
  it('writes --account-policy and each --crm-property into the invite', async () => {
    const email = uniqueEmail('cli-crm');
    const r = await cli(['create', email, '--roles', 'member', '--account-policy', 'link', '--crm-property', 'lifecyclestage', '--crm-property', 'company']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`created invite ${id(email)} for ${email} in scope default\n`);
    const status = await h.until(id(email), (s) => s.emails.length === 1);
    expect(status).toMatchObject({ accountPolicy: 'link', crmProperties: ['lifecyclestage', 'company'] });
  });

  it("applies the tenant's ACCOUNT_POLICY and HUBSPOT_TOKEN_PROPERTIES when the command names neither, and yields to the options", async () => {
    const tenant = { ACCOUNT_POLICY: 'all-verified', HUBSPOT_TOKEN_PROPERTIES: 'company,lifecyclestage' };
    const byDefault = uniqueEmail('cli-default');
    expect((await cli(['create', byDefault], tenant)).code).toBe(0);
    expect(await h.until(id(byDefault), (s) => s.emails.length === 1)).toMatchObject({ accountPolicy: 'all-verified', crmProperties: ['company', 'lifecyclestage'] });

    const own = uniqueEmail('cli-own');
    expect((await cli(['create', own, '--account-policy', 'off', '--crm-property', 'city'], tenant)).code).toBe(0);
    const status = await h.until(id(own), (s) => s.emails.length === 1);
    expect(status.accountPolicy).toBeUndefined();
    expect(status.crmProperties).toEqual(['city']);
  });

  it('refuses a policy it does not know as a usage error naming the choices (exit 2), and a malformed property name (exit 1)', async () => {
    const email = uniqueEmail('cli-policy');
    const r = await cli(['create', email, '--account-policy', 'merge']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '--account-policy <policy>' argument 'merge' is invalid. Allowed choices are off, all-verified, link.");
    const name = await cli(['create', email, '--crm-property', 'Company']);
    expect(name.code).toBe(1);
    expect(name.stderr).toMatch(/^inviteflow: invalid_request: .*\n {2}crmProperties\.0: is not a HubSpot property name$/m);
    await expectNotStarted(email);
  });

  it('refuses a property HubSpot does not have with unknown_crm_property (exit 1), also on --dry-run, starting nothing', async () => {
    const email = uniqueEmail('cli-unknown');
    for (const extra of [['--dry-run'], []]) {
      const r = await cli(['create', email, '--crm-property', 'company', '--crm-property', 'plan_tier', ...extra]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('inviteflow: unknown_crm_property: No such contact property in HubSpot: "plan_tier"; nothing was started\n  plan_tier\n');
    }
    const json = await cli(['--json', 'create', email], { HUBSPOT_TOKEN_PROPERTIES: 'seats' });
    expect(JSON.parse(json.stderr)).toEqual({
      error: {
        code: 'unknown_crm_property',
        message: 'No such contact property in HubSpot: "seats" (the default CRM properties, HUBSPOT_TOKEN_PROPERTIES); nothing was started',
        details: ['seats'],
      },
    });
    await expectNotStarted(email);
    const dry = await cli(['create', email, '--crm-property', 'company', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^dry run: would invite .+ in scope default \(invite \w+\); nothing was started$/m);
    await expectNotStarted(email);
  });

  it('starts nothing and exits 4 when HubSpot is down; an invite without CRM properties does not ask', async () => {
    const email = uniqueEmail('cli-down');
    hubspot.outage();
    try {
      const r = await cli(['create', email, '--crm-property', 'company']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/^inviteflow: crm_properties_unavailable: Cannot read the contact properties of HubSpot .*nothing was started$/m);
      await expectNotStarted(email);
      expect((await cli(['create', email])).code).toBe(0);
    } finally {
      hubspot.endOutage();
    }
  });

  it('needs the HubSpot private app to check CRM properties (exit 78 naming it), and not otherwise', async () => {
    const email = uniqueEmail('cli-nohubspot');
    const r = await h.cli(['create', email, '--crm-property', 'company']);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/config_invalid: HUBSPOT_ACCESS_TOKEN is required to check CRM property names in HubSpot/);
    await expectNotStarted(email);
    expect((await h.cli(['create', email, '--account-policy', 'link'])).code).toBe(0);
  });
});

describe('bulk', () => {
  it('reads account_policy and crm_properties (a;b) per row, the options and the defaults for rows without, and skips unknown ones', async () => {
    const [cells, defaults, typo, badPolicy, none] = [uniqueEmail('bulk-cells'), uniqueEmail('bulk-defaults'), uniqueEmail('bulk-typo'), uniqueEmail('bulk-policy'), uniqueEmail('bulk-none')];
    const input = h.file(
      'crm.csv',
      [
        'email,account_policy,crm_properties',
        `${cells},link,lifecyclestage; company`,
        `${defaults},,`,
        `${typo},off,company;compnay;seats`,
        `${badPolicy},merge,company`,
        `${none},off,;`,
      ].join('\n'),
    );
    const options = ['--scope', 'crm', '--account-policy', 'all-verified', '--crm-property', 'city'];
    const before = listings();
    const dry = await cli(['bulk', input, '--dry-run', '--json', ...options]);
    expect(dry.code).toBe(1);
    expect(dry.lines().map((l) => [l.row, l.outcome, l.reason])).toEqual([
      [2, 'valid', ''],
      [3, 'valid', ''],
      [4, 'skipped', 'unknown_crm_property: no such contact property in HubSpot: "compnay", "seats"'],
      [5, 'skipped', 'accountPolicy: must be one of off, all-verified, link'],
      [6, 'valid', ''],
    ]);
    // One listing for the whole file.
    expect(listings() - before).toBe(1);
    await expectNotStarted(cells, 'crm');

    const out = h.file('crm-report.csv', '');
    const real = await cli(['bulk', input, '--rate', '1000/s', '--report', out, ...options]);
    expect(real.code).toBe(1);
    expect(real.stdout).toMatch(/^bulk: 5 rows · 3 created · 0 exists · 2 skipped · 0 failed · 0 already done$/m);
    expect(h.report(out).map((r) => [r.row, r.outcome])).toEqual([
      ['2', 'created'],
      ['3', 'created'],
      ['4', 'skipped'],
      ['5', 'skipped'],
      ['6', 'created'],
    ]);
    expect(await h.status(id(cells, 'crm'))).toMatchObject({ accountPolicy: 'link', crmProperties: ['lifecyclestage', 'company'] });
    expect(await h.status(id(defaults, 'crm'))).toMatchObject({ accountPolicy: 'all-verified', crmProperties: ['city'] });
    const bare = await h.status(id(none, 'crm'));
    expect(bare.accountPolicy).toBeUndefined();
    expect(bare.crmProperties).toBeUndefined();
    for (const email of [typo, badPolicy]) await expectNotStarted(email, 'crm');
  });

  it("uses the tenant's defaults for rows and options that name none", async () => {
    const email = uniqueEmail('bulk-tenant');
    const input = h.file('tenant.csv', `email\n${email}\n`);
    const r = await cli(['bulk', input, '--rate', '1000/s', '--scope', 'tenant'], { ACCOUNT_POLICY: 'link', HUBSPOT_TOKEN_PROPERTIES: 'lifecyclestage' });
    expect(r.code).toBe(0);
    expect(await h.status(id(email, 'tenant'))).toMatchObject({ accountPolicy: 'link', crmProperties: ['lifecyclestage'] });
  });

  it('starts nothing and exits 4 when HubSpot is down at the check', async () => {
    const email = uniqueEmail('bulk-down');
    const input = h.file('down.csv', `email,crm_properties\n${email},company\n`);
    hubspot.outage();
    try {
      for (const extra of [['--dry-run'], ['--rate', '1000/s']]) {
        const r = await cli(['bulk', input, '--scope', 'down', ...extra]);
        expect(r.code).toBe(4);
        expect(r.stderr).toMatch(/^inviteflow: crm_properties_unavailable: .*nothing was started$/m);
      }
    } finally {
      hubspot.endOutage();
    }
    await expectNotStarted(email, 'down');
  });
});
