/**
 * The funnel webhook: a signed JSON event to our own backend when something about an invite
 * changes that it should act on (undeliverable, completed, failed, stale). Each event has a stable
 * id (the workflow's), sent as `Inviteflow-Event-Id`, so a receiver deduplicates what Temporal's
 * retries deliver twice. The signature is Stripe-shaped: `Inviteflow-Signature: t=<unix seconds>,
 * v1=<hex HMAC-SHA256 of "<t>.<body>">` (`lib/webhook-signature.ts`, also the receiver's side).
 */
import { ApplicationFailure } from '@temporalio/common';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from '../lib/webhook-signature';
import { InviteErrorType } from '../workflows/errors';
import { isRetryableStatus, redactSecrets, retryDelayFromHeaders } from './failures';

/** Event types the funnel receives. */
export type FunnelEventType = 'invite.undeliverable' | 'invite.completed' | 'invite.failed' | 'invite.stale';

/** Input of `notifyFunnel`: one event. */
export interface FunnelEvent {
  /** Stable across retries: the receiver's idempotency key. */
  id: string;
  type: FunnelEventType;
  /** ISO 8601, workflow time. */
  occurredAt: string;
  invite: {
    id: string;
    email: string;
    scope: string;
    state: string;
    expiresAt: string;
    /** Our data bound to the invite, so the funnel can find its lead. */
    data: Record<string, unknown>;
  };
  /** Event-specific fields (the bounce kind, the redeemer, the failure). */
  detail?: Record<string, unknown>;
}

/** What happened to an event. */
export interface NotifyResult {
  /** False when no webhook is configured. */
  delivered: boolean;
  status?: number;
}

/** Dependencies of the webhook activity. */
export interface WebhookDeps {
  /** Where events go; unset: events are dropped (the activity answers `delivered: false`). */
  url?: string;
  /** The shared HMAC key (at least 32 characters). */
  secret?: string;
  /** Default: global fetch. */
  fetch?: typeof fetch;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Default: Date.now. */
  now?: () => number;
}

/** Builds the webhook activity. */
export function createWebhookActivities(deps: WebhookDeps) {
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? 10_000;

  return {
    /** Posts one signed event to the funnel; 2xx is delivered, 429/5xx retried, other 4xx refused. */
    async notifyFunnel(event: FunnelEvent): Promise<NotifyResult> {
      if (!deps.url || !deps.secret) return { delivered: false };
      const body = JSON.stringify(event);
      let response: Response;
      try {
        response = await doFetch(deps.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [SIGNATURE_HEADER]: signWebhook(deps.secret, body, Math.floor(now() / 1000)),
            [EVENT_ID_HEADER]: event.id,
            'user-agent': 'inviteflow-webhook',
          },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
        // The body is not ours to keep; drain it so the connection can be reused.
        await response.arrayBuffer().catch(() => undefined);
      } catch (err) {
        const reason = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'unreachable';
        throw ApplicationFailure.create({
          type: InviteErrorType.Transient,
          message: `funnel webhook ${reason}: ${redactSecrets(err instanceof Error ? err.message : String(err))}`,
          nonRetryable: false,
        });
      }
      if (response.ok) return { delivered: true, status: response.status };
      const retryable = isRetryableStatus(response.status);
      const retryAfterMs = retryable ? retryDelayFromHeaders(response.headers, { now: now() }) : undefined;
      throw ApplicationFailure.create({
        type: retryable ? InviteErrorType.Transient : InviteErrorType.Permanent,
        message: `funnel webhook answered ${response.status}`,
        nonRetryable: !retryable,
        details: [{ status: response.status }],
        ...(retryAfterMs === undefined ? {} : { nextRetryDelay: retryAfterMs }),
      });
    },
  };
}
