/**
 * Links the person who redeemed an invite to a HubSpot contact. One batch upsert keyed by email
 * creates or updates the contact in a single idempotent call; the search API is never used (it
 * allows only 4 requests per second and is eventually consistent, so it breeds duplicates).
 * The SDK takes no custom `fetch`, so an outbound pacer paces each activity itself: one request, sent
 * when the activity starts at its reserved time (`activities/outbound-pacer.ts`).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@hubspot/api-client';
import { pacedActivity } from './outbound-pacer';
import type { OutboundPacer } from './outbound-pacer';
import { InviteErrorType } from '../workflows/errors';
import { toActivityFailure } from './failures';
import type { FailureDetails } from './failures';

/** Our custom contact properties; a setup script creates them in the HubSpot account. */
export const HUBSPOT_CONTACT_PROPERTIES = {
  auth0UserId: 'inviteflow_auth0_user_id',
  inviteId: 'inviteflow_invite_id',
  inviteStatus: 'inviteflow_invite_status',
  utmSource: 'inviteflow_utm_source',
  utmMedium: 'inviteflow_utm_medium',
  utmCampaign: 'inviteflow_utm_campaign',
  utmTerm: 'inviteflow_utm_term',
  utmContent: 'inviteflow_utm_content',
  followUp: 'inviteflow_follow_up',
} as const;

/** Value of the follow-up property on a contact whose invite went stale (a HubSpot workflow can make a task of it). */
export const STALE_INVITE_FOLLOW_UP = 'stale_invite';

// Attribution fields as the invite names them → our contact properties.
const ATTRIBUTION_PROPERTIES = {
  utm_source: HUBSPOT_CONTACT_PROPERTIES.utmSource,
  utm_medium: HUBSPOT_CONTACT_PROPERTIES.utmMedium,
  utm_campaign: HUBSPOT_CONTACT_PROPERTIES.utmCampaign,
  utm_term: HUBSPOT_CONTACT_PROPERTIES.utmTerm,
  utm_content: HUBSPOT_CONTACT_PROPERTIES.utmContent,
} as const;

/** Dependencies of the HubSpot activities. */
export interface HubSpotActivityDeps {
  hubspot: Client;
  /** Paces the activities to HubSpot's rolling limit; a 429 that gets through anyway pushes it back. */
  pacer?: OutboundPacer;
}

/** Input of `linkHubSpotContact`. */
export interface LinkHubSpotContactInput {
  email: string;
  auth0UserId: string;
  inviteId: string;
  inviteStatus: string;
  /** Campaign/UTM fields of the invite; only those given are written (others keep their value). */
  attribution?: Partial<Record<keyof typeof ATTRIBUTION_PROPERTIES, string>>;
}

/** Input of `upsertHubSpotInvitee`. */
export interface UpsertHubSpotInviteeInput {
  email: string;
  inviteId: string;
  attribution?: LinkHubSpotContactInput['attribution'];
  /** The contact's own properties to read back once upserted (`crmProperties`); none: no read. */
  properties: string[];
}

/** What `upsertHubSpotInvitee` answers. */
export interface UpsertHubSpotInviteeResult {
  contactId: string;
  /** The properties asked for, `null` when empty on the contact; absent when none were asked. */
  crm?: Record<string, string | null>;
}

/** Input of `markHubSpotInviteStale`. */
export interface MarkHubSpotInviteStaleInput {
  email: string;
  inviteId: string;
}

