// The contract's parsers, which the Action bundles to read the API's answers, read defensively:
// anything that is not the documented shape is turned away rather than put into a token. (That the
// real API's answers read back as they should is pinned in test/integration/api/redemptions.test.ts
// and, end to end, in test/integration/actions/post-login.test.ts.)
import { describe, expect, it } from 'vitest';
import { INVITE_ERROR_CODES, REDEMPTION_REFUSALS, isInviteErrorCode, parseClaimAnswer, parseRedemptionAnswer, parseRefusal } from '../../lib/action-contract';

const answer = { inviteId: 'i', scope: 's', roles: ['member'], claims: { plan: 'pro' }, repeat: false };

describe('parseRedemptionAnswer', () => {
  it('turns away bodies that are not a redemption answer', () => {
    for (const body of [
      undefined,
      null,
      'ok',
      [answer],
      { ...answer, inviteId: 7 },
      { ...answer, roles: 'member' },
      { ...answer, roles: ['member', 1] },
      { ...answer, claims: ['plan'] },
      { ...answer, claims: undefined },
      { ...answer, redirect: 42 },
      { ...answer, repeat: 'no' },
    ]) {
      expect(parseRedemptionAnswer(body), JSON.stringify(body)).toBeUndefined();
    }
  });

  it('keeps only the campaign fields of the contract, as strings', () => {
    const parsed = parseRedemptionAnswer({ ...answer, attribution: { utm_source: 'news', utm_medium: 3, gclid: 'x' } });
    expect(parsed?.attribution).toEqual({ utm_source: 'news' });
    expect(parseRedemptionAnswer({ ...answer, attribution: 'news' })).not.toHaveProperty('attribution');
  });
});

describe('parseClaimAnswer', () => {
  it('reads nothing-to-claim, and turns away a claimed answer without the redemption fields', () => {
    expect(parseClaimAnswer({ claimed: false, reason: 'email_unverified' })).toEqual({ claimed: false, reason: 'email_unverified' });
    expect(parseClaimAnswer({ claimed: true, inviteId: 'i' })).toBeUndefined();
    expect(parseClaimAnswer({ ...answer })).toBeUndefined();
  });
});

describe('parseRefusal', () => {
  it('keeps a refusal code only with the status the API answers it with', () => {
    for (const [code, status] of Object.entries(REDEMPTION_REFUSALS)) {
      expect(parseRefusal(status, { error: { code, message: 'm' } })).toEqual({ code });
      expect(parseRefusal(status === 400 ? 409 : 400, { error: { code, message: 'm' } })).toEqual({ code: 'invite_unavailable' });
    }
  });

  it('reads the invited address from error.details.login_hint only', () => {
    const code = 'invite_email_mismatch';
    expect(parseRefusal(403, { error: { code, message: 'm', details: { login_hint: 'ada@example.com' } } })).toEqual({ code, loginHint: 'ada@example.com' });
    expect(parseRefusal(403, { error: { code, message: 'm', login_hint: 'ada@example.com' } })).toEqual({ code });
    expect(parseRefusal(403, { error: { code, message: 'm', details: { login_hint: 'a'.repeat(321) } } })).toEqual({ code });
    expect(parseRefusal(403, { error: { code, message: 'm', details: { login_hint: 7 } } })).toEqual({ code });
  });

  it('answers misconfigured for a refused Action token and invite_unavailable for anything else', () => {
    expect(parseRefusal(401, { error: { code: 'unauthorized', message: 'm' } })).toEqual({ code: 'misconfigured' });
    for (const [status, body] of [
      [500, { error: { code: 'internal_error', message: 'm' } }],
      [503, { error: { code: 'service_unavailable', message: 'm' } }],
      [400, { error: { code: 'invalid_request', message: 'm' } }],
      [404, { error: { code: 'toString', message: 'm' } }],
      [502, '<html>Bad Gateway</html>'],
      [404, undefined],
    ] as const) {
      expect(parseRefusal(status, body), `${status} ${JSON.stringify(body)}`).toEqual({ code: 'invite_unavailable' });
    }
  });

  it('only ever yields codes the customer space can recognise', () => {
    for (const status of [400, 401, 403, 404, 409, 410, 429, 500]) {
      for (const code of [...Object.keys(REDEMPTION_REFUSALS), 'unauthorized', 'whatever']) {
        expect(isInviteErrorCode(parseRefusal(status, { error: { code, message: 'm' } }).code)).toBe(true);
      }
    }
    expect(new Set(INVITE_ERROR_CODES).size).toBe(INVITE_ERROR_CODES.length);
  });
});
