// Account linking in the Auth0 emulator, through the real `auth0` SDK and the login pages: link and
// unlink (the secondary stops being a user and comes back under its old id, without metadata or
// roles), users by email, each error, logins through a linked identity (password and "Google")
// that authenticate as the primary user, and the Action's `api.authentication.setPrimaryUser`,
// accepted only for a user that holds the identity that logged in.
import { createLocalJWKSet } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { API } from '../../actions/post-login';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator, Auth0EmulatorState, PostLoginApi } from '../../emulators/auth0';
import { createManagementClient } from '../../services/auth0';
import { m2mToken } from '../support/m2m-token';
import { Browser, hidden, loginHelpers } from './universal-login';
import type { Started } from './universal-login';

const MANAGEMENT = 'https://inviteflow-dev.auth0.local/api/v2/';
const ADMIN = { clientId: 'linking-admin', clientSecret: 'linking-admin-secret' };
const READER = { clientId: 'linking-reader', clientSecret: 'linking-reader-secret' };
const PASSWORD = 'correct horse battery';

let emu: Auth0Emulator;
let jwks: ReturnType<typeof createLocalJWKSet>;
const { authorize, tokensFor, signIn } = loginHelpers(() => ({ emu, jwks }));

const sdk = (creds = ADMIN) => createManagementClient({ domain: emu.domain, ...creds, endpoint: emu.url });

/** A verified password account and a Google account of one person. */
function twoAccounts(email = 'ada@example.com') {
  const password = emu.createUser({
    email,
    password: PASSWORD,
    email_verified: true,
    name: 'Ada (password)',
  });
  const google = emu.store.socialUser('google-oauth2', { email, name: 'Ada Lovelace' });
  return { password: password.user_id, google: google.user_id };
}

const idPart = (userId: string) => userId.slice(userId.indexOf('|') + 1);

/** Signs in with the emulated Google account chooser. */
async function signInWithGoogle(started: Started, email: string) {
  const chooser = await started.browser.go('/u/login', {
    state: hidden(started.page.html, 'state'),
    connection: 'google-oauth2',
  });
  const done = await started.browser.go('/emulated-idp/google-oauth2/authorize', {
    state: hidden(chooser.html, 'state'),
    email,
  });
  return { chooser, done };
}

// What the Action saw: the user, the connection used and the identities of `event.user`.
const PROBE = `exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://test/event', {
    user: event.user.user_id,
    connection: event.connection.name,
    identities: event.user.identities.map((i) => i.provider + '|' + i.user_id),
    logins: event.stats.logins_count,
  });
};`;

