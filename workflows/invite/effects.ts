/**
 * The one module of the invite workflow that issues commands: activities, upserts of search
 * attributes, current details, metrics and the funnel webhook. Each method keeps the order its
 * commands had when the recorded histories were made (`test/replay`).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  metricMeter,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { InviteActivities } from '../../activities';
import { InviteErrorType } from '../errors';
import { normalizeEmail } from '../input';
import { searchAttributes } from '../messages';
import type { InviteStatus, Redeemer, RedeemResult, SentEmailRecord } from '../messages';
import { iso } from './state';
import type { FunnelNotice, Invite, Outcome } from './state';
import type { Versions } from './versions';
import { closedDetails, currentDetails, inviteSearchAttributes, publishedKey, searchAttributesKey } from './visibility';

const nonRetryableErrorTypes = [InviteErrorType.Permanent, InviteErrorType.UnknownRole];

// Each integration has its own retry policy. Temporal owns retries (the SDKs' are off); a 429 or
// 5xx comes back with the delay the service asked for as the failure's next retry delay.
const email = proxyActivities<InviteActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes },
});
const auth0 = proxyActivities<InviteActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes },
});
const hubspot = proxyActivities<InviteActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes },
});

// The funnel is told, not asked: a receiver that stays down for about two hours loses the event
// (recorded as `notify_failed` in the lifecycle), but never holds or fails the invite.
const webhook = proxyActivities<InviteActivities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 15, nonRetryableErrorTypes },
});

/**
 * How long a redemption under the `link` policy waits for the accounts to be linked before it
 * answers: linked by then, the login continues as the primary user; otherwise the next login does.
 * Within the Action's 5 s call to the API and Auth0's 20 s for the whole flow.
 */
const LINK_ANSWER_WAIT = '3 seconds';

// Exported on the worker's Prometheus endpoint; the SDK does not emit them again on replay.
const transitions = metricMeter.createCounter('inviteflow_invite_transitions', 'invites', 'Invites entering each state');
const emailsSent = metricMeter.createCounter('inviteflow_emails_sent', 'emails', 'Invite emails accepted by the mail server');

/** Issues the commands of one invite's run; created once per run, after the patch decisions. */
export class Effects {
  /** The key of the search attributes last upserted. */
  private published: string;
  /** The contact upsert started at creation, settled (never rejects) once it succeeded, failed for good or was stopped. */
  private contactUpsert: Promise<void> | undefined;
  private contactScope: CancellationScope | undefined;

  constructor(
    private readonly state: Invite,
    private readonly versions: Versions,
    /** The value of `InviteEmail` (see `emailSearchValue`). */
    private readonly emailSearch: string,
  ) {
    this.published = versions.skipUnchangedUpserts ? publishedKey(workflowInfo().typedSearchAttributes) : '';
  }

  /** The run started: the invite is pending and visible. */
  started(): void {
    transitions.add(1, { state: 'pending' });
    this.publish();
  }

  /** Makes an outcome known (the state it entered, the publication) and answers its value. */
  apply<T>(outcome: Outcome<T>): T {
    if (outcome.entered) transitions.add(1, { state: outcome.entered });
    if (outcome.publish) this.publish();
    return outcome.value;
  }

  /** `apply`, then tells the funnel when the outcome has an event for it. */
  async announce(outcome: Outcome): Promise<void> {
    this.apply(outcome);
    if (outcome.notice) await this.notify(outcome.notice);
  }

  /** Upserts the search attributes (unless unchanged, on runs that skip those) and sets the current details. */
  publish(): void {
    const key = searchAttributesKey(this.state, this.emailSearch);
    if (!this.versions.skipUnchangedUpserts || key !== this.published) {
      upsertSearchAttributes(inviteSearchAttributes(this.state, this.emailSearch));
      this.published = key;
    }
    setCurrentDetails(currentDetails(this.state));
  }

  /**
   * Upserts the invitee's HubSpot contact in the background (runs from `crm-and-accounts` on): its
   * id, and the properties the invite binds, are then known before anyone clicks. A HubSpot outage
   * never holds the email: the upsert is retried on its own until it succeeds, is refused for good
   * (recorded), or the invite closes unredeemed (`stopContactUpsert`).
   */
  upsertContact(): void {
    const { invite } = this.state;
    this.contactScope = new CancellationScope();
    this.contactUpsert = this.contactScope
      .run(() =>
        hubspot.upsertHubSpotInvitee({
          email: invite.email,
          inviteId: invite.inviteId,
          ...(invite.attribution ? { attribution: invite.attribution } : {}),
          properties: invite.crmProperties,
        }),
      )
      .then(
        ({ contactId, crm }) => {
          this.state.contactUpserted(contactId, crm, Date.now());
          this.publish();
        },
        (err: unknown) => {
          if (isCancellation(err)) return;
          this.state.contactFailed(`HubSpot upsert failed: ${failureMessage(err)}`, Date.now());
          this.publish();
          log.warn('HubSpot contact upsert at creation failed', { inviteId: invite.inviteId });
        },
      );
  }

