/**
 * The invite workflow's public contract: task queue, ids, input and result types, and the
 * update/signal/query definitions that the workflow, the API, the CLI and the tests all import.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Duration } from '@temporalio/common';

/** The task queue every invite workflow and its activities run on. */
export const TASK_QUEUE = 'invites';

/** Workflow id of an invite; the invite id is a keyed hash of email+scope, so it leaks no email. */
export function inviteWorkflowId(inviteId: string): string {
  return `invite-${inviteId}`;
}

/** Who may redeem: the invited address only (default), or whoever holds the link. */
export type EmailPolicy = 'same-email' | 'any';

/**
 * Which Auth0 accounts of the person receive the grant (docs/accounts.md):
 * - `off`: the redeeming account alone;
 * - `all-verified`: the redeeming account and every account whose *verified* email is the invited one;
 * - `link`: those accounts are linked into one Auth0 user (the oldest is primary), which gets the grant.
 * An account whose email is not verified is never granted nor linked (account pre-hijacking).
 */
export type AccountPolicy = 'off' | 'all-verified' | 'link';

/** Every `AccountPolicy`, for validation. */
export const ACCOUNT_POLICIES: readonly AccountPolicy[] = ['off', 'all-verified', 'link'];

/** Values of the HubSpot contact's own properties bound to the invite (`null`: empty in HubSpot). */
export type CrmProperties = Record<string, string | null>;

/**
 * Lifecycle of an invite; `failed` only when a side effect was permanently refused. `undeliverable`
 * (the mail provider reported a bounce or a complaint) is still open: no more emails, but a link
 * already delivered still redeems until the expiry.
 */
export type InviteState = 'pending' | 'undeliverable' | 'redeemed' | 'completed' | 'expired' | 'revoked' | 'failed';

/** JSON our backend binds to the invite; kept server-side, never put in the link. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Who sent the invite, shown in the email. */
export interface Inviter {
  name?: string;
  email?: string;
}

/** Campaign fields the funnel knew at creation; each becomes a HubSpot contact property on redemption. */
export interface Attribution {
  utm_source?: string;
  utm_medium?: string;
  utm_campaign?: string;
  utm_term?: string;
  utm_content?: string;
}

/** Workflow input. Durations use Temporal's format (`'7 days'`, `'36h'`, or milliseconds). */
export interface InviteInput {
  /** Keyed hash of normalized email and scope (see `client/invite-id.ts`). */
  inviteId: string;
  /** Normalized (trimmed, lower-case) address. */
  email: string;
  /** Auth0 role names to grant on redemption. */
  roles: string[];
  /** Our own data to bind to the account (lead id, plan, …). */
  data: Record<string, JsonValue>;
  /** What the invite is for; at most one open invite per email+scope. */
  scope: string;
  /** `en` or `fr`; others fall back to `en`. */
  locale: string;
  inviter?: Inviter;
  /** Time to live; default 7 days, at most 30 days. */
  ttl?: Duration;
  /**
   * How long before expiry a still-pending invite is escalated (the inviter emailed, the HubSpot
   * contact marked for follow-up); default 2 days; `false` turns it off. Off when the ttl is not longer.
   */
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- the linter cannot resolve Duration's `ms` string type and sees any
  escalateBefore?: Duration | false;
  /**
   * The invitee's IANA time zone (`Europe/Paris`); reminders go out in its daytime. Default: the
   * locale's (see `defaultTimeZone`).
   */
  timeZone?: string;
  /** Local hours reminders may go out in, `HH:MM`; default 09:00–20:00, within 07:00–22:00, at least 2 hours. */
  sendWindow?: { start: string; end: string };
  /** Reminder offsets from creation; default 2 and 5 days. Offsets at or past expiry are dropped. */
  reminders?: Duration[];
  /** Where the customer space should send the person after sign-in (an absolute https URL). */
  redirect?: string;
  emailPolicy?: EmailPolicy;
  /** Campaign/UTM fields, carried to the HubSpot contact on redemption. */
  attribution?: Attribution;
  /**
   * Let a person who signs up or signs in with a verified email equal to the invited one claim the
   * invite without the link (see `claimUpdate`); default false.
   */
  claimByVerifiedEmail?: boolean;
  /** Also answer `attribution` to the Action, which puts it in the customer space's tokens; default false. */
  attributionInClaims?: boolean;
  /** Which Auth0 accounts of the person get the grant; default `off` (the API fills in the tenant's default). */
  accountPolicy?: AccountPolicy;
  /**
   * HubSpot contact properties (internal names, e.g. `lifecyclestage`, `company`) read once when the
   * contact is upserted at creation and bound to the invite beside `data`; default none.
   */
  crmProperties?: string[];
  /** Shortest gap between two emails of this invite caused by `resend`; default 1 minute. */
  resendInterval?: Duration;
  /** Most `resend` emails per invite; default 5. */
  maxResends?: number;
  /**
   * What the `InviteEmail` search attribute holds; default the email. With payload encryption on,
   * the starter passes a keyed hash (`emailSearchValue` in `client/codec.ts`): search attributes are
   * stored in clear.
   */
  emailSearchValue?: string;
  /**
   * When the caller created the invite (ISO 8601). The workflow takes it as the invite's creation
   * time when it lies within `CREATED_AT_TOLERANCE_MS` of the run's start, so the caller can answer
   * with the invite's status at once and later reads agree with it; otherwise, and when absent, the
   * creation time is that of the run's first workflow task.
   */
  createdAt?: string;
}

