/**
 * The invite link token: a compact JWS (EdDSA over Ed25519) that names an invite and one link,
 * and nothing else. Possession of the link proves the mailbox; email, roles and data stay
 * server-side, so a leaked or logged token discloses no personal data. Checks follow RFC 8725:
 * a one-entry algorithm allow-list, an explicit `typ`, exact `iss` and `aud`, keys chosen by
 * `kid` from a fixed set (never from the token itself), and required claims.
 */
import {
  SignJWT,
  calculateJwkThumbprint,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
} from 'jose';
import type { CryptoKey, JWK, JWTHeaderParameters } from 'jose';

/** The only JWS algorithm links are signed and verified with. */
export const LINK_TOKEN_ALG = 'EdDSA';
/** The `typ` header of a link token, so no other JWT signed by the same key passes as a link. */
export const LINK_TOKEN_TYPE = 'inviteflow-link+jwt';

// A link token is a few hundred characters; refusing anything far larger keeps a hostile URL
// from making us parse megabytes of base64.
const MAX_TOKEN_LENGTH = 2048;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

/** What a link token says: which invite, which link, until when. */
export interface LinkClaims {
  /** The invite id (`sub`). */
  inviteId: string;
  /** The link id (`jti`), fresh for every email; the workflow knows which ones it issued. */
  jti: string;
  /** The invite expiry (`exp`), to the second. */
  expiresAt: Date;
}

/** Stable reasons a link token is refused; callers switch on these, never on messages. */
export type LinkTokenErrorCode =
  | 'ERR_LINK_MALFORMED'
  | 'ERR_LINK_ALGORITHM'
  | 'ERR_LINK_UNKNOWN_KEY'
  | 'ERR_LINK_SIGNATURE'
  | 'ERR_LINK_CLAIMS'
  | 'ERR_LINK_EXPIRED';

const MESSAGES: Record<LinkTokenErrorCode, string> = {
  ERR_LINK_MALFORMED: 'The link token is malformed',
  ERR_LINK_ALGORITHM: 'The link token uses an algorithm that is not allowed',
  ERR_LINK_UNKNOWN_KEY: 'The link token was signed with a key that is not (or no longer) trusted',
  ERR_LINK_SIGNATURE: 'The link token signature is invalid',
  ERR_LINK_CLAIMS: 'The link token claims are invalid',
  ERR_LINK_EXPIRED: 'The link token has expired',
};

/** A refused link token. The message never contains the token. */
export class LinkTokenError extends Error {
  override readonly name = 'LinkTokenError';

  /**
   * For ERR_LINK_EXPIRED only: the invite and link the token names, read after its signature,
   * issuer and audience were checked, so a page can say whether the invite itself lives on
   * (extended) and speak its language. Never a reason to accept the token.
   */
  readonly expired?: { inviteId: string; jti: string };

  constructor(
    readonly code: LinkTokenErrorCode,
    detail?: string,
    expired?: { inviteId: string; jti: string },
  ) {
    super(detail === undefined ? MESSAGES[code] : `${MESSAGES[code]}: ${detail}`);
    if (expired) this.expired = expired;
  }
}

/** Signs link tokens with the current signing key. */
export interface LinkSigner {
  /** Mints the token of one link. */
  mint(claims: LinkClaims): Promise<string>;
}

/** Verifies link tokens against the trusted verification keys. */
export interface LinkVerifier {
  /** Resolves with the claims of a valid token; rejects with a `LinkTokenError` otherwise. */
  verify(token: string): Promise<LinkClaims>;
}

