// The emulated tenant's signing key and the JWTs it issues. Access tokens now; ID tokens for the
// login flow can reuse `signToken` with their own claims.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';

/** An RS256 key pair with the `kid` it is published under. */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/** Generates a fresh RS256 key; each emulator start has its own. */
export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = randomBytes(16).toString('base64url');
  const jwk = await exportJWK(publicKey);
  return { kid, privateKey, publicKey, publicJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' } };
}

/** Signs claims as Auth0 does: RS256, `typ: JWT`, the key's `kid`, `iat` and `exp`. */
export async function signToken(
  key: SigningKey,
  claims: JWTPayload,
  opts: { issuer: string; audience: string | string[]; subject: string; expiresInSeconds: number },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
    .setIssuer(opts.issuer)
    .setSubject(opts.subject)
    .setAudience(opts.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + opts.expiresInSeconds)
    .sign(key.privateKey);
}

/** Verifies a token this emulator issued (for `audience`, when given); throws jose's errors otherwise. */
export async function verifyToken(
  key: SigningKey,
  token: string,
  opts: { issuer: string; audience?: string; ignoreExpiry?: boolean },
): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, key.publicKey, {
    issuer: opts.issuer,
    ...(opts.audience === undefined ? {} : { audience: opts.audience }),
    algorithms: ['RS256'],
    // An expired ID token still names its application (a logout hint).
    ...(opts.ignoreExpiry ? { currentDate: new Date(0) } : {}),
  });
  return payload;
}
