// Stand-ins for Auth0's side of the post-login Action (not ours, so doubles are fine): an `event`
// shaped like the one Auth0 documents for post-login and an `api` that records what the Action
// asked for. Both are checked by the compiler against the interfaces the Action declares.
import type { API, Event } from '../../actions/post-login';

/** A post-login event as Auth0 documents it, for an email/password login carrying `query`. */
export function postLoginEvent(
  opts: {
    query?: Record<string, string>;
    secrets?: Record<string, string>;
    /** `email: undefined` stands for an account whose identity provider gave no email. */
    user?: Partial<{ user_id: string; email: string | undefined; email_verified: boolean }>;
    connection?: { name: string; strategy: string };
    protocol?: string;
    /** The roles Auth0 holds for the user (`event.authorization.roles`); default none. */
    roles?: string[];
  } = {},
): Event & Record<string, unknown> {
  const now = new Date().toISOString();
  const connection = opts.connection ?? { name: 'Username-Password-Authentication', strategy: 'auth0' };
  const userId = opts.user?.user_id ?? 'auth0|65f0c0ffee00000000000001';
  const email = opts.user && 'email' in opts.user ? opts.user.email : 'ada@example.com';
  // Built apart from the return so the compiler checks it against what the Action reads, while
  // the fields the Action ignores (Auth0 sends many) need not be declared there.
  const event = {
    authentication: { methods: [{ name: 'pwd', timestamp: now }] },
    authorization: { roles: opts.roles ?? [] },
    client: { client_id: 'inviteflow-spa', name: 'inviteflow customer space', metadata: {} },
    connection: { id: 'con_TestConnection01', ...connection, metadata: {} },
    request: {
      ip: '203.0.113.7',
      method: 'GET',
      hostname: 'inviteflow-dev.eu.auth0.com',
      user_agent: 'Mozilla/5.0',
      language: 'en',
      query: opts.query ?? {},
      body: {},
      geoip: { countryCode: 'FR', countryName: 'France', timeZone: 'Europe/Paris' },
    },
    stats: { logins_count: 1 },
    tenant: { id: 'inviteflow-dev' },
    transaction: {
      acr_values: [],
      locale: 'en',
      protocol: opts.protocol ?? 'oidc-basic-profile',
      redirect_uri: 'http://localhost:3000/callback',
      requested_scopes: ['openid', 'profile', 'email'],
      response_type: ['code'],
      ui_locales: [],
    },
    user: {
      user_id: userId,
      ...(email === undefined ? {} : { email }),
      email_verified: opts.user?.email_verified ?? false,
      name: email ?? userId,
      nickname: 'ada',
      picture: 'https://s.gravatar.com/avatar/x.png',
      created_at: now,
      updated_at: now,
      identities: [
        {
          connection: connection.name,
          provider: connection.strategy,
          user_id: userId.slice(userId.indexOf('|') + 1),
          isSocial: connection.strategy !== 'auth0',
        },
      ],
      app_metadata: {},
      user_metadata: {},
      multifactor: [],
    },
    secrets: opts.secrets ?? {},
  };
  return event;
}

/** What the Action asked of the `api` object. */
export interface RecordedApi {
  idToken: Record<string, unknown>;
  accessToken: Record<string, unknown>;
  denied?: string;
  /** `api.authentication.setPrimaryUser`'s argument, when called. */
  primaryUser?: string;
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
}

/** An `api` object with Auth0's post-login methods (each returns `api`, as Auth0's do) that records calls. */
export function recordingApi(): { api: API; calls: RecordedApi } {
  const calls: RecordedApi = { idToken: {}, accessToken: {}, appMetadata: {}, userMetadata: {} };
  const api: API = {
    access: {
      deny: (reason) => {
        calls.denied = reason;
        return api;
      },
    },
    authentication: {
      setPrimaryUser: (primaryUserId) => {
        calls.primaryUser = primaryUserId;
        return api;
      },
    },
    idToken: {
      setCustomClaim: (name, value) => {
        calls.idToken[name] = value;
        return api;
      },
    },
    accessToken: {
      setCustomClaim: (name, value) => {
        calls.accessToken[name] = value;
        return api;
      },
    },
    user: {
      setAppMetadata: (name, value) => {
        calls.appMetadata[name] = value;
        return api;
      },
      setUserMetadata: (name, value) => {
        calls.userMetadata[name] = value;
        return api;
      },
    },
  };
  return { api, calls };
}
