// The link token is the only thing standing between a URL and an invite, so every classic JWT
// forgery is tried here and must be refused with its own stable code.
import fc from 'fast-check';
import { SignJWT, base64url, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LINK_TOKEN_TYPE,
  LinkTokenError,
  createLinkSigner,
  createLinkVerifier,
  generateLinkKey,
  publicLinkKey,
} from '../../lib/token';
import type { LinkClaims, LinkTokenErrorCode } from '../../lib/token';

const issuer = 'https://invites.example.com';
const audience = 'inviteflow-link';
const inAWeek = () => new Date(Date.now() + 7 * 24 * 3600 * 1000);
const claims = (): LinkClaims => ({ inviteId: 'inv_7GQ2X', jti: 'c0ffee00-link', expiresAt: inAWeek() });
const toSeconds = (d: Date) => Math.floor(d.getTime() / 1000);

let current: { privateJwk: JWK; publicJwk: JWK };
let previous: { privateJwk: JWK; publicJwk: JWK };
let attacker: { privateJwk: JWK; publicJwk: JWK };
let verifier: ReturnType<typeof createLinkVerifier>;
let signer: ReturnType<typeof createLinkSigner>;

beforeAll(async () => {
  current = await generateLinkKey('link-2025-06');
  previous = await generateLinkKey('link-2025-01');
  attacker = await generateLinkKey();
  signer = createLinkSigner({ signingKey: current.privateJwk, issuer, audience });
  verifier = createLinkVerifier({
    verificationKeys: [current.publicJwk, previous.publicJwk],
    issuer,
    audience,
  });
});

async function refusal(token: string, v = verifier): Promise<LinkTokenError> {
  const err: unknown = await v.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LinkTokenError);
  const linkErr = err as LinkTokenError;
  // Refusals get logged and shown: they must never carry the token or a piece of it.
  for (const part of token.split('.').filter((p) => p.length > 8))
    expect(linkErr.message).not.toContain(part);
  return linkErr;
}

async function expectCode(token: string, code: LinkTokenErrorCode, v = verifier): Promise<void> {
  expect((await refusal(token, v)).code).toBe(code);
}

// Signs an arbitrary header and payload with our real private key, bypassing jose's own checks:
// what a bug in the minting code (or another service sharing the key) could produce.
async function signWithCurrent(header: Record<string, unknown>, payload: JWTPayload): Promise<string> {
  const key = (await importJWK(
    { ...current.privateJwk, alg: undefined, use: undefined },
    'EdDSA',
  )) as CryptoKey;
  const input = `${segment({ alg: 'EdDSA', ...header })}.${segment(payload)}`;
  const signature = await crypto.subtle.sign('Ed25519', key, new TextEncoder().encode(input));
  return `${input}.${base64url.encode(new Uint8Array(signature))}`;
}

const validPayload = (): JWTPayload => ({
  iss: issuer,
  aud: audience,
  sub: 'inv_7GQ2X',
  jti: 'c0ffee00-link',
  iat: toSeconds(new Date()),
  exp: toSeconds(inAWeek()),
});

const segment = (value: unknown) => base64url.encode(JSON.stringify(value));