/** Builds the HubSpot activities around an injected client. */
export function createHubSpotActivities(deps: HubSpotActivityDeps) {
  const { hubspot, pacer } = deps;
  // Each activity makes exactly one request, an upsert: the client is not paced, so only the
  // activity's start waits for its turn.
  const paced = <I, R>(activity: (input: I) => Promise<R>) =>
    pacer ? pacedActivity(pacer, () => 1, activity, { clientPaced: false }) : activity;

  /** One batch upsert of the contact with this email; returns its id. */
  const upsertContact = async (email: string, properties: Record<string, string>): Promise<{ contactId: string }> => {
    let response: Awaited<ReturnType<typeof hubspot.crm.contacts.batchApi.upsert>>;
    try {
      response = await hubspot.crm.contacts.batchApi.upsert({
        inputs: [{ id: email, idProperty: 'email', properties: { email, ...properties } }],
      });
    } catch (err) {
      const failure = toActivityFailure('hubspot', err);
      const details = failure.details?.[0] as FailureDetails | undefined;
      // Another process spends the same limit: hold this one's requests back as long as HubSpot asked.
      if (pacer && details?.status === 429) pacer.pushBack(pacer.now() + (details.retryAfterMs ?? pacer.windowMs));
      throw failure;
    }
    const contactId = response.results[0]?.id;
    // A 207 carries per-input errors instead of a result; for a one-input batch that is a refusal.
    if (!contactId) {
      const errors = 'errors' in response ? (response.errors ?? []) : [];
      const reason = errors[0]?.message ?? 'no contact in the upsert response';
      throw ApplicationFailure.create({
        message: `hubspot upsert refused: ${reason}`,
        type: InviteErrorType.Permanent,
        nonRetryable: true,
        details: [{ service: 'hubspot', status: 207 }],
      });
    }
    return { contactId };
  };

  async function upsertInvitee(input: UpsertHubSpotInviteeInput): Promise<UpsertHubSpotInviteeResult> {
    const { contactId } = await upsertContact(input.email.trim(), {
      [HUBSPOT_CONTACT_PROPERTIES.inviteId]: input.inviteId,
      [HUBSPOT_CONTACT_PROPERTIES.inviteStatus]: 'invited',
      ...attributionProperties(input.attribution),
    });
    if (input.properties.length === 0) return { contactId };
    let contact: Awaited<ReturnType<typeof hubspot.crm.contacts.basicApi.getById>>;
    try {
      contact = await hubspot.crm.contacts.basicApi.getById(contactId, input.properties);
    } catch (err) {
      throw toActivityFailure('hubspot', err);
    }
    const crm: Record<string, string | null> = {};
    for (const name of input.properties) crm[name] = contact.properties[name] ?? null;
    return { contactId, crm };
  }

  return {
    /**
     * At creation: creates or updates the invitee's contact (status `invited`, the invite id, the
     * attribution), so its id is known before anyone clicks, then reads the contact's own properties
     * the invite binds. Two requests, both idempotent.
     */
    upsertHubSpotInvitee: pacer
      ? pacedActivity(pacer, (input: UpsertHubSpotInviteeInput) => (input.properties.length > 0 ? 2 : 1), upsertInvitee, { clientPaced: false })
      : upsertInvitee,

    /** Creates or updates the contact with this email and stamps it with the invite; returns its id. */
    linkHubSpotContact: paced((input: LinkHubSpotContactInput) =>
      upsertContact(input.email.trim(), {
        [HUBSPOT_CONTACT_PROPERTIES.auth0UserId]: input.auth0UserId,
        [HUBSPOT_CONTACT_PROPERTIES.inviteId]: input.inviteId,
        [HUBSPOT_CONTACT_PROPERTIES.inviteStatus]: input.inviteStatus,
        ...attributionProperties(input.attribution),
      }),
    ),

    /**
     * Marks the invitee's contact for follow-up: the invite is still pending close to its expiry.
     * Status `stale` and `inviteflow_follow_up = stale_invite`; a redemption later sets the status
     * to `redeemed`. The same idempotent upsert by email as the link.
     */
    markHubSpotInviteStale: paced((input: MarkHubSpotInviteStaleInput) =>
      upsertContact(input.email.trim(), {
        [HUBSPOT_CONTACT_PROPERTIES.inviteId]: input.inviteId,
        [HUBSPOT_CONTACT_PROPERTIES.inviteStatus]: 'stale',
        [HUBSPOT_CONTACT_PROPERTIES.followUp]: STALE_INVITE_FOLLOW_UP,
      }),
    ),
  };
}

function attributionProperties(attribution: LinkHubSpotContactInput['attribution']): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [field, property] of Object.entries(ATTRIBUTION_PROPERTIES)) {
    const value = attribution?.[field as keyof typeof ATTRIBUTION_PROPERTIES];
    if (typeof value === 'string' && value !== '') properties[property] = value;
  }
  return properties;
}