/** The account that redeems, as the Auth0 Action sees it. */
export interface Redeemer {
  userId: string;
  email: string;
  emailVerified: boolean;
  /** Auth0 connection name (`Username-Password-Authentication`, `google-oauth2`, …). */
  connection: string;
}

/** Argument of the `redeem` update: the link id (token `jti`) and the account. */
export interface RedeemInput {
  linkId: string;
  user: Redeemer;
}

/** Answer of `redeem`: what the Action puts into the very token being issued. */
export interface RedeemResult {
  inviteId: string;
  scope: string;
  roles: string[];
  data: Record<string, JsonValue>;
  redirect?: string;
  redeemedAt: string;
  /** The invite's attribution, only when the invite asked for it in the claims. */
  attribution?: Attribution;
  /** The HubSpot contact of the invited address, when known at redemption. */
  contactId?: string;
  /** The contact's properties bound to the invite (`crmProperties`), when read. */
  crm?: CrmProperties;
  /**
   * Policy `link`: the Auth0 user the redeeming account was linked into, when the link was done
   * before the answer; the login continues as that user (`api.authentication.setPrimaryUser`).
   */
  primaryUserId?: string;
  /** True when this was an idempotent repeat by the same account. */
  repeat: boolean;
}

/** Details carried by an `InviteEmailMismatch` refusal so the Action can steer the person. */
export interface EmailMismatchDetails {
  loginHint: string;
}

/** One email sent for the invite. */
export interface SentEmailRecord {
  sequence: number;
  kind: 'invite' | 'reminder' | 'resend' | 'extend';
  linkId: string;
  at: string;
  messageId: string;
}

