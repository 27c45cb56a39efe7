/**
 * The invite's state machine on its own, without a Temporal server: each transition and each
 * refusal, with the time passed in. The workflow tests beside it run the same state through a
 * real worker; these pin the rules themselves and run in milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { InviteErrorType } from '../../workflows/errors';
import { MAX_EXTENDS } from '../../workflows/input';
import { MAX_NOTES } from '../../workflows/messages';
import type { InviteInput, Redeemer, SentEmailRecord } from '../../workflows/messages';
import { Invite, iso, resolveInvite } from '../../workflows/invite/state';
import type { StateVersions } from '../../workflows/invite/state';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** A Monday, 10:00 in UTC: inside the default send window (09:00–20:00). */
const T0 = Date.parse('2026-12-07T10:00:00.000Z');

const base: InviteInput = {
  inviteId: 'statemachine0001invite',
  email: 'ada@example.com',
  roles: ['member', 'billing'],
  data: { lead: 'L-1' },
  scope: 'workspace:acme',
  locale: 'en',
  timeZone: 'UTC',
};
const current: StateVersions = { escalation: true, sendWindows: true, crmAndAccounts: true };

const ada: Redeemer = { userId: 'auth0|ada', email: 'ada@example.com', emailVerified: true, connection: 'Username-Password-Authentication' };
const eve: Redeemer = { userId: 'auth0|eve', email: 'eve@example.com', emailVerified: true, connection: 'google-oauth2' };

function newInvite(input: Partial<InviteInput> = {}, versions: StateVersions = current): Invite {
  return new Invite(resolveInvite({ ...base, ...input }), T0, versions);
}

/** Issues a link and records its email as accepted at `now`; answers the link id. */
function emailed(invite: Invite, kind: SentEmailRecord['kind'], now: number): string {
  const linkId = `link-${invite.status.emails.length + 1}`;
  const sequence = invite.issueLink(linkId, now);
  invite.emailSent({ sequence, kind, linkId, at: iso(now), messageId: `<${sequence}@mail>` }, now);
  return linkId;
}

