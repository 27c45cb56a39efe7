/**
 * End to end in a real browser (playwright-core driving Debian's Chromium): the funnel, the
 * email over SMTP, the link, the landing page, Universal Login on the Auth0 emulator running the
 * deployed post-login Action, and the customer space reading roles and data from the very first
 * token — then Auth0, HubSpot and the workflow checked for what the redemption did.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { atUniversalLogin, customerSpace, emailOf, newPage, openLink, passwordLogin, PASSWORD, signUp, socialLogin } from './browser';
import { useStack } from './stack';
import type { Stack } from './stack';

let stack: Stack;
useStack((started) => {
  stack = started;
});

/** Opens the newest email's link and follows the landing page's Continue button to Universal Login. */
async function openInvite(page: Page, email: string): Promise<void> {
  await openLink(stack, page, await stack.linkFor(email), { heading: /invited/i });
}

/** Opens the customer space without an invite and follows its sign-in or sign-up button to Universal Login. */
async function loginFromApp(page: Page, button: 'sign-in' | 'sign-up'): Promise<void> {
  await page.goto(stack.demo.url);
  await page.getByTestId(button).click();
  await atUniversalLogin(stack, page);
}

/** Waits until visibility shows the invite pending: a claim finds invites through it, and it trails the start. */
async function visiblyPending(inviteId: string): Promise<void> {
  await expect
    .poll(async () => (await stack.env.client.workflow.count(`WorkflowId = 'invite-${inviteId}' AND InviteStatus = 'pending'`)).count)
    .toBe(1);
}