/** Answer of the `status` query, and the workflow's result. */
export interface InviteStatus {
  inviteId: string;
  state: InviteState;
  email: string;
  scope: string;
  roles: string[];
  /** Our data bound to the invite (operators see it; the link never carries it). */
  data: Record<string, JsonValue>;
  redirect?: string;
  emailPolicy: EmailPolicy;
  /** The invite's language tag: the pages of its link speak it (absent in results of older runs). */
  locale?: string;
  attribution?: Attribution;
  /** Present (true) when redemption answers the attribution for the tokens. */
  attributionInClaims?: boolean;
  createdAt: string;
  expiresAt: string;
  emails: SentEmailRecord[];
  /** The last email attempt that was permanently refused by the mail server, if any. */
  emailError?: string;
  optedOutAt?: string;
  /** Reminders go out in this local window (absent on runs from before send windows). */
  sendWindow?: { timeZone: string; start: string; end: string };
  /** When the invite was escalated as stale (still pending close to its expiry). */
  escalatedAt?: string;
  /** When the mail provider reported the address undeliverable, and how. */
  undeliverable?: { at: string; kind: DeliveryFailureKind; reason?: string };
  redeemedAt?: string;
  redeemer?: Redeemer;
  /** `verified-email` when the invite was claimed without its link. */
  redeemedVia?: 'link' | 'verified-email';
  /** Present (true) when the invite may be claimed by a verified email. */
  claimByVerifiedEmail?: boolean;
  /**
   * Roles of the invite that no longer existed in Auth0 when it was granted (deleted after the
   * invite was created): the others, the data and HubSpot were done, these were skipped.
   */
  rolesNotGranted?: string[];
  /** The account policy, when not `off`. */
  accountPolicy?: AccountPolicy;
  /** HubSpot contact properties the invite reads (`crmProperties`), when any. */
  crmProperties?: string[];
  /** The HubSpot contact of the invited address, once upserted (at creation or on redemption). */
  contactId?: string;
  /** The contact's properties bound to the invite, once read. */
  crm?: CrmProperties;
  /** Policy `link`: the Auth0 user the accounts were linked into, and the user ids linked into it. */
  linkedAccounts?: { primaryUserId: string; secondaryUserIds: string[] };
  /** The Auth0 users that hold the grant (roles and `app_metadata`), once granted. */
  grantedTo?: string[];
  completedAt?: string;
  expiredAt?: string;
  revokedAt?: string;
  revokeReason?: string;
  failedAt?: string;
  failure?: { type: string; message: string };
}

/**
 * Whether `userId` is the account that redeemed the invite, or the Auth0 user it was linked into
 * (account policy `link`: a login after the link comes as that primary user, the same person).
 */
export function isRedeemerOf(status: InviteStatus, userId: string): boolean {
  return status.redeemer?.userId === userId || status.linkedAccounts?.primaryUserId === userId;
}

/** Argument of the `claim` update: the account logging in, as the Action sees it. */
export interface ClaimInput {
  user: Redeemer;
}

/**
 * Claim by verified email: the invite is redeemed for an account whose email is verified and
 * equal to the invited one, without the link, when the invite opted in. Same answer as `redeem`;
 * the validator refuses anything else without a trace (`InviteClaimRefused`).
 */
export const claimUpdate = defineUpdate<RedeemResult, [ClaimInput]>('claim');

/**
 * Redemption is an update, not a signal: the Action needs an answer (the claims for the token
 * being issued) and a refusal must leave no trace in history, which only a validator gives.
 */
export const redeemUpdate = defineUpdate<RedeemResult, [RedeemInput]>('redeem');

/** Revoke a pending invite; an update so the operator learns at once whether it took effect. */
export const revokeUpdate = defineUpdate<InviteStatus, [{ reason?: string }]>('revoke');

/** Send the invite email again with a fresh link; an update so a rate-limited call is refused, not queued. */
export const resendUpdate = defineUpdate<SentEmailRecord, []>('resend');

/** Move the expiry later (ttl from now) and email a fresh link carrying the new expiry. */
export const extendUpdate = defineUpdate<InviteStatus, [{ ttl: Duration }]>('extend');

/**
 * The invitee asked for no more email (List-Unsubscribe). A signal: the one-click unsubscribe
 * needs no answer. Reminders and resends stop; the invite stays redeemable until it expires.
 */
export const declineSignal = defineSignal<[]>('decline');

/** What happened to an invite, in order: the `history` query's events. */
export type LifecycleEventType =
  | 'created'
  | 'emailed'
  | 'reminded'
  | 'email_refused'
  | 'clicked'
  | 'refused'
  | 'redeemed'
  | 'granted'
  | 'linked'
  | 'crm_upserted'
  | 'crm_failed'
  | 'linked_accounts'
  | 'link_refused'
  | 'completed'
  | 'failed'
  | 'extended'
  | 'declined'
  | 'revoked'
  | 'expired'
  | 'undeliverable'
  | 'escalated'
  | 'notified'
  | 'notify_failed';

