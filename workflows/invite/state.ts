/**
 * The invite's state and its transitions: what each message may do and what it changes, with the
 * time passed in as `now`. Nothing here talks to Temporal: the workflow (`index.ts`) wires the
 * messages to these methods and issues the commands an outcome asks for (`effects.ts`). Refusals
 * are `ApplicationFailure`s because the update validators throw them to the caller as they are.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import type { FunnelEventType } from '../../activities/webhook';
import { InviteErrorType } from '../errors';
import { crmFitsBesideData, initialInviteStatus, InvalidInviteInput, MAX_EXTENDS, MAX_TTL_MS, MIN_TTL_MS, normalizeEmail, resolveInviteInput } from '../input';
import type { ResolvedInvite } from '../input';
import { isRedeemerOf, MAX_NOTES } from '../messages';
import type {
  AuditNote,
  CrmProperties,
  ClaimInput,
  DeliveryFailure,
  EmailMismatchDetails,
  InviteInput,
  InviteLifecycle,
  InviteState,
  InviteStatus,
  LifecycleEvent,
  Redeemer,
  RedeemInput,
  RedeemResult,
  SentEmailRecord,
} from '../messages';
import { nextSendTime } from '../send-window';
import type { Versions } from './versions';

/** An event for the funnel's webhook. */
export interface FunnelNotice {
  type: FunnelEventType;
  detail?: Record<string, unknown>;
}

/** What a transition answers, and what the workflow makes known of it. */
export interface Outcome<T = void> {
  /** The answer to the message. */
  value: T;
  /** The state the invite entered (counted in the transitions metric). */
  entered?: InviteState;
  /** Whether the search attributes and current details are published again. */
  publish: boolean;
  /** An event the funnel is told about. */
  notice?: FunnelNotice;
}

/** An Auth0 user of the invited address, as the lookup answers it (`findFoundAccounts`). */
export interface FoundAccount {
  userId: string;
  email: string;
  emailVerified: boolean;
  createdAt: string;
  /** `provider|user_id` of every identity the user holds. */
  identities: string[];
}

/** Where the grant goes under the invite's account policy (`Invite.accountPlan`). */
export type AccountPlan =
  /** Grant each of these accounts (`off`: the redeeming one; `all-verified`: every verified one). */
  | { grantTo: string[] }
  /** Link the secondaries into the primary (in this order), then grant the primary. */
  | { primaryUserId: string; secondaryUserIds: string[] };

/** The code paths of a run that change what the state does. */
export type StateVersions = Pick<Versions, 'escalation' | 'sendWindows' | 'crmAndAccounts'>;

/** ISO 8601 of epoch milliseconds. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** The validated invite, or a non-retryable `InvalidInput` failure naming the problems. */
export function resolveInvite(input: InviteInput): ResolvedInvite {
  try {
    return resolveInviteInput(input);
  } catch (err) {
    if (err instanceof InvalidInviteInput) {
      throw ApplicationFailure.create({ type: InviteErrorType.InvalidInput, message: err.message, nonRetryable: true, details: [err.problems] });
    }
    throw err;
  }
}

/** One invite: its status, its lifecycle, the links it issued and the counters that bound it. */
export class Invite {
  /** The `status` query's answer and the workflow's result. */
  readonly status: InviteStatus;
  /** The expiry in epoch milliseconds (`status.expiresAt`). */
  expiresAt: number;
  /** Bumped by transitions that change what the wait loop waits for. */
  wake = 0;
  // The `history` query's events. Only state: recording a step issues no command.
  private readonly lifecycle: LifecycleEvent[];
  private omitted = 0;
  private notes = 0;
  /** Every link the invite issued (token `jti`), with the number of its email. */
  private readonly links = new Map<string, number>();
  private result: RedeemResult | undefined;
  private extendsUsed = 0;
  private resendsUsed = 0;
  private lastEmailAt = 0;
  private escalated = false;
  /** Reminder offsets (from creation) not yet reached. */
  private readonly reminders: number[];
  /** A reminder that fell due outside the invitee's daytime and waits for the window to open. */
  private reminderWaiting = false;
  /** The grant knows where it goes: the accounts were looked up (and linked) or needed no lookup. */
  accountsSettled = false;

