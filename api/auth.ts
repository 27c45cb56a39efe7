/**
 * Bearer authentication of the funnel and operators: OAuth2 access tokens from the configured
 * issuer (Auth0, or the emulator locally), verified against the issuer's JWKS with an algorithm
 * allow-list, exact `iss` and `aud`, and scopes from `scope` (space-separated) or `permissions`
 * (where Auth0 puts RBAC permissions). Errors follow RFC 6750: 401 with `WWW-Authenticate:
 * Bearer`, 403 `insufficient_scope`.
 */
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors';

/** The scopes the API checks. */
export type Scope = 'invites:create' | 'invites:read' | 'invites:write' | 'invites:decode';

/** Who called, as the access token says. */
export interface Principal {
  /** `sub`: a user id, or `<client_id>@clients` for a machine-to-machine application. */
  subject: string;
  scopes: ReadonlySet<string>;
}

/** Options of `createBearerAuth`. */
export interface BearerAuthOptions {
  issuer: string;
  audience: string;
  /** The issuer's JWKS; keys are fetched on demand and cached by `jose`. */
  jwksUrl: string;
  /** Replaces the remote key set (tests, or keys pinned by configuration). */
  keys?: JWTVerifyGetKey;
}

/** Verifies bearer tokens and checks scopes. */
export interface BearerAuth {
  /** Resolves with the caller, or rejects with a 401/403/503 `ApiError`. */
  authorize(request: FastifyRequest, scope: Scope): Promise<Principal>;
}

const REALM = 'inviteflow';
const ALGORITHMS = ['RS256', 'ES256'];
const MAX_TOKEN_LENGTH = 8192;

/** Builds the verifier; the JWKS is fetched lazily, so start-up never waits on the issuer. */
export function createBearerAuth(opts: BearerAuthOptions): BearerAuth {
  const keys = opts.keys ?? createRemoteJWKSet(new URL(opts.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });

  const unauthorized = (description?: string) =>
    new ApiError('unauthorized', description ?? 'A bearer access token is required', undefined, {
      'www-authenticate': description
        ? `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`
        : `Bearer realm="${REALM}"`,
    });

  return {
    async authorize(request, scope) {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
      if (!match) throw unauthorized(header ? 'The authorization header is malformed' : undefined);
      const token = match[1]!;
      if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('The access token is invalid');

      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: opts.issuer,
          audience: opts.audience,
          algorithms: ALGORITHMS,
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (err) {
        // The issuer being unreachable is our problem, not the caller's: no 401 that would make a
        // client throw its token away.
        if (err instanceof errors.JWKSTimeout || (err instanceof Error && !(err instanceof errors.JOSEError))) {
          throw new ApiError('service_unavailable', 'The token issuer could not be reached', undefined, { 'retry-after': '5' });
        }
        throw unauthorized(err instanceof errors.JWTExpired ? 'The access token expired' : 'The access token is invalid');
      }

      const scopes = new Set<string>();
      if (typeof payload.scope === 'string') for (const s of payload.scope.split(' ')) if (s) scopes.add(s);
      if (Array.isArray(payload.permissions)) for (const p of payload.permissions) if (typeof p === 'string') scopes.add(p);
      if (!scopes.has(scope)) {
        throw new ApiError('insufficient_scope', `The access token lacks the "${scope}" scope`, undefined, {
          'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${scope}"`,
        });
      }
      return { subject: String(payload.sub), scopes };
    },
  };
}