/** One step of an invite's lifecycle. Link ids never appear: a link is named by its email's number. */
export interface LifecycleEvent {
  /** Workflow time of the step (ISO 8601). */
  at: string;
  type: LifecycleEventType;
  /** The email it is about (`emailed`, `reminded`, `email_refused`, `clicked`, `refused`). */
  sequence?: number;
  /** The email's kind (`emailed`: `invite`, `resend` or `extend`). */
  kind?: SentEmailRecord['kind'];
  /** The stable code of a refused redemption (`invite_email_mismatch`, …). */
  code?: string;
  /** Why: a refusal's or failure's message, a revocation's reason. */
  reason?: string;
  /** The account (`redeemed`, `granted`, `refused`). */
  userId?: string;
  connection?: string;
  /** `linked`, `crm_upserted`: the HubSpot contact. */
  contactId?: string;
  /** `linked_accounts`: the Auth0 user ids linked into `userId`, the primary. */
  userIds?: string[];
  /** `extended`: the new expiry. */
  expiresAt?: string;
  /** `notified`, `notify_failed`: the funnel webhook's event type; `undeliverable`: `bounce` or `complaint`. */
  event?: string;
}

/** Answer of the `history` query. */
export interface InviteLifecycle {
  inviteId: string;
  events: LifecycleEvent[];
  /** Clicks and refusals left out once `MAX_NOTES` of them were recorded (history stays bounded). */
  omitted: number;
}

/**
 * What the API tells the workflow about steps it sees and the workflow does not: a link opened
 * (the landing page), a redemption refused (the update's validator leaves no trace in history).
 */
export type AuditNote =
  | { type: 'clicked'; linkId: string }
  | { type: 'refused'; code: string; linkId?: string; userId?: string; connection?: string };

/** Most clicks and refusals an invite records; later ones are only counted. */
export const MAX_NOTES = 50;

/**
 * An audit note from the API. A signal: the API must not wait on it (a refusal is answered to the
 * Action at once), and a closed invite simply does not take it.
 */
export const auditSignal = defineSignal<[AuditNote]>('audit');

/** The invite's lifecycle as events: created, emailed, reminded, clicked, refused, redeemed, granted, … */
export const historyQuery = defineQuery<InviteLifecycle>('history');

/** How the mail provider reported an address undeliverable. */
export type DeliveryFailureKind = 'bounce' | 'complaint';

/** A permanent delivery failure reported by the mail provider's webhook. */
export interface DeliveryFailure {
  kind: DeliveryFailureKind;
  /** The email it is about (from its Message-ID), when known. */
  sequence?: number;
  /** The provider's words (a diagnostic code, never the message). */
  reason?: string;
}

/**
 * The mail provider reported a bounce or a complaint: the invite becomes `undeliverable`, emails
 * stop and the funnel is told. A signal: providers retry until they get a 2xx, and a repeat
 * changes nothing.
 */
export const deliveryFailedSignal = defineSignal<[DeliveryFailure]>('deliveryFailed');

/** The invite's current state, timestamps, emails sent and redeemer. */
export const statusQuery = defineQuery<InviteStatus>('status');

/**
 * Whether this invite issued the link id (token `jti`). A link is issued before its email is
 * sent, so the landing page asks this rather than reading the emails already recorded.
 */
export const linkIssuedQuery = defineQuery<boolean, [string]>('linkIssued');

/** Search attributes the Temporal UI and the list API filter on. */
export const searchAttributes = {
  status: defineSearchAttributeKey('InviteStatus', SearchAttributeType.KEYWORD),
  email: defineSearchAttributeKey('InviteEmail', SearchAttributeType.KEYWORD),
  scope: defineSearchAttributeKey('InviteScope', SearchAttributeType.KEYWORD),
  expiresAt: defineSearchAttributeKey('InviteExpiresAt', SearchAttributeType.DATETIME),
} as const;

/** `name=TYPE` pairs for `temporal server start-dev --search-attribute` and operator setup. */
export const SEARCH_ATTRIBUTE_DEFINITIONS: Record<string, 'Keyword' | 'Datetime'> = {
  InviteStatus: 'Keyword',
  InviteEmail: 'Keyword',
  InviteScope: 'Keyword',
  InviteExpiresAt: 'Datetime',
};