/** The failure `check` throws; fails the test when it throws none. */
function refusal(check: () => unknown): ApplicationFailure {
  try {
    check();
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected a refusal, got none');
}

const events = (invite: Invite) => invite.history().events.map((e) => e.type);

describe('a new invite', () => {
  it('is pending until its ttl, with its creation in the lifecycle', () => {
    const invite = newInvite();
    expect(invite.status).toMatchObject({ state: 'pending', email: 'ada@example.com', createdAt: iso(T0), expiresAt: iso(T0 + 7 * DAY), emails: [] });
    expect(invite.status.sendWindow).toEqual({ timeZone: 'UTC', start: '09:00', end: '20:00' });
    expect(invite.isOpen()).toBe(true);
    expect(invite.history()).toEqual({ inviteId: base.inviteId, events: [{ at: iso(T0), type: 'created' }], omitted: 0 });
  });

  it('has no send window on runs from before send windows', () => {
    expect(newInvite({}, { escalation: true, sendWindows: false, crmAndAccounts: true }).status.sendWindow).toBeUndefined();
  });

  it('refuses invalid input as a non-retryable InvalidInput failure naming the problems', () => {
    const err = refusal(() => resolveInvite({ ...base, email: 'not an address' }));
    expect(err.type).toBe(InviteErrorType.InvalidInput);
    expect(err.nonRetryable).toBe(true);
    expect(err.details?.[0]).toEqual([expect.objectContaining({ field: 'email' })]);
  });
});

describe('emails', () => {
  it('numbers each email, issues its link and records it; a refusal shows until the next success', () => {
    const invite = newInvite();
    const first = emailed(invite, 'invite', T0);
    expect(invite.linkIssued(first)).toBe(true);
    expect(invite.linkIssued('never-issued')).toBe(false);
    const sequence = invite.issueLink('link-2', T0 + 3 * DAY);
    expect(sequence).toBe(2);
    invite.emailRefused(sequence, 'reminder', '550 no such user', T0 + 3 * DAY);
    expect(invite.status.emailError).toBe('550 no such user');
    emailed(invite, 'reminder', T0 + 4 * DAY);
    expect(invite.status.emailError).toBeUndefined();
    expect(invite.status.emails.map((e) => [e.sequence, e.kind])).toEqual([
      [1, 'invite'],
      [2, 'reminder'],
    ]);
    expect(invite.history().events.slice(1)).toEqual([
      { at: iso(T0), type: 'emailed', sequence: 1, kind: 'invite' },
      { at: iso(T0 + 3 * DAY), type: 'email_refused', sequence: 2, kind: 'reminder', reason: '550 no such user' },
      { at: iso(T0 + 4 * DAY), type: 'reminded', sequence: 2, kind: 'reminder' },
    ]);
  });
});

describe('redeem', () => {
  it('accepts the invited account with an issued link and answers the claims', () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    const now = T0 + HOUR;
    invite.checkRedeem({ linkId: link, user: ada }, now);
    const outcome = invite.redeem(ada, link, now);
    expect(outcome).toEqual({
      value: { inviteId: base.inviteId, scope: 'workspace:acme', roles: ['member', 'billing'], data: { lead: 'L-1' }, redirect: undefined, redeemedAt: iso(now), repeat: false },
      entered: 'redeemed',
      publish: true,
    });
    expect(invite.status).toMatchObject({ state: 'redeemed', redeemedAt: iso(now), redeemer: ada });
    expect(invite.status.redeemedVia).toBeUndefined();
    expect(invite.history().events.at(-1)).toEqual({ at: iso(now), type: 'redeemed', sequence: 1, userId: ada.userId, connection: ada.connection });
    expect(invite.isOpen()).toBe(false);
    expect(invite.redeemerToGrant()).toEqual(ada);
  });

  it('answers a repeat by the same account again, changing nothing, even after the expiry', () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    const first = invite.redeem(ada, link, T0 + HOUR).value;
    const later = T0 + 8 * DAY;
    invite.checkRedeem({ linkId: link, user: ada }, later);
    const repeat = invite.redeem(ada, link, later);
    expect(repeat).toEqual({ value: { ...first, repeat: true }, publish: false });
    expect(repeat.entered).toBeUndefined();
    expect(invite.status.redeemedAt).toBe(iso(T0 + HOUR));
    expect(events(invite).filter((t) => t === 'redeemed')).toHaveLength(1);
  });

  it('refuses another account once redeemed', () => {
    const invite = newInvite({ emailPolicy: 'any' });
    const link = emailed(invite, 'invite', T0);
    invite.redeem(ada, link, T0 + HOUR);
    expect(refusal(() => invite.checkRedeem({ linkId: link, user: eve }, T0 + 2 * HOUR)).type).toBe(InviteErrorType.AlreadyUsed);
  });

  it('refuses a link the invite did not issue', () => {
    const invite = newInvite();
    emailed(invite, 'invite', T0);
    expect(refusal(() => invite.checkRedeem({ linkId: 'forged', user: ada }, T0 + HOUR)).type).toBe(InviteErrorType.UnknownLink);
  });

  it('turns away another address under same-email with the invited address as login hint, and consumes nothing', () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    const err = refusal(() => invite.checkRedeem({ linkId: link, user: eve }, T0 + HOUR));
    expect(err.type).toBe(InviteErrorType.EmailMismatch);
    expect(err.details).toEqual([{ loginHint: 'ada@example.com' }]);
    expect(invite.status.state).toBe('pending');
    invite.checkRedeem({ linkId: link, user: { ...ada, email: 'ADA@example.com' } }, T0 + HOUR);
  });

  it('lets whoever holds the link redeem under the `any` policy', () => {
    const invite = newInvite({ emailPolicy: 'any' });
    const link = emailed(invite, 'invite', T0);
    invite.checkRedeem({ linkId: link, user: eve }, T0 + HOUR);
    expect(invite.redeem(eve, link, T0 + HOUR).value.repeat).toBe(false);
    expect(invite.status.redeemer).toEqual(eve);
  });

  it('refuses at the expiry instant, though the invite has not moved to expired yet', () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    invite.checkRedeem({ linkId: link, user: ada }, T0 + 7 * DAY - 1);
    expect(refusal(() => invite.checkRedeem({ linkId: link, user: ada }, T0 + 7 * DAY)).type).toBe(InviteErrorType.Expired);
  });

  it('answers the attribution only when the invite asked for it in the claims', () => {
    const attribution = { utm_source: 'newsletter' };
    const withClaims = newInvite({ attribution, attributionInClaims: true });
    expect(withClaims.redeem(ada, emailed(withClaims, 'invite', T0), T0 + HOUR).value.attribution).toEqual(attribution);
    const without = newInvite({ attribution });
    expect(without.redeem(ada, emailed(without, 'invite', T0), T0 + HOUR).value).not.toHaveProperty('attribution');
  });
});

