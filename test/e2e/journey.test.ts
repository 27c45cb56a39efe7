/**
 * The branches of the invitee's journey a real person hits, in a real browser, with the real
 * parts on both sides of every seam: the email's link, the landing page, the customer space
 * (Auth0's SPA SDK), Universal Login on the Auth0 emulator running the deployed post-login Action,
 * and the API redeeming on the Temporal dev server. Signing in with an account the invite refuses
 * ends, in one step, with the invite redeemed by the right account and its roles in the first
 * token; the invite stays redeemable throughout. Screenshots of every page these branches show,
 * in English and French at desktop and mobile widths, go to test-results/screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  atCustomerSpace,
  atUniversalLogin,
  BROWSER_LANGUAGE,
  continueButton,
  customerSpace,
  emailOf,
  LOCALES,
  newPage,
  openLink,
  passwordLogin,
  PASSWORD,
  screenshots,
  signUp,
  socialLogin,
} from './browser';
import type { Locale } from './browser';
import { APP_NAME, useStack } from './stack';
import type { Stack } from './stack';

let stack: Stack;
useStack((started) => {
  stack = started;
});

/**
 * The refused login's notice names the invited address and offers one control; clicking it signs
 * out at the tenant and lands on a fresh Universal Login for that address.
 */
async function switchAccount(page: Page, invited: string, shots?: { locale: Locale }): Promise<void> {
  const notice = page.getByTestId('invite-error');
  await expect.poll(() => notice.getAttribute('data-code')).toBe('invite_email_mismatch');
  expect(await page.getByTestId('invite-for').textContent()).toContain(invited);
  const control = page.getByTestId('switch-account');
  expect(await control.count()).toBe(1);
  expect(await notice.locator('button, a').count()).toBe(1);
  expect(await control.textContent()).toContain(invited);
  if (shots) await screenshots(page, 'customer-space-wrong-account', shots.locale);
  const sessionCookie = async () =>
    (await page.context().cookies(stack.auth0.url)).find((c) => c.name === 'auth0')?.value;
  const refusedSession = await sessionCookie();
  expect(refusedSession).toBeDefined();
  await control.click();
  await atUniversalLogin(stack, page);
  // Signed out of the refused account at the tenant, the address filled in, the invite attached.
  expect(await sessionCookie()).toBeUndefined();
  const field = (await page.getByTestId('signup-form').count()) > 0 ? '#email' : '#username';
  expect(await page.locator(field).inputValue()).toBe(invited);
}