  constructor(
    readonly invite: ResolvedInvite,
    readonly createdAt: number,
    private readonly versions: StateVersions,
  ) {
    this.expiresAt = createdAt + invite.ttlMs;
    this.status = initialInviteStatus(invite, createdAt);
    if (!versions.sendWindows) delete this.status.sendWindow;
    this.lifecycle = [{ at: iso(createdAt), type: 'created' }];
    this.reminders = [...invite.reminderOffsetsMs];
  }

  /** Pending, or undeliverable: either way still redeemable until the expiry. */
  isOpen(): boolean {
    return this.status.state === 'pending' || this.status.state === 'undeliverable';
  }

  /** Whether the invitee may still be emailed: not opted out, address not reported undeliverable. */
  mayEmail(): boolean {
    return !this.status.optedOutAt && !this.status.undeliverable;
  }

  /** Whether the invite issued this link (token `jti`). */
  linkIssued(linkId: string): boolean {
    return this.links.has(linkId);
  }

  /** The `history` query's answer. */
  history(): InviteLifecycle {
    return { inviteId: this.invite.inviteId, events: this.lifecycle, omitted: this.omitted };
  }

  // ---- checks: each throws the refusal a validator answers, and changes nothing ----

  /** Refuses anything but an open invite before its expiry (revoke, resend, extend, redemptions). */
  checkOpen(now: number): void {
    const { state } = this.status;
    if (state === 'revoked') throw refusal(InviteErrorType.Revoked, 'the invite was revoked');
    if (state === 'expired' || (this.isOpen() && now >= this.expiresAt)) throw refusal(InviteErrorType.Expired, 'the invite has expired');
    if (!this.isOpen()) throw refusal(InviteErrorType.NotPending, `the invite is ${state}`);
  }

  /** A redemption by link: the link must be this invite's and the account must satisfy the email policy. */
  checkRedeem(req: RedeemInput, now: number): void {
    if (this.isRepeat(req.user)) return;
    this.checkOpen(now);
    if (!this.links.has(req.linkId)) throw refusal(InviteErrorType.UnknownLink, 'this link was not issued by this invite');
    if (this.invite.emailPolicy === 'same-email' && normalizeEmail(req.user.email) !== this.invite.email) {
      const details: EmailMismatchDetails = { loginHint: this.invite.email };
      throw ApplicationFailure.create({
        type: InviteErrorType.EmailMismatch,
        message: 'the account email is not the invited one; sign in with the invited address',
        nonRetryable: true,
        details: [details],
      });
    }
  }

  /**
   * A claim by verified email (opt-in): the verified address stands in for the link, which proves
   * the same thing, control of the mailbox. Unverified addresses and other addresses never claim.
   */
  checkClaim(req: ClaimInput, now: number): void {
    if (this.isRepeat(req.user)) return;
    if (!this.invite.claimByVerifiedEmail) throw refusal(InviteErrorType.ClaimRefused, 'this invite can only be redeemed with its link');
    this.checkOpen(now);
    if (req.user.emailVerified !== true) throw refusal(InviteErrorType.ClaimRefused, 'an unverified email cannot claim an invite');
    if (typeof req.user.email !== 'string' || normalizeEmail(req.user.email) !== this.invite.email) {
      throw refusal(InviteErrorType.ClaimRefused, 'the account email is not the invited one');
    }
  }

