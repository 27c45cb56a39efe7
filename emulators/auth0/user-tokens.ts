// Tokens for people (as opposed to machine-to-machine tokens): the `authorization_code` grant with
// PKCE and single-use codes, the `refresh_token` grant (which runs post-login Actions again, with
// no `/authorize` query, as Auth0 does), the ID token and access token they issue, and `/userinfo`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ApplicationsStore } from './applications-store';
import type { LoginState, TokenGrant } from './login-state';
import type { GrantHandler, GrantResult } from './oauth';
import type { PostLoginFlow } from './post-login-flow';
import type { Auth0Store, StoredUser } from './store';
import { signToken, verifyToken } from './tokens';

/** Auth0's default ID token lifetime (10 hours). */
export const ID_TOKEN_LIFETIME_SECONDS = 36_000;
/** Auth0's default access token lifetime for an API (24 hours). */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 86_400;

// Claims Actions cannot set; Auth0 leaves them out of the token without failing the login.
const RESTRICTED_CLAIMS = new Set([
  'acr',
  'act',
  'active',
  'amr',
  'at_hash',
  'ath',
  'aud',
  'auth_time',
  'authorization_details',
  'azp',
  'c_hash',
  'client_id',
  'cnf',
  'cty',
  'entitlements',
  'exp',
  'groups',
  'gty',
  'iat',
  'iss',
  'jti',
  'may_act',
  'nbf',
  'nonce',
  'org_id',
  'org_name',
  'permissions',
  'roles',
  's_hash',
  'scope',
  'sid',
  'sub',
  'typ',
]);
const RESTRICTED_DOMAINS = /^https?:\/\/([^/]+\.)?(auth0\.com|webtask\.io|webtask\.run)(\/|$)/i;

/** The custom claims Auth0 would let through. */
export function allowedCustomClaims(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(claims).filter(([name]) => !RESTRICTED_CLAIMS.has(name) && !RESTRICTED_DOMAINS.test(name)),
  );
}

/** Standard OIDC claims of the user for the granted scopes (`profile`, `email`). */
export function profileClaims(user: StoredUser, scopes: string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  if (scopes.includes('profile')) {
    if (user.given_name !== undefined) claims.given_name = user.given_name;
    if (user.family_name !== undefined) claims.family_name = user.family_name;
    claims.nickname = user.nickname;
    claims.name = user.name;
    claims.picture = user.picture;
    claims.updated_at = user.updated_at;
  }
  if (scopes.includes('email')) {
    claims.email = user.email;
    claims.email_verified = user.email_verified;
  }
  return claims;
}

/** The tenant's APIs as the token endpoint needs them: defined scopes, RBAC and permissions. */
export type ResourceServers = Pick<ApplicationsStore, 'byIdentifier' | 'userPermissions'>;

// Scopes of OpenID Connect itself, which belong to the login rather than to an API.
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'address', 'phone', 'offline_access']);

/**
 * What a user's access token for `audience` carries, as Auth0 decides it: the requested OIDC
 * scopes and, of the requested API scopes, only those the API defines; with RBAC on
 * (`enforce_policies`) only those the user holds as a permission through a role, and with the
 * "add permissions" dialect (`…_authz`) a `permissions` claim listing all of them.
 */
export function accessTokenGrant(
  apis: ResourceServers,
  userId: string,
  scope: string,
  audience: string | undefined,
): { scope: string; permissions?: string[] } {
  const requested = scope.split(' ').filter(Boolean);
  const oidc = requested.filter((s) => OIDC_SCOPES.has(s));
  const rs = audience === undefined ? undefined : apis.byIdentifier(audience);
  if (!rs) return { scope: oidc.join(' ') };
  const defined = new Set(rs.scopes.map((s) => s.value));
  const held = rs.enforce_policies ? new Set(apis.userPermissions(userId, rs.identifier)) : undefined;
  const api = requested.filter((s) => !OIDC_SCOPES.has(s) && defined.has(s) && (!held || held.has(s)));
  const withPermissions =
    rs.token_dialect === 'access_token_authz' || rs.token_dialect === 'rfc9068_profile_authz';
  return {
    scope: [...oidc, ...api].join(' '),
    ...(rs.enforce_policies && withPermissions ? { permissions: [...(held ?? [])] } : {}),
  };
}