/** Builds a signer around one private Ed25519 JWK with a `kid`; the key is imported once. */
export function createLinkSigner(opts: { signingKey: JWK; issuer: string; audience: string }): LinkSigner {
  const { kid } = assertLinkKey(opts.signingKey, 'private');
  assertNonEmpty(opts.issuer, 'issuer');
  assertNonEmpty(opts.audience, 'audience');
  const key = once(() => importJWK(keyMaterial(opts.signingKey), LINK_TOKEN_ALG) as Promise<CryptoKey>);

  return {
    async mint({ inviteId, jti, expiresAt }) {
      assertNonEmpty(inviteId, 'inviteId');
      assertNonEmpty(jti, 'jti');
      if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) {
        throw new TypeError('expiresAt must be a valid Date');
      }
      // Only these claims: anything added here ends up in every inbox, log line and proxy.
      return new SignJWT({})
        .setProtectedHeader({ alg: LINK_TOKEN_ALG, kid, typ: LINK_TOKEN_TYPE })
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setSubject(inviteId)
        .setJti(jti)
        .setIssuedAt()
        .setExpirationTime(expiresAt)
        .sign(await key());
    },
  };
}

/**
 * Builds a verifier that trusts the given public Ed25519 JWKs (each with a distinct `kid`).
 * Rotation: add the new public key everywhere, then switch the signing key, then remove the old
 * public key once the longest-lived link signed with it has expired.
 */
export function createLinkVerifier(opts: {
  verificationKeys: JWK[];
  issuer: string;
  audience: string;
  /** Allowed clock skew when checking `exp`, in seconds (default 30). */
  clockToleranceSeconds?: number;
}): LinkVerifier {
  assertNonEmpty(opts.issuer, 'issuer');
  assertNonEmpty(opts.audience, 'audience');
  if (opts.verificationKeys.length === 0) throw new TypeError('at least one verification key is required');
  const kids = new Set<string>();
  for (const jwk of opts.verificationKeys) {
    const { kid } = assertLinkKey(jwk, 'public');
    if (kids.has(kid)) throw new TypeError(`duplicate verification key id "${kid}"`);
    kids.add(kid);
  }
  const keys = once(async () => {
    const entries = await Promise.all(
      opts.verificationKeys.map(
        async (jwk) => [jwk.kid!, (await importJWK(keyMaterial(jwk), LINK_TOKEN_ALG)) as CryptoKey] as const,
      ),
    );
    return new Map(entries);
  });
  const clockTolerance = opts.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;

  return {
    async verify(token) {
      if (!isCanonicalCompactJws(token)) throw new LinkTokenError('ERR_LINK_MALFORMED');
      // Awaited outside the try: a key that fails to import is a configuration error, not the
      // token's fault, and must not be reported as a bad link.
      const trusted = await keys();
      const resolveKey = (header: JWTHeaderParameters): CryptoKey => {
        if (typeof header.kid !== 'string' || header.kid === '') {
          throw new LinkTokenError('ERR_LINK_MALFORMED', 'no key id');
        }
        const key = trusted.get(header.kid);
        if (key === undefined) throw new LinkTokenError('ERR_LINK_UNKNOWN_KEY');
        return key;
      };

      let payload: Record<string, unknown>;
      let header: JWTHeaderParameters;
      try {
        const result = await jwtVerify(token, resolveKey, {
          algorithms: [LINK_TOKEN_ALG],
          issuer: opts.issuer,
          audience: opts.audience,
          requiredClaims: ['sub', 'jti', 'iat', 'exp'],
          clockTolerance,
        });
        payload = result.payload;
        header = result.protectedHeader;
      } catch (err) {
        throw toLinkTokenError(err);
      }

      // Exact match (jose would also accept the `application/` form): we only ever mint this one.
      if (header.typ !== LINK_TOKEN_TYPE) throw new LinkTokenError('ERR_LINK_CLAIMS', 'unexpected typ');
      const { sub, jti, exp } = payload;
      if (typeof sub !== 'string' || sub === '') throw new LinkTokenError('ERR_LINK_CLAIMS', 'invalid sub');
      if (typeof jti !== 'string' || jti === '') throw new LinkTokenError('ERR_LINK_CLAIMS', 'invalid jti');
      if (typeof exp !== 'number') throw new LinkTokenError('ERR_LINK_CLAIMS', 'invalid exp');
      return { inviteId: sub, jti, expiresAt: new Date(exp * 1000) };
    },
  };
}

