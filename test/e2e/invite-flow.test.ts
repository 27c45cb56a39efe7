/**
 * End to end in a real browser (playwright-core driving Debian's Chromium): the funnel, the
 * email over SMTP, the link, the landing page, Universal Login on the Auth0 emulator running the
 * deployed post-login Action, and the customer space reading roles and data from the very first
 * token — then Auth0, HubSpot and the workflow checked for what the redemption did.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { inviteWorkflowId, statusQuery } from '../../workflows/messages';
import { startStack } from './stack';
import type { Stack } from './stack';

let stack: Stack;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startStack();
}, 180_000);

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await stack?.close();
});

const PASSWORD = 'a long and correct password';
const emailOf = (name: string) => `${name}.${randomBytes(4).toString('hex')}@example.com`;

async function newPage(): Promise<Page> {
  const context = await stack.browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

const createInvite = (body: Record<string, unknown>) => stack.createInvite(body);

/** Opens the emailed link and follows the landing page's Continue button to Universal Login. */
async function openInvite(page: Page, email: string, after = 0): Promise<void> {
  const link = await stack.linkFor(email, after);
  const landing = await page.goto(link);
  expect(landing?.status()).toBe(200);
  await expect.poll(() => page.locator('h1').textContent()).toMatch(/invited/i);
  await page.getByRole('link', { name: 'Continue' }).click();
  await page.waitForURL((url) => url.href.startsWith(stack.auth0.url));
}

/** Opens the customer space without an invite and follows its sign-in or sign-up button to Universal Login. */
async function loginFromApp(page: Page, button: 'sign-in' | 'sign-up'): Promise<void> {
  await page.goto(stack.demo.url);
  await page.getByTestId(button).click();
  await page.waitForURL((url) => url.href.startsWith(stack.auth0.url));
}

/** On Universal Login, signs in through the emulated social provider as `email` (and `name`, when given). */
async function socialLogin(page: Page, connection: 'google-oauth2' | 'facebook', email: string, name?: string): Promise<void> {
  await page.getByTestId(`social-${connection}`).click();
  await page.locator('#idp-email').fill(email);
  if (name !== undefined) await page.locator('#idp-name').fill(name);
  await page.getByTestId('idp-submit').click();
}

/** Waits until visibility shows the invite pending: a claim finds invites through it, and it trails the start. */
async function visiblyPending(inviteId: string): Promise<void> {
  await expect
    .poll(async () => (await stack.env.client.workflow.count(`WorkflowId = 'invite-${inviteId}' AND InviteStatus = 'pending'`)).count)
    .toBe(1);
}

/** Waits for the customer space and reads what it shows from the ID token. */
async function customerSpace(page: Page) {
  await page.waitForURL((url) => url.href.startsWith(stack.demo.url) && !url.pathname.startsWith('/callback'));
  await page.getByTestId('signed-in-email').waitFor();
  const text = async (id: string) => ((await page.getByTestId(id).count()) > 0 ? await page.getByTestId(id).textContent() : null);
  return {
    email: await text('signed-in-email'),
    userId: await text('user-id'),
    roles: await page.getByTestId('roles').locator('li').allTextContents(),
    scope: await text('invite-scope'),
    inviteId: await text('invite-id'),
    data: (await text('data')) ?? '',
    error: await text('invite-error'),
  };
}

const finalStatus = (inviteId: string) => stack.finalStatus(inviteId);
const auth0User = (email: string) => stack.auth0User(email);