describe('the wrong account, then the right one in one step', () => {
  for (const refused of ['password', 'google-oauth2', 'facebook'] as const) {
    it(`a ${refused} account of another address is refused; "Sign in as" the invited address redeems`, async () => {
      const invited = emailOf(`invited.${refused}`);
      const other = emailOf(`other.${refused}`);
      const inviteId = await stack.createInvite({ email: invited, roles: ['member'], data: { seat: 7 } });
      const page = await newPage(stack);
      await openLink(stack, page, await stack.linkFor(invited));
      if (refused === 'password') {
        stack.auth0.createUser({ email: other, password: PASSWORD, email_verified: true });
        await passwordLogin(page, other);
      } else {
        await socialLogin(page, refused, other);
      }
      const wrong = await customerSpace(stack, page);
      expect(wrong).toMatchObject({
        email: other,
        roles: [],
        inviteId: null,
        error: 'invite_email_mismatch',
      });
      expect((await stack.status(inviteId)).state).toBe('pending');

      await switchAccount(page, invited, refused === 'password' ? { locale: 'en' } : undefined);
      if (refused === 'password') await screenshots(page, 'login-page-signup', 'en');
      // The right person: a fresh sign-up with a password, or their own Google account.
      if (refused === 'google-oauth2') await socialLogin(page, 'google-oauth2', invited);
      else await signUp(page);

      const right = await customerSpace(stack, page);
      expect(right).toMatchObject({ email: invited, roles: ['member'], inviteId, error: null });
      if (refused === 'password') await screenshots(page, 'customer-space-signed-in', 'en');
      const status = await stack.finalStatus(inviteId);
      expect(status.state).toBe('completed');
      expect(status.redeemer?.userId).toBe(stack.auth0User(invited).user_id);
      expect(stack.auth0User(invited).roles).toEqual(['member']);
      expect(stack.auth0User(other).roles).toEqual([]);
    });
  }

  it('an existing password account of the invited address signs in after the switch and redeems', async () => {
    const invited = emailOf('existing');
    const existing = stack.auth0.createUser({ email: invited, password: PASSWORD, email_verified: true });
    const inviteId = await stack.createInvite({ email: invited, roles: ['billing'], data: {} });
    const page = await newPage(stack);
    await openLink(stack, page, await stack.linkFor(invited));
    // An account exists, so the login form comes first, for the invited address.
    expect(await page.locator('#username').inputValue()).toBe(invited);
    await screenshots(page, 'login-page', 'en');
    await socialLogin(page, 'facebook', emailOf('personal'));
    expect((await customerSpace(stack, page)).error).toBe('invite_email_mismatch');

    await switchAccount(page, invited);
    expect(await page.getByTestId('login-form').count()).toBe(1);
    await passwordLogin(page, invited);
    const right = await customerSpace(stack, page);
    expect(right).toMatchObject({
      email: invited,
      userId: existing.user_id,
      roles: ['billing'],
      inviteId,
      error: null,
    });
    expect((await stack.finalStatus(inviteId)).redeemer?.userId).toBe(existing.user_id);
  });

  it('opening the link again while the refused session is alive asks who is signing in', async () => {
    const invited = emailOf('reopen');
    const inviteId = await stack.createInvite({ email: invited, roles: ['member'], data: {} });
    const link = await stack.linkFor(invited);
    const page = await newPage(stack);
    await openLink(stack, page, link);
    await socialLogin(page, 'google-oauth2', emailOf('still.signed.in'));
    expect((await customerSpace(stack, page)).error).toBe('invite_email_mismatch');
    const flows = stack.auth0.state().flows.length;

    // Same browser, the tenant's session of the refused account still alive: the email's link
    // again leads to the login page, not silently back into that account.
    await openLink(stack, page, link);
    expect(await page.locator('#email').inputValue()).toBe(invited);
    expect(stack.auth0.state().flows.length).toBe(flows);
    expect((await stack.status(inviteId)).state).toBe('pending');
    await signUp(page);
    expect(await customerSpace(stack, page)).toMatchObject({
      email: invited,
      roles: ['member'],
      inviteId,
      error: null,
    });
    expect((await stack.finalStatus(inviteId)).redeemer?.email).toBe(invited);
  });
});

describe('the API unreachable during login', () => {
  for (const locale of LOCALES) {
    it(`tells the person (${locale}) and "Try again" redeems once the API is back`, async () => {
      const email = emailOf(`unreachable.${locale}`);
      const inviteId = await stack.createInvite({ email, roles: ['member'], data: {}, locale });
      const page = await newPage(stack, { locale: BROWSER_LANGUAGE[locale] });
      stack.actionRoute.cut();
      try {
        await openLink(stack, page, await stack.linkFor(email));
        await signUp(page);
        const shown = await customerSpace(stack, page);
        expect(shown).toMatchObject({
          email,
          roles: [],
          inviteId: null,
          error: 'invite_unavailable',
          lang: locale,
        });
        const notice = page.getByTestId('invite-error');
        expect(await notice.locator('button, a').count()).toBe(1);
        expect(await page.getByTestId('retry-invite').textContent()).toBe(
          locale === 'fr' ? 'Réessayer' : 'Try again',
        );
        await screenshots(page, 'customer-space-invite-unavailable', locale);
        expect((await stack.status(inviteId)).state).toBe('pending');
      } finally {
        stack.actionRoute.restore();
      }
      await page.getByTestId('retry-invite').click();
      await atUniversalLogin(stack, page);
      await passwordLogin(page, email);
      expect(await customerSpace(stack, page)).toMatchObject({ email, roles: ['member'], inviteId, error: null });
      expect((await stack.finalStatus(inviteId)).state).toBe('completed');
    });
  }
});

