/**
 * Types of the `ApplicationFailure`s that inviteflow raises, one enum for the workflow, the
 * activities and the HTTP layer. The API maps each to a stable error code and status.
 * This module has no imports so that workflow, activity and API code can all share it.
 */
export enum InviteErrorType {
  /** The workflow input is invalid (bad email, ttl out of range, …). */
  InvalidInput = 'InvalidInput',
  /** The invite expired before the attempt. */
  Expired = 'InviteExpired',
  /** The invite was revoked by an operator. */
  Revoked = 'InviteRevoked',
  /** The invite was already redeemed by another account. */
  AlreadyUsed = 'InviteAlreadyUsed',
  /** The account's email does not satisfy the invite's email policy; the invite stays redeemable. */
  EmailMismatch = 'InviteEmailMismatch',
  /** The link is not one this invite issued (older run, or superseded by `extend`). */
  UnknownLink = 'InviteUnknownLink',
  /** The invite is no longer pending (for revoke/resend/extend). */
  NotPending = 'InviteNotPending',
  /** A resend came too soon after the previous email, or too many were sent. */
  ResendRateLimited = 'InviteResendRateLimited',
  /** The person opted out of email for this invite. */
  EmailOptedOut = 'InviteEmailOptedOut',
  /** A claim by verified email was refused: not opted in, unverified or another address. */
  ClaimRefused = 'InviteClaimRefused',
  /** The mail provider reported the address undeliverable (bounce or complaint). */
  Undeliverable = 'InviteUndeliverable',
  /** A side effect was refused permanently (4xx other than 408/409/429); the invite is `failed`. */
  SideEffectRefused = 'SideEffectRefused',
  /**
   * A role named by the invite does not exist in Auth0. No longer raised: the API refuses unknown
   * roles at creation and the grant skips a role deleted since (`rolesNotGranted`); kept for the
   * failures recorded in older histories.
   */
  UnknownRole = 'UnknownRole',
  /** A call to a third party failed in a way worth retrying (429, 5xx, network). */
  Transient = 'TransientFailure',
  /** A call to a third party was refused permanently (4xx). */
  Permanent = 'PermanentFailure',
}
