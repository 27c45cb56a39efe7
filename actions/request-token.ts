/**
 * The token the Action authenticates its calls to our API with: an HS256 JWT made by hand with
 * node:crypto (the Action bundles no npm module), with the contract's `iss`, `aud` and lifetime,
 * `sub` the Auth0 user logging in and a fresh `jti`. Tests that call the API as the Action does
 * sign with this same function, so the API is tested against the tokens the Action really sends.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { ACTION_TOKEN } from '../lib/action-contract';

const base64url = (input: string): string => Buffer.from(input).toString('base64url');

/** Signs an Action token; `iat` (seconds) and `lifetimeSeconds` default to now and the contract's. */
export function signActionToken(opts: { secret: string; subject?: string; iat?: number; lifetimeSeconds?: number; jti?: string }): string {
  const iat = opts.iat ?? Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({
      iss: ACTION_TOKEN.issuer,
      aud: ACTION_TOKEN.audience,
      ...(opts.subject === undefined ? {} : { sub: opts.subject }),
      iat,
      exp: iat + (opts.lifetimeSeconds ?? ACTION_TOKEN.lifetimeSeconds),
      jti: opts.jti ?? randomUUID(),
    }),
  );
  const signature = createHmac('sha256', opts.secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}