describe('claim by verified email', () => {
  const claimable = () => newInvite({ claimByVerifiedEmail: true });

  it('redeems for the verified invited address, without a link', () => {
    const invite = claimable();
    invite.checkClaim({ user: ada }, T0 + HOUR);
    expect(invite.claim(ada, T0 + HOUR)).toMatchObject({ entered: 'redeemed', publish: true, value: { repeat: false } });
    expect(invite.status.redeemedVia).toBe('verified-email');
    expect(invite.history().events.at(-1)).toEqual({ at: iso(T0 + HOUR), type: 'redeemed', userId: ada.userId, connection: ada.connection, event: 'verified-email' });
  });

  it('refuses an invite that did not opt in', () => {
    expect(refusal(() => newInvite().checkClaim({ user: ada }, T0)).type).toBe(InviteErrorType.ClaimRefused);
  });

  it('refuses an unverified email and another address', () => {
    const invite = claimable();
    expect(refusal(() => invite.checkClaim({ user: { ...ada, emailVerified: false } }, T0)).message).toBe('an unverified email cannot claim an invite');
    expect(refusal(() => invite.checkClaim({ user: eve }, T0)).message).toBe('the account email is not the invited one');
  });

  it('shares the redeemed-already check with redeem: a repeat passes, another account is refused', () => {
    const invite = claimable();
    const link = emailed(invite, 'invite', T0);
    invite.redeem(ada, link, T0 + HOUR);
    invite.checkClaim({ user: ada }, T0 + 2 * HOUR);
    expect(invite.claim(ada, T0 + 2 * HOUR).value.repeat).toBe(true);
    expect(refusal(() => invite.checkClaim({ user: { ...eve, email: 'ada@example.com' } }, T0 + 2 * HOUR)).type).toBe(InviteErrorType.AlreadyUsed);
  });

  it('refuses after a revocation', () => {
    const invite = claimable();
    invite.revoke(undefined, T0 + HOUR);
    expect(refusal(() => invite.checkClaim({ user: ada }, T0 + 2 * HOUR)).type).toBe(InviteErrorType.Revoked);
  });
});

describe('revoke', () => {
  it('closes the invite with its reason (500 characters at most); it cannot be revoked or redeemed again', () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    invite.checkOpen(T0 + HOUR);
    const outcome = invite.revoke('x'.repeat(600), T0 + HOUR);
    expect(outcome.entered).toBe('revoked');
    expect(outcome.publish).toBe(true);
    expect(outcome.value).toBe(invite.status);
    expect(invite.status).toMatchObject({ state: 'revoked', revokedAt: iso(T0 + HOUR), revokeReason: 'x'.repeat(500) });
    expect(invite.history().events.at(-1)).toEqual({ at: iso(T0 + HOUR), type: 'revoked', reason: 'x'.repeat(500) });
    expect(refusal(() => invite.checkOpen(T0 + 2 * HOUR)).type).toBe(InviteErrorType.Revoked);
    expect(refusal(() => invite.checkRedeem({ linkId: link, user: ada }, T0 + 2 * HOUR)).type).toBe(InviteErrorType.Revoked);
  });

  it('records no reason when none is given', () => {
    const invite = newInvite();
    invite.revoke(undefined, T0);
    expect(invite.status.revokeReason).toBeUndefined();
    expect(invite.history().events.at(-1)).toEqual({ at: iso(T0), type: 'revoked' });
  });

  it('refuses an invite that is no longer open', () => {
    const invite = newInvite();
    invite.redeem(ada, emailed(invite, 'invite', T0), T0 + HOUR);
    const err = refusal(() => invite.checkOpen(T0 + 2 * HOUR));
    expect(err.type).toBe(InviteErrorType.NotPending);
    expect(err.message).toBe('the invite is redeemed');
  });
});

