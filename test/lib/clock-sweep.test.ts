/**
 * What the current time decides outside the workflow — link and Action token lifetimes, webhook
 * timestamp tolerance, the outbound pacer's windows, the API's inbound rate limits, the dates an
 * invitee reads in the emails and on the link's pages — at each of the 24 UTC hours and on both
 * sides of each daylight-saving change (`test/support/clock.ts`), through an injected clock: the
 * same outcome whenever the suite runs.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../api/app';
import { loadApiConfig } from '../../lib/config';
import { renderInviteEmail } from '../../activities/templates';
import { declineConfirmPage, invitePage } from '../../api/pages/landing';
import { TEST_PAYLOAD_ENV } from '../support/payload-keys';
import { createLinkSigner, createLinkVerifier, generateLinkKey, LinkTokenError } from '../../lib/token';
import { createActionAuth } from '../../api/action-auth';
import { signActionToken } from '../../actions/request-token';
import { signWebhook, verifyWebhookSignature } from '../../lib/webhook-signature';
import { OutboundPacer } from '../../activities/outbound-pacer';
import { formatDateTime } from '../../lib/locale';
import { sweepInstants, utcOffsetMinutes } from '../support/clock';

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

// ---- the dates an invitee reads, in the emails and on the link's pages ----

const MONTHS = {
  en: ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'],
  fr: ['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre', 'octobre', 'novembre', 'décembre'],
} as const;
// What a reader takes a zone's name to mean: "EST", "GMT+5:30", "UTC−12" (a minus sign), "UTC".
const ZONE_NAME = String.raw`(E[SD]T|(?:GMT|UTC)(?:[+\-−]\d{1,2}(?::\d{2})?)?)`;
const DATE_SHAPES = {
  en: new RegExp(String.raw`(${MONTHS.en.join('|')}) (\d{1,2}), (\d{4}) at (\d{1,2}):(\d{2})\s(AM|PM)\s${ZONE_NAME}`, 'gu'),
  fr: new RegExp(String.raw`(\d{1,2}) (${MONTHS.fr.join('|')}) (\d{4}) à (\d{2}):(\d{2})\s${ZONE_NAME}`, 'gu'),
};

/** A zone's name as shown, in minutes east of UTC. */
function offsetOfName(name: string): number {
  if (name === 'EST') return -5 * 60;
  if (name === 'EDT') return -4 * 60;
  const m = /^(?:GMT|UTC)(?:([+\-−])(\d{1,2})(?::(\d{2}))?)?$/u.exec(name);
  if (!m) throw new Error(`unknown zone name ${name}`);
  return m[1] ? (m[1] === '+' ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) : 0;
}

/** Each date written in `text`, read as a person would: its calendar day, clock and zone. */
function datesIn(text: string, locale: 'en' | 'fr'): { year: number; month: number; day: number; hour: number; minute: number; offset: number }[] {
  return [...text.matchAll(DATE_SHAPES[locale])].map((m) => {
    if (locale === 'en') {
      const [, month, day, year, hour12, minute, period, zone] = m as unknown as string[];
      return { year: Number(year), month: MONTHS.en.indexOf(month as never) + 1, day: Number(day), hour: (Number(hour12) % 12) + (period === 'PM' ? 12 : 0), minute: Number(minute), offset: offsetOfName(zone!) };
    }
    const [, day, month, year, hour, minute, zone] = m as unknown as string[];
    return { year: Number(year), month: MONTHS.fr.indexOf(month as never) + 1, day: Number(day), hour: Number(hour), minute: Number(minute), offset: offsetOfName(zone!) };
  });
}

const localParts = new Map<string, Intl.DateTimeFormat>();
/** The calendar day and clock of `at` in `zone`, from `Intl`'s parts (not the product's formatter). */
function expectedLocal(at: number, zone: string) {
  let f = localParts.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
    localParts.set(zone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(at).map((p) => [p.type, Number(p.value)]));
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, offset: utcOffsetMinutes(at, zone) };
}

