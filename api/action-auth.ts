/**
 * Authentication of the Auth0 post-login Action calling `POST /v1/redemptions`: a short-lived
 * HS256 JWT signed with `ACTION_SECRET`, which only the Action and the API hold.
 *
 * Replay: each `jti` is accepted once and remembered until the token expires (at most five
 * minutes). The memory is per process: with several API replicas a captured token can be
 * replayed once on each of them within those minutes. That has no effect of its own: the Action
 * binds `sub`, so the route refuses the token for any other account, and for the same account
 * the `redeem` update answers the idempotent repeat (the workflow refuses every other account
 * even without `sub`). `test/integration/api/replicas.test.ts` replays a token on a second replica.
 */
import { errors, jwtVerify } from 'jose';
import { ACTION_TOKEN } from '../lib/action-contract';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors';

/** `iss` of the Action's tokens (from the Action's contract). */
export const ACTION_TOKEN_ISSUER = ACTION_TOKEN.issuer;
/** `aud` of the Action's tokens (from the Action's contract). */
export const ACTION_TOKEN_AUDIENCE = ACTION_TOKEN.audience;
/** The longest life (`exp - iat`) an Action token may have, in seconds. */
export const ACTION_TOKEN_MAX_LIFETIME_SECONDS = 300;

const CLOCK_TOLERANCE_SECONDS = 30;
// Bounds memory even under a flood of valid tokens (only possible with the secret).
const MAX_REMEMBERED = 100_000;

/** What a valid Action token says. */
export interface ActionClaims {
  jti: string;
  /** The Auth0 user id the Action is logging in, when the Action binds it. */
  sub?: string;
}

/** Verifies Action tokens and refuses replays. */
export interface ActionAuth {
  /** Resolves with the claims, or rejects with a 401 `ApiError`; a success consumes the `jti`. */
  verify(authorization: string | undefined): Promise<ActionClaims>;
}

/** Builds the verifier around the shared secret. */
export function createActionAuth(opts: { secret: string; now?: () => number }): ActionAuth {
  if (opts.secret.length < 32) throw new TypeError('the Action secret must be at least 32 characters');
  // Imported once: given raw bytes, jose would import a WebCrypto key on every verification.
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(opts.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const now = opts.now ?? Date.now;
  const seen = new Map<string, number>(); // jti → expiry (ms), in insertion order

  const forget = () => {
    const t = now();
    for (const [jti, exp] of seen) {
      if (exp + CLOCK_TOLERANCE_SECONDS * 1000 > t) break;
      seen.delete(jti);
    }
    while (seen.size >= MAX_REMEMBERED) seen.delete(seen.keys().next().value!);
  };

  const unauthorized = (description: string) =>
    new ApiError('unauthorized', description, undefined, {
      'www-authenticate': `Bearer realm="inviteflow-action", error="invalid_token", error_description="${description}"`,
    });

  return {
    async verify(authorization) {
      const match = typeof authorization === 'string' ? /^Bearer ([A-Za-z0-9._-]{1,4096})$/.exec(authorization) : null;
      if (!match) {
        throw new ApiError('unauthorized', 'The Action token is missing', undefined, {
          'www-authenticate': 'Bearer realm="inviteflow-action"',
        });
      }
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(match[1]!, await key, {
          algorithms: ['HS256'],
          issuer: ACTION_TOKEN_ISSUER,
          audience: ACTION_TOKEN_AUDIENCE,
          requiredClaims: ['iat', 'exp', 'jti'],
          maxTokenAge: ACTION_TOKEN_MAX_LIFETIME_SECONDS,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(now()),
        }));
      } catch (err) {
        throw unauthorized(err instanceof errors.JWTExpired ? 'The Action token expired' : 'The Action token is invalid');
      }
      const { jti, iat, exp, sub } = payload as { jti: unknown; iat: number; exp: number; sub?: unknown };
      if (typeof jti !== 'string' || jti === '' || jti.length > 200) throw unauthorized('The Action token is invalid');
      // A long-lived token would widen the replay window the jti memory has to cover.
      if (exp - iat > ACTION_TOKEN_MAX_LIFETIME_SECONDS) throw unauthorized('The Action token lives too long');
      forget();
      if (seen.has(jti)) throw unauthorized('The Action token was already used');
      // Arrival order is close enough to expiry order for `forget`: lifetimes differ by at most
      // five minutes, so an expired entry waits at most that long behind a live one.
      seen.set(jti, exp * 1000);
      return { jti, ...(typeof sub === 'string' ? { sub } : {}) };
    },
  };
}

/**
 * The Action token of the routes the Action calls: `verify` as their `onRequest` hook, then
 * `checkUser` in the handler refuses a body for another account than the token was bound to.
 */
export function actionTokenBinding(auth: ActionAuth): {
  verify: (request: FastifyRequest) => Promise<void>;
  checkUser: (request: FastifyRequest, userId: string) => void;
} {
  // The `sub` each request's token was bound to, kept between the hook and the handler.
  const subjects = new WeakMap<object, string | undefined>();
  return {
    verify: async (request) => {
      const claims = await auth.verify(request.headers.authorization);
      request.log.debug({ jti: claims.jti }, 'action token accepted');
      subjects.set(request, claims.sub);
    },
    checkUser: (request, userId) => {
      const bound = subjects.get(request);
      if (bound === undefined || bound === userId) return;
      throw new ApiError('unauthorized', 'The Action token was issued for another user', undefined, {
        'www-authenticate': 'Bearer realm="inviteflow-action", error="invalid_token"',
      });
    },
  };
}
