/**
 * The schemas of the invite routes, shared by their modules: the named ones (`.meta({ id })`)
 * become the OpenAPI document's components, so they are declared here, once and in one order.
 */
import { z } from 'zod';
import { DEFAULT_LOCALE, DEFAULT_SCOPE } from '../../../client/invites';
import {
  MAX_ATTRIBUTION_LENGTH,
  MAX_CRM_PROPERTIES,
  MAX_DATA_BYTES,
  MAX_DATA_DEPTH,
  MAX_DATA_KEYS,
  MAX_REMINDERS,
  MAX_ROLES,
} from '../../../workflows/input';
import { ACCOUNT_POLICIES } from '../../../workflows/messages';
import type { AccountPolicy, InviteStatus, LifecycleEventType } from '../../../workflows/messages';
import { errorBodySchema } from '../../errors';

export const INVITE_STATES = ['pending', 'undeliverable', 'redeemed', 'completed', 'expired', 'revoked', 'failed'] as const;
export const INVITE_ID = /^[a-z0-9]{16,64}$/;

export const durationSchema = z
  .union([z.string().min(1).max(40), z.number().int().positive()])
  .describe('A duration such as "7 days" or "36h", or milliseconds');

const utm = z.string().min(1).max(MAX_ATTRIBUTION_LENGTH).optional();
export const attributionSchema = z
  .strictObject({ utm_source: utm, utm_medium: utm, utm_campaign: utm, utm_term: utm, utm_content: utm })
  .meta({ id: 'Attribution' });

export const createInviteBody = z
  .strictObject({
    email: z.string().min(1).max(320).describe('The invitee; trimmed and lower-cased'),
    roles: z
      .array(z.string().max(100))
      .max(MAX_ROLES)
      .default([])
      .describe(
        'Auth0 role names granted on redemption (exact names). Each must exist in the Auth0 tenant: ' +
          'otherwise 400 unknown_role naming them, and nothing is started',
      ),
    data: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        `Our data bound to the account: a JSON object of at most ${MAX_DATA_BYTES / 1024} kB, nesting at most ${MAX_DATA_DEPTH} levels ` +
          `(the object itself is level 1; an array is a level) with at most ${MAX_DATA_KEYS} keys in all (array items count as keys). ` +
          'More is 400 invalid_request naming the limit',
      ),
    scope: z.string().max(64).default(DEFAULT_SCOPE).describe('What the invite is for; one open invite per email+scope'),
    locale: z.string().max(10).default(DEFAULT_LOCALE),
    ttl: durationSchema.optional().describe('Time to live; default 7 days, at most 30 days'),
    reminders: z.array(durationSchema).max(MAX_REMINDERS).optional().describe('Reminder offsets; default 2 and 5 days'),
    timeZone: z.string().max(64).optional().describe("The invitee's IANA time zone; reminders go out in its daytime. Kept as named (spelled as IANA spells it), not replaced by another name of the zone. Default: the locale's (en → America/New_York, fr → Europe/Paris, …)"),
    sendWindow: z
      .strictObject({ start: z.string().max(5), end: z.string().max(5) })
      .optional()
      .describe('Local hours reminders may go out in ("HH:MM"); default 09:00–20:00, within 07:00–22:00, at least 2 hours'),
    escalateBefore: z
      .union([durationSchema, z.literal(false)])
      .optional()
      .describe('Escalate a still-pending invite this long before expiry (inviter emailed, HubSpot contact marked); default 2 days; false: never'),
    emailPolicy: z.enum(['same-email', 'any']).optional(),
    redirect: z.string().max(2048).optional().describe('Where the customer space sends the person after sign-in'),
    inviter: z.strictObject({ name: z.string().max(100).optional(), email: z.string().max(320).optional() }).optional(),
    attribution: attributionSchema.optional().describe('Campaign/UTM fields; written to the HubSpot contact on redemption'),
    claimByVerifiedEmail: z
      .boolean()
      .optional()
      .describe('Let the person claim the invite by signing up or in with this email, verified, without the link; default false'),
    attributionInClaims: z.boolean().optional().describe('Also put attribution into the tokens of the customer space (claim …/attribution); default false'),
    accountPolicy: z
      .enum(ACCOUNT_POLICIES as [AccountPolicy, ...AccountPolicy[]], { message: `must be one of ${ACCOUNT_POLICIES.join(', ')}` })
      .optional()
      .describe(
        'Which Auth0 accounts of the person get the grant: off (the redeeming account alone), all-verified (also every account whose ' +
          'verified email is the invited one), link (those accounts linked into one user). Default: the tenant\'s ACCOUNT_POLICY. ' +
          'Another name is 400 invalid_request naming the field and the allowed values',
      ),
    crmProperties: z
      .array(z.string().max(100))
      .max(MAX_CRM_PROPERTIES)
      .optional()
      .describe(
        'HubSpot contact properties (internal names, e.g. lifecyclestage, company) read when the contact is upserted and bound beside data, ' +
          'so the first token carries them. Default: the tenant\'s HUBSPOT_TOKEN_PROPERTIES; [] binds none. Each must exist in HubSpot: ' +
          'otherwise 400 unknown_crm_property naming them, and nothing is started',
      ),
    replace: z.boolean().default(false).describe('Revoke the open invite for this email+scope and start a new one'),
  })
  .meta({ id: 'CreateInvite' });