/** Generates a fresh Ed25519 key pair as JWKs; `kid` defaults to the RFC 7638 thumbprint. */
export async function generateLinkKey(kid?: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(LINK_TOKEN_ALG, { extractable: true });
  const publicMaterial = await exportJWK(publicKey);
  const keyId = kid ?? (await calculateJwkThumbprint(publicMaterial));
  assertNonEmpty(keyId, 'kid');
  const meta = { kid: keyId, alg: LINK_TOKEN_ALG, use: 'sig' } as const;
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...publicMaterial, ...meta },
  };
}

/** The public half of a link key (what the API's verification set needs). */
export function publicLinkKey(jwk: JWK): JWK {
  const { kid } = assertLinkKey(jwk, 'any');
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x!, kid, alg: LINK_TOKEN_ALG, use: 'sig' };
}

// Base64url leaves spare bits in a segment's last character, so several strings decode to the
// same token. Accepting only the canonical spelling makes a token's string unique, so the API can
// key rate limits or caches on it and a mutated link never passes for the original.
function isCanonicalCompactJws(token: unknown): token is string {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return false;
  const segments = token.split('.');
  return (
    segments.length === 3 &&
    segments.every(
      (segment) =>
        /^[A-Za-z0-9_-]*$/.test(segment) &&
        Buffer.from(segment, 'base64url').toString('base64url') === segment,
    )
  );
}

function toLinkTokenError(err: unknown): LinkTokenError {
  if (err instanceof LinkTokenError) return err;
  if (err instanceof errors.JOSEAlgNotAllowed) return new LinkTokenError('ERR_LINK_ALGORITHM');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new LinkTokenError('ERR_LINK_SIGNATURE');
  if (err instanceof errors.JWTExpired) {
    const { sub, jti } = err.payload;
    return new LinkTokenError('ERR_LINK_EXPIRED', undefined, typeof sub === 'string' && sub !== '' && typeof jti === 'string' && jti !== '' ? { inviteId: sub, jti } : undefined);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new LinkTokenError('ERR_LINK_CLAIMS', `${err.claim} ${err.reason}`);
  }
  // Everything else comes from decoding attacker-controlled bytes (bad base64, bad JSON, `crit`,
  // `b64: false`, …). jose's messages never include the token, but we drop them anyway.
  return new LinkTokenError('ERR_LINK_MALFORMED');
}

function assertLinkKey(jwk: JWK, kind: 'private' | 'public' | 'any'): { kid: string } {
  const label = typeof jwk.kid === 'string' && jwk.kid !== '' ? `link key "${jwk.kid}"` : 'link key';
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new TypeError(`${label} must be an Ed25519 (OKP) JWK`);
  }
  if (typeof jwk.kid !== 'string' || jwk.kid === '') throw new TypeError(`${label} must have a kid`);
  if (jwk.alg !== undefined && jwk.alg !== LINK_TOKEN_ALG)
    throw new TypeError(`${label} must be for ${LINK_TOKEN_ALG}`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new TypeError(`${label} must be a signature key`);
  if (kind === 'private' && typeof jwk.d !== 'string') throw new TypeError(`${label} must be a private key`);
  // The API only verifies; refusing private keys here keeps them out of its configuration.
  if (kind === 'public' && jwk.d !== undefined) throw new TypeError(`${label} must be a public key`);
  return { kid: jwk.kid };
}

// Import only the key material, so stray JWK members (`key_ops`, `ext`) cannot change how it is used.
function keyMaterial(jwk: JWK): JWK {
  return jwk.d === undefined
    ? { kty: 'OKP', crv: 'Ed25519', x: jwk.x! }
    : { kty: 'OKP', crv: 'Ed25519', x: jwk.x!, d: jwk.d };
}

function assertNonEmpty(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
}

// Keys are imported on first use and then reused; an import failure is deterministic for a given
// JWK, so it is kept and rethrown rather than retried.
function once<T>(init: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= init());
}