  /** A resend: open, still emailable, within the number of resends and not too soon after the last email. */
  checkResend(now: number): void {
    this.checkOpen(now);
    if (this.status.optedOutAt) throw refusal(InviteErrorType.EmailOptedOut, 'the invitee opted out of email');
    if (this.status.undeliverable) {
      throw refusal(InviteErrorType.Undeliverable, `the mail provider reported the address undeliverable (${this.status.undeliverable.kind})`);
    }
    if (this.resendsUsed >= this.invite.maxResends) throw refusal(InviteErrorType.ResendRateLimited, `at most ${this.invite.maxResends} resends per invite`);
    const wait = this.lastEmailAt + this.invite.resendIntervalMs - now;
    if (wait > 0) {
      throw ApplicationFailure.create({
        type: InviteErrorType.ResendRateLimited,
        message: `the last email went out less than ${Math.round(this.invite.resendIntervalMs / 1000)} s ago`,
        nonRetryable: true,
        details: [{ retryAfterMs: wait }],
      });
    }
  }

  /** An extension: open, within the number of extensions, a ttl in range that moves the expiry later. */
  checkExtend(ttl: Duration, now: number): void {
    this.checkOpen(now);
    if (this.extendsUsed >= MAX_EXTENDS) throw refusal(InviteErrorType.InvalidInput, `at most ${MAX_EXTENDS} extensions per invite`);
    let ms: number;
    try {
      ms = msToNumber(ttl);
    } catch {
      throw refusal(InviteErrorType.InvalidInput, 'ttl must be a duration like "7 days"');
    }
    if (!(ms >= MIN_TTL_MS && ms <= MAX_TTL_MS)) throw refusal(InviteErrorType.InvalidInput, 'ttl must be between 1 minute and 30 days');
    if (now + ms <= this.expiresAt) throw refusal(InviteErrorType.InvalidInput, 'the new expiry must be later than the current one');
  }

  // ---- transitions ----

  /**
   * Accepts a redemption, by link or (`linkId` undefined) by verified email, and answers the
   * claims. A repeat by the same account answers them again and changes nothing.
   */
  redeem(user: Redeemer, linkId: string | undefined, now: number): Outcome<RedeemResult> {
    if (this.result && this.status.redeemer && isRedeemerOf(this.status, user.userId)) return { value: { ...this.result, repeat: true }, publish: false };
    const { status, invite } = this;
    status.state = 'redeemed';
    status.redeemedAt = iso(now);
    status.redeemer = user;
    if (linkId === undefined) status.redeemedVia = 'verified-email';
    const sequence = linkId === undefined ? undefined : this.links.get(linkId);
    this.step('redeemed', now, {
      ...(sequence !== undefined ? { sequence } : {}),
      userId: user.userId,
      connection: user.connection,
      ...(linkId === undefined ? { event: 'verified-email' } : {}),
    });
    this.result = {
      inviteId: invite.inviteId,
      scope: invite.scope,
      roles: invite.roles,
      data: invite.data,
      redirect: invite.redirect,
      redeemedAt: status.redeemedAt,
      ...(invite.attributionInClaims && invite.attribution ? { attribution: invite.attribution } : {}),
      ...(status.contactId !== undefined ? { contactId: status.contactId } : {}),
      ...(status.crm !== undefined ? { crm: status.crm } : {}),
      repeat: false,
    };
    return { value: this.result, entered: 'redeemed', publish: true };
  }

  /** Accepts a claim by verified email: a redemption without a link. */
  claim(user: Redeemer, now: number): Outcome<RedeemResult> {
    return this.redeem(user, undefined, now);
  }

  /** Revokes the invite; the reason is kept (500 characters at most). */
  revoke(reason: string | undefined, now: number): Outcome<InviteStatus> {
    this.status.state = 'revoked';
    this.status.revokedAt = iso(now);
    if (reason) this.status.revokeReason = reason.slice(0, 500);
    this.step('revoked', now, this.status.revokeReason ? { reason: this.status.revokeReason } : {});
    return { value: this.status, entered: 'revoked', publish: true };
  }

