// The Auth0 tenant setup against the emulator with the real `auth0` SDK: a first run creates the
// API, both applications with exactly their grants, the roles and the bound Action, and the
// credentials it prints really work at the token endpoint; a second run only reads; a partial
// tenant is completed without losing what was there; an outdated Action is never redeployed with
// secrets the API does not hold.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildAction } from '../../actions/build';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { createManagementClient } from '../../services/auth0';
import {
  API_PERMISSIONS,
  APPLICATION_NAMES,
  FUNNEL_SCOPES,
  INVITEFLOW_MANAGEMENT_SCOPES,
  SETUP_ADMIN_SCOPES,
  runAuth0Setup,
  setupAuth0Tenant,
} from '../../scripts/setup/auth0';
import type { Auth0SetupOptions } from '../../scripts/setup/auth0';

const ADMIN = { clientId: 'setup-admin', clientSecret: 'setup-admin-secret-0123456789' };
const AUDIENCE = 'https://inviteflow/api';
const API_URL = 'https://api.inviteflow.example';

let emu: Auth0Emulator;
let managementAudience: string;

function options(overrides: Partial<Auth0SetupOptions> = {}): Auth0SetupOptions {
  return {
    management: createManagementClient({ domain: emu.domain, ...ADMIN, endpoint: emu.url }),
    domain: emu.domain,
    admin: { ...ADMIN, endpoint: emu.url },
    audience: AUDIENCE,
    roles: ['member', 'workspace-admin'],
    action: { apiUrl: API_URL },
    ...overrides,
  };
}

async function token(clientId: string, clientSecret: string, audience: string) {
  const res = await fetch(`${emu.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      audience,
    }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { access_token?: string; scope?: string; error?: string },
  };
}

/** Route keys whose count grew between two snapshots, other than reads and token requests. */
function writesBetween(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys(after).filter(
    (key) => (after[key] ?? 0) > (before[key] ?? 0) && !key.startsWith('GET ') && key !== 'POST /oauth/token',
  );
}

const ours = () =>
  emu
    .state()
    .actions.bindings.filter(
      (b) => b.triggerId === 'post-login' && b.displayName === 'inviteflow-redeem-invite',
    );
const clientNamed = (name: string) => emu.state().clients.filter((c) => c.name === name);

beforeAll(async () => {
  emu = await startAuth0Emulator({
    clients: [
      {
        ...ADMIN,
        name: 'setup admin',
        grants: [{ audience: 'https://inviteflow-dev.auth0.local/api/v2/', scopes: SETUP_ADMIN_SCOPES }],
      },
    ],
  });
  managementAudience = `https://${emu.domain}/api/v2/`;
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
});

