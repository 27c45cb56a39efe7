// The deploy script against the Auth0 emulator with the real `auth0` SDK: the first run creates,
// builds, deploys and binds the Action; later runs update code and secrets in place, deploy a new
// version and leave the single binding (and everyone else's) alone.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildAction } from '../../actions/build';
import { deployAction, deployFromEnv, loadDeployEnv } from '../../actions/deploy';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { createManagementClient } from '../../services/auth0';

const OTHER = 'exports.onExecutePostLogin = async () => {};';

let emu: Auth0Emulator;

function management() {
  return createManagementClient({
    domain: emu.domain,
    clientId: 'inviteflow-deploy',
    clientSecret: 'inviteflow-deploy-secret',
    endpoint: emu.url,
  });
}

function postLoginBindings() {
  return emu.state().actions.bindings.filter((b) => b.triggerId === 'post-login');
}

beforeAll(async () => {
  // Auth0 builds drafts asynchronously; a delay makes the script's wait for `built` necessary.
  emu = await startAuth0Emulator({ actionBuildDelayMs: 150 });
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
  emu.installAction({ name: 'someone-elses-action', code: OTHER });
});

describe('deployAction', () => {
  it('creates, deploys and binds the Action after the existing bindings, storing its secrets', async () => {
    const result = await deployAction({
      management: management(),
      name: 'inviteflow-redeem-invite',
      code: 'exports.onExecutePostLogin = async () => { /* v1 */ };',
      secrets: { INVITEFLOW_API_URL: 'https://api.example.com', INVITEFLOW_ACTION_SECRET: 's'.repeat(40) },
      pollIntervalMs: 50,
    });

    expect(result).toMatchObject({ created: true, versionNumber: 1, binding: 'added' });
    expect(postLoginBindings().map((b) => b.displayName)).toEqual([
      'someone-elses-action',
      'inviteflow-redeem-invite',
    ]);
    const ours = emu.boundActions().find((a) => a.actionId === result.actionId);
    expect(ours?.code).toContain('/* v1 */');
    expect(ours?.secrets).toEqual({
      INVITEFLOW_API_URL: 'https://api.example.com',
      INVITEFLOW_ACTION_SECRET: 's'.repeat(40),
    });
  });

  it('updates code and secrets on a second run, deploys version 2 and keeps a single binding', async () => {
    const mgmt = management();
    const first = await deployAction({
      management: mgmt,
      name: 'inviteflow-redeem-invite',
      code: 'exports.onExecutePostLogin = async () => { /* v1 */ };',
      secrets: { INVITEFLOW_API_URL: 'https://api.example.com', ON_REFUSAL: 'continue' },
      pollIntervalMs: 50,
    });

    const second = await deployAction({
      management: mgmt,
      name: 'inviteflow-redeem-invite',
      code: 'exports.onExecutePostLogin = async () => { /* v2 */ };',
      secrets: { INVITEFLOW_API_URL: 'https://api2.example.com', ON_REFUSAL: 'deny' },
      pollIntervalMs: 50,
    });

    expect(second).toMatchObject({
      actionId: first.actionId,
      created: false,
      versionNumber: 2,
      binding: 'kept',
    });
    expect(emu.state().actions.actions.filter((a) => a.name === 'inviteflow-redeem-invite')).toHaveLength(1);
    expect(postLoginBindings()).toHaveLength(2);
    const ours = emu.boundActions().find((a) => a.actionId === first.actionId);
    expect(ours?.code).toContain('/* v2 */');
    expect(ours?.secrets).toEqual({ INVITEFLOW_API_URL: 'https://api2.example.com', ON_REFUSAL: 'deny' });
  });

  it('reads back secrets by name only, as Auth0 never returns their values', async () => {
    const mgmt = management();
    const { actionId } = await deployAction({
      management: mgmt,
      name: 'inviteflow-redeem-invite',
      code: OTHER,
      secrets: { INVITEFLOW_ACTION_SECRET: 'v'.repeat(40) },
      pollIntervalMs: 50,
    });

    const action = await mgmt.actions.get(actionId);

    expect(action.status).toBe('built');
    expect(action.deployed_version?.number).toBe(1);
    expect(action.secrets?.map((s) => s.name)).toEqual(['INVITEFLOW_ACTION_SECRET']);
    expect(JSON.stringify(action)).not.toContain('v'.repeat(40));
  });
});

describe('the emulated Actions API', () => {
  it('refuses to deploy a draft that is still building, which is why deployAction waits', async () => {
    const mgmt = management();
    const created = await mgmt.actions.create({
      name: 'draft',
      supported_triggers: [{ id: 'post-login', version: 'v3' }],
      code: OTHER,
    });

    await expect(mgmt.actions.deploy(created.id!)).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining("must be in the 'built' state"),
    });
  });

  it('refuses to bind an Action that was never deployed', async () => {
    const mgmt = management();
    const created = await mgmt.actions.create({
      name: 'undeployed',
      supported_triggers: [{ id: 'post-login', version: 'v3' }],
      code: OTHER,
    });

    await expect(
      mgmt.actions.triggers.bindings.updateMany('post-login', {
        bindings: [{ ref: { type: 'action_id', value: created.id! } }],
      }),
    ).rejects.toMatchObject({ statusCode: 400 });
    expect(postLoginBindings().map((b) => b.displayName)).toEqual(['someone-elses-action']);
  });

  it('refuses a token without the Actions scopes', async () => {
    const m2m = createManagementClient({
      domain: emu.domain,
      clientId: 'inviteflow-m2m',
      clientSecret: 'inviteflow-m2m-secret',
      endpoint: emu.url,
    });

    await expect(m2m.actions.list()).rejects.toMatchObject({ statusCode: 403 });
  });
});

describe('the deploy CLI', () => {
  const env = () => ({
    AUTH0_DOMAIN: emu.domain,
    AUTH0_CLIENT_ID: 'inviteflow-deploy',
    AUTH0_CLIENT_SECRET: 'inviteflow-deploy-secret',
    AUTH0_MANAGEMENT_ENDPOINT: emu.url,
    INVITEFLOW_API_URL: 'http://127.0.0.1:3000',
    INVITEFLOW_ACTION_SECRET: 'a'.repeat(32),
  });

  it('refuses a short action secret and names the variable, not its value', () => {
    expect(() => loadDeployEnv({ ...env(), INVITEFLOW_ACTION_SECRET: 'too-short-secret' })).toThrow(
      /INVITEFLOW_ACTION_SECRET/,
    );
    expect(() => loadDeployEnv({ ...env(), INVITEFLOW_ACTION_SECRET: 'too-short-secret' })).not.toThrow(
      /too-short-secret/,
    );
  });

  it('deploys the built post-login Action with every secret, defaults included', async () => {
    const result = await deployFromEnv(loadDeployEnv({ ...env(), ON_REFUSAL: 'deny' }));

    const ours = emu.boundActions().find((a) => a.actionId === result.actionId);
    expect(ours?.name).toBe('inviteflow-redeem-invite');
    expect(ours?.code).toBe((await buildAction()).code);
    expect(ours?.secrets).toEqual({
      INVITEFLOW_API_URL: 'http://127.0.0.1:3000',
      INVITEFLOW_ACTION_SECRET: 'a'.repeat(32),
      ON_REFUSAL: 'deny',
      CLAIM_NAMESPACE: 'https://inviteflow.dev/',
      INVITE_PARAM: 'invite',
      CLAIM_BY_EMAIL: 'false',
    });
  });
});
