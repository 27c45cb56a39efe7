/**
 * Named rate limits on top of @fastify/rate-limit's `createRateLimit`. The plugin's route hooks
 * run at most one limit per request; redemption needs two (per client IP, then per link token,
 * which is only known once the body is parsed), so each limit here is a plain check that throws
 * our `429 rate_limited` error with `Retry-After`.
 *
 * Counters are per process: with N replicas behind a balancer a client gets up to N times each
 * limit. They only shed load; every rule about an invite (single use, resend interval and
 * maximum, validators) is the workflow's and holds whichever replica answers.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
// Brings the plugin's `createRateLimit` decorator into the FastifyInstance type.
import type {} from '@fastify/rate-limit';
import { ApiError } from './errors';

/** One limit: at most `max` requests per `windowMs` per key. */
export interface InboundLimitRule {
  max: number;
  windowMs: number;
}

/** The limits the API enforces; tests and deployments may change any of them. */
export interface InboundLimits {
  /** Redemptions per client IP (the Action calls from Auth0's few egress addresses: keep it generous). */
  redeemPerIp: InboundLimitRule;
  /** Redemptions per link token. */
  redeemPerToken: InboundLimitRule;
  /** Resends per invite, on top of the workflow's own interval and maximum. */
  resendPerInvite: InboundLimitRule;
  /** Landing and decline pages per client IP. */
  landingPerIp: InboundLimitRule;
}

/** Defaults of `InboundLimits`. */
export const DEFAULT_INBOUND_LIMITS: InboundLimits = {
  redeemPerIp: { max: 600, windowMs: 60_000 },
  redeemPerToken: { max: 10, windowMs: 60_000 },
  resendPerInvite: { max: 3, windowMs: 60_000 },
  landingPerIp: { max: 120, windowMs: 60_000 },
};

/** A check that throws `429 rate_limited` once the request's key went over its limit. */
export type InboundLimitCheck = (request: FastifyRequest) => Promise<void>;

/**
 * Builds a check with its own counters, keyed by `keyOf(request)`; the plugin must be registered
 * on `app`. Keys may be secrets (a link token), so only a digest is kept in memory.
 */
export function inboundLimit(
  app: FastifyInstance,
  name: string,
  rule: InboundLimitRule,
  keyOf: (request: FastifyRequest) => string,
): InboundLimitCheck {
  const check = app.createRateLimit({
    max: rule.max,
    timeWindow: rule.windowMs,
    keyGenerator: (request) => `${name}:${createHash('sha256').update(keyOf(request)).digest('base64url')}`,
  });
  return async (request) => {
    const result = await check(request);
    if (!result.isAllowed && result.isExceeded) {
      const seconds = String(Math.max(1, result.ttlInSeconds));
      throw new ApiError('rate_limited', 'Too many requests; try again later', { retry_after_seconds: Number(seconds) }, { 'retry-after': seconds });
    }
  };
}