  /** The invite closed unredeemed: an upsert still being retried stops. */
  async stopContactUpsert(): Promise<void> {
    this.contactScope?.cancel();
    await this.contactUpsert;
  }

  /**
   * The answer of an accepted redemption. Under the `link` policy a first redemption waits, at most
   * `LINK_ANSWER_WAIT`, for the accounts to be linked, so that it can name the primary user.
   */
  answer(outcome: Outcome<RedeemResult>): RedeemResult | Promise<RedeemResult> {
    const value = this.apply(outcome);
    const redeemer = this.state.status.redeemer;
    if (value.repeat || !redeemer || !this.state.answersPrimaryUser(redeemer)) return value;
    return condition(() => this.state.accountsSettled, LINK_ANSWER_WAIT).then(() => value);
  }

  /** Mints a fresh link and sends one email; a permanent refusal is recorded, not thrown. */
  async sendEmail(kind: SentEmailRecord['kind']): Promise<SentEmailRecord | undefined> {
    const { invite, status } = this.state;
    const linkId = uuid4();
    const sequence = this.state.issueLink(linkId, Date.now());
    try {
      const sent = await email.sendInviteEmail({
        inviteId: invite.inviteId,
        jti: linkId,
        kind: kind === 'reminder' ? 'reminder' : 'invite',
        to: invite.email,
        locale: invite.locale,
        // Dates in the invitee's time zone, the one the status (and so every page) shows.
        ...(status.sendWindow ? { timeZone: status.sendWindow.timeZone } : {}),
        inviter: invite.inviter,
        scope: invite.scope,
        expiresAt: iso(this.state.expiresAt),
        sequence,
      });
      const record: SentEmailRecord = { sequence, kind, linkId, at: sent.acceptedAt, messageId: sent.messageId };
      emailsSent.add(1, { kind });
      this.state.emailSent(record, Date.now());
      this.publish();
      return record;
    } catch (err) {
      this.state.emailRefused(sequence, kind, failureMessage(err), Date.now());
      this.publish();
      log.warn('invite email refused', { inviteId: invite.inviteId, kind });
      return undefined;
    }
  }

  /** `resend`: counts it, sends a fresh link; a refusal by the mail server fails the update. */
  async resend(): Promise<SentEmailRecord> {
    this.state.countResend();
    const record = await this.sendEmail('resend');
    if (!record) throw this.state.resendRefused();
    return record;
  }

  /** `extend`: moves the expiry, then emails a fresh link while the invitee may be emailed. */
  async extend(ttl: Duration): Promise<InviteStatus> {
    const status = this.apply(this.state.extend(ttl, Date.now()));
    // Earlier links carry the earlier expiry in their token; the person needs a link that works.
    if (this.state.mayEmail()) await this.sendEmail('extend');
    return status;
  }

  /** Sends one signed event to the funnel; a failure is recorded, never thrown. */
  async notify({ type, detail }: FunnelNotice): Promise<void> {
    const { invite, status } = this.state;
    try {
      const sent = await webhook.notifyFunnel({
        id: uuid4(),
        type,
        occurredAt: iso(Date.now()),
        invite: { id: invite.inviteId, email: invite.email, scope: invite.scope, state: status.state, expiresAt: status.expiresAt, data: invite.data },
        ...(detail ? { detail } : {}),
      });
      if (sent.delivered) this.state.notified(type, Date.now());
    } catch (err) {
      this.state.notifyFailed(type, failureMessage(err), Date.now());
      log.warn('funnel webhook failed', { inviteId: invite.inviteId, type });
    }
  }

  /**
   * The invite is still pending close to its expiry: the inviter is emailed (when the invite names
   * their address), the HubSpot contact is marked for follow-up, the funnel is told. Neither
   * failure holds the invite; each is recorded.
   */
  async escalate(): Promise<void> {
    this.state.escalate(Date.now());
    const { invite, status } = this.state;
    const inviterEmail = invite.inviter?.email;
    const outcome = (what: string) => (err: unknown) => `${what} failed: ${failureMessage(err)}`;
    const done = await Promise.all([
      inviterEmail
        ? email
            .sendEscalationEmail({
              inviteId: invite.inviteId,
              to: normalizeEmail(inviterEmail),
              invitee: invite.email,
              locale: invite.locale,
              ...(status.sendWindow ? { timeZone: status.sendWindow.timeZone } : {}),
              scope: invite.scope,
              expiresAt: status.expiresAt,
            })
            .then(() => 'inviter emailed', outcome('inviter email'))
        : 'no inviter email to tell',
      hubspot.markHubSpotInviteStale({ email: invite.email, inviteId: invite.inviteId }).then(() => 'HubSpot contact marked', outcome('HubSpot mark')),
    ]);
    const escalated = this.state.escalationDone(done, Date.now());
    this.apply(escalated);
    await this.notify(escalated.notice!);
  }