describe('link token round trip', () => {
  it('verifies to the invite id, link id and expiry it was minted with', async () => {
    const input = claims();
    const token = await signer.mint(input);
    const verified = await verifier.verify(token);
    expect(verified).toEqual({
      inviteId: input.inviteId,
      jti: input.jti,
      expiresAt: new Date(toSeconds(input.expiresAt) * 1000),
    });
  });

  it('carries exactly the agreed header and claims, nothing personal', async () => {
    const token = await signer.mint(claims());
    const [h, p] = token.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    expect(header).toEqual({ alg: 'EdDSA', kid: 'link-2025-06', typ: LINK_TOKEN_TYPE });
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sub']);
    expect(payload).toMatchObject({ iss: issuer, aud: audience, sub: 'inv_7GQ2X', jti: 'c0ffee00-link' });
  });

  it('gives each link its own token', async () => {
    const a = await signer.mint({ ...claims(), jti: 'link-1' });
    const b = await signer.mint({ ...claims(), jti: 'link-2' });
    expect(a).not.toBe(b);
    expect((await verifier.verify(a)).jti).toBe('link-1');
    expect((await verifier.verify(b)).jti).toBe('link-2');
  });

  it('refuses to mint without an invite id, a link id or a valid expiry', async () => {
    await expect(signer.mint({ ...claims(), inviteId: '' })).rejects.toThrow(TypeError);
    await expect(signer.mint({ ...claims(), jti: '' })).rejects.toThrow(TypeError);
    await expect(signer.mint({ ...claims(), expiresAt: new Date('nope') })).rejects.toThrow(TypeError);
  });
});

