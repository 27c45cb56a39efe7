/**
 * The workflow's resend interval at every hour: `Invite.checkResend(now)` takes the time as an
 * argument, so it is swept over each instant of `test/support/clock.ts` (the 24 UTC hours, both
 * sides of each daylight-saving change) without a server. The interval is elapsed time since the
 * last email, whatever the hour or the clocks do.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { InviteErrorType } from '../../workflows/errors';
import type { InviteInput } from '../../workflows/messages';
import { Invite, iso, resolveInvite } from '../../workflows/invite/state';
import type { StateVersions } from '../../workflows/invite/state';
import { CLOCK_CHANGES, sweepInstants } from '../support/clock';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const current: StateVersions = { escalation: true, sendWindows: true, crmAndAccounts: true };

/** The refusal `check` throws; fails the test when it throws none. */
function refusal(check: () => unknown, what: string): ApplicationFailure {
  try {
    check();
  } catch (err) {
    expect(err, what).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error(`${what}: expected a refusal, got none`);
}

/** Issues a link and records its email as accepted at `now`. */
function emailed(invite: Invite, kind: 'invite' | 'resend', now: number): void {
  const linkId = `link-${invite.status.emails.length + 1}`;
  const sequence = invite.issueLink(linkId, now);
  invite.emailSent({ sequence, kind, linkId, at: iso(now), messageId: `<${sequence}@mail>` }, now);
}

describe('the resend interval at every hour', () => {
  // The default interval (a minute), one the length of a clock change, and a day.
  const intervals: { resendInterval?: string; ms: number }[] = [{ ms: MINUTE }, { resendInterval: '1 hour', ms: HOUR }, { resendInterval: '1 day', ms: DAY }];
  const zones = ['America/New_York', 'Europe/Paris', 'Asia/Kolkata', 'Etc/GMT'];

  it('refuses a resend within the interval since the last email and takes it after, from each instant and across each clock change', () => {
    const instants = sweepInstants();
    expect(instants.length).toBe(24 + CLOCK_CHANGES.length * 48);
    for (const { label, at } of instants) {
      for (const zone of zones) {
        for (const { resendInterval, ms } of intervals) {
          const input: InviteInput = { inviteId: 'resendsweep0001invite', email: 'ada@example.com', roles: ['member'], data: {}, scope: 'sweep', locale: 'en', timeZone: zone, ...(resendInterval ? { resendInterval } : {}) };
          const invite = new Invite(resolveInvite(input), at, current);
          emailed(invite, 'invite', at);
          // Two rounds: after the invite email, then after the first resend (sent 7 s late).
          for (const [round, last] of [
            [1, at],
            [2, at + ms + 7_000],
          ] as const) {
            const what = `${label} in ${zone}, interval ${ms / MINUTE} min, resend ${round}`;
            for (const early of [last + 1, last + ms / 2, last + ms - 1]) {
              const err = refusal(() => invite.checkResend(early), `${what} at ${iso(early)}`);
              expect(err.type, what).toBe(InviteErrorType.ResendRateLimited);
              expect(err.details, what).toEqual([{ retryAfterMs: last + ms - early }]);
            }
            expect(() => invite.checkResend(last + ms), `${what}: once the interval has passed`).not.toThrow();
            if (round === 1) {
              expect(() => invite.checkResend(last + ms + 7_000), what).not.toThrow();
              invite.countResend();
              emailed(invite, 'resend', last + ms + 7_000);
            }
          }
          expect(invite.status.emails.map((e) => e.kind)).toEqual(['invite', 'resend']);
        }
      }
    }
  });
});