describe('dates in the emails and on the link’s pages at every hour', () => {
  // Our locales' zones, a half-hour and a 45-minute (southern, with its own clock changes) offset,
  // both ends of UTC's range, and none (written in UTC).
  const zones = ['America/New_York', 'Europe/Paris', 'Asia/Kolkata', 'Pacific/Chatham', 'Pacific/Kiritimati', 'Etc/GMT+12', undefined];
  const DAY = 86_400_000;

  it('write each expiry on the invitee’s own calendar day and clock, named so that it reads back to the instant, in each locale, from each instant', () => {
    let otherDay = 0;
    for (const { label, at } of instants) {
      const iso = new Date(at).toISOString();
      for (const zone of zones) {
        const local = expectedLocal(at, zone ?? 'UTC');
        const earlier = expectedLocal(at - DAY, zone ?? 'UTC');
        if (local.day !== new Date(at).getUTCDate()) otherDay++;
        for (const locale of ['en', 'fr'] as const) {
          const email = (kind: 'invite' | 'reminder') =>
            renderInviteEmail({ kind, locale, appName: 'Acme', timeZone: zone, link: 'https://api.example/i/t', declineLink: 'https://api.example/i/t/decline', expiresAt: new Date(at) });
          const invite = email('invite');
          const reminder = email('reminder');
          const expires = { at: iso, timeZone: zone };
          const rendered: [string, string, (typeof local)[]][] = [
            ['invite email, text', invite.text, [local]],
            ['invite email, HTML', invite.html, [local]],
            ['reminder email, text', reminder.text, [local]],
            ['reminder email, HTML', reminder.html, [local]],
            ['invitation page', invitePage({ locale, appName: 'Acme', expires, continueUrl: 'https://app.example/login', declineUrl: 't/decline' }), [local]],
            // A link from before an extend: the invite's expiry, then the link's own, a day earlier.
            ['invitation page after an extend', invitePage({ locale, appName: 'Acme', expires, linkExpiresAt: new Date(at - DAY), continueUrl: 'https://app.example/login', declineUrl: 't/decline' }), [local, earlier]],
            ['decline page', declineConfirmPage({ locale, appName: 'Acme', expires, keepUrl: 't' }), [local]],
          ];
          for (const [what, text, expected] of rendered) {
            const where = `${label}, expiry in ${zone ?? 'no zone (UTC)'} (${locale}), ${what}`;
            const shown = datesIn(text, locale);
            expect(shown, where).toEqual(expected);
            // Read back with the zone it names, each date is the instant itself (to the minute).
            for (const [i, d] of shown.entries()) {
              const instant = i === 1 ? at - DAY : at;
              expect(Date.UTC(d.year, d.month - 1, d.day, d.hour, d.minute) - d.offset * 60_000, where).toBe(instant - (instant % 60_000));
            }
          }
        }
      }
    }
    // The sweep writes local days that are not UTC's: a date taken from UTC would fail above.
    expect(otherDay).toBeGreaterThan(instants.length);
  });
});

// ---- the API's inbound rate limits ----

