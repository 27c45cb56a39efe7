/**
 * Every page an invitee sees before the login, in a real browser against the whole stack: the
 * invitation, declining (and keeping it), each way a link can fail, the funnel with its errors and
 * confirmation, and the invite email itself, in English and French, at desktop and mobile widths.
 * Each is saved under test-results/screenshots/ for a person to look at.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { formatDateTime } from '../../lib/locale';
import { atUniversalLogin, BROWSER_LANGUAGE, emailOf, LOCALES, newPage as openPage, screenshot, screenshots, signUp, VIEWPORT_NAMES } from './browser';
import type { Locale, Viewport } from './browser';
import { useStack } from './stack';
import type { Stack } from './stack';

let stack: Stack;
/** Invites whose one-minute ttl runs out while the other tests run. */
const expiring: Partial<Record<Locale, { email: string; link: string }>> = {};
/** Invites extended at once: their first link's one minute runs out, the invite lives on. */
const outlived: Partial<Record<Locale, { inviteId: string; link: string }>> = {};

useStack((started) => {
  stack = started;
});

beforeAll(async () => {
  for (const locale of LOCALES) {
    const email = emailOf(`expiring-${locale}`);
    await createInvite({ email, locale, ttl: '1 minute' });
    expiring[locale] = { email, link: await stack.linkFor(email) };

    const extended = emailOf(`outlived-${locale}`);
    const inviteId = await createInvite({ email: extended, locale, ttl: '1 minute' });
    outlived[locale] = { inviteId, link: await stack.linkFor(extended) };
    expect((await api('POST', `/v1/invites/${inviteId}/extend`, { ttl: '7 days' })).status).toBe(200);
  }
});

