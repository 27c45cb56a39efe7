/**
 * Links the person who redeemed an invite to a HubSpot contact. One batch upsert keyed by email
 * creates or updates the contact in a single idempotent call; the search API is never used (it
 * allows only 4 requests per second and is eventually consistent, so it breeds duplicates).
 * The SDK takes no custom `fetch`, so a rate limiter paces the activity itself: one request, sent
 * when the activity starts at its reserved time (`lib/rate-limit.ts`).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@hubspot/api-client';
import { pacedActivity } from '../lib/rate-limit';
import type { RateLimiter } from '../lib/rate-limit';
import { InviteErrorType } from '../workflows/errors';
import { toActivityFailure } from './failures';
import type { FailureDetails } from './failures';

/** Our custom contact properties; a setup script creates them in the HubSpot account. */
export const HUBSPOT_CONTACT_PROPERTIES = {
  auth0UserId: 'inviteflow_auth0_user_id',
  inviteId: 'inviteflow_invite_id',
  inviteStatus: 'inviteflow_invite_status',
} as const;

/** Dependencies of the HubSpot activities. */
export interface HubSpotActivityDeps {
  hubspot: Client;
  /** Paces the activities to HubSpot's rolling limit; a 429 that gets through anyway pushes it back. */
  limiter?: RateLimiter;
}

/** Input of `linkHubSpotContact`. */
export interface LinkHubSpotContactInput {
  email: string;
  auth0UserId: string;
  inviteId: string;
  inviteStatus: string;
}

/** Builds the HubSpot activities around an injected client. */
export function createHubSpotActivities(deps: HubSpotActivityDeps) {
  const { hubspot, limiter } = deps;
  // `requests(input)`: the most HubSpot requests the activity makes for that input. It must stay
  // one: the client is not paced, so only the activity's start waits for its turn.
  const paced = <I, R>(requests: (input: I) => number, activity: (input: I) => Promise<R>) =>
    limiter ? pacedActivity(limiter, requests, activity, { clientPaced: false }) : activity;

  return {
    /** Creates or updates the contact with this email and stamps it with the invite; returns its id. */
    linkHubSpotContact: paced(
      // One batch upsert.
      () => 1,
      async (input: LinkHubSpotContactInput): Promise<{ contactId: string }> => {
        const email = input.email.trim();
        let response: Awaited<ReturnType<typeof hubspot.crm.contacts.batchApi.upsert>>;
        try {
          response = await hubspot.crm.contacts.batchApi.upsert({
            inputs: [
              {
                id: email,
                idProperty: 'email',
                properties: {
                  email,
                  [HUBSPOT_CONTACT_PROPERTIES.auth0UserId]: input.auth0UserId,
                  [HUBSPOT_CONTACT_PROPERTIES.inviteId]: input.inviteId,
                  [HUBSPOT_CONTACT_PROPERTIES.inviteStatus]: input.inviteStatus,
                },
              },
            ],
          });
        } catch (err) {
          const failure = toActivityFailure('hubspot', err);
          const details = failure.details?.[0] as FailureDetails | undefined;
          // Another process spends the same limit: hold this one's requests back as long as HubSpot asked.
          if (limiter && details?.status === 429)
            limiter.pushBack(limiter.now() + (details.retryAfterMs ?? limiter.windowMs));
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
      },
    ),
  };
}
