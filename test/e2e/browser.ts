/**
 * What the browser tests do with a page, in one place: open a fresh browser, follow an emailed
 * link to Universal Login, sign up or in there, read the customer space and its ID token, and
 * save screenshots. Helpers that reach the stack take it as their first argument.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { saveScreenshot } from './stack';
import type { Stack } from './stack';

/** The password every test account signs up and in with. */
export const PASSWORD = 'a long and correct password';
/** Where screenshots go for a person to look at (git-ignored). */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

/** The languages an invite speaks. */
export const LOCALES = ['en', 'fr'] as const;
export type Locale = (typeof LOCALES)[number];
/** A browser whose own language is the locale's. */
export const BROWSER_LANGUAGE: Record<Locale, string> = { en: 'en-US', fr: 'fr-FR' };

/** The widths every page is looked at. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  mobile: { width: 390, height: 844 },
} as const;
export type Viewport = keyof typeof VIEWPORTS;
export const VIEWPORT_NAMES = Object.keys(VIEWPORTS) as Viewport[];

/** A fresh address: `<name>.<random>@example.com`. */
export const emailOf = (name: string): string => `${name}.${randomBytes(4).toString('hex')}@example.com`;

export interface PageOptions {
  /** The browser's language (`navigator.languages`, `Accept-Language`), a BCP 47 tag; `en-US` by default. */
  locale?: string;
  /** `desktop` by default. */
  viewport?: Viewport;
  /** How long each action and wait may take; 20 s by default. */
  timeout?: number;
}

/** A fresh browser (no cookies, no storage); its context closes with the stack's browser. */
export async function newPage(stack: Stack, opts: PageOptions = {}): Promise<Page> {
  const context = await stack.browser.newContext({ locale: opts.locale ?? 'en-US', viewport: VIEWPORTS[opts.viewport ?? 'desktop'] });
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeout ?? 20_000);
  return page;
}

/** Saves the page as it is to `<SCREENSHOTS>/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const path = join(SCREENSHOTS, `${name}.png`);
  await mkdir(dirname(path), { recursive: true });
  await saveScreenshot(page, path);
}

/** Saves the page at desktop (1280) and mobile (390) widths as `<name>-<locale>-<desktop|mobile>.png`, then back to desktop. */
export async function screenshots(page: Page, name: string, locale: Locale): Promise<void> {
  for (const viewport of VIEWPORT_NAMES) {
    await page.setViewportSize(VIEWPORTS[viewport]);
    await screenshot(page, `${name}-${locale}-${viewport}`);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

/** The landing page's button that goes on to the customer space's login. */
export function continueButton(stack: Stack, page: Page): Locator {
  return page.locator(`a.button[href^="${stack.demo.url}/login?"]`);
}

/** Waits until the page is on Universal Login. */
export async function atUniversalLogin(stack: Stack, page: Page): Promise<void> {
  await page.waitForURL((url) => url.href.startsWith(`${stack.auth0.url}/u/`));
}

/** Waits until the login is back in the customer space (past its callback). */
export async function atCustomerSpace(stack: Stack, page: Page): Promise<void> {
  await page.waitForURL((url) => url.href.startsWith(stack.demo.url) && !url.pathname.startsWith('/callback'));
}

/**
 * Opens an emailed link and follows the landing page's button to Universal Login; with `heading`,
 * the landing page's heading must match it first.
 */
export async function openLink(stack: Stack, page: Page, link: string, opts: { heading?: RegExp } = {}): Promise<void> {
  const landing = await page.goto(link);
  expect(landing?.status()).toBe(200);
  const { heading } = opts;
  if (heading) await expect.poll(() => page.locator('h1').textContent()).toMatch(heading);
  await continueButton(stack, page).click();
  await atUniversalLogin(stack, page);
}

/** On Universal Login, signs in through the emulated social provider as `email` (and `name`, when given). */
export async function socialLogin(page: Page, connection: 'google-oauth2' | 'facebook', email: string, name?: string): Promise<void> {
  await page.getByTestId(`social-${connection}`).click();
  await page.locator('#idp-email').fill(email);
  if (name !== undefined) await page.locator('#idp-name').fill(name);
  await page.getByTestId('idp-submit').click();
}

/** On Universal Login, signs up with the password (the address is filled in, or typed when `email` is given). */
export async function signUp(page: Page, email?: string): Promise<void> {
  if ((await page.getByTestId('signup-form').count()) === 0) await page.getByTestId('signup-link').click();
  if (email !== undefined) await page.locator('#email').fill(email);
  await page.locator('#signup-password').fill(PASSWORD);
  await page.getByTestId('signup-submit').click();
}

/** On Universal Login, signs in with the password. */
export async function passwordLogin(page: Page, email: string): Promise<void> {
  if ((await page.getByTestId('login-form').count()) === 0) await page.getByTestId('login-link').click();
  await page.locator('#username').fill(email);
  await page.locator('#password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
}

/** What the customer space's signed-in view shows (null where it shows nothing). */
export interface CustomerSpace {
  email: string | null;
  userId: string | null;
  roles: string[];
  scope: string | null;
  inviteId: string | null;
  /** The invite's data as the page prints it (JSON), `''` when none. */
  data: string;
  contactId: string | null;
  /** The CRM properties shown, by name. */
  crm: Record<string, string | null>;
  /** The invite notice's code. */
  error: string | null;
  lang: string | null;
}

/** Waits for the customer space's signed-in view and reads what it shows. */
export async function customerSpace(stack: Stack, page: Page): Promise<CustomerSpace> {
  await atCustomerSpace(stack, page);
  await page.getByTestId('signed-in-email').waitFor();
  const text = async (id: string) =>
    (await page.getByTestId(id).count()) > 0 ? await page.getByTestId(id).first().textContent() : null;
  const crm: Record<string, string | null> = {};
  for (const dd of await page.locator('[data-testid="crm-properties"] dd').all())
    crm[(await dd.getAttribute('data-property'))!] = await dd.textContent();
  return {
    email: await text('signed-in-email'),
    userId: await text('user-id'),
    roles: await page.getByTestId('roles').locator('li').allTextContents(),
    scope: await text('invite-scope'),
    inviteId: await text('invite-id'),
    data: (await text('data')) ?? '',
    contactId: await text('contact-id'),
    crm,
    error:
      (await page.getByTestId('invite-error').count()) > 0
        ? await page.getByTestId('invite-error').getAttribute('data-code')
        : null,
    lang: await page.locator('html').getAttribute('lang'),
  };
}

/**
 * The ID token the customer space holds (Auth0's SPA SDK keeps it in localStorage), verified
 * against the tenant's keys.
 */
export async function idToken(stack: Stack, page: Page): Promise<JWTPayload> {
  const raw = await page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key?.endsWith('::@@user@@')) return (JSON.parse(localStorage.getItem(key)!) as { id_token: string }).id_token;
    }
    return undefined;
  });
  expect(raw).toBeDefined();
  const { payload } = await jwtVerify(raw!, createRemoteJWKSet(new URL(`${stack.auth0.url}/.well-known/jwks.json`)), {
    issuer: stack.auth0.issuer,
    audience: stack.auth0.spaClientId,
  });
  return payload;
}
