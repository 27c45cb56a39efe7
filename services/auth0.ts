/**
 * Builds the Auth0 Management API client. Temporal owns retries, so the SDK's own retries
 * (408/429/5xx, honouring Retry-After) are off: a failed call fails the activity attempt at once
 * and `activities/failures.ts` tells Temporal how long the service asked us to wait. The worker
 * paces Management API requests through `pace` (`activities/outbound-pacer.ts`).
 */
import { ManagementClient } from 'auth0';

/** Options of `createManagementClient`. */
export interface ManagementClientOptions {
  /** Tenant domain, e.g. `acme.eu.auth0.com`. */
  domain: string;
  clientId: string;
  clientSecret: string;
  /**
   * Only for local emulators: where requests to `https://<domain>` really go, e.g.
   * `http://127.0.0.1:4010`. Production leaves it unset.
   */
  endpoint?: string;
  /** Per-request timeout; shorter than the SDK's 60 s so an attempt fails before Temporal's own timeout. */
  timeoutSeconds?: number;
  /**
   * Wraps the `fetch` the SDK sends with, seeing each `https://<domain>` URL before any rerouting;
   * the worker paces Management API requests (`isManagementApi`) with it.
   */
  pace?: (send: typeof fetch) => typeof fetch;
}

/**
 * A `fetch` that sends requests for `https://<domain>` to `endpoint` instead. The SDK always builds
 * `https://<domain>/api/v2` and `https://<domain>/oauth/token` and uses its `fetch` option for both
 * (the management calls and the client-credentials token request).
 */
export function redirectingFetch(
  domain: string,
  endpoint: string,
  baseFetch: typeof fetch = fetch,
): typeof fetch {
  const origin = `https://${domain}`;
  const target = endpoint.replace(/\/+$/, '');
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url !== origin && !url.startsWith(`${origin}/`)) return baseFetch(input, init);
    const rewritten = `${target}${url.slice(origin.length)}`;
    return input instanceof Request
      ? baseFetch(new Request(rewritten, input), init)
      : baseFetch(rewritten, init);
  };
}

/** A Management API request (`/api/v2/…`); the token request has its own limit. */
export const isManagementApi = (url: URL): boolean => url.pathname.startsWith('/api/v2/');

/**
 * The real `ManagementClient` with SDK retries off; `endpoint` reroutes it to an emulator and
 * `pace` wraps its sends.
 */
export function createManagementClient(opts: ManagementClientOptions): ManagementClient {
  const routed = opts.endpoint ? redirectingFetch(opts.domain, opts.endpoint) : undefined;
  // The paced fetch sees the https://<domain> URL the SDK built, before any rerouting.
  const paced = opts.pace ? opts.pace(routed ?? fetch) : routed;
  return new ManagementClient({
    domain: opts.domain,
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    maxRetries: 0,
    timeoutInSeconds: opts.timeoutSeconds ?? 15,
    ...(paced ? { fetch: paced } : {}),
  });
}