describe('the API’s inbound rate limits at every hour', () => {
  const WINDOW = 60_000;
  const MAX = 3;
  let app: FastifyInstance | undefined;
  let connection: Connection | undefined;

  afterEach(async () => {
    await app?.close();
    await connection?.close();
  });

  it('refuse a burst past its limit and take it again once the window has passed, from each instant', async () => {
    // `@fastify/rate-limit`'s local store reads `Date.now()` on each request and keeps no timer,
    // so the faked date is its clock. The Action's token check reads the same clock.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(instants[0]!.at);
    const secret = 'a-secret-of-the-action-at-least-32-characters';
    const { publicJwk } = await generateLinkKey('k1');
    const config = loadApiConfig({
      ...TEST_PAYLOAD_ENV,
      PUBLIC_BASE_URL: 'http://invites.test',
      LINK_VERIFICATION_KEYS: JSON.stringify([publicJwk]),
      INVITE_ID_KEY: 'k'.repeat(32),
      ACTION_SECRET: secret,
      AUTH_ISSUER: 'https://tenant.example/',
      APP_LOGIN_URL: 'https://app.test/login',
      AUTH0_DOMAIN: 'tenant.example',
      AUTH0_CLIENT_ID: 'inviteflow-m2m',
      AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
    });
    // Nothing listens there, and nothing here reaches Temporal: a limit is decided before, and the
    // links are not valid ones.
    connection = Connection.lazy({ address: '127.0.0.1:1' });
    const rule = { max: MAX, windowMs: WINDOW };
    app = await buildApp({
      config,
      temporal: new Client({ connection }),
      linkVerifier: createLinkVerifier({ verificationKeys: config.LINK_VERIFICATION_KEYS, issuer: config.PUBLIC_BASE_URL, audience: config.LINK_AUDIENCE }),
      accountExists: () => Promise.resolve(false),
      logLevel: 'silent',
      rateLimits: { landingPerIp: rule, redeemPerIp: rule, redeemPerToken: rule },
    });
    const server = app;
    let sender = 0;
    const user = { id: 'auth0|ada', email: 'ada@example.com', email_verified: true, connection: 'Username-Password-Authentication' };
    // Each limit, with the request it counts and the answer of a request it lets through.
    const limits: { name: string; send: (key: string) => Promise<LightMyRequestResponse>; passed: number }[] = [
      { name: 'landing page per IP', send: (ip) => server.inject({ method: 'GET', url: '/i/not-a-link', remoteAddress: ip }), passed: 404 },
      // Counted before the Action's token is checked: without one, 401.
      { name: 'redemption per IP', send: (ip) => server.inject({ method: 'POST', url: '/v1/redemptions', remoteAddress: ip, payload: { token: 'x', user } }), passed: 401 },
      {
        name: 'redemption per link token',
        send: (token) =>
          server.inject({
            method: 'POST',
            url: '/v1/redemptions',
            // A fresh address each time: only the token's count grows.
            remoteAddress: `10.9.${(++sender >> 8) & 255}.${sender & 255}`,
            headers: { authorization: `Bearer ${signActionToken({ secret, subject: user.id, iat: Math.floor(Date.now() / 1000) })}` },
            payload: { token, user },
          }),
        // Counted before the link is verified: a link that is not one, `invite_invalid`.
        passed: 400,
      },
    ];
    const limited = (res: LightMyRequestResponse) => res.statusCode === 429;
    for (const [n, { label, at }] of instants.entries()) {
      for (const [k, limit] of limits.entries()) {
        const key = limit.name.endsWith('token') ? `link-${n}` : `10.${k}.${n >> 8}.${n & 255}`;
        const what = `${label}: ${limit.name}`;
        vi.setSystemTime(at);
        for (let i = 0; i < MAX; i++) expect((await limit.send(key)).statusCode, `${what}, request ${i + 1}`).toBe(limit.passed);
        const refused = await limit.send(key);
        expect(limited(refused), what).toBe(true);
        expect(refused.headers['retry-after'], what).toBe(String(WINDOW / 1000));
        // Still inside the window a second before its end: refused, with a second to wait.
        vi.setSystemTime(at + WINDOW - 1000);
        const late = await limit.send(key);
        expect(limited(late), `${what}, at the window's last second`).toBe(true);
        expect(late.headers['retry-after'], what).toBe('1');
        // Once the window has passed, a full burst again, then refused again.
        vi.setSystemTime(at + WINDOW);
        for (let i = 0; i < MAX; i++) expect((await limit.send(key)).statusCode, `${what}, after the window, request ${i + 1}`).toBe(limit.passed);
        expect(limited(await limit.send(key)), `${what}, after the window, past the limit`).toBe(true);
      }
    }
  });
});