beforeAll(async () => {
  emu = await startAuth0Emulator({
    clients: [
      {
        ...ADMIN,
        grants: [{ audience: MANAGEMENT, scopes: ['read:users', 'update:users', 'create:users'] }],
      },
      { ...READER, grants: [{ audience: MANAGEMENT, scopes: ['read:users'] }] },
    ],
  });
  jwks = createLocalJWKSet((await (await fetch(`${emu.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet);
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
});

describe('linking through the Management API', () => {
  it('links the Google account into the password account: one user, both identities, with profiles', async () => {
    const { password, google } = twoAccounts();
    const role = emu.createRole('member');
    emu.assignRoles(google, [role.id]);
    await sdk().users.update(google, { app_metadata: { from: 'google' } });

    const identities = await sdk().users.identities.link(password, {
      provider: 'google-oauth2',
      user_id: idPart(google),
    });

    expect(identities).toEqual([
      {
        connection: 'Username-Password-Authentication',
        provider: 'auth0',
        user_id: idPart(password),
        isSocial: false,
        profileData: expect.objectContaining({
          email: 'ada@example.com',
          email_verified: true,
          name: 'Ada (password)',
        }),
      },
      {
        connection: 'google-oauth2',
        provider: 'google-oauth2',
        user_id: idPart(google),
        isSocial: true,
        profileData: expect.objectContaining({
          email: 'ada@example.com',
          email_verified: true,
          name: 'Ada Lovelace',
          given_name: 'Ada',
          family_name: 'Lovelace',
        }),
      },
    ]);
    // The secondary is no longer a user; the primary lists its own identity first, without a profile.
    await expect(sdk().users.get(google)).rejects.toMatchObject({
      statusCode: 404,
      body: { errorCode: 'inexistent_user' },
    });
    const primary = await sdk().users.get(password);
    expect(primary.identities?.map((i) => [i.provider, i.user_id, i.profileData === undefined])).toEqual([
      ['auth0', idPart(password), true],
      ['google-oauth2', idPart(google), false],
    ]);
    expect(primary.app_metadata).toBeUndefined();
  });

  it('accepts the secondary’s full id and a matching connection_id, as the Go SDK sends them', async () => {
    const primary = emu.store.socialUser('google-oauth2', { email: 'ada@example.com' });
    const secondary = emu.createUser({ email: 'ada@example.com', password: PASSWORD, email_verified: true });

    const identities = await sdk().users.identities.link(primary.user_id, {
      provider: 'auth0',
      user_id: secondary.user_id,
      connection_id: emu.store.connectionInfo('Username-Password-Authentication').id,
    });

    expect(identities.map((i) => `${i.provider}|${i.user_id}`)).toEqual([primary.user_id, secondary.user_id]);
  });

  it('unlinks: the identity is a user again under its old id, with its profile but no metadata or roles', async () => {
    const { password, google } = twoAccounts();
    const role = emu.createRole('member');
    emu.assignRoles(google, [role.id]);
    emu.assignRoles(password, [role.id]);
    await sdk().users.update(google, { app_metadata: { from: 'google' }, user_metadata: { theme: 'dark' } });
    await sdk().users.identities.link(password, { provider: 'google-oauth2', user_id: idPart(google) });

    const remaining = await sdk().users.identities.delete(password, 'google-oauth2', idPart(google));

    expect(remaining).toEqual([
      expect.objectContaining({
        provider: 'auth0',
        user_id: idPart(password),
        profileData: expect.any(Object),
      }),
    ]);
    const back = await sdk().users.get(google);
    expect(back).toMatchObject({
      user_id: google,
      email: 'ada@example.com',
      email_verified: true,
      name: 'Ada Lovelace',
      identities: [{ provider: 'google-oauth2', user_id: idPart(google), connection: 'google-oauth2' }],
    });
    expect(back.app_metadata).toBeUndefined();
    expect(back.user_metadata).toBeUndefined();
    expect(emu.getUser(google)?.roles).toEqual([]);
    expect(emu.getUser(password)).toMatchObject({ roles: ['member'], identities: [{ provider: 'auth0' }] });
  });

  it('finds users by email: the primary with all its identities, not the linked one apart; fields still apply', async () => {
    const { password, google } = twoAccounts();
    emu.createUser({ email: 'someone.else@example.com', password: PASSWORD });
    await sdk().users.identities.link(password, { provider: 'google-oauth2', user_id: idPart(google) });

    const found = await sdk().users.listUsersByEmail({ email: 'ada@example.com' });
    const only = await sdk().users.listUsersByEmail({
      email: 'ada@example.com',
      fields: 'user_id,identities',
    });
    const without = await sdk().users.listUsersByEmail({
      email: 'ada@example.com',
      fields: 'identities',
      include_fields: false,
    });
    // Auth0 matches the address exactly, case included (its database stores addresses lower-case).
    const otherCase = await sdk().users.listUsersByEmail({ email: 'Ada@Example.com' });

    expect(found.map((u) => [u.user_id, u.identities?.length])).toEqual([[password, 2]]);
    expect(only).toEqual([{ user_id: password, identities: found[0]?.identities }]);
    expect(without[0]).toMatchObject({ user_id: password, email: 'ada@example.com' });
    expect(without[0]).not.toHaveProperty('identities');
    expect(otherCase).toEqual([]);
  });

  it('finds both accounts apart before they are linked', async () => {
    const { password, google } = twoAccounts();

    const found = await sdk().users.listUsersByEmail({ email: 'ada@example.com' });

    expect(found.map((u) => u.user_id).sort()).toEqual([password, google].sort());
  });

  it('refuses links Auth0 refuses, and changes nothing', async () => {
    const { password, google } = twoAccounts();
    const third = emu.store.socialUser('facebook', { email: 'ada@example.com' });
    await sdk().users.identities.link(password, { provider: 'google-oauth2', user_id: idPart(google) });
    const before = emu.state().users;

    const attempts = [
      // The primary does not exist.
      () =>
        sdk().users.identities.link('auth0|000000000000000000000000', {
          provider: 'facebook',
          user_id: idPart(third.user_id),
        }),
      // The primary is itself linked into another user: it is not a user any more.
      () => sdk().users.identities.link(google, { provider: 'facebook', user_id: idPart(third.user_id) }),
    ];
    for (const attempt of attempts)
      await expect(attempt()).rejects.toMatchObject({
        statusCode: 404,
        body: { statusCode: 404, error: 'Not Found', errorCode: 'inexistent_user' },
      });
    const refused = [
      // The secondary does not exist, or was already linked (then it is not a user either).
      () => sdk().users.identities.link(password, { provider: 'facebook', user_id: '1234567890123456' }),
      () =>
        sdk().users.identities.link(third.user_id, { provider: 'google-oauth2', user_id: idPart(google) }),
      // A user linked to itself.
      () => sdk().users.identities.link(password, { provider: 'auth0', user_id: idPart(password) }),
      // The provider must be the secondary's.
      () =>
        sdk().users.identities.link(password, { provider: 'google-oauth2', user_id: idPart(third.user_id) }),
      // A connection_id of another connection.
      () =>
        sdk().users.identities.link(password, {
          provider: 'facebook',
          user_id: idPart(third.user_id),
          connection_id: emu.store.connectionInfo('Username-Password-Authentication').id,
        }),
      // The signed-in-user form, which the emulator does not offer.
      () => sdk().users.identities.link(password, { link_with: 'eyJ.a.jwt' }),
      // No secondary at all.
      () => sdk().users.identities.link(password, { provider: 'facebook' }),
    ];
    for (const attempt of refused)
      await expect(attempt()).rejects.toMatchObject({
        statusCode: 400,
        body: { statusCode: 400, error: 'Bad Request', errorCode: 'invalid_body' },
      });
    await expect(
      sdk(READER).users.identities.link(password, { provider: 'facebook', user_id: idPart(third.user_id) }),
    ).rejects.toMatchObject({ statusCode: 403, body: { errorCode: 'insufficient_scope' } });

    expect(emu.state().users).toEqual(before);
  });

  it('refuses unlinks of an identity the user does not hold, of its own identity, or of an unknown user', async () => {
    const { password, google } = twoAccounts();
    const before = emu.state().users;

    await expect(
      sdk().users.identities.delete(password, 'google-oauth2', idPart(google)),
    ).rejects.toMatchObject({
      statusCode: 400,
      body: { errorCode: 'invalid_uri' },
    });
    await expect(sdk().users.identities.delete(password, 'auth0', idPart(password))).rejects.toMatchObject({
      statusCode: 400,
      body: { errorCode: 'invalid_uri' },
    });
    await expect(
      sdk().users.identities.delete('auth0|000000000000000000000000', 'google-oauth2', idPart(google)),
    ).rejects.toMatchObject({ statusCode: 404, body: { errorCode: 'inexistent_user' } });
    await expect(
      sdk(READER).users.identities.delete(password, 'google-oauth2', idPart(google)),
    ).rejects.toMatchObject({ statusCode: 403 });

    expect(emu.state().users).toEqual(before);
  });

  it('shows one person with two accounts in the inspection state, before and after linking', async () => {
    const { password, google } = twoAccounts();
    const state = async () =>
      ((await (await fetch(`${emu.url}/__emulator/state`)).json()) as Auth0EmulatorState).users.map((u) => ({
        user_id: u.user_id,
        identities: u.identities.map((i) => `${i.provider}|${i.user_id}`),
      }));

    const before = await state();
    await sdk().users.identities.link(password, { provider: 'google-oauth2', user_id: idPart(google) });
    const after = await state();

    expect(before).toEqual([
      { user_id: password, identities: [password] },
      { user_id: google, identities: [google] },
    ]);
    expect(after).toEqual([{ user_id: password, identities: [password, google] }]);
  });
});

describe('logins through a linked identity', () => {
  it('a password account linked into a Google account signs in by password as the Google user', async () => {
    emu.installAction({ name: 'probe', code: PROBE });
    const primary = emu.store.socialUser('google-oauth2', { email: 'ada@example.com', name: 'Ada Lovelace' });
    const secondary = emu.createUser({ email: 'ada@example.com', password: PASSWORD, email_verified: true });
    await sdk().users.identities.link(primary.user_id, {
      provider: 'auth0',
      user_id: idPart(secondary.user_id),
    });

    const started = await authorize(new Browser(emu.url));
    const wrong = await signIn(started, 'ada@example.com', 'not the password');
    expect(wrong.res.status).toBe(400);
    const done = await signIn({ ...started, page: wrong }, 'ada@example.com', PASSWORD);
    const { idToken } = await tokensFor(started, done.callback);

    expect(idToken.sub).toBe(primary.user_id);
    expect(idToken['https://test/event']).toEqual({
      user: primary.user_id,
      connection: 'Username-Password-Authentication',
      identities: [primary.user_id, secondary.user_id],
      logins: 1,
    });
    expect(emu.getUser(primary.user_id)?.logins_count).toBe(1);
  });

  it('a Google account linked into a password account signs in with Google as the password user', async () => {
    emu.installAction({ name: 'probe', code: PROBE });
    const { password, google } = twoAccounts();
    await sdk().users.identities.link(password, { provider: 'google-oauth2', user_id: idPart(google) });

    const started = await authorize(new Browser(emu.url));
    const { chooser, done } = await signInWithGoogle(started, 'ada@example.com');
    const { idToken } = await tokensFor(started, done.callback);

    expect(chooser.html).toContain('ada@example.com');
    expect(idToken).toMatchObject({
      sub: password,
      email: 'ada@example.com',
      'https://test/event': {
        user: password,
        connection: 'google-oauth2',
        identities: [password, google],
      },
    });
    expect(emu.getUser(google)).toBeUndefined();
    expect(emu.getUser(password)?.logins_count).toBe(1);
  });

  it('refuses a sign-up with the address of a database identity linked into another user', async () => {
    const primary = emu.store.socialUser('google-oauth2', { email: 'ada@example.com' });
    const secondary = emu.createUser({ email: 'ada@example.com', password: PASSWORD, email_verified: true });
    emu.linkUsers(primary.user_id, secondary.user_id);
    const started = await authorize(new Browser(emu.url), { screen_hint: 'signup' });

    const again = await started.browser.go('/u/signup', {
      state: hidden(started.page.html, 'state'),
      email: 'ada@example.com',
      password: 'another password',
    });

    expect(again.res.status).toBe(400);
    expect(again.html).toContain('The user already exists.');
    expect(emu.usersByEmail('ada@example.com').map((u) => u.user_id)).toEqual([primary.user_id]);
  });
});

describe('api.authentication.setPrimaryUser', () => {
  // Links the account that logged in into the verified account of the same address, the way
  // Auth0's account-linking Actions do (Management API calls from the Action), then switches the
  // login to it, or not, or to the wrong user, as the MODE secret says.
  const LINKER = `exports.onExecutePostLogin = async (event, api) => {
    const base = event.secrets.EMULATOR_URL;
    const headers = { authorization: 'Bearer ' + event.secrets.MANAGEMENT_TOKEN, 'content-type': 'application/json' };
    const users = await fetch(base + '/api/v2/users-by-email?email=' + encodeURIComponent(event.user.email), { headers })
      .then((r) => r.json());
    const primary = users.find((u) => u.user_id !== event.user.user_id && u.email_verified);
    if (!primary) return;
    api.idToken.setCustomClaim('https://test/seen', { user: event.user.user_id, connection: event.connection.name });
    api.user.setAppMetadata('linked_from', event.user.user_id);
    const mode = event.secrets.MODE;
    if (mode === 'switch' || mode === 'no-switch') {
      const linked = await fetch(base + '/api/v2/users/' + encodeURIComponent(primary.user_id) + '/identities', {
        method: 'POST',
        headers,
        body: JSON.stringify({ provider: event.connection.strategy, user_id: event.user.user_id.split('|')[1] }),
      });
      if (linked.status !== 201) throw new Error('link refused: ' + linked.status);
    }
    if (mode === 'switch' || mode === 'not-linked') api.authentication.setPrimaryUser(primary.user_id);
    if (mode === 'unknown') api.authentication.setPrimaryUser('auth0|000000000000000000000000');
  };`;

  // The Management API token comes from the tenant's M2M application (client credentials), as a
  // linking Action's would, and reaches the Action as a secret.
  const install = async (mode: string) =>
    emu.installAction({
      name: 'linker',
      code: LINKER,
      secrets: { EMULATOR_URL: emu.url, MANAGEMENT_TOKEN: await m2mToken(emu.url, MANAGEMENT), MODE: mode },
    });

  it('continues the login as the primary the Action linked the account into: tokens, session, logins, metadata', async () => {
    await install('switch');
    const { password, google } = twoAccounts();
    const browser = new Browser(emu.url);

    const started = await authorize(browser);
    const { done } = await signInWithGoogle(started, 'ada@example.com');
    const { idToken } = await tokensFor(started, done.callback);

    expect(idToken).toMatchObject({
      sub: password,
      'https://test/seen': { user: google, connection: 'google-oauth2' },
    });
    expect(emu.getUser(google)).toBeUndefined();
    expect(emu.getUser(password)).toMatchObject({
      logins_count: 1,
      app_metadata: { linked_from: google },
      identities: [{ provider: 'auth0' }, { provider: 'google-oauth2', user_id: idPart(google) }],
    });
    expect(emu.state().flows.at(-1)).toMatchObject({
      outcome: 'allowed',
      userId: google,
      primaryUserId: password,
    });

    // The session is the primary's: silent SSO comes back as that user, through Google still.
    emu.installAction({ name: 'probe', code: PROBE });
    const silent = await authorize(browser, { prompt: 'none' });
    const { idToken: again } = await tokensFor(silent, silent.page.callback);
    expect(again.sub).toBe(password);
    expect(again['https://test/event']).toMatchObject({ user: password, connection: 'google-oauth2' });
    expect(emu.getUser(password)?.logins_count).toBe(2);
  });

  it('fails the login with server_error when the named user does not hold the identity, and changes nothing', async () => {
    await install('not-linked');
    const { password, google } = twoAccounts();

    const started = await authorize(new Browser(emu.url));
    const { done } = await signInWithGoogle(started, 'ada@example.com');

    expect(done.callback?.searchParams.get('error')).toBe('server_error');
    expect(done.callback?.searchParams.get('error_description')).toBe(
      `api.authentication.setPrimaryUser: the identity that logged in (${google}) is not linked to the user ${password}`,
    );
    expect(done.callback?.searchParams.get('code')).toBeNull();
    expect(started.browser.hasCookie('auth0')).toBe(false);
    // Both accounts stay as they were: no link, no metadata, no login for the named user.
    expect(emu.getUser(google)).toMatchObject({
      identities: [{ provider: 'google-oauth2' }],
      logins_count: 1,
    });
    expect(emu.getUser(google)?.app_metadata).toBeUndefined();
    expect(emu.getUser(password)).toMatchObject({ identities: [{ provider: 'auth0' }] });
    expect(emu.getUser(password)?.logins_count).toBeUndefined();
  });

  it('refuses the login when the primary it switches to is blocked', async () => {
    await install('switch');
    const { password } = twoAccounts();
    await sdk().users.update(password, { blocked: true });

    const started = await authorize(new Browser(emu.url));
    const { done } = await signInWithGoogle(started, 'ada@example.com');

    expect(done.callback?.searchParams.get('error')).toBe('unauthorized');
    expect(done.callback?.searchParams.get('error_description')).toBe('user is blocked');
    expect(done.callback?.searchParams.get('code')).toBeNull();
    expect(started.browser.hasCookie('auth0')).toBe(false);
  });

  it('fails the login with server_error for a user that does not exist', async () => {
    await install('unknown');
    twoAccounts();

    const started = await authorize(new Browser(emu.url));
    const { done } = await signInWithGoogle(started, 'ada@example.com');

    expect(done.callback?.searchParams.get('error')).toBe('server_error');
    expect(done.callback?.searchParams.get('error_description')).toBe(
      'api.authentication.setPrimaryUser: the user auth0|000000000000000000000000 does not exist',
    );
    expect(done.callback?.searchParams.get('code')).toBeNull();
  });

  it('fails a login whose user was linked away without the switch; the next login is the primary’s', async () => {
    await install('no-switch');
    const { password, google } = twoAccounts();

    const started = await authorize(new Browser(emu.url));
    const { done } = await signInWithGoogle(started, 'ada@example.com');

    expect(done.callback?.searchParams.get('error')).toBe('server_error');
    expect(done.callback?.searchParams.get('error_description')).toBe(
      `the user ${google} was linked into ${password} during the login; call api.authentication.setPrimaryUser('${password}') to continue as that user`,
    );
    expect(started.browser.hasCookie('auth0')).toBe(false);

    emu.installAction({ name: 'probe', code: PROBE });
    const next = await authorize(new Browser(emu.url));
    const { done: nextDone } = await signInWithGoogle(next, 'ada@example.com');
    const { idToken } = await tokensFor(next, nextDone.callback);
    expect(idToken.sub).toBe(password);
  });

  it('is part of the emulator’s typed api object, which covers what the product’s Action calls', () => {
    expectTypeOf<PostLoginApi['authentication']['setPrimaryUser']>().toEqualTypeOf<
      (primaryUserId: string) => void
    >();
    expectTypeOf<PostLoginApi>().toExtend<API>();
  });
});
