// The Authentication API side of the emulated tenant: `/oauth/token` and the discovery documents.
// Grants are looked up by `grant_type`; each application may only use the grant types of its
// type, and public clients (SPAs) authenticate with PKCE instead of a secret. The browser calls
// the token endpoint from another origin, so it answers CORS for the applications' origins.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { signToken } from './tokens';
import { grantTypesOf } from './store';
import type { Auth0ClientRegistration, Auth0Store } from './store';

/** An OAuth error as Auth0's Authentication API answers it. */
export interface OAuthErrorBody {
  error: string;
  error_description: string;
}

/** What a grant handler answers: a status and a JSON body. */
export interface GrantResult {
  status: number;
  body: Record<string, unknown>;
}

/** Handles one `grant_type` for an authenticated application. */
export type GrantHandler = (ctx: {
  store: Auth0Store;
  client: Auth0ClientRegistration;
  params: Record<string, string>;
  request: FastifyRequest;
}) => Promise<GrantResult>;

function oauthError(status: number, error: string, description: string): GrantResult {
  const body: OAuthErrorBody = { error, error_description: description };
  return { status, body: { ...body } };
}

/** `client_credentials` as Auth0 does it: a client grant per audience, scopes narrowed on request. */
export function clientCredentialsGrant(opts: { tokenLifetimeSeconds: number }): GrantHandler {
  return async ({ store, client, params }) => {
    const audience = params.audience;
    if (!audience)
      return oauthError(
        403,
        'access_denied',
        'No audience parameter was provided, and no default audience has been configured',
      );
    const grant = store.grantFor(client, audience);
    if (!grant) {
      return oauthError(
        403,
        'access_denied',
        `Client is not authorized to access "${audience}". You need to create a "client-grant" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants`,
      );
    }
    // Auth0 silently drops requested scopes the grant does not include.
    const requested = params.scope?.split(' ').filter(Boolean);
    const scopes = requested ? grant.scopes.filter((s) => requested.includes(s)) : grant.scopes;
    const scope = scopes.join(' ');
    const accessToken = await signToken(
      store.key,
      { scope, gty: 'client-credentials', azp: client.clientId },
      {
        issuer: store.issuer,
        audience,
        subject: `${client.clientId}@clients`,
        expiresInSeconds: opts.tokenLifetimeSeconds,
      },
    );
    return {
      status: 200,
      body: { access_token: accessToken, token_type: 'Bearer', expires_in: opts.tokenLifetimeSeconds, scope },
    };
  };
}

function basicCredentials(
  header: string | undefined,
): { clientId: string; clientSecret: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    clientId: decodeURIComponent(decoded.slice(0, colon)),
    clientSecret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

function stringParams(body: unknown): Record<string, string> | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) if (typeof value === 'string') out[key] = value;
  return out;
}

/** Origins allowed to call the token endpoint and `/userinfo`: callback origins and Allowed Origins. */
export function allowedOrigins(store: Auth0Store): Set<string> {
  const origins = new Set<string>();
  for (const client of store.clients.values()) {
    for (const callback of client.callbacks ?? []) {
      try {
        origins.add(new URL(callback).origin);
      } catch {
        // A malformed callback URL allows no origin.
      }
    }
    for (const origin of client.allowedOrigins ?? []) origins.add(origin.replace(/\/+$/, ''));
  }
  return origins;
}

function cors(store: Auth0Store, request: FastifyRequest, reply: FastifyReply): void {
  const origin = request.headers.origin;
  void reply.header('vary', 'Origin');
  if (typeof origin === 'string' && allowedOrigins(store).has(origin))
    void reply.header('access-control-allow-origin', origin);
}

/** Registers CORS preflight answers for browser-called endpoints of the Authentication API. */
export function registerCors(app: FastifyInstance, opts: { store: Auth0Store; paths: string[] }): void {
  for (const path of opts.paths) {
    app.options(path, async (request, reply) => {
      cors(opts.store, request, reply);
      const requested = request.headers['access-control-request-headers'];
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header(
          'access-control-allow-headers',
          typeof requested === 'string' ? requested : 'authorization, content-type',
        )
        .header('access-control-max-age', '86400')
        .send();
    });
  }
  app.addHook('onSend', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (request.method !== 'OPTIONS' && opts.paths.includes(path)) cors(opts.store, request, reply);
  });
}

/** Registers `POST /oauth/token`, `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`. */
export function registerOAuthRoutes(
  app: FastifyInstance,
  opts: { store: Auth0Store; grants: Map<string, GrantHandler>; baseUrl: () => string },
): void {
  const { store, grants } = opts;

  app.post('/oauth/token', async (request, reply) => {
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const params = stringParams(request.body);
    if (!params) return reply.code(400).send(oauthError(400, 'invalid_request', 'Invalid request body').body);
    const grantType = params.grant_type;
    if (!grantType)
      return reply
        .code(400)
        .send(oauthError(400, 'invalid_request', 'Missing required parameter: grant_type').body);
    const handler = grants.get(grantType);
    if (!handler)
      return reply
        .code(400)
        .send(oauthError(400, 'unsupported_grant_type', `Unsupported grant type: ${grantType}`).body);
    const credentials = basicCredentials(request.headers.authorization) ?? {
      clientId: params.client_id ?? '',
      clientSecret: params.client_secret ?? '',
    };
    const client = store.authenticateClient(credentials.clientId, credentials.clientSecret);
    if (!client) return reply.code(401).send(oauthError(401, 'access_denied', 'Unauthorized').body);
    if (!grantTypesOf(client).includes(grantType))
      return reply
        .code(403)
        .send(
          oauthError(403, 'unauthorized_client', `Grant type '${grantType}' not allowed for the client.`)
            .body,
        );
    const result = await handler({ store, client, params, request });
    return reply.code(result.status).send(result.body);
  });

  app.get('/.well-known/jwks.json', () => ({ keys: [store.key.publicJwk] }));

  // Endpoints point at the reachable emulator; the issuer stays the tenant's https name, which is
  // what tokens carry and what Auth0 SDKs compare against.
  app.get('/.well-known/openid-configuration', () => {
    const base = opts.baseUrl();
    return {
      issuer: store.issuer,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/oauth/token`,
      userinfo_endpoint: `${base}/userinfo`,
      end_session_endpoint: `${base}/oidc/logout`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      grant_types_supported: [...grants.keys()],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      subject_types_supported: ['public'],
      claims_supported: [
        'aud',
        'auth_time',
        'email',
        'email_verified',
        'exp',
        'family_name',
        'given_name',
        'iat',
        'iss',
        'name',
        'nickname',
        'nonce',
        'picture',
        'sid',
        'sub',
        'updated_at',
      ],
    };
  });
}
