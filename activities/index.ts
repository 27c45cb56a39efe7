/**
 * All activities of the invite workflow, combined from one factory per integration. The worker
 * builds the real clients and calls `createActivities`; the workflow sees only the type.
 */
import { createAuth0Activities, type Auth0ActivityDeps } from './auth0';
import { createEmailActivities, type EmailDeps } from './email';
import { createHubSpotActivities, type HubSpotActivityDeps } from './hubspot';
import { createWebhookActivities, type WebhookDeps } from './webhook';

/** Clients the activities need, built by `worker/` from config. */
export interface ActivityDeps {
  email: EmailDeps;
  auth0: Auth0ActivityDeps;
  hubspot: HubSpotActivityDeps;
  /** The funnel webhook; default: none configured (events are dropped). */
  webhook?: WebhookDeps;
}

/** Every activity the invite workflow can schedule. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createEmailActivities(deps.email),
    ...createAuth0Activities(deps.auth0),
    ...createHubSpotActivities(deps.hubspot),
    ...createWebhookActivities(deps.webhook ?? {}),
  };
}

/** The activity interface the workflow proxies. */
export type InviteActivities = ReturnType<typeof createActivities>;