describe('resend', () => {
  it('is refused until the interval since the last email has passed, with the wait in the details', () => {
    const invite = newInvite({ resendInterval: '1 minute' });
    emailed(invite, 'invite', T0);
    const err = refusal(() => invite.checkResend(T0 + 20_000));
    expect(err.type).toBe(InviteErrorType.ResendRateLimited);
    expect(err.details).toEqual([{ retryAfterMs: 40_000 }]);
    invite.checkResend(T0 + MINUTE);
  });

  it('is refused past the number of resends', () => {
    const invite = newInvite({ maxResends: 1 });
    emailed(invite, 'invite', T0);
    invite.checkResend(T0 + HOUR);
    invite.countResend();
    emailed(invite, 'resend', T0 + HOUR);
    const err = refusal(() => invite.checkResend(T0 + 2 * HOUR));
    expect(err.type).toBe(InviteErrorType.ResendRateLimited);
    expect(err.message).toBe('at most 1 resends per invite');
  });

  it('is refused once the invitee opted out, or the address was reported undeliverable', () => {
    const declined = newInvite();
    declined.decline(T0);
    expect(refusal(() => declined.checkResend(T0 + HOUR)).type).toBe(InviteErrorType.EmailOptedOut);
    const bounced = newInvite();
    bounced.deliveryFailed({ kind: 'bounce' }, T0);
    expect(refusal(() => bounced.checkResend(T0 + HOUR)).type).toBe(InviteErrorType.Undeliverable);
  });

  it('fails with the mail server refusal when its email is refused', () => {
    const invite = newInvite();
    invite.emailRefused(invite.issueLink('link-1', T0), 'resend', '550 mailbox unavailable', T0);
    const err = invite.resendRefused();
    expect(err.type).toBe(InviteErrorType.Permanent);
    expect(err.message).toBe('the mail server refused the address: 550 mailbox unavailable');
  });
});

describe('extend', () => {
  it('moves the expiry to the ttl from now and wakes the wait loop', () => {
    const invite = newInvite();
    const now = T0 + 6 * DAY;
    invite.checkExtend('7 days', now);
    const wake = invite.wake;
    const outcome = invite.extend('7 days', now);
    expect(outcome).toEqual({ value: invite.status, publish: true });
    expect(invite.expiresAt).toBe(now + 7 * DAY);
    expect(invite.status.expiresAt).toBe(iso(now + 7 * DAY));
    expect(invite.wake).toBe(wake + 1);
    expect(invite.history().events.at(-1)).toEqual({ at: iso(now), type: 'extended', expiresAt: iso(now + 7 * DAY) });
    expect(invite.isDue(T0 + 8 * DAY)).toBe(false);
  });

  it('refuses a ttl that is no duration, out of range, or not moving the expiry later', () => {
    const invite = newInvite();
    const messageOf = (ttl: string, now = T0) => {
      const err = refusal(() => invite.checkExtend(ttl, now));
      expect(err.type).toBe(InviteErrorType.InvalidInput);
      return err.message;
    };
    expect(messageOf('soon')).toBe('ttl must be a duration like "7 days"');
    expect(messageOf('30 seconds')).toBe('ttl must be between 1 minute and 30 days');
    expect(messageOf('31 days')).toBe('ttl must be between 1 minute and 30 days');
    expect(messageOf('1 day')).toBe('the new expiry must be later than the current one');
  });

  it(`is refused after ${MAX_EXTENDS} extensions`, () => {
    const invite = newInvite();
    for (let i = 1; i <= MAX_EXTENDS; i++) {
      invite.checkExtend('30 days', T0 + i * DAY);
      invite.extend('30 days', T0 + i * DAY);
    }
    expect(refusal(() => invite.checkExtend('30 days', T0 + 10 * DAY)).message).toBe(`at most ${MAX_EXTENDS} extensions per invite`);
  });

  it('is refused once expired', () => {
    const invite = newInvite();
    invite.expire(T0 + 7 * DAY);
    expect(refusal(() => invite.checkExtend('7 days', T0 + 7 * DAY)).type).toBe(InviteErrorType.Expired);
  });
});

