/**
 * One person, one grant, in a real browser with the real parts on both sides of every seam: the
 * email's link, Universal Login on the Auth0 emulator running the deployed post-login Action, the
 * API redeeming on Temporal, the worker's real Auth0 and HubSpot activities, and the customer space
 * reading the first token.
 *
 * - A person with a verified password account accepts the invite with Google under each account
 *   policy (`off`, `all-verified`, `link`), then signs in with the password: the grant is on the
 *   password account or not, as the policy says; under `link` it is the same Auth0 user.
 * - An unverified password account with the invited address is never linked nor granted.
 * - The first token carries the HubSpot contact id and the CRM properties the invite binds.
 * - HubSpot down at creation still sends the email; the contact is upserted once it is back.
 *
 * What Auth0 holds for the person before and after each policy is written to
 * test-results/accounts/ (docs/accounts.md, "What Auth0 holds"); screenshots of the login page at
 * the Google choice and of the customer space with the contact go to test-results/screenshots/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { claimName, CLAIMS as CLAIM } from '../../lib/action-contract';
import { createHubSpotClient } from '../../services/hubspot';
import { WAIT } from '../support/wait';
import {
  atUniversalLogin,
  BROWSER_LANGUAGE,
  customerSpace,
  emailOf,
  idToken,
  newPage as openPage,
  openLink,
  passwordLogin,
  PASSWORD,
  screenshots,
  signUp,
  socialLogin,
} from './browser';
import type { Locale } from './browser';
import { CLAIMS, useStack } from './stack';
import type { Stack } from './stack';

const ACCOUNTS = join(import.meta.dirname, '..', '..', 'test-results', 'accounts');
const SCOPE = 'workspace:acme';
/** A whole journey: two logins through Universal Login and a grant in between. */
const JOURNEY = 180_000;

let stack: Stack;
useStack((started) => {
  stack = started;
});

beforeAll(async () => {
  await mkdir(ACCOUNTS, { recursive: true });
});

/** A fresh browser in `locale`; the logins here, with their grants in between, may take 30 s a step. */
const newPage = (locale: Locale = 'en'): Promise<Page> => openPage(stack, { locale: BROWSER_LANGUAGE[locale], timeout: 30_000 });

/** Signs out in the customer space, then starts a sign-in from its home page. */
async function signOutAndIn(page: Page): Promise<void> {
  await page.getByTestId('sign-out').click();
  await page.getByTestId('signed-out').waitFor();
  await page.getByTestId('sign-in').click();
  await atUniversalLogin(stack, page);
}

/** An Auth0 user as the note shows it: id, identities, roles, whether `app_metadata` has the invite. */
interface Held {
  userId: string;
  emailVerified: boolean;
  identities: string[];
  roles: string[];
  inviteInAppMetadata: string | null;
}

/** Every Auth0 user of `email` (primaries with their linked identities), trimmed for the note. */
function holdings(email: string): Held[] {
  return stack.auth0
    .state()
    .users.filter((u) => u.email === email)
    .map((u) => {
      const invite = (u.app_metadata?.inviteflow as Record<string, { inviteId?: string }> | undefined)?.[SCOPE];
      return {
        userId: u.user_id,
        emailVerified: u.email_verified,
        identities: u.identities.map((i) => `${i.provider}|${i.user_id}`),
        roles: [...u.roles].sort(),
        inviteInAppMetadata: invite?.inviteId ?? null,
      };
    })
    .sort((a, b) => a.userId.localeCompare(b.userId));
}

const POLICIES = ['off', 'all-verified', 'link'] as const;