describe('invite flow in a browser', () => {
  it('funnel → email → link → sign up → roles and data in the first token → Auth0, HubSpot, completed', async () => {
    const page = await newPage();
    const email = emailOf('ada');
    await page.goto(`${stack.demo.url}/funnel`);
    await page.getByTestId('funnel-email').fill(email);
    await page.getByTestId('funnel-name').fill('Ada');
    await page.getByTestId('funnel-submit').click();
    await expect.poll(() => page.getByTestId('funnel-result').textContent()).toMatch(/inbox/i);

    await openInvite(page, email);
    // No account exists yet, so the sign-up form comes first, with the invited address filled in.
    await expect.poll(() => page.locator('#email').inputValue()).toBe(email);
    await page.locator('#signup-password').fill(PASSWORD);
    await page.getByTestId('signup-submit').click();

    const shown = await customerSpace(page);
    expect(shown.email).toBe(email);
    expect(shown.roles).toEqual(['member']);
    expect(shown.scope).toBe('workspace:demo');
    expect(JSON.parse(shown.data)).toMatchObject({ source: 'demo-funnel', name: 'Ada' });
    expect(shown.error).toBeNull();

    const status = await finalStatus(shown.inviteId!);
    expect(status.state).toBe('completed');
    const user = auth0User(email);
    expect(status.redeemer?.userId).toBe(user.user_id);
    expect(user.roles).toEqual(['member']);
    // The link proved the mailbox: the fresh sign-up is verified now.
    expect(user.email_verified).toBe(true);
    expect(user.app_metadata).toMatchObject({ inviteflow: { 'workspace:demo': { inviteId: shown.inviteId, roles: ['member'] } } });
    expect(stack.hubspot.contactByEmail(email)?.properties).toMatchObject({
      inviteflow_auth0_user_id: user.user_id,
      inviteflow_invite_id: shown.inviteId,
    });
    expect(stack.hubspot.createdCount(email)).toBe(1);
  });

  it('an existing email/password account signs in and receives the invite', async () => {
    const email = emailOf('grace');
    const existing = stack.auth0.createUser({ email, password: PASSWORD, email_verified: true });
    const inviteId = await createInvite({ email, roles: ['billing'], data: { plan: 'team' } });
    const page = await newPage();
    await openInvite(page, email);
    await page.locator('#username').fill(email);
    await page.locator('#password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();

    const shown = await customerSpace(page);
    expect(shown).toMatchObject({ email, userId: existing.user_id, roles: ['billing'], inviteId });
    expect(JSON.parse(shown.data)).toEqual({ plan: 'team' });
    expect((await finalStatus(inviteId)).redeemer?.userId).toBe(existing.user_id);
    expect(auth0User(email).roles).toEqual(['billing']);
  });

  it('"Google" with the invited email receives the invite', async () => {
    const email = emailOf('hedy');
    const inviteId = await createInvite({ email, roles: ['member', 'billing'], data: { leadId: 'L-9' } });
    const page = await newPage();
    await openInvite(page, email);
    await socialLogin(page, 'google-oauth2', email, 'Hedy');

    const shown = await customerSpace(page);
    expect(shown.userId).toMatch(/^google-oauth2\|/);
    expect(shown.roles.sort()).toEqual(['billing', 'member']);
    const status = await finalStatus(inviteId);
    expect(status.redeemer).toMatchObject({ connection: 'google-oauth2', email });
  });

  it('same-email policy: another account is turned away without burning the invite; the right person then redeems', async () => {
    const email = emailOf('katherine');
    const inviteId = await createInvite({ email, roles: ['member'], data: { seat: 3 } });
    const link = await stack.linkFor(email);

    const intruder = await newPage();
    await openInvite(intruder, email);
    await socialLogin(intruder, 'facebook', emailOf('someone.else'));
    const refused = await customerSpace(intruder);
    expect(refused.error).toContain('invite_email_mismatch');
    expect(refused.roles).toEqual([]);
    const pending = await stack.env.client.workflow.getHandle(inviteWorkflowId(inviteId)).query(statusQuery);
    expect(pending.state).toBe('pending');

    const rightful = await newPage();
    await rightful.goto(link);
    await rightful.getByRole('link', { name: 'Continue' }).click();
    await rightful.locator('#signup-password').fill(PASSWORD);
    await rightful.getByTestId('signup-submit').click();
    const shown = await customerSpace(rightful);
    expect(shown).toMatchObject({ email, roles: ['member'], inviteId });
    expect((await finalStatus(inviteId)).redeemer?.email).toBe(email);
  });

  it('"any" policy: a forwarded link is redeemed by whoever holds it', async () => {
    const email = emailOf('team.lead');
    const colleague = emailOf('colleague');
    const inviteId = await createInvite({ email, roles: ['member'], data: {}, emailPolicy: 'any' });
    const page = await newPage();
    await openInvite(page, email);
    await socialLogin(page, 'facebook', colleague);
    const shown = await customerSpace(page);
    expect(shown).toMatchObject({ email: colleague, roles: ['member'], inviteId });
    const status = await finalStatus(inviteId);
    expect(status.redeemer).toMatchObject({ email: colleague, connection: 'facebook' });
    expect(auth0User(colleague).roles).toEqual(['member']);
    // The invited address never signed in: nothing was granted to it.
    expect(stack.auth0.state().users.some((u) => u.email === email)).toBe(false);
  });

  it('a mail scanner (HEAD, GET, a headless visit) consumes nothing; the person then redeems', async () => {
    const email = emailOf('scanned');
    const inviteId = await createInvite({ email, roles: ['member'], data: {} });
    const link = await stack.linkFor(email);
    expect((await fetch(link, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(link)).status).toBe(200);
    const scanner = await newPage();
    await scanner.goto(link);
    await scanner.waitForLoadState('networkidle');
    const status = await stack.env.client.workflow.getHandle(inviteWorkflowId(inviteId)).query(statusQuery);
    expect(status.state).toBe('pending');

    const person = await newPage();
    await openInvite(person, email);
    await person.locator('#signup-password').fill(PASSWORD);
    await person.getByTestId('signup-submit').click();
    expect((await customerSpace(person)).roles).toEqual(['member']);
    expect((await finalStatus(inviteId)).state).toBe('completed');
  });

  it('claim by verified email: "Google" with the invited address, never clicking the link, receives the opted-in invite', async () => {
    const email = emailOf('claimer');
    const inviteId = await createInvite({ email, roles: ['member'], data: { leadId: 'L-77' }, claimByVerifiedEmail: true });
    await visiblyPending(inviteId);
    const page = await newPage();
    await loginFromApp(page, 'sign-in');
    await socialLogin(page, 'google-oauth2', email, 'Claire');

    const shown = await customerSpace(page);
    expect(shown).toMatchObject({ email, roles: ['member'], inviteId, error: null });
    expect(JSON.parse(shown.data)).toEqual({ leadId: 'L-77' });
    const status = await finalStatus(inviteId);
    expect(status).toMatchObject({ state: 'completed', redeemedVia: 'verified-email', redeemer: { connection: 'google-oauth2', email } });
    expect(auth0User(email).roles).toEqual(['member']);
  });

  it('claim by verified email: an unverified sign-up with the invited address, or an invite that did not opt in, claims nothing', async () => {
    const email = emailOf('unverified');
    const inviteId = await createInvite({ email, roles: ['member'], claimByVerifiedEmail: true });
    const other = emailOf('linkonly');
    const linkOnly = await createInvite({ email: other, roles: ['member'] });
    await visiblyPending(inviteId);

    const page = await newPage();
    await loginFromApp(page, 'sign-up');
    await page.locator('#email').fill(email);
    await page.locator('#signup-password').fill(PASSWORD);
    await page.getByTestId('signup-submit').click();
    expect(await customerSpace(page)).toMatchObject({ email, roles: [], inviteId: null, error: null });

    const google = await newPage();
    await loginFromApp(google, 'sign-in');
    await socialLogin(google, 'google-oauth2', other, 'Linda');
    expect(await customerSpace(google)).toMatchObject({ email: other, roles: [], inviteId: null });

    for (const id of [inviteId, linkOnly]) {
      expect((await stack.env.client.workflow.getHandle(inviteWorkflowId(id)).query(statusQuery)).state).toBe('pending');
    }
  });

  it('plain self-signup without an invite gets nothing and is not blocked', async () => {
    const email = emailOf('walk.in');
    const page = await newPage();
    await loginFromApp(page, 'sign-up');
    await page.locator('#email').fill(email);
    await page.locator('#signup-password').fill(PASSWORD);
    await page.getByTestId('signup-submit').click();
    const shown = await customerSpace(page);
    expect(shown).toMatchObject({ email, roles: [], inviteId: null, error: null });
    expect(auth0User(email).roles).toEqual([]);
  });
});