describe('decline', () => {
  it('stops email but keeps the invite redeemable; a repeat changes nothing', () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    expect(invite.decline(T0 + HOUR)).toEqual({ value: undefined, publish: true });
    expect(invite.status.optedOutAt).toBe(iso(T0 + HOUR));
    expect(invite.mayEmail()).toBe(false);
    expect(invite.decline(T0 + 2 * HOUR)).toEqual({ value: undefined, publish: false });
    expect(invite.status.optedOutAt).toBe(iso(T0 + HOUR));
    expect(events(invite)).toEqual(['created', 'emailed', 'declined']);
    invite.checkRedeem({ linkId: link, user: ada }, T0 + 3 * HOUR);
  });
});

describe('a delivery failure', () => {
  it('makes the invite undeliverable, still redeemable, and tells the funnel', () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    const outcome = invite.deliveryFailed({ kind: 'bounce', sequence: 1, reason: '5.1.1 user unknown' }, T0 + HOUR);
    expect(outcome).toEqual({
      value: undefined,
      entered: 'undeliverable',
      publish: true,
      notice: { type: 'invite.undeliverable', detail: { kind: 'bounce', reason: '5.1.1 user unknown' } },
    });
    expect(invite.status.undeliverable).toEqual({ at: iso(T0 + HOUR), kind: 'bounce', reason: '5.1.1 user unknown' });
    expect(invite.history().events.at(-1)).toEqual({ at: iso(T0 + HOUR), type: 'undeliverable', event: 'bounce', sequence: 1, reason: '5.1.1 user unknown' });
    expect(invite.isOpen()).toBe(true);
    expect(invite.mayEmail()).toBe(false);
    invite.checkRedeem({ linkId: link, user: ada }, T0 + 2 * HOUR);
  });

  it('ignores other kinds, malformed reports and reports on an invite no longer pending', () => {
    const invite = newInvite();
    expect(invite.deliveryFailed({ kind: 'delayed' } as never, T0)).toEqual({ value: undefined, publish: false });
    expect(invite.deliveryFailed(null as never, T0).publish).toBe(false);
    invite.deliveryFailed({ kind: 'complaint' }, T0);
    expect(invite.deliveryFailed({ kind: 'bounce' }, T0 + HOUR)).toEqual({ value: undefined, publish: false });
    expect(invite.status.undeliverable).toEqual({ at: iso(T0), kind: 'complaint' });
  });
});

describe('audit notes', () => {
  it('records clicks of issued links and well-formed refusals, and drops the rest', () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    invite.audit({ type: 'clicked', linkId: link }, T0 + MINUTE);
    invite.audit({ type: 'clicked', linkId: 'not-ours' }, T0 + MINUTE);
    invite.audit({ type: 'refused', code: 'Not A Code', linkId: link }, T0 + MINUTE);
    invite.audit({ type: 'opened' } as never, T0 + MINUTE);
    invite.audit({ type: 'refused', code: 'invite_email_mismatch', linkId: link, userId: 'u'.repeat(400), connection: 'google-oauth2' }, T0 + 2 * MINUTE);
    expect(invite.history().events.slice(2)).toEqual([
      { at: iso(T0 + MINUTE), type: 'clicked', sequence: 1 },
      { at: iso(T0 + 2 * MINUTE), type: 'refused', sequence: 1, code: 'invite_email_mismatch', userId: 'u'.repeat(300), connection: 'google-oauth2' },
    ]);
  });

  it(`keeps ${MAX_NOTES} notes and only counts the ones after`, () => {
    const invite = newInvite();
    const link = emailed(invite, 'invite', T0);
    for (let i = 0; i < MAX_NOTES + 3; i++) invite.audit({ type: 'clicked', linkId: link }, T0 + i);
    const history = invite.history();
    expect(history.events.filter((e) => e.type === 'clicked')).toHaveLength(MAX_NOTES);
    expect(history.omitted).toBe(3);
  });
});