describe('an existing verified password account, the invite accepted with Google', () => {
  for (const policy of POLICIES) {
    // The login page is shown in English for `off`, in French for `link`.
    const locale: Locale = policy === 'link' ? 'fr' : 'en';
    it(
      `${policy}: the first token has the roles; the next password login ${policy === 'off' ? 'has none' : 'holds the grant'}`,
      async () => {
        const email = emailOf(`two.${policy}`);
        const password = stack.auth0.createUser({ email, password: PASSWORD, email_verified: true });
        const before = holdings(email);
        expect(before).toEqual([
          { userId: password.user_id, emailVerified: true, identities: [password.user_id], roles: [], inviteInAppMetadata: null },
        ]);
        const inviteId = await stack.createInvite({
          email,
          roles: ['member'],
          data: { seat: 3 },
          accountPolicy: policy,
          locale,
        });
        // The invite keeps the policy it was created with (`off` is the absence of one).
        expect((await stack.status(inviteId)).accountPolicy ?? 'off').toBe(policy);

        const page = await newPage(locale);
        await openLink(stack, page, await stack.linkFor(email));
        // An account exists: the login form, for the invited address, with the social buttons.
        expect(await page.locator('#username').inputValue()).toBe(email);
        await page.getByTestId('social-google-oauth2').waitFor();
        if (policy !== 'all-verified') await screenshots(page, 'login-page-google-choice', locale);
        await socialLogin(page, 'google-oauth2', email);

        const first = await customerSpace(stack, page);
        expect(first).toMatchObject({ email, roles: ['member'], inviteId, error: null, lang: locale });
        const firstToken = await idToken(stack, page);
        expect(firstToken[claimName(CLAIMS, CLAIM.roles)]).toEqual(['member']);
        expect(firstToken.sub).toBe(first.userId);

        const final = await stack.finalStatus(inviteId);
        expect(final.state).toBe('completed');
        const after = holdings(email);
        const googleId = after.flatMap((u) => u.identities).find((id) => id.startsWith('google-oauth2|'));
        expect(googleId).toBeDefined();

        await signOutAndIn(page);
        await passwordLogin(page, email);
        const second = await customerSpace(stack, page);
        expect(second.email).toBe(email);
        const secondToken = await idToken(stack, page);
        expect(secondToken.sub).toBe(second.userId);

        const grantOf = (userId: string | undefined) => {
          const held = after.find((u) => u.userId === userId);
          return held && { roles: held.roles, invite: held.inviteInAppMetadata };
        };
        const granted = { roles: ['member'], invite: inviteId };
        const none = { roles: [], invite: null };
        if (policy === 'off') {
          // Two users; the grant is on the Google account only.
          expect(after).toHaveLength(2);
          expect(first.userId).toBe(googleId);
          expect(grantOf(googleId)).toEqual(granted);
          expect(grantOf(password.user_id)).toEqual(none);
          expect(final.grantedTo).toEqual([googleId]);
          expect(second.userId).toBe(password.user_id);
          expect(second.roles).toEqual([]);
          expect(stack.auth0.getUser(password.user_id)?.roles).toEqual([]);
        } else if (policy === 'all-verified') {
          // Two users, both granted: whichever way the person signs in, Auth0 holds the roles.
          expect(after).toHaveLength(2);
          expect(first.userId).toBe(googleId);
          expect(grantOf(googleId)).toEqual(granted);
          expect(grantOf(password.user_id)).toEqual(granted);
          expect([...(final.grantedTo ?? [])].sort()).toEqual([googleId, password.user_id].sort());
          expect(second.userId).toBe(password.user_id);
          // Auth0 holds the roles on the password account (its RBAC roles), and the Action puts the
          // roles an account holds into every login's tokens.
          expect(stack.auth0.getUser(password.user_id)?.roles).toEqual(['member']);
          expect(second.roles).toEqual(['member']);
        } else {
          // One user: the older password account is the primary, the Google identity joined it.
          expect(after).toEqual([
            {
              userId: password.user_id,
              emailVerified: true,
              identities: [password.user_id, googleId],
              roles: ['member'],
              inviteInAppMetadata: inviteId,
            },
          ]);
          expect(stack.auth0.getUser(googleId!)).toBeUndefined();
          expect(final.linkedAccounts).toEqual({ primaryUserId: password.user_id, secondaryUserIds: [googleId] });
          expect(final.grantedTo).toEqual([password.user_id]);
          const linked = (await stack.events(inviteId)).find((e) => e.type === 'linked_accounts');
          expect(linked).toMatchObject({ userId: password.user_id, userIds: [googleId] });
          // Linked within the redemption answer's wait, the first login continued as the primary
          // (api.authentication.setPrimaryUser); linked later (a slow machine), it continued as the
          // Google account with the roles all the same. The password login is the primary either way.
          if (first.userId !== password.user_id) expect(first.userId).toBe(googleId);
          expect(second.userId).toBe(password.user_id);
          // The roles the primary holds, put into the tokens by the Action.
          expect(second.roles).toEqual(['member']);
          expect(stack.auth0.usersByEmail(email)).toHaveLength(1);
          expect(stack.auth0.getUser(password.user_id)?.roles).toEqual(['member']);
        }

        await writeFile(
          join(ACCOUNTS, `verified-password-then-google-${policy}.json`),
          `${JSON.stringify(
            {
              policy,
              person: 'a verified password account, then the invite accepted with Google for the same address',
              before,
              after,
              firstLogin: { via: 'google-oauth2', sub: first.userId, rolesInToken: first.roles },
              passwordLogin: {
                sub: second.userId,
                rolesInToken: second.roles,
                rolesInAuth0: stack.auth0.getUser(second.userId!)?.roles ?? [],
              },
            },
            null,
            2,
          )}\n`,
        );
      },
      JOURNEY,
    );
  }
});

