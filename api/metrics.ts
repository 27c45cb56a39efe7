/**
 * Prometheus metrics of the API, in a registry of its own (not prom-client's global one) so that
 * several apps in one process, as in tests, never collide.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The API's metrics and the registry `GET /metrics` renders. */
export interface ApiMetrics {
  registry: Registry;
  /** `result`: created, existing (an open invite answered), replaced. */
  invitesCreated: Counter<'result'>;
  /** `outcome`: redeemed, repeat, refused, error; `code`: the error code or `ok`. */
  redemptions: Counter<'outcome' | 'code'>;
  redemptionSeconds: Histogram<'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'status_code'>;
  httpSeconds: Histogram<'method' | 'route'>;
}

/** A fresh registry with the default process metrics and ours. */
export function createMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    invitesCreated: new Counter({
      name: 'inviteflow_invites_created_total',
      help: 'POST /v1/invites answers, by result',
      labelNames: ['result'],
      registers,
    }),
    redemptions: new Counter({
      name: 'inviteflow_redemptions_total',
      help: 'Redemption calls from the Auth0 Action, by outcome and error code',
      labelNames: ['outcome', 'code'],
      registers,
    }),
    redemptionSeconds: new Histogram({
      name: 'inviteflow_redemption_duration_seconds',
      help: 'Time to answer a redemption (the Action holds a login while it waits)',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    httpRequests: new Counter({
      name: 'inviteflow_http_requests_total',
      help: 'HTTP requests, by route template (never the raw URL, which may hold a link token)',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    }),
    httpSeconds: new Histogram({
      name: 'inviteflow_http_request_duration_seconds',
      help: 'HTTP request duration, by route template',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}