  /** Counts a resend against the invite's limit (its email follows). */
  countResend(): void {
    this.resendsUsed++;
  }

  /** The refusal of a resend whose email the mail server refused. */
  resendRefused(): ApplicationFailure {
    return refusal(InviteErrorType.Permanent, `the mail server refused the address: ${this.status.emailError}`);
  }

  /** Moves the expiry to `ttl` from now. */
  extend(ttl: Duration, now: number): Outcome<InviteStatus> {
    this.extendsUsed++;
    this.expiresAt = now + msToNumber(ttl);
    this.status.expiresAt = iso(this.expiresAt);
    this.step('extended', now, { expiresAt: this.status.expiresAt });
    this.wake++;
    return { value: this.status, publish: true };
  }

  /**
   * A bounce or complaint from the mail provider: no more email, the funnel is told. Links already
   * delivered keep working (the bounce may be of a reminder), so the invite stays open until expiry.
   * Anything else, or a report on an invite no longer pending, changes nothing.
   */
  deliveryFailed(failure: DeliveryFailure, now: number): Outcome {
    if (this.status.state !== 'pending' || typeof failure !== 'object' || failure === null) return unchanged;
    if (failure.kind !== 'bounce' && failure.kind !== 'complaint') return unchanged;
    const kind = failure.kind;
    const reason = typeof failure.reason === 'string' && failure.reason !== '' ? failure.reason.slice(0, 300) : undefined;
    const sequence = typeof failure.sequence === 'number' && Number.isInteger(failure.sequence) ? failure.sequence : undefined;
    this.status.state = 'undeliverable';
    this.status.undeliverable = { at: iso(now), kind, ...(reason ? { reason } : {}) };
    this.step('undeliverable', now, { event: kind, ...(sequence !== undefined ? { sequence } : {}), ...(reason ? { reason } : {}) });
    this.wake++;
    return {
      value: undefined,
      entered: 'undeliverable',
      publish: true,
      notice: { type: 'invite.undeliverable', detail: { kind, ...(reason ? { reason } : {}) } },
    };
  }

  /** The invitee asked for no more email; a repeat changes nothing. */
  decline(now: number): Outcome {
    if (this.status.optedOutAt) return unchanged;
    this.status.optedOutAt = iso(now);
    this.step('declined', now);
    this.wake++;
    return { value: undefined, publish: true };
  }

  /** Records a click or a refusal the API saw; bounded so that no caller can grow the state. */
  audit(note: AuditNote, now: number): void {
    if (typeof note !== 'object' || note === null) return;
    const sequence = typeof note.linkId === 'string' ? this.links.get(note.linkId) : undefined;
    if (note.type === 'clicked') {
      if (sequence === undefined) return;
    } else if (note.type === 'refused') {
      if (typeof note.code !== 'string' || !/^[a-z_]{1,40}$/.test(note.code)) return;
    } else {
      return;
    }
    if (this.notes >= MAX_NOTES) {
      this.omitted++;
      return;
    }
    this.notes++;
    if (note.type === 'clicked') {
      this.step('clicked', now, { sequence: sequence! });
      return;
    }
    this.step('refused', now, {
      ...(sequence !== undefined ? { sequence } : {}),
      code: note.code,
      ...(typeof note.userId === 'string' ? { userId: note.userId.slice(0, 300) } : {}),
      ...(typeof note.connection === 'string' ? { connection: note.connection.slice(0, 200) } : {}),
    });
  }

  // ---- emails ----

  /** Issues a fresh link for the next email; answers the email's number. */
  issueLink(linkId: string, now: number): number {
    const sequence = this.status.emails.length + 1;
    this.links.set(linkId, sequence);
    this.lastEmailAt = now;
    return sequence;
  }

  /** The mail server accepted an email. */
  emailSent(record: SentEmailRecord, now: number): void {
    this.status.emails.push(record);
    this.step(record.kind === 'reminder' ? 'reminded' : 'emailed', now, { sequence: record.sequence, kind: record.kind });
    delete this.status.emailError;
  }

