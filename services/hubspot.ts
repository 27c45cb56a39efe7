/**
 * Builds the HubSpot client. Temporal owns retries: `numberOfApiCallRetries` stays unset, because
 * the SDK's retry decorator ignores what HubSpot asks for and sleeps inside the activity.
 */
import { Client } from '@hubspot/api-client';

/** Options of `createHubSpotClient`. */
export interface HubSpotClientOptions {
  /** Private-app access token (`pat-…`). */
  accessToken: string;
  /** Only for local emulators: replaces `https://api.hubapi.com`, e.g. `http://127.0.0.1:4020`. */
  basePath?: string;
}

/** The real HubSpot `Client`, without SDK retries; `basePath` reroutes it to an emulator. */
export function createHubSpotClient(opts: HubSpotClientOptions): Client {
  const client = new Client({
    accessToken: opts.accessToken,
    // The SDK appends paths that start with '/', so a trailing slash would double it.
    ...(opts.basePath ? { basePath: opts.basePath.replace(/\/+$/, '') } : {}),
  });
  // The SDK keeps its decorators (retries, limiter) in a process-wide singleton that each `new
  // Client` overwrites, and applies them when an API group is first touched. Touching the groups
  // we use now binds them to this client's (empty) set, whatever other clients do later.
  void client.crm.contacts.batchApi;
  void client.crm.properties.coreApi;
  return client;
}