  /**
   * The side effects of a redemption: Auth0 grant and HubSpot link in parallel, then `completed`
   * (or `failed` when one is refused for good), published; answers that outcome for `closed`.
   * From `crm-and-accounts` on, the grant goes where the account policy says (`grantAccounts`), the
   * HubSpot link follows the creation upsert and names the account that holds the grant, and
   * `app_metadata` carries the contact.
   */
  async grant(redeemer: Redeemer): Promise<Outcome> {
    const { invite, status } = this.state;
    const current = this.versions.crmAndAccounts;
    const redeemedAt = status.redeemedAt!;
    let holder = redeemer.userId;
    let recordedContact: string | undefined;
    // The invite's record in the account's `app_metadata`, with the contact as far as it is known.
    const writeMetadata = (userId: string, roles: string[]) => {
      recordedContact = status.contactId;
      return auth0.writeAuth0AppMetadata({
        userId,
        inviteId: invite.inviteId,
        scope: invite.scope,
        roles,
        data: invite.data,
        redeemedAt,
        ...(current && status.contactId !== undefined ? { hubspotContactId: status.contactId } : {}),
        ...(current && status.crm !== undefined ? { crm: status.crm } : {}),
      });
    };
    const grantTo = async (userId: string) => {
      // (Results recorded before the activity reported `missing` have none.)
      const { missing = [] } = await auth0.assignAuth0Roles({ userId, roles: invite.roles });
      await writeMetadata(userId, this.state.rolesAssigned(missing));
      this.state.granted(userId, missing, Date.now());
    };
    const granted: string[] = [];
    const auth0Grant = async () => {
      if (this.state.verifiesEmail(redeemer)) await auth0.markAuth0EmailVerified({ userId: redeemer.userId });
      // Without a lookup the first grant command follows at once, as on runs recorded before policies.
      const accounts = this.state.looksUpAccounts(redeemer) ? await this.grantAccounts(redeemer) : [redeemer.userId];
      holder = accounts[0]!;
      this.state.accountsKnown();
      for (const userId of accounts) {
        await grantTo(userId);
        granted.push(userId);
      }
    };
    const hubspotLink = async () => {
      if (current) {
        // After the creation upsert (so `invited` never overwrites `redeemed`) and once it is known
        // which account holds the grant.
        await this.contactUpsert;
        await condition(() => this.state.accountsSettled);
      }
      const { contactId } = await hubspot.linkHubSpotContact({
        email: invite.email,
        auth0UserId: current ? holder : redeemer.userId,
        inviteId: invite.inviteId,
        inviteStatus: 'redeemed',
        ...(invite.attribution ? { attribution: invite.attribution } : {}),
      });
      this.state.linked(contactId, Date.now());
    };
    let closed: Outcome;
    try {
      await Promise.all([auth0Grant(), hubspotLink()]);
      // The contact became known only with the link (HubSpot was down since creation): the
      // accounts' `app_metadata` learns it now.
      if (current && status.contactId !== undefined && status.contactId !== recordedContact) {
        const roles = this.state.rolesAssigned(status.rolesNotGranted ?? []);
        for (const userId of granted) await writeMetadata(userId, roles);
      }
      closed = this.state.complete(Date.now());
    } catch (err) {
      closed = this.state.fail({ type: failureType(err), message: failureMessage(err) }, Date.now());
    }
    // A closed invite publishes its state only, with details of its own.
    upsertSearchAttributes([{ key: searchAttributes.status, value: status.state }]);
    setCurrentDetails(closedDetails(this.state));
    return closed;
  }

  /**
   * The accounts that get the grant under the invite's policy, the one holding it first: looks up
   * the Auth0 users of the invited address and, under `link`, links them into one. A refusal to
   * link is recorded and the grant goes where the accounts really are.
   */
  private async grantAccounts(redeemer: Redeemer): Promise<string[]> {
    const found = await auth0.findAuth0Accounts({ email: this.state.invite.email });
    const plan = this.state.accountPlan(redeemer, found);
    if ('grantTo' in plan) return plan.grantTo;
    const { linked, refused } = await auth0.linkAuth0Accounts(plan);
    const holder = this.state.accountsLinked(plan.primaryUserId, linked, refused, Date.now());
    this.publish();
    return [holder];
  }

  /** The grant ended: counts the state entered and, on runs that do, tells the funnel. */
  async closed(outcome: Outcome): Promise<void> {
    if (outcome.entered) transitions.add(1, { state: outcome.entered });
    if (this.versions.notifyOnClose && outcome.notice) await this.notify(outcome.notice);
  }
}

function failureType(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type ? cause.type : 'Unknown';
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