  /**
   * The mail server refused the address for good (5xx): the invite stays open and redeemable; the
   * refusal shows in the status and the UI for an operator to act on.
   */
  emailRefused(sequence: number, kind: SentEmailRecord['kind'], reason: string, now: number): void {
    this.status.emailError = reason;
    this.step('email_refused', now, { sequence, kind, reason });
  }

  // ---- time: reminders, escalation, expiry ----

  /** Whether the expiry has come. */
  isDue(now: number): boolean {
    return now >= this.expiresAt;
  }

  /** The invite expired unredeemed. */
  expire(now: number): Outcome {
    this.status.state = 'expired';
    this.status.expiredAt = iso(now);
    this.step('expired', now);
    return { value: undefined, entered: 'expired', publish: true };
  }

  /**
   * Whether a reminder goes out now. Offsets that passed together (a worker down for days) earn
   * one reminder, not a burst; with send windows, a reminder due at night waits for the invitee's
   * daytime, and one that could only arrive after the expiry (a dead link) is dropped.
   */
  reminderDue(now: number): boolean {
    let due = false;
    while (this.reminders.length > 0 && this.createdAt + this.reminders[0]! <= now) {
      this.reminders.shift();
      due = true;
    }
    if (!this.versions.sendWindows) return due && this.mayEmail();
    this.reminderWaiting = (this.reminderWaiting || due) && this.mayEmail();
    if (!this.reminderWaiting) return false;
    const at = nextSendTime(now, this.invite.sendWindow);
    if (at > now && at < this.expiresAt) return false; // waits for the window
    this.reminderWaiting = false;
    return at < this.expiresAt; // else it could only arrive after the expiry, with a dead link
  }

  /** When a still-pending invite is escalated; Infinity when it no longer will be. */
  escalateAt(): number {
    return this.versions.escalation &&
      !this.escalated &&
      this.invite.escalateBeforeMs !== undefined &&
      this.status.state === 'pending' &&
      !this.status.optedOutAt
      ? this.expiresAt - this.invite.escalateBeforeMs
      : Infinity;
  }

  /** The invite is escalated as stale (once); its inviter and HubSpot are told next. */
  escalate(now: number): void {
    this.escalated = true;
    this.status.escalatedAt = iso(now);
  }

  /** The escalation's outcomes (what was told, what failed); the funnel is told next. */
  escalationDone(outcomes: string[], now: number): Outcome {
    this.step('escalated', now, { reason: outcomes.join('; ') });
    return { value: undefined, publish: true, notice: { type: 'invite.stale', detail: { escalatedAt: this.status.escalatedAt } } };
  }

  /** When the wait loop wakes next if no message comes, and what for. */
  nextWake(now: number): { at: number; summary: string } {
    const reminder = !this.mayEmail()
      ? Infinity
      : this.reminderWaiting
        ? nextSendTime(now, this.invite.sendWindow)
        : this.reminders.length === 0
          ? Infinity
          : this.createdAt + this.reminders[0]!;
    const escalation = this.escalateAt();
    const at = Math.min(reminder, escalation, this.expiresAt);
    return { at, summary: at === this.expiresAt ? 'until expiry' : at === escalation ? 'until escalation' : 'until next reminder' };
  }

  // ---- after a redemption: the grant ----

  /** The account to grant to: set once the invite is redeemed and until the grant ends. */
  redeemerToGrant(): Redeemer | undefined {
    return this.status.state === 'redeemed' ? this.status.redeemer : undefined;
  }

  /**
   * Whether the grant marks the Auth0 email verified: the link proved the mailbox, so a fresh,
   * unverified sign-up with the invited address is verified, as Auth0 and Clerk do on acceptance.
   */
  verifiesEmail(redeemer: Redeemer): boolean {
    return !redeemer.emailVerified && normalizeEmail(redeemer.email) === this.invite.email;
  }