describe('an unverified password account with the invited address', () => {
  for (const policy of ['all-verified', 'link'] as const) {
    it(
      `${policy}: accepting with Google never links nor grants it`,
      async () => {
        const email = emailOf(`squatted.${policy}`);
        // Made by someone else before the invite, its address never verified.
        const squatter = stack.auth0.createUser({ email, password: PASSWORD, email_verified: false });
        const before = holdings(email);
        const inviteId = await stack.createInvite({ email, roles: ['member'], data: {}, accountPolicy: policy });
        const page = await newPage();
        await openLink(stack, page, await stack.linkFor(email));
        await socialLogin(page, 'google-oauth2', email);
        const first = await customerSpace(stack, page);
        expect(first).toMatchObject({ email, roles: ['member'], inviteId, error: null });
        expect(first.userId).toMatch(/^google-oauth2\|/);

        const final = await stack.finalStatus(inviteId);
        expect(final.state).toBe('completed');
        expect(final.linkedAccounts).toBeUndefined();
        expect(final.grantedTo).toEqual([first.userId]);
        expect((await stack.events(inviteId)).filter((e) => e.type === 'linked_accounts')).toEqual([]);

        const after = holdings(email);
        expect(after).toHaveLength(2);
        expect(after.find((u) => u.userId === squatter.user_id)).toEqual({
          userId: squatter.user_id,
          emailVerified: false,
          identities: [squatter.user_id],
          roles: [],
          inviteInAppMetadata: null,
        });
        expect(after.find((u) => u.userId === first.userId)).toMatchObject({
          identities: [first.userId],
          roles: ['member'],
          inviteInAppMetadata: inviteId,
        });
        expect(stack.auth0.getUser(squatter.user_id)?.app_metadata?.inviteflow).toBeUndefined();

        await writeFile(
          join(ACCOUNTS, `unverified-password-then-google-${policy}.json`),
          `${JSON.stringify({ policy, person: 'an unverified password account made by someone else, then the invite accepted with Google', before, after }, null, 2)}\n`,
        );
      },
      JOURNEY,
    );
  }
});