// The browser's own language is English unless a test says otherwise: the pages must follow the invite, not it.
const newPage = (viewport: Viewport, browserLanguage = 'en-US'): Promise<Page> => openPage(stack, { viewport, locale: browserLanguage });

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${await stack.funnelToken()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Creates an invite as the funnel backend does and returns its id. */
async function createInvite(body: Record<string, unknown>): Promise<string> {
  const res = await api('POST', '/v1/invites', { scope: 'workspace:acme', roles: ['member'], inviter: { name: 'Alice Martin' }, ...body });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function expectLang(page: Page, lang: string): Promise<void> {
  expect(await page.locator('html').getAttribute('lang')).toBe(lang);
  // Nothing a person sees names the service behind the product.
  expect((await page.locator('body').innerText()).toLowerCase()).not.toContain('inviteflow');
}

const WORDS = {
  en: { invited: "You're invited to Acme", continue: 'Continue', decline: /Decline and stop/, keep: 'Keep the invitation', confirm: 'Decline the invitation', declined: 'Invitation declined', back: 'Back to the invitation' },
  fr: { invited: 'Invitation à rejoindre Acme', continue: 'Continuer', decline: /Refuser et ne plus recevoir/, keep: 'Garder l’invitation', confirm: 'Refuser l’invitation', declined: 'Invitation refusée', back: 'Revenir à l’invitation' },
} as const;

describe('the invitation and declining it, in the invite’s language', () => {
  for (const locale of LOCALES) {
    it(`${locale}: the invitation, decline then keep (nothing changes), then decline with a way back`, async () => {
      const email = emailOf(`landing-${locale}`);
      const inviteId = await createInvite({ email, locale });
      const link = await stack.linkFor(email);
      const w = WORDS[locale];
      const { expiresAt, sendWindow } = await stack.status(inviteId);

      for (const viewport of VIEWPORT_NAMES) {
        // An English browser: the page follows the invite.
        const page = await newPage(viewport);
        expect((await page.goto(link))?.status()).toBe(200);
        await expectLang(page, locale);
        await expect.poll(() => page.locator('h1').textContent()).toBe(w.invited);
        expect(await page.locator('main').innerText()).toContain(formatDateTime(expiresAt, locale, sendWindow?.timeZone));
        const continueUrl = new URL((await page.getByRole('link', { name: w.continue }).getAttribute('href'))!);
        expect(continueUrl.searchParams.get('ui_locales')).toBe(locale);
        expect(continueUrl.searchParams.get('login_hint')).toBe(email);
        await screenshot(page, `pages-landing-${locale}-${viewport}`);

        await page.getByRole('link', { name: w.decline }).click();
        await page.waitForURL((url) => url.pathname.endsWith('/decline'));
        await expectLang(page, locale);
        await screenshot(page, `pages-decline-confirm-${locale}-${viewport}`);
        await page.getByRole('link', { name: w.keep }).click();
        await page.waitForURL(link);
        await expect.poll(() => page.locator('h1').textContent()).toBe(w.invited);
      }
      // Keeping changed nothing.
      expect((await stack.status(inviteId)).optedOutAt).toBeUndefined();

      for (const viewport of VIEWPORT_NAMES) {
        const page = await newPage(viewport);
        await page.goto(`${link}/decline`);
        await page.getByRole('button', { name: w.confirm }).click();
        await expect.poll(() => page.locator('h1').textContent()).toBe(w.declined);
        await expectLang(page, locale);
        await screenshot(page, `pages-declined-${locale}-${viewport}`);
        // The way back: declining stops emails, the invitation still works.
        await page.getByRole('link', { name: w.back }).click();
        await page.waitForURL(link);
        await expect.poll(() => page.locator('h1').textContent()).toBe(w.invited);
      }
      const declined = await stack.status(inviteId);
      expect(declined.optedOutAt).toBeDefined();
      expect(declined.state).toBe('pending');
    });
  }

  it('a link from before an extend says until when it works; the newest one does not need to', async () => {
    for (const locale of LOCALES) {
      const email = emailOf(`extended-${locale}`);
      const inviteId = await createInvite({ email, locale, ttl: '7 days' });
      const first = await stack.linkFor(email);
      const before = Date.now();
      expect((await api('POST', `/v1/invites/${inviteId}/extend`, { ttl: '20 days' })).status).toBe(200);
      const newest = await stack.linkFor(email, before);
      expect(newest).not.toBe(first);
      for (const viewport of VIEWPORT_NAMES) {
        const page = await newPage(viewport);
        await page.goto(first);
        await expectLang(page, locale);
        await page.getByTestId('link-validity').waitFor();
        await screenshot(page, `pages-landing-extended-${locale}-${viewport}`);
      }
      const page = await newPage('desktop');
      await page.goto(newest);
      await expect.poll(() => page.locator('h1').textContent()).toBe(WORDS[locale].invited);
      expect(await page.getByTestId('link-validity').count()).toBe(0);
    }
  });
});

describe('links that cannot be used, said kindly', () => {
  const TITLES = {
    invalid: { en: 'This link is not valid', fr: 'Ce lien n’est pas valide' },
    revoked: { en: 'This invitation was withdrawn', fr: 'Cette invitation a été retirée' },
    replaced: { en: 'This link was replaced', fr: 'Ce lien a été remplacé' },
    used: { en: 'This invitation was already accepted', fr: 'Cette invitation a déjà été acceptée' },
    expired: { en: 'This invitation has expired', fr: 'Cette invitation a expiré' },
    'link-expired': { en: 'This link has expired', fr: 'Ce lien a expiré' },
    'rate-limited': { en: 'Too many attempts', fr: 'Trop de tentatives' },
    unavailable: { en: 'Temporarily unavailable', fr: 'Service momentanément indisponible' },
    'not-found': { en: 'Page not found', fr: 'Page introuvable' },
  } as const;

  async function expectProblem(link: string, problem: keyof typeof TITLES, locale: Locale, status: number, browserLanguage = 'en-US'): Promise<void> {
    for (const viewport of VIEWPORT_NAMES) {
      const page = await newPage(viewport, browserLanguage);
      expect((await page.goto(link))?.status(), `${problem} ${locale}`).toBe(status);
      await expectLang(page, locale);
      expect(await page.locator('h1').textContent()).toBe(TITLES[problem][locale]);
      await screenshot(page, `pages-problem-${problem}-${locale}-${viewport}`);
    }
  }

  it('an unreadable link names no invite: the browser’s language', async () => {
    for (const locale of LOCALES) await expectProblem(`${stack.apiUrl}/i/not-a-real-link`, 'invalid', locale, 404, BROWSER_LANGUAGE[locale]);
  });

  it('an address under the links that leads nowhere: the browser’s language', async () => {
    for (const locale of LOCALES) await expectProblem(`${stack.apiUrl}/i/abc/def`, 'not-found', locale, 404, BROWSER_LANGUAGE[locale]);
  });

  it('a link opened too often from one address: wait a minute, in the browser’s language', async () => {
    // An API of the deployment that lets an address open links once a minute.
    const limited = await stack.startApi({ rateLimits: { landingPerIp: { max: 1, windowMs: 60_000 } } });
    const email = emailOf('limited');
    await createInvite({ email });
    const link = limited.linkTo(await stack.linkFor(email));
    const first = await newPage('desktop');
    expect((await first.goto(link))?.status()).toBe(200);
    await expect.poll(() => first.locator('h1').textContent()).toBe(WORDS.en.invited);
    // The limit answers before the invite is read: the browser's language speaks.
    for (const locale of LOCALES) await expectProblem(link, 'rate-limited', locale, 429, BROWSER_LANGUAGE[locale]);
    expect((await fetch(link)).headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('Temporal unreachable for the API: try again in a moment, and the same link works once it is back', async () => {
    const partitioned = await stack.startApi();
    const email = emailOf('unavailable');
    const inviteId = await createInvite({ email, locale: 'fr' });
    const link = partitioned.linkTo(await stack.linkFor(email));
    const page = await newPage('desktop');
    expect((await page.goto(link))?.status()).toBe(200);
    partitioned.temporal.cut();
    try {
      // Without Temporal the invite's language cannot be read: the browser's speaks.
      for (const locale of LOCALES) await expectProblem(link, 'unavailable', locale, 503, BROWSER_LANGUAGE[locale]);
    } finally {
      partitioned.temporal.restore();
    }
    await expect.poll(async () => (await page.reload())?.status(), { timeout: 60_000, interval: 1_000 }).toBe(200);
    expect(await page.locator('h1').textContent()).toBe(WORDS.fr.invited);
    expect((await stack.status(inviteId)).state).toBe('pending');
  }, 120_000);

  it('revoked and replaced invites: the invite’s language', async () => {
    for (const locale of LOCALES) {
      const revoked = emailOf(`revoked-${locale}`);
      const revokedId = await createInvite({ email: revoked, locale });
      const revokedLink = await stack.linkFor(revoked);
      expect((await api('POST', `/v1/invites/${revokedId}/revoke`, {})).status).toBe(200);
      await expectProblem(revokedLink, 'revoked', locale, 410);

      const replaced = emailOf(`replaced-${locale}`);
      await createInvite({ email: replaced, locale });
      const oldLink = await stack.linkFor(replaced);
      const before = Date.now();
      const again = await api('POST', '/v1/invites', { email: replaced, scope: 'workspace:acme', roles: ['member'], locale, replace: true });
      expect(again.ok).toBe(true);
      await stack.linkFor(replaced, before);
      await expectProblem(oldLink, 'replaced', locale, 410);
    }
  });

  it('an accepted invite offers to sign in, in the invite’s language', async () => {
    for (const locale of LOCALES) {
      const email = emailOf(`used-${locale}`);
      const inviteId = await createInvite({ email, locale });
      const link = await stack.linkFor(email);
      // Accepted for real: Continue, sign up on Universal Login, the Action redeems.
      const page = await newPage('desktop');
      await page.goto(link);
      await page.getByRole('link', { name: WORDS[locale].continue }).click();
      await atUniversalLogin(stack, page);
      await signUp(page);
      await expect.poll(async () => (await stack.status(inviteId)).state, { timeout: 30_000 }).not.toBe('pending');
      await expectProblem(link, 'used', locale, 410);
    }
  });

  it('an invite past its expiry', async () => {
    for (const locale of LOCALES) {
      const { link } = expiring[locale]!;
      // The invites were created with a one-minute ttl before the other tests ran.
      await expect.poll(async () => (await fetch(link, { method: 'HEAD' })).status, { timeout: 90_000, interval: 1_000 }).toBe(410);
      await expectProblem(link, 'expired', locale, 410);
    }
  }, 120_000);

  it('a link from before an extend, past the expiry its email gave: the invite lives on, use the newest email', async () => {
    for (const locale of LOCALES) {
      const { inviteId, link } = outlived[locale]!;
      await expect.poll(async () => (await fetch(link, { method: 'HEAD' })).status, { timeout: 90_000, interval: 1_000 }).toBe(410);
      await expectProblem(link, 'link-expired', locale, 410);
      expect((await stack.status(inviteId)).state).toBe('pending');
    }
  }, 120_000);
});

describe('the funnel, in the browser’s language', () => {
  const FUNNEL = {
    en: { heading: 'Leave your email to get access', required: 'Enter your email address.', invalid: /right format/, sent: 'Check your inbox', validUntil: 'The link is valid until' },
    fr: { heading: 'Laissez votre e-mail pour obtenir l’accès', required: 'Saisissez votre adresse e-mail.', invalid: /bon format/, sent: 'Consultez votre boîte de réception', validUntil: 'Le lien est valable jusqu’au' },
  } as const;

  for (const locale of LOCALES) {
    it(`${locale}: errors tied to their fields, the summary focused; then the confirmation in the invitee's time zone`, async () => {
      const f = FUNNEL[locale];
      for (const viewport of VIEWPORT_NAMES) {
        const page = await newPage(viewport, BROWSER_LANGUAGE[locale]);
        await page.goto(`${stack.demo.url}/funnel`);
        await expectLang(page, locale);
        expect(await page.locator('h1').textContent()).toBe(f.heading);
        await screenshot(page, `pages-funnel-${locale}-${viewport}`);

        // Nothing typed: the browser's own validation is off, the page answers in its language.
        await page.getByTestId('funnel-submit').click();
        await page.getByTestId('funnel-email-error').waitFor();
        const email = page.getByTestId('funnel-email');
        expect(await email.getAttribute('aria-invalid')).toBe('true');
        expect(await email.getAttribute('aria-describedby')).toBe('email-error');
        expect(await page.locator('#email-error').innerText()).toContain(f.required);
        // The summary has the focus, so a screen reader starts there; its entry leads to the field.
        await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('funnel-result');
        expect(await page.getByRole('alert').getByRole('link', { name: f.required }).getAttribute('href')).toBe('#email');
        await screenshot(page, `pages-funnel-errors-${locale}-${viewport}`);

        await page.getByTestId('funnel-email').fill('ada at example');
        await page.getByTestId('funnel-submit').click();
        await expect.poll(() => page.locator('#email-error').innerText()).toMatch(f.invalid);
        await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('funnel-result');
      }

      const address = emailOf(`funnel-${locale}`);
      const page = await newPage('desktop', BROWSER_LANGUAGE[locale]);
      await page.goto(`${stack.demo.url}/funnel`);
      await page.getByTestId('funnel-email').fill(address);
      await page.getByTestId('funnel-submit').click();
      await expect.poll(() => page.locator('h1').textContent()).toBe(f.sent);
      const inviteId = (await page.getByTestId('funnel-result').getAttribute('data-invite-id'))!;
      const { expiresAt, sendWindow } = await stack.status(inviteId);
      // The invite speaks the funnel page's language, and the date reads as in its email and pages.
      expect(sendWindow?.timeZone).toBe(locale === 'fr' ? 'Europe/Paris' : 'America/New_York');
      expect(await page.getByTestId('funnel-expiry').innerText()).toBe(`${f.validUntil} ${formatDateTime(expiresAt, locale, sendWindow?.timeZone)}.`);
      const message = await stack.mail.waitForMessage((m) => m.to.includes(address), 30_000);
      expect(message.text).toContain(formatDateTime(expiresAt, locale, sendWindow?.timeZone));
      await screenshots(page, 'pages-funnel-sent', locale);
    });
  }
});

describe('the invite email', () => {
  it('comes from the application, in the invite’s language, with the expiry in the invitee’s time zone', async () => {
    for (const locale of LOCALES) {
      const email = emailOf(`email-${locale}`);
      const inviteId = await createInvite({ email, locale });
      const message = await stack.mail.waitForMessage((m) => m.to.includes(email), 30_000);
      const { expiresAt, sendWindow } = await stack.status(inviteId);
      expect(message.from).toMatch(/^"?Acme"? <invites@acme\.example>$/);
      expect(message.subject).toBe(locale === 'fr' ? 'Alice Martin vous invite à rejoindre Acme' : 'Alice Martin invited you to join Acme');
      expect(message.text).toContain(formatDateTime(expiresAt, locale, sendWindow?.timeZone));
      expect(`${message.subject}${message.text}${message.html}${message.from}`.toLowerCase()).not.toContain('inviteflow');
      for (const viewport of VIEWPORT_NAMES) {
        const page = await newPage(viewport);
        await page.setContent(message.html!);
        await expectLang(page, locale);
        await screenshot(page, `email-invite-${locale}-${viewport}`);
      }
    }
  });
});