describe('setupAuth0Tenant', () => {
  it('creates the API, both applications with their grants, the roles and the bound Action', async () => {
    const result = await setupAuth0Tenant(options());

    expect(result.steps.map((s) => `${s.outcome} ${s.kind} ${s.name}`)).toEqual([
      `created API ${AUDIENCE}`,
      `created application ${APPLICATION_NAMES.inviteflow}`,
      `created client grant ${APPLICATION_NAMES.inviteflow} → ${managementAudience}`,
      `created application ${APPLICATION_NAMES.funnel}`,
      `created client grant ${APPLICATION_NAMES.funnel} → ${AUDIENCE}`,
      'created role member',
      'created role workspace-admin',
      'created Action inviteflow-redeem-invite',
    ]);
    const api = emu.state().resourceServers.find((rs) => rs.identifier === AUDIENCE);
    expect(api?.scopes.map((s) => s.value)).toEqual(API_PERMISSIONS.map((p) => p.value));
    expect(api?.signing_alg).toBe('RS256');
    expect(
      emu
        .state()
        .roles.map((r) => r.name)
        .sort(),
    ).toEqual(['member', 'workspace-admin']);
    expect(ours()).toHaveLength(1);
    const action = emu.boundActions().find((a) => a.name === 'inviteflow-redeem-invite');
    expect(action?.code).toBe((await buildAction()).code);
    expect(action?.secrets).toMatchObject({
      INVITEFLOW_API_URL: API_URL,
      INVITEFLOW_ACTION_SECRET: result.generatedActionSecret,
      ON_REFUSAL: 'continue',
    });
    expect(result.generatedActionSecret).toMatch(/^[\w-]{43}$/);
  });

  it('hands out credentials that get exactly the granted scopes, and nothing on other APIs', async () => {
    const { inviteflow, funnel } = await setupAuth0Tenant(options());

    const worker = await token(inviteflow.clientId, inviteflow.clientSecret!, managementAudience);
    const funnelToken = await token(funnel.clientId, funnel.clientSecret!, AUDIENCE);
    const funnelOnManagement = await token(funnel.clientId, funnel.clientSecret!, managementAudience);

    expect(worker.body.scope?.split(' ').sort()).toEqual([...INVITEFLOW_MANAGEMENT_SCOPES].sort());
    expect(funnelToken.body.scope).toBe(FUNNEL_SCOPES.join(' '));
    expect(funnelOnManagement).toMatchObject({ status: 403, body: { error: 'access_denied' } });
    // The worker's own client can do its job through the SDK, and no more.
    const workerMgmt = createManagementClient({
      domain: emu.domain,
      clientId: inviteflow.clientId,
      clientSecret: inviteflow.clientSecret!,
      endpoint: emu.url,
    });
    const roles = await workerMgmt.roles.list({ name_filter: 'member' });
    expect(roles.data.map((r) => r.name)).toContain('member');
    await expect(workerMgmt.clients.list()).rejects.toMatchObject({ statusCode: 403 });
  });

  it('changes nothing on a second run: only reads, no secrets, one binding', async () => {
    const first = await setupAuth0Tenant(options());
    const before = emu.counts;
    const bindingsBefore = emu.state().actions.bindings;

    const second = await setupAuth0Tenant(options());

    expect(writesBetween(before, emu.counts)).toEqual([]);
    expect(second.steps.every((s) => s.outcome === 'present')).toBe(true);
    expect(second.inviteflow).toEqual({ clientId: first.inviteflow.clientId });
    expect(second.funnel).toEqual({ clientId: first.funnel.clientId });
    expect(second.generatedActionSecret).toBeUndefined();
    expect(emu.state().actions.bindings).toEqual(bindingsBefore);
    expect(clientNamed(APPLICATION_NAMES.inviteflow)).toHaveLength(1);
    expect(clientNamed(APPLICATION_NAMES.funnel)).toHaveLength(1);
  });

  it('completes a partial tenant: adds missing permissions and scopes, keeps the others', async () => {
    const admin = options().management;
    await admin.resourceServers.create({
      identifier: AUDIENCE,
      name: 'made by hand',
      scopes: [{ value: 'invites:read' }, { value: 'reports:read', description: 'not ours' }],
    });
    const app = await admin.clients.create({
      name: APPLICATION_NAMES.inviteflow,
      app_type: 'non_interactive',
    });
    await admin.clientGrants.create({
      client_id: app.client_id!,
      audience: managementAudience,
      scope: ['read:users', 'read:clients'],
    });

    const result = await setupAuth0Tenant(options({ roles: [], action: false }));

    expect(result.steps.slice(0, 3).map((s) => s.outcome)).toEqual(['updated', 'present', 'updated']);
    expect(result.inviteflow).toEqual({ clientId: app.client_id });
    const api = emu.state().resourceServers.find((rs) => rs.identifier === AUDIENCE);
    expect(api?.scopes.map((s) => s.value).sort()).toEqual([
      'invites:create',
      'invites:read',
      'invites:write',
      'reports:read',
    ]);
    const grant = emu.state().clients.find((c) => c.clientId === app.client_id)?.grants[0];
    expect(grant?.scopes.sort()).toEqual(['read:clients', ...INVITEFLOW_MANAGEMENT_SCOPES].sort());
  });

  it('refuses to guess when two applications share its name', async () => {
    const admin = options().management;
    await admin.clients.create({ name: APPLICATION_NAMES.funnel, app_type: 'non_interactive' });
    await admin.clients.create({ name: APPLICATION_NAMES.funnel, app_type: 'non_interactive' });

    await expect(setupAuth0Tenant(options({ action: false }))).rejects.toThrow(
      /several .* named "inviteflow funnel"/,
    );
  });

  it('refuses to reuse an application of its name that is not machine-to-machine', async () => {
    await options().management.clients.create({ name: APPLICATION_NAMES.inviteflow, app_type: 'spa' });

    await expect(setupAuth0Tenant(options({ action: false }))).rejects.toThrow(/not machine-to-machine/);
    expect(clientNamed(APPLICATION_NAMES.inviteflow)).toHaveLength(1);
  });

  it('redeploys an outdated Action only with the API’s ACTION_SECRET, keeping one binding', async () => {
    emu.installAction({
      name: 'inviteflow-redeem-invite',
      code: 'exports.onExecutePostLogin = async () => {};',
      secrets: { INVITEFLOW_ACTION_SECRET: 'x'.repeat(40) },
    });
    const before = emu.counts;

    await expect(setupAuth0Tenant(options())).rejects.toThrow(/ACTION_SECRET/);
    expect(writesBetween(before, emu.counts).filter((k) => k.includes('/actions/'))).toEqual([]);

    const result = await setupAuth0Tenant(
      options({ action: { apiUrl: API_URL, actionSecret: 'y'.repeat(40) } }),
    );

    expect(result.steps.at(-1)).toMatchObject({ kind: 'Action', outcome: 'updated' });
    expect(result.generatedActionSecret).toBeUndefined();
    expect(ours()).toHaveLength(1);
    expect(
      emu.boundActions().find((a) => a.name === 'inviteflow-redeem-invite')?.secrets.INVITEFLOW_ACTION_SECRET,
    ).toBe('y'.repeat(40));
  });

  it('redeploys current code when asked, to change a secret value', async () => {
    const first = await setupAuth0Tenant(options());

    const result = await setupAuth0Tenant(
      options({
        action: {
          apiUrl: API_URL,
          actionSecret: first.generatedActionSecret!,
          onRefusal: 'deny',
          update: true,
        },
      }),
    );

    expect(result.steps.at(-1)).toMatchObject({
      outcome: 'updated',
      detail: expect.stringContaining('version 2, post-login binding kept'),
    });
    expect(ours()).toHaveLength(1);
    expect(emu.boundActions().find((a) => a.name === 'inviteflow-redeem-invite')?.secrets.ON_REFUSAL).toBe(
      'deny',
    );
  });
});