describe('the Action denying refused logins (ON_REFUSAL=deny)', () => {
  beforeAll(() => stack.deployAction('deny'));
  afterAll(() => stack.deployAction('continue'));

  for (const locale of LOCALES) {
    it(`comes back signed out with the same notice and control (${locale}), then the right account redeems`, async () => {
      const invited = emailOf(`denied.${locale}`);
      const inviteId = await stack.createInvite({ email: invited, roles: ['member'], data: {}, locale });
      const page = await newPage(stack, { locale: BROWSER_LANGUAGE[locale] });
      await openLink(stack, page, await stack.linkFor(invited));
      await socialLogin(page, 'google-oauth2', emailOf('denied.other'));

      await atCustomerSpace(stack, page);
      await page.getByTestId('signed-out').waitFor();
      const notice = page.getByTestId('invite-error');
      expect(await notice.getAttribute('data-code')).toBe('invite_email_mismatch');
      expect(await page.locator('html').getAttribute('lang')).toBe(locale);
      // No claim carries the address here; the landing page's hint names it.
      expect(await page.getByTestId('invite-for').textContent()).toContain(invited);
      expect(await notice.locator('button, a').count()).toBe(1);
      await screenshots(page, 'customer-space-denied', locale);
      expect((await stack.status(inviteId)).state).toBe('pending');

      await page.getByTestId('switch-account').click();
      await atUniversalLogin(stack, page);
      expect(await page.locator('#email').inputValue()).toBe(invited);
      await signUp(page);
      expect(await customerSpace(stack, page)).toMatchObject({
        email: invited,
        roles: ['member'],
        inviteId,
        error: null,
      });
      expect((await stack.finalStatus(inviteId)).state).toBe('completed');
    });
  }
});

describe('an invite closed between opening its link and signing in', () => {
  // The person opened the invitation while it was open and pressed Continue later: by then it was
  // withdrawn, had expired, or someone else had accepted it. The login goes through (the Action's
  // `continue` policy) and the customer space says why nothing was granted, in the invite's
  // language, with the code for support under the sentence and no control to press.
  const NOTICES = {
    invite_revoked: { en: 'This invitation was withdrawn.', fr: 'Cette invitation a été retirée.' },
    invite_expired: { en: 'This invitation has expired. Ask for a new one.', fr: 'Cette invitation a expiré. Demandez-en une nouvelle.' },
    invite_already_used: {
      en: 'This invitation was already accepted by another account.',
      fr: 'Cette invitation a déjà été acceptée par un autre compte.',
    },
  } as const;
  const CODE_LABEL = { en: 'Code for support: ', fr: 'Code pour le support\u00a0: ' } as const;
  type Opened = { inviteId: string; email: string; page: Page };
  /** Invites with a one-minute ttl, their invitation opened at once; they expire while the other tests run. */
  const expiring: Partial<Record<Locale, Opened>> = {};

  /** Creates an invite and opens its invitation in an English browser, stopping before Continue. */
  async function openInvitation(name: string, locale: Locale, extra: Record<string, unknown> = {}): Promise<Opened> {
    const email = emailOf(name);
    const inviteId = await stack.createInvite({ email, roles: ['member'], data: {}, locale, ...extra });
    const page = await newPage(stack);
    expect((await page.goto(await stack.linkFor(email)))?.status()).toBe(200);
    expect(await page.locator('html').getAttribute('lang')).toBe(locale);
    return { inviteId, email, page };
  }

  /** Continue, then Universal Login, then the customer space's notice for `code`, saved as screenshots. */
  async function expectNotice(page: Page, code: keyof typeof NOTICES, locale: Locale, signIn: () => Promise<void>): Promise<void> {
    await continueButton(stack, page).click();
    await atUniversalLogin(stack, page);
    await signIn();
    const shown = await customerSpace(stack, page);
    expect(shown).toMatchObject({ roles: [], inviteId: null, error: code, lang: locale });
    const notice = page.getByTestId('invite-error');
    const text = await notice.innerText();
    expect(text).toContain(NOTICES[code][locale]);
    // The code is labelled, under the sentence, never alone.
    expect(text.indexOf(`${CODE_LABEL[locale]}${code}`)).toBeGreaterThan(text.indexOf(NOTICES[code][locale]));
    expect(await notice.locator('button, a').count()).toBe(0);
    await screenshots(page, `customer-space-${code.replaceAll('_', '-')}`, locale);
  }

  beforeAll(async () => {
    for (const locale of LOCALES) expiring[locale] = await openInvitation(`expiring.${locale}`, locale, { ttl: '1 minute' });
  });

  it('withdrawn: the invited person signs up and is told, in the invite’s language', async () => {
    for (const locale of LOCALES) {
      const { inviteId, page } = await openInvitation(`withdrawn.${locale}`, locale);
      const revoked = await fetch(`${stack.apiUrl}/v1/invites/${inviteId}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await stack.funnelToken()}` },
        body: '{}',
      });
      expect(revoked.status).toBe(200);
      await expectNotice(page, 'invite_revoked', locale, () => signUp(page));
      expect((await stack.finalStatus(inviteId)).state).toBe('revoked');
    }
  });

  it('accepted by someone else: another account is told, and the invite stays theirs', async () => {
    for (const locale of LOCALES) {
      const { inviteId, email, page } = await openInvitation(`accepted.${locale}`, locale);
      // The invited person accepts it in another browser.
      const other = await newPage(stack);
      await openLink(stack, other, await stack.linkFor(email));
      await signUp(other);
      expect(await customerSpace(stack, other)).toMatchObject({ email, roles: ['member'], inviteId, error: null });
      const redeemer = stack.auth0User(email).user_id;
      await expectNotice(page, 'invite_already_used', locale, () => socialLogin(page, 'google-oauth2', emailOf(`latecomer.${locale}`)));
      const status = await stack.finalStatus(inviteId);
      expect(status.state).toBe('completed');
      expect(status.redeemer?.userId).toBe(redeemer);
    }
  });

  it('expired: the invited person signs up and is told, in the invite’s language', async () => {
    for (const locale of LOCALES) {
      const { inviteId, page } = expiring[locale]!;
      await expect.poll(async () => (await stack.status(inviteId)).state, { timeout: 90_000, interval: 1_000 }).toBe('expired');
      await expectNotice(page, 'invite_expired', locale, () => signUp(page));
    }
  }, 150_000);
});

