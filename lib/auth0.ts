/**
 * Builds the Auth0 Management API client. Temporal owns retries, so the SDK's own retries
 * (408/429/5xx, honouring Retry-After) are off: a failed call fails the activity attempt at once
 * and `activities/failures.ts` tells Temporal how long the service asked us to wait. With a
 * `limiter`, Management API requests go out at the times it hands out (`lib/rate-limit.ts`).
 */
import { ManagementClient } from 'auth0';
import { pacedFetch } from './rate-limit';
import type { RateLimiter } from './rate-limit';

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
   * Paces Management API requests (`/api/v2/…`; the token request has its own limit). Give the
   * same limiter to `createAuth0Activities`, whose activities reserve their requests up front.
   */
  limiter?: RateLimiter;
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

const isManagementApi = (url: URL) => url.pathname.startsWith('/api/v2/');

/**
 * The real `ManagementClient` with SDK retries off; `endpoint` reroutes it to an emulator and
 * `limiter` paces it.
 */
export function createManagementClient(opts: ManagementClientOptions): ManagementClient {
  const routed = opts.endpoint ? redirectingFetch(opts.domain, opts.endpoint) : undefined;
  // The paced fetch sees the https://<domain> URL the SDK built, before any rerouting.
  const paced = opts.limiter ? pacedFetch(routed ?? fetch, opts.limiter, { paces: isManagementApi }) : routed;
  return new ManagementClient({
    domain: opts.domain,
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    maxRetries: 0,
    timeoutInSeconds: opts.timeoutSeconds ?? 15,
    ...(paced ? { fetch: paced } : {}),
  });
}