function oauthError(status: number, error: string, description: string): GrantResult {
  return { status, body: { error, error_description: description } };
}

/** Signs the ID token (when `openid` was granted) and the access token of a grant. */
export async function issueUserTokens(
  store: Auth0Store,
  state: LoginState,
  apis: ResourceServers,
  grant: TokenGrant,
  user: StoredUser,
  opts: { refreshToken?: string } = {},
): Promise<GrantResult> {
  const scopes = grant.scope.split(' ').filter(Boolean);
  const openid = scopes.includes('openid');
  const userinfo = `${store.issuer}userinfo`;
  // Without an API audience Auth0 issues a token only good for /userinfo; here it is a JWT too.
  const audience = grant.audience ? (openid ? [grant.audience, userinfo] : grant.audience) : userinfo;
  const jti = randomBytes(16).toString('hex');
  const idCustom = allowedCustomClaims(grant.idTokenClaims);
  const access = accessTokenGrant(apis, user.user_id, grant.scope, grant.audience);
  const accessToken = await signToken(
    store.key,
    {
      ...allowedCustomClaims(grant.accessTokenClaims),
      azp: grant.clientId,
      scope: access.scope,
      ...(access.permissions === undefined ? {} : { permissions: access.permissions }),
      jti,
    },
    {
      issuer: store.issuer,
      audience,
      subject: user.user_id,
      expiresInSeconds: ACCESS_TOKEN_LIFETIME_SECONDS,
    },
  );
  state.rememberUserinfo(jti, idCustom);
  const body: Record<string, unknown> = {
    access_token: accessToken,
    scope: access.scope,
    expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
    token_type: 'Bearer',
  };
  if (openid) {
    body.id_token = await signToken(
      store.key,
      {
        ...idCustom,
        ...profileClaims(user, scopes),
        ...(grant.sessionId === undefined ? {} : { sid: grant.sessionId }),
        ...(grant.nonce === undefined ? {} : { nonce: grant.nonce }),
        auth_time: grant.authTime,
      },
      {
        issuer: store.issuer,
        audience: grant.clientId,
        subject: user.user_id,
        expiresInSeconds: ID_TOKEN_LIFETIME_SECONDS,
      },
    );
  }
  if (opts.refreshToken !== undefined) body.refresh_token = opts.refreshToken;
  return { status: 200, body };
}