describe('the CRM both ways', () => {
  const hubspot = () => createHubSpotClient({ accessToken: stack.hubspot.accessToken, basePath: stack.hubspot.url });

  for (const locale of ['en', 'fr'] as const) {
    it(
      `the first token carries the contact id and the CRM properties; the customer space shows them (${locale})`,
      async () => {
        const email = emailOf(`crm.${locale}`);
        // The contact exists in HubSpot with its own data, through HubSpot's API.
        const upserted = await hubspot().crm.contacts.batchApi.upsert({
          inputs: [{ id: email, idProperty: 'email', properties: { email } }],
        });
        const created = upserted.results[0]!;
        await hubspot().crm.contacts.basicApi.update(created.id, {
          properties: { lifecyclestage: 'customer', company: 'Acme Industries' },
        });
        const inviteId = await stack.createInvite({
          email,
          roles: ['member'],
          data: { plan: 'team' },
          crmProperties: ['lifecyclestage', 'company'],
          locale,
        });
        // Upserted at creation, before anyone clicks: its id and properties are bound to the invite.
        await expect
          .poll(async () => {
            const s = await stack.status(inviteId);
            return { contactId: s.contactId, crm: s.crm };
          }, WAIT)
          .toEqual({ contactId: created.id, crm: { lifecyclestage: 'customer', company: 'Acme Industries' } });
        expect(await stack.events(inviteId)).toContainEqual(expect.objectContaining({ type: 'crm_upserted', contactId: created.id }));

        const page = await newPage(locale);
        await openLink(stack, page, await stack.linkFor(email));
        await signUp(page);
        const shown = await customerSpace(stack, page);
        expect(shown).toMatchObject({
          email,
          roles: ['member'],
          inviteId,
          contactId: created.id,
          crm: { lifecyclestage: 'customer', company: 'Acme Industries' },
          error: null,
          lang: locale,
        });
        expect(await page.locator('[data-testid="crm"] h2').textContent()).toBe(
          locale === 'fr' ? 'Dans notre CRM' : 'In our CRM',
        );
        const token = await idToken(stack, page);
        expect(token[claimName(CLAIMS, CLAIM.contactId)]).toBe(created.id);
        expect(token[claimName(CLAIMS, CLAIM.crm)]).toEqual({ lifecyclestage: 'customer', company: 'Acme Industries' });
        await screenshots(page, 'customer-space-crm', locale);

        expect((await stack.finalStatus(inviteId)).state).toBe('completed');
        const user = stack.auth0.getUser(shown.userId!);
        expect(user?.app_metadata?.inviteflow).toMatchObject({
          [SCOPE]: {
            inviteId,
            hubspotContactId: created.id,
            crm: { lifecyclestage: 'customer', company: 'Acme Industries' },
          },
        });
        expect(stack.hubspot.contactByEmail(email)?.properties).toMatchObject({
          inviteflow_invite_status: 'redeemed',
          inviteflow_auth0_user_id: shown.userId,
        });
        expect(stack.hubspot.createdCount(email)).toBe(1);
      },
      JOURNEY,
    );
  }

  it(
    'HubSpot down at creation: the email goes out, the contact is upserted once HubSpot is back, and the redemption links it',
    async () => {
      const email = emailOf('outage');
      stack.hubspot.outage({ retryAfterSeconds: 1 });
      let inviteId: string;
      try {
        inviteId = await stack.createInvite({ email, roles: ['member'], data: {} });
        // The email does not wait for HubSpot.
        await stack.linkFor(email);
        const s = await stack.status(inviteId);
        expect(s.state).toBe('pending');
        expect(s.contactId).toBeUndefined();
        expect((await stack.events(inviteId)).map((e) => e.type)).not.toContain('crm_upserted');
        expect(stack.hubspot.contactByEmail(email)).toBeUndefined();
      } finally {
        stack.hubspot.endOutage();
      }

      await expect
        .poll(() => stack.hubspot.contactByEmail(email)?.properties, WAIT)
        .toMatchObject({ inviteflow_invite_id: inviteId, inviteflow_invite_status: 'invited' });
      const contactId = stack.hubspot.contactByEmail(email)!.id;
      await expect.poll(async () => (await stack.status(inviteId)).contactId, WAIT).toBe(contactId);
      expect(await stack.events(inviteId)).toContainEqual(expect.objectContaining({ type: 'crm_upserted', contactId }));

      const page = await newPage();
      await openLink(stack, page, await stack.linkFor(email));
      await signUp(page);
      const shown = await customerSpace(stack, page);
      expect(shown).toMatchObject({ email, roles: ['member'], inviteId, contactId, error: null });
      expect((await stack.finalStatus(inviteId)).state).toBe('completed');
      expect(stack.hubspot.contactByEmail(email)?.properties).toMatchObject({
        inviteflow_invite_id: inviteId,
        inviteflow_invite_status: 'redeemed',
        inviteflow_auth0_user_id: shown.userId,
      });
      expect(stack.hubspot.createdCount(email)).toBe(1);
    },
    JOURNEY,
  );
});