export const sentEmailSchema = z
  .object({
    sequence: z.number().int(),
    kind: z.enum(['invite', 'reminder', 'resend', 'extend']),
    at: z.string(),
    messageId: z.string(),
  })
  .meta({ id: 'SentEmail' });

export const statusSchema = z
  .object({
    inviteId: z.string(),
    state: z.enum(INVITE_STATES),
    email: z.string(),
    scope: z.string(),
    roles: z.array(z.string()),
    data: z.record(z.string(), z.unknown()),
    redirect: z.string().optional(),
    emailPolicy: z.enum(['same-email', 'any']),
    locale: z.string().optional().describe("The invite's language: its emails and the pages of its link speak it"),
    attribution: attributionSchema.optional(),
    attributionInClaims: z.boolean().optional(),
    createdAt: z.string(),
    expiresAt: z.string(),
    emails: z.array(sentEmailSchema).describe('Emails sent (their link ids are never shown)'),
    emailError: z.string().optional(),
    optedOutAt: z.string().optional(),
    claimByVerifiedEmail: z.boolean().optional(),
    redeemedVia: z.enum(['link', 'verified-email']).optional(),
    sendWindow: z.object({ timeZone: z.string(), start: z.string(), end: z.string() }).optional().describe('Reminders go out in this local window'),
    escalatedAt: z.string().optional().describe('When the still-pending invite was escalated to the inviter and HubSpot'),
    undeliverable: z
      .object({ at: z.string(), kind: z.enum(['bounce', 'complaint']), reason: z.string().optional() })
      .optional()
      .describe('The mail provider reported the address undeliverable: no more emails; a delivered link still redeems'),
    redeemedAt: z.string().optional(),
    redeemer: z.object({ userId: z.string(), email: z.string(), emailVerified: z.boolean(), connection: z.string() }).optional(),
    rolesNotGranted: z
      .array(z.string())
      .optional()
      .describe('Roles of the invite deleted in Auth0 before it was redeemed: skipped, the rest of the invite was granted'),
    accountPolicy: z.enum(['off', 'all-verified', 'link']).optional().describe('Which Auth0 accounts of the person get the grant (absent: off)'),
    crmProperties: z.array(z.string()).optional().describe('HubSpot contact properties the invite binds beside data'),
    contactId: z.string().optional().describe('The HubSpot contact of the invited address, once upserted'),
    crm: z.record(z.string(), z.string().nullable()).optional().describe("The contact's properties bound to the invite, once read"),
    linkedAccounts: z
      .object({ primaryUserId: z.string(), secondaryUserIds: z.array(z.string()) })
      .optional()
      .describe('Policy link: the Auth0 user the accounts were linked into'),
    grantedTo: z.array(z.string()).optional().describe('The Auth0 users that hold the grant'),
    completedAt: z.string().optional(),
    expiredAt: z.string().optional(),
    revokedAt: z.string().optional(),
    revokeReason: z.string().optional(),
    failedAt: z.string().optional(),
    failure: z.object({ type: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'InviteStatus' });

const LIFECYCLE_TYPES = [
  'created',
  'emailed',
  'reminded',
  'email_refused',
  'clicked',
  'refused',
  'redeemed',
  'granted',
  'linked',
  'crm_upserted',
  'crm_failed',
  'linked_accounts',
  'link_refused',
  'completed',
  'failed',
  'extended',
  'declined',
  'revoked',
  'expired',
  'undeliverable',
  'escalated',
  'notified',
  'notify_failed',
] as const satisfies readonly LifecycleEventType[];

export const lifecycleSchema = z
  .object({
    id: z.string(),
    events: z.array(
      z.object({
        at: z.string(),
        type: z.enum(LIFECYCLE_TYPES),
        sequence: z.number().int().optional().describe('The email (its number) the event is about'),
        kind: z.enum(['invite', 'reminder', 'resend', 'extend']).optional(),
        code: z.string().optional().describe('refused: the stable code the redemption got'),
        reason: z.string().optional(),
        userId: z.string().optional(),
        connection: z.string().optional(),
        contactId: z.string().optional().describe('linked, crm_upserted: the HubSpot contact'),
        userIds: z.array(z.string()).optional().describe('linked_accounts: the Auth0 users linked into userId, the primary'),
        expiresAt: z.string().optional(),
        event: z.string().optional().describe('notified/notify_failed: the webhook event; undeliverable: bounce or complaint'),
      }),
    ),
    omitted: z.number().int().describe('Clicks and refusals beyond the recorded maximum, only counted'),
  })
  .meta({ id: 'InviteLifecycle' });

export const linksSchema = z.object({ self: z.string() });

export const inviteSchema = z.object({ id: z.string(), status: statusSchema, links: linksSchema }).meta({ id: 'Invite' });

export type InviteView = z.infer<typeof inviteSchema>;

export const idParams = z.object({ id: z.string().regex(INVITE_ID, 'must be an invite id') });

export const listSchema = z
  .object({
    items: z.array(
      z.object({
        id: z.string(),
        status: z.string().optional(),
        email: z
          .string()
          .optional()
          .describe('With payload encryption (the default) visibility holds only a keyed hash: present when the list was filtered by email'),
        scope: z.string().optional(),
        expiresAt: z.string().optional(),
        startTime: z.string(),
        closeTime: z.string().optional(),
        execution: z.string().describe('Temporal execution status: RUNNING, COMPLETED, TERMINATED, …'),
      }),
    ),
    nextPageToken: z.string().optional().describe('Pass as pageToken for the next page; absent on the last page'),
  })
  .meta({ id: 'InviteList' });

export const resendSchema = z
  .object({
    id: z.string(),
    sent: sentEmailSchema.optional().describe('The email; absent while it is still being sent (202)'),
    links: linksSchema,
  })
  .meta({ id: 'Resend' });

export const errors = {
  400: errorBodySchema,
  401: errorBodySchema,
  403: errorBodySchema,
  404: errorBodySchema,
  503: errorBodySchema,
};

export const selfLink = (id: string) => `/v1/invites/${id}`;

/** The status as the API shows it: link ids stay inside Temporal. */
export function toView(status: InviteStatus): InviteView {
  const { emails, ...rest } = status;
  return {
    id: status.inviteId,
    status: { ...rest, emails: emails.map(({ linkId: _linkId, ...email }) => email) },
    links: { self: selfLink(status.inviteId) },
  };
}
