/**
 * What the current time decides outside the workflow — link and Action token lifetimes, webhook
 * timestamp tolerance, the outbound pacer's windows, the dates an invitee reads — at each of the 24 UTC hours and on both sides
 * of each daylight-saving change (`test/support/clock.ts`), through an injected clock: the same
 * outcome whenever the suite runs.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLinkSigner, createLinkVerifier, generateLinkKey, LinkTokenError } from '../../lib/token';
import { createActionAuth } from '../../api/action-auth';
import { signActionToken } from '../../actions/request-token';
import { signWebhook, verifyWebhookSignature } from '../../lib/webhook-signature';
import { OutboundPacer } from '../../activities/outbound-pacer';
import { formatDateTime } from '../../lib/locale';
import { sweepInstants } from '../support/clock';

const instants = sweepInstants();
const SECRET = 'a-secret-of-the-action-at-least-32-characters';

afterEach(() => {
  vi.useRealTimers();
});

describe('at every hour', () => {
  it('a link token is valid until its expiry and refused after it, from each instant', async () => {
    const { privateJwk, publicJwk } = await generateLinkKey('k1');
    const opts = { issuer: 'https://api.example', audience: 'https://api.example/i' };
    const signer = createLinkSigner({ ...opts, signingKey: privateJwk });
    const verifier = createLinkVerifier({ ...opts, verificationKeys: [publicJwk], clockToleranceSeconds: 30 });
    vi.useFakeTimers({ toFake: ['Date'] });
    for (const { label, at } of instants) {
      vi.setSystemTime(at);
      const expiresAt = new Date(at + 7 * 86_400_000);
      const token = await signer.mint({ inviteId: 'inv1', jti: 'l1', expiresAt });
      expect((await verifier.verify(token)).expiresAt.getTime(), label).toBe(Math.floor(expiresAt.getTime() / 1000) * 1000);
      vi.setSystemTime(expiresAt.getTime() - 1000);
      await expect(verifier.verify(token), label).resolves.toMatchObject({ inviteId: 'inv1' });
      vi.setSystemTime(expiresAt.getTime() + 31_000);
      const refused = await verifier.verify(token).catch((e: unknown) => e);
      expect(refused, label).toBeInstanceOf(LinkTokenError);
      expect((refused as LinkTokenError).code, label).toBe('ERR_LINK_EXPIRED');
    }
  });

  it('an Action token is taken within its minute and refused after, from each instant', async () => {
    for (const { label, at } of instants) {
      let now = at;
      const auth = createActionAuth({ secret: SECRET, now: () => now });
      // The Action's own signer, at the instant's second.
      const sign = (jti: string) => signActionToken({ secret: SECRET, iat: Math.floor(at / 1000), jti });
      await expect(auth.verify(`Bearer ${sign('a')}`), label).resolves.toMatchObject({ jti: 'a' });
      const late = sign('b');
      now = at + 10 * 60_000;
      await expect(auth.verify(`Bearer ${late}`), label).rejects.toMatchObject({ code: 'unauthorized' });
    }
  });

  it('a webhook signature is taken within its tolerance and refused as stale outside it, from each instant', () => {
    const body = '{"event":"bounce"}';
    for (const { label, at } of instants) {
      const t = Math.floor(at / 1000);
      const header = signWebhook('whsec', body, t);
      expect(verifyWebhookSignature('whsec', header, body, t + 299), label).toBeUndefined();
      expect(verifyWebhookSignature('whsec', header, body, t + 301), label).toBe('stale');
      expect(verifyWebhookSignature('whsec', header, body, t - 301), label).toBe('stale');
    }
  });

  it('the outbound pacer never lets a window hold more than its limit, from each instant', () => {
    for (const { label, at } of instants) {
      const clock = { t: at };
      const pacer = new OutboundPacer({ max: 2, windowMs: 1000, now: () => clock.t });
      const sent: number[] = [];
      for (let i = 0; i < 6; i++) {
        for (let wait = pacer.admit(); wait > 0; wait = pacer.admit()) clock.t += wait;
        sent.push(clock.t);
      }
      for (let i = 2; i < sent.length; i++) expect(sent[i]! - sent[i - 2]!, label).toBeGreaterThanOrEqual(1000);
      expect(sent[0], label).toBe(at);
    }
  });

  it('writes each date on the invitee’s own calendar day and clock, in each locale, from each instant', () => {
    const zones = ['America/New_York', 'Europe/Paris', 'Asia/Kolkata', 'Pacific/Kiritimati', 'Etc/GMT+12'];
    const local = (at: number, zone: string, locale: string) =>
      Object.fromEntries(
        new Intl.DateTimeFormat(locale, { timeZone: zone, day: 'numeric', month: 'long', year: 'numeric', hour: 'numeric', minute: '2-digit' })
          .formatToParts(at)
          .map((p) => [p.type, p.value]),
      );
    for (const { label, at } of instants) {
      for (const zone of zones) {
        for (const locale of ['en', 'fr'] as const) {
          const text = formatDateTime(new Date(at), locale, zone);
          const parts = local(at, zone, locale);
          const what = `${label} in ${zone} (${locale}): ${text}`;
          // The local calendar day, which differs from UTC's for part of each day in most zones.
          expect(text, what).toContain(`${parts.day} ${parts.month} ${parts.year}`.replace(/^(\S+) (\S+) /, locale === 'en' ? '$2 $1, ' : '$1 $2 '));
          expect(text, what).toContain(`${parts.hour}:${parts.minute}`);
          // The zone is named, so a reader elsewhere can tell.
          expect(text, what).toMatch(/(GMT|UTC|[A-Z]{3,4})([+\-−]\d{1,2}(:\d{2})?)?$/);
        }
      }
    }
  });
});