describe('the setup CLI', () => {
  const env = () => ({
    AUTH0_DOMAIN: emu.domain,
    AUTH0_ADMIN_CLIENT_ID: ADMIN.clientId,
    AUTH0_ADMIN_CLIENT_SECRET: ADMIN.clientSecret,
    AUTH0_MANAGEMENT_ENDPOINT: emu.url,
    INVITEFLOW_API_URL: API_URL,
  });
  const line = (out: string, name: string) => new RegExp(`^${name}=(.+)$`, 'm').exec(out)?.[1];

  it('prints working configuration lines with the new secrets once, and none on the next run', async () => {
    const first = await runAuth0Setup(['--roles', 'member'], env());
    const second = await runAuth0Setup(['--roles', 'member'], env());

    const clientId = line(first, 'AUTH0_CLIENT_ID')!;
    const clientSecret = line(first, 'AUTH0_CLIENT_SECRET')!;
    const funnelSecret = line(first, 'INVITEFLOW_CLIENT_SECRET')!;
    const actionSecret = line(first, 'ACTION_SECRET')!;
    expect((await token(clientId, clientSecret, managementAudience)).status).toBe(200);
    expect((await token(line(first, 'INVITEFLOW_CLIENT_ID')!, funnelSecret, AUDIENCE)).status).toBe(200);
    expect(line(first, 'AUTH_ISSUER')).toBe(`https://${emu.domain}/`);
    expect(line(first, 'AUTH_AUDIENCE')).toBe(AUDIENCE);
    expect(line(second, 'AUTH0_CLIENT_ID')).toBe(clientId);
    for (const secret of [clientSecret, funnelSecret, actionSecret, ADMIN.clientSecret])
      expect(second).not.toContain(secret);
    expect(first).not.toContain(ADMIN.clientSecret);
    expect(second).toMatch(/^# AUTH0_CLIENT_SECRET: unchanged/m);
    expect(second).toMatch(/^present +role member$/m);
  });

  it('needs the API origin for the Action unless told to skip it', async () => {
    const { INVITEFLOW_API_URL: _omitted, ...withoutApi } = env();

    await expect(runAuth0Setup([], withoutApi)).rejects.toThrow(/INVITEFLOW_API_URL/);
    const out = await runAuth0Setup(['--skip-action'], withoutApi);

    expect(out).not.toMatch(/^\w+ +Action/m);
    expect(out).not.toMatch(/ACTION_SECRET/);
    expect(emu.boundActions()).toEqual([]);
  });

  it('names a bad variable, never its value', async () => {
    const bad = { ...env(), ACTION_SECRET: 'short-secret-value' };

    const error = await runAuth0Setup([], bad).then(
      () => new Error('expected a refusal'),
      (e: unknown) => e as Error,
    );

    expect(error.message).toMatch(/ACTION_SECRET/);
    expect(error.message).not.toContain('short-secret-value');
  });
});