describe('invite flow in a browser', () => {
  it('funnel → email → link → sign up → roles and data in the first token → Auth0, HubSpot, completed', async () => {
    const page = await newPage(stack);
    const email = emailOf('ada');
    await page.goto(`${stack.demo.url}/funnel`);
    await page.getByTestId('funnel-email').fill(email);
    await page.getByTestId('funnel-name').fill('Ada');
    await page.getByTestId('funnel-submit').click();
    await expect.poll(() => page.getByTestId('funnel-result').textContent()).toMatch(/inbox/i);

    await openInvite(page, email);
    // No account exists yet, so the sign-up form comes first, with the invited address filled in.
    await expect.poll(() => page.locator('#email').inputValue()).toBe(email);
    await signUp(page);

    const shown = await customerSpace(stack, page);
    expect(shown.email).toBe(email);
    expect(shown.roles).toEqual(['member']);
    expect(shown.scope).toBe('workspace:demo');
    expect(JSON.parse(shown.data)).toMatchObject({ source: 'demo-funnel', name: 'Ada' });
    expect(shown.error).toBeNull();

    const status = await stack.finalStatus(shown.inviteId!);
    expect(status.state).toBe('completed');
    const user = stack.auth0User(email);
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
    const inviteId = await stack.createInvite({ email, roles: ['billing'], data: { plan: 'team' } });
    const page = await newPage(stack);
    await openInvite(page, email);
    await passwordLogin(page, email);

    const shown = await customerSpace(stack, page);
    expect(shown).toMatchObject({ email, userId: existing.user_id, roles: ['billing'], inviteId });
    expect(JSON.parse(shown.data)).toEqual({ plan: 'team' });
    expect((await stack.finalStatus(inviteId)).redeemer?.userId).toBe(existing.user_id);
    expect(stack.auth0User(email).roles).toEqual(['billing']);
  });

  it('"Google" with the invited email receives the invite', async () => {
    const email = emailOf('hedy');
    const inviteId = await stack.createInvite({ email, roles: ['member', 'billing'], data: { leadId: 'L-9' } });
    const page = await newPage(stack);
    await openInvite(page, email);
    await socialLogin(page, 'google-oauth2', email, 'Hedy');

    const shown = await customerSpace(stack, page);
    expect(shown.userId).toMatch(/^google-oauth2\|/);
    expect(shown.roles.sort()).toEqual(['billing', 'member']);
    const status = await stack.finalStatus(inviteId);
    expect(status.redeemer).toMatchObject({ connection: 'google-oauth2', email });
  });

  it('same-email policy: another account is turned away without burning the invite; the right person then redeems', async () => {
    const email = emailOf('katherine');
    const inviteId = await stack.createInvite({ email, roles: ['member'], data: { seat: 3 } });
    const link = await stack.linkFor(email);

    const intruder = await newPage(stack);
    await openInvite(intruder, email);
    await socialLogin(intruder, 'facebook', emailOf('someone.else'));
    const refused = await customerSpace(stack, intruder);
    expect(refused.error).toContain('invite_email_mismatch');
    expect(refused.roles).toEqual([]);
    const pending = await stack.status(inviteId);
    expect(pending.state).toBe('pending');

    const rightful = await newPage(stack);
    await rightful.goto(link);
    await rightful.getByRole('link', { name: 'Continue' }).click();
    await atUniversalLogin(stack, rightful);
    await signUp(rightful);
    const shown = await customerSpace(stack, rightful);
    expect(shown).toMatchObject({ email, roles: ['member'], inviteId });
    expect((await stack.finalStatus(inviteId)).redeemer?.email).toBe(email);
  });

  it('"any" policy: a forwarded link is redeemed by whoever holds it', async () => {
    const email = emailOf('team.lead');
    const colleague = emailOf('colleague');
    const inviteId = await stack.createInvite({ email, roles: ['member'], data: {}, emailPolicy: 'any' });
    const page = await newPage(stack);
    await openInvite(page, email);
    await socialLogin(page, 'facebook', colleague);
    const shown = await customerSpace(stack, page);
    expect(shown).toMatchObject({ email: colleague, roles: ['member'], inviteId });
    const status = await stack.finalStatus(inviteId);
    expect(status.redeemer).toMatchObject({ email: colleague, connection: 'facebook' });
    expect(stack.auth0User(colleague).roles).toEqual(['member']);
    // The invited address never signed in: nothing was granted to it.
    expect(stack.auth0.state().users.some((u) => u.email === email)).toBe(false);
  });

  it('a mail scanner (HEAD, GET, a headless visit) consumes nothing; the person then redeems', async () => {
    const email = emailOf('scanned');
    const inviteId = await stack.createInvite({ email, roles: ['member'], data: {} });
    const link = await stack.linkFor(email);
    expect((await fetch(link, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(link)).status).toBe(200);
    const scanner = await newPage(stack);
    await scanner.goto(link);
    await scanner.waitForLoadState('networkidle');
    const status = await stack.status(inviteId);
    expect(status.state).toBe('pending');

    const person = await newPage(stack);
    await openInvite(person, email);
    await signUp(person);
    expect((await customerSpace(stack, person)).roles).toEqual(['member']);
    expect((await stack.finalStatus(inviteId)).state).toBe('completed');
  });

  it('claim by verified email: "Google" with the invited address, never clicking the link, receives the opted-in invite', async () => {
    const email = emailOf('claimer');
    const inviteId = await stack.createInvite({ email, roles: ['member'], data: { leadId: 'L-77' }, claimByVerifiedEmail: true });
    await visiblyPending(inviteId);
    const page = await newPage(stack);
    await loginFromApp(page, 'sign-in');
    await socialLogin(page, 'google-oauth2', email, 'Claire');

    const shown = await customerSpace(stack, page);
    expect(shown).toMatchObject({ email, roles: ['member'], inviteId, error: null });
    expect(JSON.parse(shown.data)).toEqual({ leadId: 'L-77' });
    const status = await stack.finalStatus(inviteId);
    expect(status).toMatchObject({ state: 'completed', redeemedVia: 'verified-email', redeemer: { connection: 'google-oauth2', email } });
    expect(stack.auth0User(email).roles).toEqual(['member']);
  });

  it('claim by verified email: an unverified sign-up with the invited address, or an invite that did not opt in, claims nothing', async () => {
    const email = emailOf('unverified');
    const inviteId = await stack.createInvite({ email, roles: ['member'], claimByVerifiedEmail: true });
    const other = emailOf('linkonly');
    const linkOnly = await stack.createInvite({ email: other, roles: ['member'] });
    await visiblyPending(inviteId);

    const page = await newPage(stack);
    await loginFromApp(page, 'sign-up');
    await signUp(page, email);
    expect(await customerSpace(stack, page)).toMatchObject({ email, roles: [], inviteId: null, error: null });

    const google = await newPage(stack);
    await loginFromApp(google, 'sign-in');
    await socialLogin(google, 'google-oauth2', other, 'Linda');
    expect(await customerSpace(stack, google)).toMatchObject({ email: other, roles: [], inviteId: null });

    for (const id of [inviteId, linkOnly]) {
      expect((await stack.status(id)).state).toBe('pending');
    }
  });

  it('plain self-signup without an invite gets nothing and is not blocked', async () => {
    const email = emailOf('walk.in');
    const page = await newPage(stack);
    await loginFromApp(page, 'sign-up');
    await signUp(page, email);
    const shown = await customerSpace(stack, page);
    expect(shown).toMatchObject({ email, roles: [], inviteId: null, error: null });
    expect(stack.auth0User(email).roles).toEqual([]);
  });
});
