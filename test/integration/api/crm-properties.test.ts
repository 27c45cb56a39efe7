/**
 * `POST /v1/invites` with an account policy and CRM properties, in-process against the real
 * Temporal dev server and the HubSpot emulator through the real `@hubspot/api-client`: the
 * tenant's defaults written into the workflow input, an unknown policy or property refused with
 * nothing started, HubSpot down at the check, and the OpenAPI document saying so.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { deriveInviteId } from '../../../client/invite-id';
import type { AppConfig } from '../../../api/context';
import { startHubSpotEmulator } from '../../../emulators/hubspot';
import type { HubSpotEmulator } from '../../../emulators/hubspot';
import { expectNoSecretsInLogs, json, startHarness, uniqueEmail } from '../../support/api-harness';
import type { Harness } from '../../support/api-harness';

let h: Harness;
let hubspot: HubSpotEmulator;
/** An app whose HubSpot is the emulator, with the tenant's defaults left at theirs (off, none). */
let app: FastifyInstance;

/** An app on the same servers with HubSpot configured and `overrides` of the tenant's defaults. */
function appWith(overrides: Partial<AppConfig> = {}): Promise<FastifyInstance> {
  return h.buildApp({
    config: { ...h.config, HUBSPOT_ACCESS_TOKEN: hubspot.accessToken, HUBSPOT_BASE_PATH: hubspot.url, ...overrides },
  });
}

