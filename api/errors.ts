/**
 * The API's error vocabulary: one stable `code` per outcome, the HTTP status it travels with, and
 * the `{ error: { code, message, details? } }` body every refusal uses. Callers (the funnel, the
 * Action, the CLI) switch on `code`, never on `message`.
 */
import { z } from 'zod';
import { REDEMPTION_REFUSALS } from '../lib/action-contract';
import type { RefusalBody } from '../lib/action-contract';
import { refusalOf } from '../client/invite-refusals';
import type { Refusal } from '../client/invite-refusals';

/**
 * Every code the API answers with, and its HTTP status. The refusals of a redemption come from
 * the Action's contract (`lib/action-contract.ts`), so the Action reads the codes the API sends.
 */
export const ERROR_STATUS = {
  ...REDEMPTION_REFUSALS,
  invalid_request: 400,
  unknown_role: 400,
  unknown_crm_property: 400,
  unauthorized: 401,
  invalid_signature: 401,
  insufficient_scope: 403,
  not_found: 404,
  invite_opted_out: 409,
  invite_undeliverable: 409,
  invite_not_claimable: 403,
  payload_too_large: 413,
  unsupported_media_type: 415,
  resend_rate_limited: 429,
  internal_error: 500,
  email_refused: 502,
  service_unavailable: 503,
  roles_unavailable: 503,
  crm_properties_unavailable: 503,
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** One field-level problem of a request; `field` is a dotted path such as `body.roles.1`. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** An error the API answers as such: status and body come from `code`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers (`WWW-Authenticate`, `Retry-After`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.statusCode = ERROR_STATUS[code];
  }

  /** The response body. */
  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** Schema of every error body, for the OpenAPI document. */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable, machine-readable code'),
      message: z.string().describe('Human-readable explanation; may change'),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' }) satisfies z.ZodType<RefusalBody>;

/** The error body. */
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** `true` only when `A` and `B` are the same type; a schema and its contract type are held together with it. */
export type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** `400 invalid_request` listing every field problem. */
export function invalidRequest(problems: FieldProblem[]): ApiError {
  return new ApiError('invalid_request', 'The request is invalid', problems);
}

/**
 * The API error for a refusal raised by the workflow (an update validator or handler), or
 * undefined when `failure` is not one of ours. Details the caller can act on are kept: the
 * `login_hint` of an email mismatch, the wait of a rate-limited resend (also as `Retry-After`).
 */
export function refusalToApiError(failure: unknown): ApiError | undefined {
  const refusal = refusalOf(failure);
  return refusal ? apiErrorOf(refusal) : undefined;
}

/** The API error of a refusal (shared codes from `client/invite-refusals.ts`). */
export function apiErrorOf(refusal: Refusal): ApiError {
  const headers: Record<string, string> = refusal.retryAfterSeconds !== undefined ? { 'retry-after': String(refusal.retryAfterSeconds) } : {};
  return new ApiError(refusal.code, refusal.message, refusal.details, headers);
}