describe('reminders and expiry', () => {
  it('sends one reminder per offset, and one for offsets that passed together', () => {
    const invite = newInvite();
    expect(invite.nextWake(T0)).toEqual({ at: T0 + 2 * DAY, summary: 'until next reminder' });
    expect(invite.reminderDue(T0 + 2 * DAY - 1)).toBe(false);
    expect(invite.reminderDue(T0 + 2 * DAY)).toBe(true);
    expect(invite.reminderDue(T0 + 2 * DAY)).toBe(false);
    const late = newInvite();
    expect(late.reminderDue(T0 + 6 * DAY)).toBe(true);
    expect(late.reminderDue(T0 + 6 * DAY)).toBe(false);
  });

  it('holds a reminder due at night until the send window opens', () => {
    const invite = newInvite({ reminders: ['14 hours'] }); // due at 00:00 UTC
    expect(invite.reminderDue(T0 + 14 * HOUR)).toBe(false);
    const opening = Date.parse('2026-12-08T09:00:00.000Z');
    expect(invite.nextWake(T0 + 14 * HOUR)).toEqual({ at: opening, summary: 'until next reminder' });
    expect(invite.reminderDue(opening)).toBe(true);
    expect(invite.reminderDue(opening)).toBe(false);
  });

  it('sends a reminder due at night at once on runs from before send windows', () => {
    const invite = newInvite({ reminders: ['14 hours'] }, { escalation: true, sendWindows: false, crmAndAccounts: true });
    expect(invite.reminderDue(T0 + 14 * HOUR)).toBe(true);
  });

  it('drops a reminder that could only arrive after the expiry', () => {
    const invite = newInvite({ ttl: '1 day', reminders: ['14 hours'] }); // expires 10:00, window opens 09:00
    const shortLived = newInvite({ ttl: '20 hours', reminders: ['14 hours'] }); // expires 06:00, before the window
    expect(invite.reminderDue(T0 + 14 * HOUR)).toBe(false);
    expect(invite.nextWake(T0 + 14 * HOUR).at).toBe(Date.parse('2026-12-08T09:00:00.000Z'));
    expect(shortLived.reminderDue(T0 + 14 * HOUR)).toBe(false);
    expect(shortLived.nextWake(T0 + 14 * HOUR)).toEqual({ at: T0 + 20 * HOUR, summary: 'until expiry' });
  });

  it('sends no reminder to an invitee who opted out', () => {
    const invite = newInvite();
    invite.decline(T0);
    expect(invite.reminderDue(T0 + 2 * DAY)).toBe(false);
    expect(invite.nextWake(T0 + 2 * DAY)).toEqual({ at: T0 + 7 * DAY, summary: 'until expiry' });
  });

  it('expires at the expiry', () => {
    const invite = newInvite();
    expect(invite.isDue(T0 + 7 * DAY - 1)).toBe(false);
    expect(invite.isDue(T0 + 7 * DAY)).toBe(true);
    expect(invite.expire(T0 + 7 * DAY)).toEqual({ value: undefined, entered: 'expired', publish: true });
    expect(invite.status).toMatchObject({ state: 'expired', expiredAt: iso(T0 + 7 * DAY) });
    expect(invite.isOpen()).toBe(false);
    expect(refusal(() => invite.checkOpen(T0 + 7 * DAY)).type).toBe(InviteErrorType.Expired);
  });
});

describe('escalation', () => {
  it('comes once, the escalation period before the expiry, while pending', () => {
    const invite = newInvite({ reminders: [] });
    expect(invite.escalateAt()).toBe(T0 + 5 * DAY);
    expect(invite.nextWake(T0)).toEqual({ at: T0 + 5 * DAY, summary: 'until escalation' });
    invite.escalate(T0 + 5 * DAY);
    expect(invite.status.escalatedAt).toBe(iso(T0 + 5 * DAY));
    expect(invite.escalateAt()).toBe(Infinity);
    expect(invite.escalationDone(['inviter emailed', 'HubSpot contact marked'], T0 + 5 * DAY + 1)).toEqual({
      value: undefined,
      publish: true,
      notice: { type: 'invite.stale', detail: { escalatedAt: iso(T0 + 5 * DAY) } },
    });
    expect(invite.history().events.at(-1)).toEqual({ at: iso(T0 + 5 * DAY + 1), type: 'escalated', reason: 'inviter emailed; HubSpot contact marked' });
  });

  it('never comes on runs from before escalation, when turned off, or after the invitee opted out', () => {
    expect(newInvite({}, { escalation: false, sendWindows: true, crmAndAccounts: true }).escalateAt()).toBe(Infinity);
    expect(newInvite({ escalateBefore: false }).escalateAt()).toBe(Infinity);
    const declined = newInvite();
    declined.decline(T0);
    expect(declined.escalateAt()).toBe(Infinity);
  });
});

