/**
 * The stable codes of an invite operation that was refused, shared by the API (which adds an HTTP
 * status) and the CLI (which prints them). Callers switch on `code`, never on `message`.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { EmailMismatchDetails } from '../lib/action-contract';
import { InviteErrorType } from '../workflows/errors';
import type { InviteStatus } from '../workflows/messages';

/** Every code a refusal can carry. */
export type RefusalCode =
  | 'invite_expired'
  | 'invite_revoked'
  | 'invite_already_used'
  | 'invite_email_mismatch'
  | 'invite_unknown_link'
  | 'invite_not_pending'
  | 'resend_rate_limited'
  | 'invite_opted_out'
  | 'invite_undeliverable'
  | 'invite_not_claimable'
  | 'invalid_request'
  | 'email_refused';

/** A refusal: its code, the workflow's explanation, and the details a caller can act on. */
export interface Refusal {
  code: RefusalCode;
  message: string;
  /** `{ login_hint }` of an email mismatch, `{ retry_after_seconds }` of a rate-limited resend. */
  details?: Record<string, unknown>;
  /** How long a rate-limited caller should wait. */
  retryAfterSeconds?: number;
}

const REFUSALS: Partial<Record<string, RefusalCode>> = {
  [InviteErrorType.Expired]: 'invite_expired',
  [InviteErrorType.Revoked]: 'invite_revoked',
  [InviteErrorType.AlreadyUsed]: 'invite_already_used',
  [InviteErrorType.EmailMismatch]: 'invite_email_mismatch',
  [InviteErrorType.UnknownLink]: 'invite_unknown_link',
  [InviteErrorType.NotPending]: 'invite_not_pending',
  [InviteErrorType.ResendRateLimited]: 'resend_rate_limited',
  [InviteErrorType.EmailOptedOut]: 'invite_opted_out',
  [InviteErrorType.Undeliverable]: 'invite_undeliverable',
  [InviteErrorType.ClaimRefused]: 'invite_not_claimable',
  [InviteErrorType.InvalidInput]: 'invalid_request',
  [InviteErrorType.Permanent]: 'email_refused',
};

/**
 * The refusal of a failure raised by the workflow (an update validator or handler), or undefined
 * when `failure` is not one of ours.
 */
export function refusalOf(failure: unknown): Refusal | undefined {
  if (!(failure instanceof ApplicationFailure) || !failure.type) return undefined;
  const code = REFUSALS[failure.type];
  if (!code) return undefined;
  const detail: unknown = failure.details?.[0];
  if (code === 'invite_email_mismatch' && isObject(detail) && typeof detail.loginHint === 'string') {
    // Where the Action reads it: `error.details.login_hint` (lib/action-contract.ts).
    const details: EmailMismatchDetails = { login_hint: detail.loginHint };
    return { code, message: failure.message, details: { ...details } };
  }
  if (code === 'resend_rate_limited' && isObject(detail) && typeof detail.retryAfterMs === 'number') {
    const seconds = Math.max(1, Math.ceil(detail.retryAfterMs / 1000));
    return {
      code,
      message: failure.message,
      details: { retry_after_seconds: seconds },
      retryAfterSeconds: seconds,
    };
  }
  return { code, message: failure.message };
}

/**
 * Why an operation on a closed invite cannot happen. Temporal answers an update on a closed run
 * with "not found", which would mislead: the invite exists, it is just over.
 */
export function closedRefusal(status: InviteStatus): Refusal {
  if (status.state === 'expired') return { code: 'invite_expired', message: 'The invite has expired' };
  // A run ended from outside (terminated in the UI) while pending counts as withdrawn.
  if (status.state === 'revoked' || status.state === 'pending' || status.state === 'undeliverable')
    return { code: 'invite_revoked', message: 'The invite was revoked' };
  return { code: 'invite_not_pending', message: `The invite is ${status.state}` };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