  /**
   * Auth0 assigned the roles but `missing`, deleted since the invite was created: not a failure of
   * the whole invite, the person keeps the others and the data, and the status says what was left
   * out. Answers the roles `app_metadata` records as given.
   */
  rolesAssigned(missing: string[]): string[] {
    if (missing.length === 0) return this.invite.roles;
    this.status.rolesNotGranted = missing;
    return this.invite.roles.filter((role) => !missing.includes(role));
  }

  /** Auth0 holds the roles and the data. */
  granted(userId: string, missing: string[], now: number): void {
    this.step('granted', now, { userId, ...(missing.length > 0 ? { reason: `not granted, no longer in Auth0: ${missing.join(', ')}` } : {}) });
    if (this.versions.crmAndAccounts) this.status.grantedTo = [...(this.status.grantedTo ?? []), userId];
  }

  /** HubSpot's contact is linked. */
  linked(contactId: string, now: number): void {
    this.step('linked', now, { contactId });
    if (this.versions.crmAndAccounts) this.status.contactId = contactId;
  }

  // ---- the CRM at creation ----

  /**
   * The invitee's HubSpot contact was upserted at creation (and its properties read, when the invite
   * binds some): a redemption from now on answers them for the first token. Properties that do not
   * fit beside `data` under its limits are not bound, and that is recorded.
   */
  contactUpserted(contactId: string, crm: CrmProperties | undefined, now: number): void {
    this.status.contactId = contactId;
    this.step('crm_upserted', now, { contactId });
    if (crm === undefined) return;
    if (crmFitsBesideData(this.invite.data, crm)) this.status.crm = crm;
    else this.step('crm_failed', now, { reason: 'the CRM properties do not fit beside data under its limits; not bound' });
  }

  /** HubSpot refused the contact at creation for good: recorded; the redemption links it again. */
  contactFailed(reason: string, now: number): void {
    this.step('crm_failed', now, { reason });
  }

  // ---- the account policy ----

  /** Whether the grant looks up other accounts of the person: a policy other than `off`, for the invited address. */
  looksUpAccounts(redeemer: Redeemer): boolean {
    return this.versions.crmAndAccounts && this.invite.accountPolicy !== 'off' && normalizeEmail(redeemer.email) === this.invite.email;
  }

  /** Whether a redemption's answer waits (briefly) for the accounts to be linked, to name the primary user. */
  answersPrimaryUser(redeemer: Redeemer): boolean {
    return this.looksUpAccounts(redeemer) && this.invite.accountPolicy === 'link';
  }

  /**
   * Where the grant goes, from the users Auth0 has for the invited address. Only accounts whose
   * email is verified and is the invited address count (an unverified one may be an attacker's,
   * created before the person: account pre-hijacking). `link` makes the oldest account the
   * primary, as Auth0's account-linking guidance keeps the existing account; the redeeming account
   * is linked first.
   */
  accountPlan(redeemer: Redeemer, found: FoundAccount[]): AccountPlan {
    const others = found
      .filter((a) => a.userId !== redeemer.userId && a.emailVerified && a.email === this.invite.email && !a.identities.includes(redeemer.userId))
      .sort(byAge);
    if (others.length === 0) return { grantTo: [redeemer.userId] };
    if (this.invite.accountPolicy === 'all-verified') return { grantTo: [redeemer.userId, ...others.map((a) => a.userId)] };
    const self = found.find((a) => a.userId === redeemer.userId) ?? { userId: redeemer.userId, createdAt: '\uffff' };
    const [primary, ...rest] = [self, ...others].sort(byAge);
    const secondaries = rest.map((a) => a.userId);
    if (primary!.userId !== redeemer.userId) secondaries.unshift(redeemer.userId);
    return { primaryUserId: primary!.userId, secondaryUserIds: [...new Set(secondaries)] };
  }

