/**
 * Properties of the inputs an attacker controls most: email addresses (normalized once, compared
 * case-insensitively, never accepted with whitespace or control characters inside) and link
 * tokens under arbitrary edits (several at once, splices of two valid tokens, truncation), beyond
 * the single-character changes `test/lib/token.test.ts` already covers.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLinkSigner, createLinkVerifier, generateLinkKey, LinkTokenError } from '../../lib/token';
import type { LinkSigner, LinkVerifier } from '../../lib/token';
import { isValidEmail, normalizeEmail } from '../../workflows/input';

const localPart = fc.stringMatching(/^[a-zA-Z0-9._%+-]{1,20}$/);
const domain = fc.stringMatching(/^[a-zA-Z0-9]{1,10}\.[a-zA-Z]{2,6}$/);
const email = fc.tuple(localPart, domain).map(([l, d]) => `${l}@${d}`);
const forbidden = fc.constantFrom(' ', '\t', '\n', '\r', '\u0000', '\u0007', '\u001b', '\u001f');

describe('normalizeEmail and isValidEmail', () => {
  it('normalizing is idempotent', () => {
    fc.assert(fc.property(fc.string(), (s) => normalizeEmail(normalizeEmail(s)) === normalizeEmail(s)));
  });

  it('is case-insensitive and ignores surrounding whitespace', () => {
    fc.assert(
      fc.property(email, fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), fc.constantFrom('', ' ', '\t', ' \n'), (e, upper, pad) => {
        const mixed = [...e].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c.toLowerCase())).join('');
        expect(normalizeEmail(`${pad}${mixed}${pad}`)).toBe(normalizeEmail(e));
        expect(isValidEmail(normalizeEmail(mixed))).toBe(true);
      }),
    );
  });

  it('accepts only normalized addresses', () => {
    fc.assert(fc.property(fc.string(), (s) => !isValidEmail(s) || s === normalizeEmail(s)));
  });

  it('never accepts an address with whitespace or a control character inside', () => {
    fc.assert(
      fc.property(email, forbidden, fc.nat(), (e, bad, at) => {
        const i = 1 + (at % (e.length - 1));
        return !isValidEmail(normalizeEmail(e.slice(0, i) + bad + e.slice(i)));
      }),
      { numRuns: 500 },
    );
  });

  it('never accepts strings without exactly one @', () => {
    fc.assert(fc.property(fc.string().filter((s) => s.split('@').length !== 2), (s) => !isValidEmail(s)));
  });
});

describe('link token mutations', () => {
  let signer: LinkSigner;
  let verifier: LinkVerifier;
  let tokens: string[];

  beforeAll(async () => {
    const key = await generateLinkKey('prop-key');
    signer = createLinkSigner({ signingKey: key.privateJwk, issuer: 'https://invites.test', audience: 'inviteflow-link' });
    verifier = createLinkVerifier({ verificationKeys: [key.publicJwk], issuer: 'https://invites.test', audience: 'inviteflow-link' });
    const expiresAt = new Date(Date.now() + 86_400_000);
    tokens = await Promise.all(['a', 'b'].map((jti) => signer.mint({ inviteId: 'invpropertytest01', jti, expiresAt })));
    // Guard: the unmutated tokens do verify, so a refusal below is the mutation's doing.
    for (const t of tokens) await expect(verifier.verify(t)).resolves.toMatchObject({ inviteId: 'invpropertytest01' });
  });

  type Edit = { kind: 'insert' | 'delete' | 'replace'; at: number; text: string; length: number };
  const edit: fc.Arbitrary<Edit> = fc.record({
    kind: fc.constantFrom('insert', 'delete', 'replace'),
    at: fc.nat(),
    text: fc.string({ minLength: 1, maxLength: 4 }),
    length: fc.integer({ min: 1, max: 8 }),
  });
  const apply = (token: string, e: Edit) => {
    const at = e.at % (token.length + 1);
    if (e.kind === 'insert') return token.slice(0, at) + e.text + token.slice(at);
    if (e.kind === 'delete') return token.slice(0, at) + token.slice(at + e.length);
    return token.slice(0, at) + e.text + token.slice(at + e.text.length);
  };

  const refusedOnlyWithLinkTokenError = async (token: string) => {
    const outcome: unknown = await verifier.verify(token).then(
      () => 'verified',
      (e: unknown) => e,
    );
    return outcome instanceof LinkTokenError;
  };

  it('several random edits never verify and only throw LinkTokenError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 1 }), fc.array(edit, { minLength: 1, maxLength: 5 }), async (which, edits) => {
        const mutated = edits.reduce(apply, tokens[which]!);
        fc.pre(mutated !== tokens[0] && mutated !== tokens[1]);
        return refusedOnlyWithLinkTokenError(mutated);
      }),
      { numRuns: 300 },
    );
  });

  it('splicing the segments of two valid tokens never verifies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 1 }), { minLength: 3, maxLength: 3 }), async (pick) => {
        const parts = tokens.map((t) => t.split('.'));
        const spliced = pick.map((p, i) => parts[p]![i]!).join('.');
        fc.pre(!tokens.includes(spliced));
        return refusedOnlyWithLinkTokenError(spliced);
      }),
    );
  });

  it('truncations and concatenations never verify', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.boolean(), async (cut, twice) => {
        const t = tokens[0]!;
        const mutated = twice ? `${t}${t.slice(0, cut % t.length)}` : t.slice(0, cut % t.length);
        fc.pre(mutated !== t);
        return refusedOnlyWithLinkTokenError(mutated);
      }),
      { numRuns: 200 },
    );
  });
});
