// Link key rotation as an operator runs it: the printed lines are parsed back and used exactly as
// the worker (LINK_SIGNING_KEY) and the API (LINK_VERIFICATION_KEYS) would use them, through a
// whole generate → switch → retire cycle.
import { describe, expect, it } from 'vitest';
import type { JWK } from 'jose';
import { createLinkSigner, createLinkVerifier, generateLinkKey, publicLinkKey } from '../../lib/token';
import { runLinkKeys } from '../../scripts/setup/link-keys';

const ISSUER = 'https://api.inviteflow.example';
const AUDIENCE = 'inviteflow-link';

/** The JSON of `NAME='…'` in the CLI's output. */
function printed<T>(out: string, name: string): T {
  const match = new RegExp(`^${name}='(.+)'$`, 'm').exec(out);
  if (!match?.[1]) throw new Error(`${name} not printed:\n${out}`);
  return JSON.parse(match[1]) as T;
}

const mint = (signingKey: JWK, inviteId = 'inv_1') =>
  createLinkSigner({ signingKey, issuer: ISSUER, audience: AUDIENCE }).mint({
    inviteId,
    jti: `lnk_${inviteId}`,
    expiresAt: new Date(Date.now() + 3_600_000),
  });
const verifier = (keys: JWK[]) =>
  createLinkVerifier({ verificationKeys: keys, issuer: ISSUER, audience: AUDIENCE });

describe('link-keys generate', () => {
  it('prints a first signing key and a set that verifies what it signs, without the private half', async () => {
    const out = await runLinkKeys(['generate'], {});

    const signingKey = printed<JWK>(out, 'LINK_SIGNING_KEY');
    const keys = printed<JWK[]>(out, 'LINK_VERIFICATION_KEYS');
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toHaveProperty('d');
    expect(keys[0]?.kid).toBe(signingKey.kid);
    expect(signingKey.kid).toMatch(/^link-\d{4}-\d{2}-\d{2}-[\w-]{8}$/);
    await expect(verifier(keys).verify(await mint(signingKey))).resolves.toMatchObject({ inviteId: 'inv_1' });
  });

  it('adds the new public key after the current ones, so old and new links both verify', async () => {
    const old = await generateLinkKey('old');
    const env = {
      LINK_VERIFICATION_KEYS: JSON.stringify([old.publicJwk]),
      LINK_SIGNING_KEY: JSON.stringify(old.privateJwk),
    };

    const out = await runLinkKeys(['generate', '--kid', 'new'], env);

    const keys = printed<JWK[]>(out, 'LINK_VERIFICATION_KEYS');
    const next = printed<JWK>(out, 'LINK_SIGNING_KEY');
    expect(keys.map((k) => k.kid)).toEqual(['old', 'new']);
    await expect(verifier(keys).verify(await mint(old.privateJwk, 'inv_old'))).resolves.toMatchObject({
      inviteId: 'inv_old',
    });
    await expect(verifier(keys).verify(await mint(next, 'inv_new'))).resolves.toMatchObject({
      inviteId: 'inv_new',
    });
    expect(out).toMatch(/retire the old key\(s\) \(old\)/);
  });

  it('refuses a kid already in the set, and a set holding a private key', async () => {
    const old = await generateLinkKey('old');

    await expect(
      runLinkKeys(['generate', '--kid', 'old'], { LINK_VERIFICATION_KEYS: JSON.stringify([old.publicJwk]) }),
    ).rejects.toThrow(/already exists/);
    await expect(
      runLinkKeys(['generate'], { LINK_VERIFICATION_KEYS: JSON.stringify([old.privateJwk]) }),
    ).rejects.toThrow(/must be a public key/);
  });
});

describe('link-keys retire', () => {
  it('completes a rotation: after retiring the old key its links are refused, the new ones pass', async () => {
    const old = await generateLinkKey('old');
    const generated = await runLinkKeys(['generate', '--kid', 'new'], {
      LINK_VERIFICATION_KEYS: JSON.stringify([old.publicJwk]),
    });
    const next = printed<JWK>(generated, 'LINK_SIGNING_KEY');
    const both = printed<JWK[]>(generated, 'LINK_VERIFICATION_KEYS');
    const oldLink = await mint(old.privateJwk, 'inv_old');

    // The worker now signs with the new key; the old key's links have had their 30 days.
    const out = await runLinkKeys(['retire', '--kid', 'old'], {
      LINK_VERIFICATION_KEYS: JSON.stringify(both),
      LINK_SIGNING_KEY: JSON.stringify(next),
    });

    const remaining = printed<JWK[]>(out, 'LINK_VERIFICATION_KEYS');
    expect(remaining).toEqual([publicLinkKey(next)]);
    await expect(verifier(remaining).verify(oldLink)).rejects.toMatchObject({ code: 'ERR_LINK_UNKNOWN_KEY' });
    await expect(verifier(remaining).verify(await mint(next))).resolves.toMatchObject({ inviteId: 'inv_1' });
    expect(out).not.toContain(next.d!);
    expect(out).not.toMatch(/LINK_SIGNING_KEY=/);
  });

  it('refuses to retire the key the worker signs with, the last key, or an unknown kid', async () => {
    const a = await generateLinkKey('a');
    const b = await generateLinkKey('b');
    const set = JSON.stringify([a.publicJwk, b.publicJwk]);

    await expect(
      runLinkKeys(['retire', '--kid', 'a'], {
        LINK_VERIFICATION_KEYS: set,
        LINK_SIGNING_KEY: JSON.stringify(a.privateJwk),
      }),
    ).rejects.toThrow(/signs with/);
    await expect(
      runLinkKeys(['retire', '--kid', 'a'], { LINK_VERIFICATION_KEYS: JSON.stringify([a.publicJwk]) }),
    ).rejects.toThrow(/only verification key/);
    await expect(runLinkKeys(['retire', '--kid', 'c'], { LINK_VERIFICATION_KEYS: set })).rejects.toThrow(
      /no verification key/,
    );
    await expect(runLinkKeys(['retire'], { LINK_VERIFICATION_KEYS: set })).rejects.toThrow(/--kid/);
  });
});