describe('key rotation', () => {
  it('keeps verifying links signed by the previous key while its public key is trusted', async () => {
    const oldSigner = createLinkSigner({ signingKey: previous.privateJwk, issuer, audience });
    const oldToken = await oldSigner.mint(claims());
    const newToken = await signer.mint(claims());
    expect((await verifier.verify(oldToken)).inviteId).toBe('inv_7GQ2X');
    expect((await verifier.verify(newToken)).inviteId).toBe('inv_7GQ2X');

    const afterRotation = createLinkVerifier({ verificationKeys: [current.publicJwk], issuer, audience });
    expect((await afterRotation.verify(newToken)).inviteId).toBe('inv_7GQ2X');
    await expectCode(oldToken, 'ERR_LINK_UNKNOWN_KEY', afterRotation);
  });

  it('derives the public half of a signing key for the verification set', async () => {
    const pub = publicLinkKey(current.privateJwk);
    expect(pub).not.toHaveProperty('d');
    const v = createLinkVerifier({ verificationKeys: [pub], issuer, audience });
    expect((await v.verify(await signer.mint(claims()))).jti).toBe('c0ffee00-link');
  });

  it('defaults the key id to the RFC 7638 thumbprint', async () => {
    const { privateJwk, publicJwk } = await generateLinkKey();
    expect(publicJwk.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(privateJwk.kid).toBe(publicJwk.kid);
  });

  it('refuses keys that cannot be right at construction', () => {
    const verify = (keys: JWK[]) => () => createLinkVerifier({ verificationKeys: keys, issuer, audience });
    expect(verify([current.privateJwk])).toThrow(/public key/);
    expect(verify([current.publicJwk, { ...current.publicJwk }])).toThrow(/duplicate/);
    expect(verify([{ ...current.publicJwk, kid: undefined }])).toThrow(/kid/);
    expect(verify([{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'ec' }])).toThrow(/Ed25519/);
    expect(verify([])).toThrow(/at least one/);
    expect(() => createLinkSigner({ signingKey: current.publicJwk, issuer, audience })).toThrow(
      /private key/,
    );
    expect(() =>
      createLinkSigner({ signingKey: { ...current.privateJwk, alg: 'ES256' }, issuer, audience }),
    ).toThrow(/EdDSA/);
  });
});

describe('forged and broken tokens', () => {
  it('refuses alg "none"', async () => {
    const header = segment({ alg: 'none', typ: LINK_TOKEN_TYPE, kid: 'link-2025-06' });
    await expectCode(`${header}.${segment(validPayload())}.`, 'ERR_LINK_ALGORITHM');
  });

  it('refuses HS256 signed with the public key as the HMAC secret (key confusion)', async () => {
    const header = { alg: 'HS256', typ: LINK_TOKEN_TYPE, kid: 'link-2025-06' };
    for (const secret of [
      base64url.decode(current.publicJwk.x!),
      new TextEncoder().encode(JSON.stringify(current.publicJwk)),
    ]) {
      const token = await new SignJWT(validPayload()).setProtectedHeader(header).sign(secret);
      await expectCode(token, 'ERR_LINK_ALGORITHM');
    }
  });

  it('refuses other asymmetric algorithms', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT(validPayload())
      .setProtectedHeader({ alg: 'ES256', typ: LINK_TOKEN_TYPE, kid: 'link-2025-06' })
      .sign(privateKey);
    await expectCode(token, 'ERR_LINK_ALGORITHM');
  });

  it('refuses a token signed by another key under our key id', async () => {
    const forger = createLinkSigner({
      signingKey: { ...attacker.privateJwk, kid: 'link-2025-06' },
      issuer,
      audience,
    });
    await expectCode(await forger.mint(claims()), 'ERR_LINK_SIGNATURE');
  });

  it('ignores a key embedded in the header (jwk) and still checks our key', async () => {
    const key = await importJWK({ ...attacker.privateJwk, alg: undefined, use: undefined }, 'EdDSA');
    const token = await new SignJWT(validPayload())
      .setProtectedHeader({
        alg: 'EdDSA',
        typ: LINK_TOKEN_TYPE,
        kid: 'link-2025-06',
        jwk: attacker.publicJwk,
      })
      .sign(key);
    await expectCode(token, 'ERR_LINK_SIGNATURE');
  });

  it('refuses an unknown key id', async () => {
    const forger = createLinkSigner({ signingKey: attacker.privateJwk, issuer, audience });
    await expectCode(await forger.mint(claims()), 'ERR_LINK_UNKNOWN_KEY');
  });

  it('refuses a token without a key id', async () => {
    await expectCode(await signWithCurrent({ typ: LINK_TOKEN_TYPE }, validPayload()), 'ERR_LINK_MALFORMED');
  });

  it('refuses the wrong audience', async () => {
    const other = createLinkSigner({ signingKey: current.privateJwk, issuer, audience: 'another-app' });
    await expectCode(await other.mint(claims()), 'ERR_LINK_CLAIMS');
  });

  it('refuses the wrong issuer', async () => {
    const other = createLinkSigner({
      signingKey: current.privateJwk,
      issuer: 'https://evil.example',
      audience,
    });
    await expectCode(await other.mint(claims()), 'ERR_LINK_CLAIMS');
  });

  it('refuses any typ but exactly ours', async () => {
    for (const typ of ['JWT', 'at+jwt', `application/${LINK_TOKEN_TYPE}`, undefined]) {
      const header = { kid: 'link-2025-06', ...(typ === undefined ? {} : { typ }) };
      await expectCode(await signWithCurrent(header, validPayload()), 'ERR_LINK_CLAIMS');
    }
  });

  it('refuses a tampered payload', async () => {
    const [h, , s] = (await signer.mint(claims())).split('.');
    const tampered = `${h}.${segment({ ...validPayload(), sub: 'inv_SOMEONE_ELSE' })}.${s}`;
    await expectCode(tampered, 'ERR_LINK_SIGNATURE');
  });

  it('refuses a stripped signature', async () => {
    const [h, p] = (await signer.mint(claims())).split('.');
    await expectCode(`${h}.${p}.`, 'ERR_LINK_SIGNATURE');
  });

  it('refuses an expired token, beyond the clock tolerance', async () => {
    const token = await signer.mint({ ...claims(), expiresAt: new Date(Date.now() - 3600 * 1000) });
    await expectCode(token, 'ERR_LINK_EXPIRED');
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    const token = await signer.mint({ ...claims(), expiresAt: new Date(Date.now() - 5000) });
    await expect(verifier.verify(token)).resolves.toMatchObject({ inviteId: 'inv_7GQ2X' });
    const strict = createLinkVerifier({
      verificationKeys: [current.publicJwk],
      issuer,
      audience,
      clockToleranceSeconds: 0,
    });
    await expectCode(token, 'ERR_LINK_EXPIRED', strict);
  });

  it.each([
    ['jti', { jti: undefined }],
    ['sub', { sub: undefined }],
    ['exp', { exp: undefined }],
    ['iat', { iat: undefined }],
    ['empty sub', { sub: '' }],
    ['empty jti', { jti: '' }],
    ['numeric sub', { sub: 42 }],
  ])('refuses a token with a missing or invalid %s', async (_name, override) => {
    const payload = { ...validPayload(), ...override } as JWTPayload;
    const token = await signWithCurrent({ typ: LINK_TOKEN_TYPE, kid: 'link-2025-06' }, payload);
    await expectCode(token, 'ERR_LINK_CLAIMS');
  });

  it('refuses an unknown critical header', async () => {
    const token = await signWithCurrent(
      { typ: LINK_TOKEN_TYPE, kid: 'link-2025-06', crit: ['x-must-understand'], 'x-must-understand': true },
      validPayload(),
    );
    await expectCode(token, 'ERR_LINK_MALFORMED');
  });

  it.each([
    ['empty', ''],
    ['one word', 'hello'],
    ['three dots', 'a.b.c'],
    ['four segments', 'a.b.c.d'],
    ['not base64url', 'ey$$.ey%%.sig'],
    ['huge', 'A'.repeat(5000)],
    ['JSON junk', `${base64url.encode('{')}.${base64url.encode('[]')}.AAAA`],
  ])('refuses garbage (%s)', async (_name, token) => {
    await expectCode(token, 'ERR_LINK_MALFORMED');
  });

  it('refuses a non-canonical base64url spelling of a valid token', async () => {
    const token = await signer.mint(claims());
    // The signature's last character carries 2 significant bits and 4 spare ones: flipping a
    // spare bit decodes to the same bytes, so only the canonical-encoding check can refuse it.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(token.at(-1)!);
    const variant = token.slice(0, -1) + alphabet[last ^ 1];
    expect(Buffer.from(variant.split('.')[2]!, 'base64url')).toEqual(
      Buffer.from(token.split('.')[2]!, 'base64url'),
    );
    await expectCode(variant, 'ERR_LINK_MALFORMED');
  });
});