function pkceMatches(verifier: string, challenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

function refreshTokenFor(state: LoginState, grant: TokenGrant, family?: string): string | undefined {
  if (!grant.scope.split(' ').includes('offline_access')) return undefined;
  return state.issueRefreshToken({
    ...(family === undefined ? {} : { family }),
    clientId: grant.clientId,
    userId: grant.userId,
    ...(grant.sessionId === undefined ? {} : { sessionId: grant.sessionId }),
    scope: grant.scope,
    ...(grant.audience === undefined ? {} : { audience: grant.audience }),
    authTime: grant.authTime,
  });
}

/** `authorization_code` with PKCE (S256): codes are single-use and bound to client and redirect URI. */
export function authorizationCodeGrant(opts: { state: LoginState; apis: ResourceServers }): GrantHandler {
  return async ({ store, client, params }) => {
    const { code, redirect_uri: redirectUri, code_verifier: verifier } = params;
    if (!code) return oauthError(400, 'invalid_request', 'Missing required parameter: code');
    const entry = opts.state.redeemCode(code);
    if (!entry || entry.clientId !== client.clientId)
      return oauthError(403, 'invalid_grant', 'Invalid authorization code');
    if (redirectUri !== entry.redirectUri) return oauthError(403, 'invalid_grant', 'Invalid redirect_uri');
    if (!verifier) return oauthError(403, 'invalid_grant', 'Parameter code_verifier is required');
    if (!pkceMatches(verifier, entry.codeChallenge))
      return oauthError(403, 'invalid_grant', 'Failed to verify code verifier');
    const user = store.users.get(entry.userId);
    if (!user || user.blocked) return oauthError(403, 'invalid_grant', 'user is blocked');
    const refreshToken = refreshTokenFor(opts.state, entry);
    return issueUserTokens(
      store,
      opts.state,
      opts.apis,
      entry,
      user,
      refreshToken === undefined ? {} : { refreshToken },
    );
  };
}

/**
 * `refresh_token`: Auth0 runs the post-login flow on each exchange with protocol
 * `oauth2-refresh-token` and no `/authorize` query, so Actions must not expect their parameters.
 */
export function refreshTokenGrant(opts: {
  state: LoginState;
  flow: PostLoginFlow;
  apis: ResourceServers;
}): GrantHandler {
  return async ({ store, client, params, request }) => {
    const token = params.refresh_token;
    if (!token) return oauthError(400, 'invalid_request', 'Missing required parameter: refresh_token');
    const grant = opts.state.rotateRefreshToken(token);
    if (!grant || grant.clientId !== client.clientId)
      return oauthError(403, 'invalid_grant', 'Unknown or invalid refresh token.');
    const user = store.users.get(grant.userId);
    if (!user || user.blocked) return oauthError(403, 'invalid_grant', 'Unknown or invalid refresh token.');
    const result = await opts.flow.run({
      user,
      client,
      request,
      query: {},
      body: Object.fromEntries(
        Object.entries(params).filter(([k]) => k !== 'client_secret' && k !== 'refresh_token'),
      ),
      protocol: 'oauth2-refresh-token',
      scope: grant.scope,
      ...(grant.audience === undefined ? {} : { audience: grant.audience }),
      ...(grant.sessionId === undefined ? {} : { sessionId: grant.sessionId }),
      methods: [],
    });
    if (result.outcome === 'denied')
      return oauthError(403, 'access_denied', result.denyReason ?? 'Access denied');
    if (result.outcome === 'failed')
      return oauthError(500, 'server_error', result.failure ?? 'Action failed');
    const subject = result.subject ?? user;
    const renewed = {
      ...grant,
      userId: subject.user_id,
      scope: adjustScope(grant.scope, result.addedScopes, result.removedScopes),
      idTokenClaims: result.idTokenClaims,
      accessTokenClaims: result.accessTokenClaims,
    };
    // Rotation: the application gets a new refresh token of the same family with every exchange.
    const refreshToken = refreshTokenFor(opts.state, { ...renewed, scope: grant.scope }, grant.family);
    return issueUserTokens(
      store,
      opts.state,
      opts.apis,
      renewed,
      subject,
      refreshToken === undefined ? {} : { refreshToken },
    );
  };
}

/** The granted scope after `api.accessToken.addScope` / `removeScope`. */
export function adjustScope(scope: string, added: string[], removed: string[]): string {
  const scopes = new Set(scope.split(' ').filter(Boolean));
  for (const s of added) scopes.add(s);
  for (const s of removed) scopes.delete(s);
  return [...scopes].join(' ');
}

/** Registers `GET /userinfo`: the profile for the access token's scopes, plus the ID token's custom claims. */
export function registerUserinfoRoute(
  app: FastifyInstance,
  opts: { store: Auth0Store; state: LoginState },
): void {
  app.get('/userinfo', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const token = header.toLowerCase().startsWith('bearer ') ? header.slice('bearer '.length).trim() : '';
    const unauthorized = () =>
      reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="userinfo", error="invalid_token"')
        .send('Unauthorized');
    if (!token) return unauthorized();
    try {
      const payload = await verifyToken(opts.store.key, token, {
        issuer: opts.store.issuer,
        audience: `${opts.store.issuer}userinfo`,
      });
      const user = typeof payload.sub === 'string' ? opts.store.users.get(payload.sub) : undefined;
      if (!user) return unauthorized();
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
      return {
        sub: user.user_id,
        ...profileClaims(user, scopes),
        ...opts.state.userinfo(typeof payload.jti === 'string' ? payload.jti : undefined),
      };
    } catch {
      return unauthorized();
    }
  });
}