async function create(target: FastifyInstance, body: Record<string, unknown>) {
  return target.inject({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${await h.bearer()}` }, payload: body });
}

const idOf = (email: string, scope = 'default') => deriveInviteId(h.config.INVITE_ID_KEY, email, scope);
const listings = () => hubspot.counts['GET /crm/v3/properties/contacts'] ?? 0;

/** Nothing was started for `email`: no workflow, no email. */
async function expectNothingStarted(email: string): Promise<void> {
  expect(await h.exists(idOf(email))).toBe(false);
  expect(h.fake.calls.emails.some((e) => e.to === email)).toBe(false);
}

beforeAll(async () => {
  [h, hubspot] = await Promise.all([startHarness(), startHubSpotEmulator()]);
  h.secrets.add(hubspot.accessToken);
  app = await appWith();
});

afterAll(async () => {
  await h?.close();
  await hubspot?.close();
});

describe('accountPolicy and crmProperties named by the invite', () => {
  it('start an invite that carries them: the answer and the running workflow show them', async () => {
    const email = uniqueEmail('crm');
    const res = await create(app, { email, roles: ['member'], accountPolicy: 'link', crmProperties: ['lifecyclestage', 'company', 'inviteflow_invite_status'] });
    expect(res.statusCode).toBe(201);
    const { id, status } = json(res);
    expect(status).toMatchObject({ accountPolicy: 'link', crmProperties: ['lifecyclestage', 'company', 'inviteflow_invite_status'] });
    // The worker has no tenant defaults: what it shows came from the input the API wrote.
    const running = await h.until(id, (s) => s.emails.length === 1);
    expect(running).toMatchObject({ state: 'pending', accountPolicy: 'link', crmProperties: ['lifecyclestage', 'company', 'inviteflow_invite_status'] });
  });

  it('refuses a policy it does not know with 400 invalid_request naming the field and the allowed values, starting nothing', async () => {
    const email = uniqueEmail('policy');
    for (const accountPolicy of ['merge', 'LINK', '', 1]) {
      const res = await create(app, { email, accountPolicy });
      expect(res.statusCode).toBe(400);
      expect(json(res).error).toMatchObject({
        code: 'invalid_request',
        details: [{ field: 'accountPolicy', message: 'must be one of off, all-verified, link' }],
      });
    }
    await expectNothingStarted(email);
  });

  it('refuses malformed property names and too many with 400 invalid_request, without asking HubSpot', async () => {
    const email = uniqueEmail('names');
    const before = listings();
    const badName = await create(app, { email, crmProperties: ['company', 'Lifecycle Stage'] });
    expect(badName.statusCode).toBe(400);
    expect(json(badName).error).toMatchObject({ code: 'invalid_request', details: [{ field: 'crmProperties.1', message: 'is not a HubSpot property name' }] });
    const many = await create(app, { email, crmProperties: Array.from({ length: 21 }, (_, i) => `p${i}`) });
    expect(many.statusCode).toBe(400);
    expect(json(many).error.details[0].field).toBe('crmProperties');
    expect(listings()).toBe(before);
    await expectNothingStarted(email);
  });
});

describe('CRM properties checked in HubSpot at creation', () => {
  it('refuses a property HubSpot does not have with 400 unknown_crm_property naming it, and starts nothing', async () => {
    const email = uniqueEmail('unknown');
    const res = await create(app, { email, roles: ['member'], crmProperties: ['company', 'plan_tier', 'lifecyclestage', 'seats'] });
    expect(res.statusCode).toBe(400);
    expect(json(res).error).toEqual({
      code: 'unknown_crm_property',
      message: 'No such contact property in HubSpot: "plan_tier", "seats"',
      details: [
        { field: 'crmProperties.1', message: 'is not a contact property in HubSpot', property: 'plan_tier' },
        { field: 'crmProperties.3', message: 'is not a contact property in HubSpot', property: 'seats' },
      ],
    });
    await expectNothingStarted(email);
  });

  it('refuses an unknown property also when an invite is already open, and a replace then revokes nothing', async () => {
    const email = uniqueEmail('open');
    const { id } = json(await create(app, { email, crmProperties: ['company'] }));
    const replace = await create(app, { email, crmProperties: ['ghost'], replace: true });
    expect(replace.statusCode).toBe(400);
    expect(json(replace).error.code).toBe('unknown_crm_property');
    expect(await h.status(id)).toMatchObject({ state: 'pending', crmProperties: ['company'] });
  });

  it('accepts a property created in HubSpot after the copy was read, without waiting for the copy to age', async () => {
    const fresh = await appWith();
    expect((await create(fresh, { email: uniqueEmail('before'), crmProperties: ['company'] })).statusCode).toBe(201);
    const name = `plan_${randomBytes(3).toString('hex')}`;
    hubspot.createProperty(name);
    const email = uniqueEmail('after');
    // A miss reads the properties again (at most every 2 s, so a burst of typos is one listing).
    await vi.waitFor(async () => expect((await create(fresh, { email, crmProperties: [name] })).statusCode).toBe(201), { timeout: 15_000, interval: 250 });
    expect((await h.status(idOf(email))).crmProperties).toEqual([name]);
  });

  it('reads the properties once for a burst of concurrent creations with a typo', async () => {
    const fresh = await appWith();
    const before = listings();
    const answers = await Promise.all(Array.from({ length: 20 }, () => create(fresh, { email: uniqueEmail('burst'), crmProperties: ['compnay'] })));
    expect(answers.map((r) => r.statusCode)).toEqual(Array.from({ length: 20 }, () => 400));
    expect(listings() - before).toBe(1);
  });

  it('answers 503 crm_properties_unavailable with Retry-After when HubSpot is down, starts nothing, and recovers', async () => {
    const fresh = await appWith();
    hubspot.outage({ retryAfterSeconds: 1 });
    const email = uniqueEmail('down');
    try {
      const res = await create(fresh, { email, roles: ['member'], crmProperties: ['company'] });
      expect(res.statusCode).toBe(503);
      expect(json(res).error).toMatchObject({ code: 'crm_properties_unavailable' });
      expect(res.headers['retry-after']).toBe('1');
      await expectNothingStarted(email);
      // An invite that binds no CRM property needs no answer from HubSpot.
      expect((await create(fresh, { email: uniqueEmail('nocrm') })).statusCode).toBe(201);
    } finally {
      hubspot.endOutage();
    }
    expect(h.logs.some((line) => line.includes('hubspot properties unavailable') && line.includes('"hubspotStatus":503'))).toBe(true);
    await vi.waitFor(async () => expect((await create(fresh, { email, crmProperties: ['company'] })).statusCode).toBe(201), { timeout: 10_000, interval: 250 });
  });

  it('without HubSpot settings, refuses invites that bind CRM properties with 503 and starts the others', async () => {
    // The harness's own app has no HUBSPOT_ACCESS_TOKEN.
    const email = uniqueEmail('nohubspot');
    const res = await create(h.app, { email, crmProperties: ['company'] });
    expect(res.statusCode).toBe(503);
    expect(json(res).error.code).toBe('crm_properties_unavailable');
    expect(json(res).error.message).toContain('HUBSPOT_ACCESS_TOKEN');
    await expectNothingStarted(email);
    expect((await create(h.app, { email, accountPolicy: 'all-verified' })).statusCode).toBe(201);
  });
});

describe("the tenant's defaults (ACCOUNT_POLICY, HUBSPOT_TOKEN_PROPERTIES)", () => {
  it('apply to an invite that names neither, are written into its input, and a later change leaves it as it was', async () => {
    const tenant = await appWith({ ACCOUNT_POLICY: 'all-verified', HUBSPOT_TOKEN_PROPERTIES: ['lifecyclestage', 'company'] });
    const email = uniqueEmail('defaults');
    const res = await create(tenant, { email, roles: ['member'] });
    expect(res.statusCode).toBe(201);
    expect(json(res).status).toMatchObject({ accountPolicy: 'all-verified', crmProperties: ['lifecyclestage', 'company'] });
    const { id } = json(res);
    expect(await h.until(id, (s) => s.emails.length === 1)).toMatchObject({ accountPolicy: 'all-verified', crmProperties: ['lifecyclestage', 'company'] });

    // The tenant's defaults change: the open invite keeps what it was created with.
    const changed = await appWith({ ACCOUNT_POLICY: 'off', HUBSPOT_TOKEN_PROPERTIES: [] });
    const again = await create(changed, { email, roles: ['member'] });
    expect(again.statusCode).toBe(200);
    expect(json(again).status).toMatchObject({ accountPolicy: 'all-verified', crmProperties: ['lifecyclestage', 'company'] });
    expect(await h.status(id)).toMatchObject({ accountPolicy: 'all-verified', crmProperties: ['lifecyclestage', 'company'] });
  });

  it('give way to an invite that names its own, [] and off included', async () => {
    const tenant = await appWith({ ACCOUNT_POLICY: 'link', HUBSPOT_TOKEN_PROPERTIES: ['lifecyclestage'] });
    const own = uniqueEmail('own');
    const res = await create(tenant, { email: own, accountPolicy: 'off', crmProperties: [] });
    expect(res.statusCode).toBe(201);
    const status = await h.until(json(res).id, (s) => s.emails.length === 1);
    expect(status.accountPolicy).toBeUndefined();
    expect(status.crmProperties).toBeUndefined();
    const other = uniqueEmail('other');
    expect(json(await create(tenant, { email: other, crmProperties: ['company'] })).status).toMatchObject({ accountPolicy: 'link', crmProperties: ['company'] });
  });

  it('leave an invite meant to be forwarded (emailPolicy any) at the policy off', async () => {
    const tenant = await appWith({ ACCOUNT_POLICY: 'link' });
    const res = await create(tenant, { email: uniqueEmail('forwarded'), emailPolicy: 'any' });
    expect(res.statusCode).toBe(201);
    expect(json(res).status).toMatchObject({ emailPolicy: 'any' });
    expect(json(res).status.accountPolicy).toBeUndefined();
  });

  it('refuses a forwardable invite that names all-verified or link, starting nothing', async () => {
    for (const accountPolicy of ['all-verified', 'link']) {
      const email = uniqueEmail('forwarded-linked');
      const res = await create(app, { email, emailPolicy: 'any', accountPolicy });
      expect(res.statusCode).toBe(400);
      expect(json(res).error).toMatchObject({
        code: 'invalid_request',
        details: [{ field: 'accountPolicy', message: 'all-verified and link need emailPolicy "same-email"' }],
      });
      expect(await h.exists(idOf(email))).toBe(false);
    }
  });

  it('a default property HubSpot does not have refuses the invite, saying it is the default', async () => {
    const tenant = await appWith({ HUBSPOT_TOKEN_PROPERTIES: ['company', 'plan_tier_typo'] });
    const email = uniqueEmail('baddefault');
    const res = await create(tenant, { email });
    expect(res.statusCode).toBe(400);
    expect(json(res).error).toEqual({
      code: 'unknown_crm_property',
      message: 'No such contact property in HubSpot (the default CRM properties, HUBSPOT_TOKEN_PROPERTIES): "plan_tier_typo"',
      details: [{ field: 'crmProperties.1', message: 'is not a contact property in HubSpot', property: 'plan_tier_typo' }],
    });
    await expectNothingStarted(email);
  });
});

describe('the OpenAPI document of POST /v1/invites', () => {
  it('states the policies, the CRM property check and the answers they give', async () => {
    const doc = json(await app.inject({ method: 'GET', url: '/openapi.json' }));
    const op = doc.paths['/v1/invites'].post;
    const body = doc.components.schemas.CreateInviteInput;
    expect(body.properties.accountPolicy.enum).toEqual(['off', 'all-verified', 'link']);
    expect(body.properties.accountPolicy.description).toContain("Default: the tenant's ACCOUNT_POLICY");
    expect(body.properties.crmProperties).toMatchObject({ type: 'array', maxItems: 20 });
    expect(body.properties.crmProperties.description).toContain('otherwise 400 unknown_crm_property');
    expect(op.responses['400'].description).toContain('unknown_crm_property');
    expect(op.responses['503'].description).toContain('crm_properties_unavailable');
  });

  it('logs no token', () => {
    expectNoSecretsInLogs(h);
  });
});