describe('properties', () => {
  const neverVerifies = async (token: string) => {
    const outcome: unknown = await verifier.verify(token).then(
      () => 'verified',
      (e: unknown) => e,
    );
    return outcome instanceof LinkTokenError;
  };

  it('random strings never verify and only ever fail with LinkTokenError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.base64String()),
        neverVerifies,
      ),
      { numRuns: 300 },
    );
  });

  it('random JOSE-shaped tokens never verify and only ever fail with LinkTokenError', async () => {
    const header = fc.record(
      {
        alg: fc.constantFrom('EdDSA', 'Ed25519', 'none', 'HS256', 'RS256', 'ES256'),
        kid: fc.constantFrom('link-2025-06', 'link-2025-01', 'nope'),
        typ: fc.constantFrom(LINK_TOKEN_TYPE, 'JWT'),
        crit: fc.array(fc.string(), { maxLength: 2 }),
        b64: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    const payload = fc.oneof(fc.jsonValue(), fc.constant(validPayload()));
    const signature = fc.oneof(
      fc.constant(''),
      fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => base64url.encode(b)),
    );
    await fc.assert(
      fc.asyncProperty(header, payload, signature, (h, p, s) =>
        neverVerifies(`${segment(h)}.${segment(p)}.${s}`),
      ),
      { numRuns: 300 },
    );
  });

  it('changing any one character of a valid token makes it refused', async () => {
    const token = await signer.mint(claims());
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: token.length - 1 }),
        fc.constantFrom(...chars),
        async (index, replacement) => {
          fc.pre(token[index] !== replacement);
          return neverVerifies(token.slice(0, index) + replacement + token.slice(index + 1));
        },
      ),
      { numRuns: 300 },
    );
  });
});