  /**
   * Accounts were linked into `primaryUserId` (`refused`: the one Auth0 refused, the rest untried).
   * Answers the account that gets the grant: the primary when the redeeming account is in it, else
   * the redeeming account alone, so no linked account is ever left without the grant.
   */
  accountsLinked(primaryUserId: string, linked: string[], refused: { userId: string; reason: string } | undefined, now: number): string {
    const redeemer = this.status.redeemer!;
    if (linked.length > 0) {
      this.status.linkedAccounts = { primaryUserId, secondaryUserIds: linked };
      this.step('linked_accounts', now, { userId: primaryUserId, userIds: linked });
    }
    if (refused) this.step('link_refused', now, { userId: refused.userId, reason: refused.reason });
    const inPrimary = redeemer.userId === primaryUserId || linked.includes(redeemer.userId);
    if (inPrimary && primaryUserId !== redeemer.userId && this.result) this.result.primaryUserId = primaryUserId;
    return inPrimary ? primaryUserId : redeemer.userId;
  }

  /** The grant knows its accounts; a redemption waiting to name the primary user answers now. */
  accountsKnown(): void {
    this.accountsSettled = true;
  }

  /** Every side effect of the redemption is done. */
  complete(now: number): Outcome {
    const redeemer = this.status.redeemer!;
    this.status.state = 'completed';
    this.status.completedAt = iso(now);
    this.step('completed', now);
    return {
      value: undefined,
      entered: 'completed',
      publish: true,
      notice: { type: 'invite.completed', detail: { userId: redeemer.userId, connection: redeemer.connection, redeemedAt: this.status.redeemedAt } },
    };
  }

  /** A side effect of the redemption was refused for good: surfaced, never silent. */
  fail(failure: { type: string; message: string }, now: number): Outcome {
    const redeemer = this.status.redeemer!;
    this.status.state = 'failed';
    this.status.failedAt = iso(now);
    this.status.failure = failure;
    this.step('failed', now, { reason: failure.message });
    return { value: undefined, entered: 'failed', publish: true, notice: { type: 'invite.failed', detail: { userId: redeemer.userId, failure } } };
  }

  /** The failure the run ends with, when a side effect was refused. */
  failure(): ApplicationFailure | undefined {
    if (this.status.state !== 'failed' || !this.status.failure) return undefined;
    return ApplicationFailure.create({ type: InviteErrorType.SideEffectRefused, message: this.status.failure.message, nonRetryable: true, details: [this.status] });
  }

  // ---- the funnel ----

  /** The funnel took the event. */
  notified(type: FunnelEventType, now: number): void {
    this.step('notified', now, { event: type });
  }

  /** The funnel's webhook failed for good: recorded, never holding or failing the invite. */
  notifyFailed(type: FunnelEventType, reason: string, now: number): void {
    this.step('notify_failed', now, { event: type, reason });
  }

  /**
   * The check redeem and claim share: true for an idempotent repeat by the account that redeemed,
   * false while nobody did; another account is refused.
   */
  private isRepeat(user: Redeemer): boolean {
    if (!this.status.redeemer) return false;
    if (isRedeemerOf(this.status, user.userId) && this.result) return true;
    throw refusal(InviteErrorType.AlreadyUsed, 'the invite was already redeemed by another account');
  }

  private step(type: LifecycleEvent['type'], now: number, extra: Omit<LifecycleEvent, 'at' | 'type'> = {}): void {
    this.lifecycle.push({ at: iso(now), type, ...extra });
  }
}

const unchanged: Outcome = { value: undefined, publish: false };

/** Oldest first; the user id breaks ties so the order never depends on Auth0's. */
function byAge(a: Pick<FoundAccount, 'createdAt' | 'userId'>, b: Pick<FoundAccount, 'createdAt' | 'userId'>): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

function refusal(type: InviteErrorType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}