describe('a French invite', () => {
  it('from the email through a refused account and the switch to the customer space, in French, in an English browser', async () => {
    const invited = emailOf('amelie');
    const inviteId = await stack.createInvite({
      email: invited,
      roles: ['member'],
      data: { plan: 'équipe' },
      locale: 'fr',
    });
    // An English browser: the invite's locale, not the browser's, speaks from the email's link on.
    const page = await newPage(stack);
    const landing = await page.goto(await stack.linkFor(invited));
    expect(landing?.status()).toBe(200);
    expect(await page.locator('html').getAttribute('lang')).toBe('fr');
    const cont = continueButton(stack, page);
    expect(new URL((await cont.getAttribute('href'))!).searchParams.get('ui_locales')).toBe('fr');
    await cont.click();
    await atUniversalLogin(stack, page);
    // Universal Login in French, with the application's name.
    expect(await page.locator('html').getAttribute('lang')).toBe('fr');
    expect(await page.locator('h1').textContent()).toBe('Créez votre compte');
    expect(await page.locator('p.lead').textContent()).toBe(`Inscrivez-vous à ${APP_NAME} pour continuer.`);
    await screenshots(page, 'login-page-signup', 'fr');
    await page.getByTestId('login-link').click();
    expect(await page.locator('h1').textContent()).toBe('Bienvenue');
    await screenshots(page, 'login-page', 'fr');

    await socialLogin(page, 'facebook', emailOf('autre'));
    const wrong = await customerSpace(stack, page);
    expect(wrong).toMatchObject({ error: 'invite_email_mismatch', lang: 'fr' });
    expect(await page.getByTestId('invite-for').textContent()).toBe(
      `Cette invitation est destinée à ${invited}.`,
    );
    expect(await page.getByTestId('switch-account').textContent()).toBe(
      `Se connecter en tant que ${invited}`,
    );
    await switchAccount(page, invited, { locale: 'fr' });
    expect(await page.locator('html').getAttribute('lang')).toBe('fr');
    await signUp(page);

    const right = await customerSpace(stack, page);
    expect(right).toMatchObject({ email: invited, roles: ['member'], inviteId, error: null, lang: 'fr' });
    expect(await page.locator('h1').textContent()).toBe('Vous êtes connecté');
    await screenshots(page, 'customer-space-signed-in', 'fr');
    // A reload keeps the session (the SDK's cache) and the language.
    await page.reload();
    expect(await customerSpace(stack, page)).toMatchObject({ email: invited, roles: ['member'], lang: 'fr' });
    expect((await stack.finalStatus(inviteId)).state).toBe('completed');
  });
});