describe('after a redemption', () => {
  const redeemed = (user: Redeemer = ada) => {
    const invite = newInvite();
    invite.redeem(user, emailed(invite, 'invite', T0), T0 + HOUR);
    return invite;
  };

  it('verifies the Auth0 email only of an unverified sign-up with the invited address', () => {
    const invite = redeemed();
    expect(invite.verifiesEmail(ada)).toBe(false);
    expect(invite.verifiesEmail({ ...ada, emailVerified: false })).toBe(true);
    expect(invite.verifiesEmail({ ...eve, emailVerified: false })).toBe(false);
  });

  it('completes, recording roles deleted from Auth0 as not granted, and tells the funnel', () => {
    const invite = redeemed();
    expect(invite.rolesAssigned(['billing'])).toEqual(['member']);
    expect(invite.status.rolesNotGranted).toEqual(['billing']);
    invite.granted(ada.userId, ['billing'], T0 + 2 * HOUR);
    invite.linked('hs-42', T0 + 2 * HOUR);
    const outcome = invite.complete(T0 + 3 * HOUR);
    expect(outcome).toEqual({
      value: undefined,
      entered: 'completed',
      publish: true,
      notice: { type: 'invite.completed', detail: { userId: ada.userId, connection: ada.connection, redeemedAt: iso(T0 + HOUR) } },
    });
    expect(invite.status).toMatchObject({ state: 'completed', completedAt: iso(T0 + 3 * HOUR) });
    expect(invite.redeemerToGrant()).toBeUndefined();
    expect(invite.failure()).toBeUndefined();
    expect(invite.history().events.slice(-3)).toEqual([
      { at: iso(T0 + 2 * HOUR), type: 'granted', userId: ada.userId, reason: 'not granted, no longer in Auth0: billing' },
      { at: iso(T0 + 2 * HOUR), type: 'linked', contactId: 'hs-42' },
      { at: iso(T0 + 3 * HOUR), type: 'completed' },
    ]);
  });

  it('grants every role when none is missing', () => {
    const invite = redeemed();
    expect(invite.rolesAssigned([])).toEqual(['member', 'billing']);
    expect(invite.status.rolesNotGranted).toBeUndefined();
  });

  it('fails when a side effect is refused for good, and ends the run with that failure', () => {
    const invite = redeemed();
    const failure = { type: InviteErrorType.Permanent, message: 'Auth0 refused: 400' };
    const outcome = invite.fail(failure, T0 + 2 * HOUR);
    expect(outcome).toEqual({ value: undefined, entered: 'failed', publish: true, notice: { type: 'invite.failed', detail: { userId: ada.userId, failure } } });
    expect(invite.status).toMatchObject({ state: 'failed', failedAt: iso(T0 + 2 * HOUR), failure });
    const err = invite.failure();
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: InviteErrorType.SideEffectRefused, message: 'Auth0 refused: 400', nonRetryable: true, details: [invite.status] });
  });

  it('records what the funnel was told, or that telling it failed', () => {
    const invite = redeemed();
    invite.notified('invite.completed', T0 + 2 * HOUR);
    invite.notifyFailed('invite.completed', 'receiver down', T0 + 3 * HOUR);
    expect(invite.history().events.slice(-2)).toEqual([
      { at: iso(T0 + 2 * HOUR), type: 'notified', event: 'invite.completed' },
      { at: iso(T0 + 3 * HOUR), type: 'notify_failed', event: 'invite.completed', reason: 'receiver down' },
    ]);
  });
});
