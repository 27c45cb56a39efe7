/**
 * The invite workflow: one durable execution per invite. It emails the invitee, reminds them at
 * the offsets, and waits for a redemption, a revocation or the expiry; after a redemption it
 * grants the Auth0 roles and data and links the HubSpot contact, each an idempotent activity.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  log,
  metricMeter,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { InviteActivities } from '../activities';
import type { FunnelEventType } from '../activities/webhook';
import { InviteErrorType } from './errors';
import { initialInviteStatus, inviteCreatedAt, InvalidInviteInput, MAX_EXTENDS, MAX_TTL_MS, MIN_TTL_MS, normalizeEmail, resolveInviteInput } from './input';
import type { ResolvedInvite } from './input';
import { msToNumber } from '@temporalio/common/lib/time';
import { nextSendTime } from './send-window';
import {
  auditSignal,
  claimUpdate,
  declineSignal,
  deliveryFailedSignal,
  extendUpdate,
  historyQuery,
  linkIssuedQuery,
  MAX_NOTES,
  redeemUpdate,
  resendUpdate,
  revokeUpdate,
  searchAttributes,
  statusQuery,
} from './messages';
import type {
  AuditNote,
  ClaimInput,
  DeliveryFailure,
  EmailMismatchDetails,
  InviteInput,
  LifecycleEvent,
  InviteStatus,
  RedeemInput,
  RedeemResult,
  SentEmailRecord,
} from './messages';

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

const iso = (ms: number) => new Date(ms).toISOString();

// Exported on the worker's Prometheus endpoint; the SDK does not emit them again on replay.
const transitions = metricMeter.createCounter('inviteflow_invite_transitions', 'invites', 'Invites entering each state');
const emailsSent = metricMeter.createCounter('inviteflow_emails_sent', 'emails', 'Invite emails accepted by the mail server');

/** Runs one invite from its first email to a final state; returns the final status. */
export async function inviteWorkflow(input: InviteInput): Promise<InviteStatus> {
  let invite: ResolvedInvite;
  try {
    invite = resolveInviteInput(input);
  } catch (err) {
    if (err instanceof InvalidInviteInput) {
      throw ApplicationFailure.create({
        type: InviteErrorType.InvalidInput,
        message: err.message,
        nonRetryable: true,
        details: [err.problems],
      });
    }
    throw err;
  }

  // Only the value changes, not the upsert commands, so histories recorded before it replay.
  const emailSearch =
    typeof input.emailSearchValue === 'string' && input.emailSearchValue.length > 0 && input.emailSearchValue.length <= 200
      ? input.emailSearchValue
      : invite.email;
  // The caller's creation time when it sent one (the API answers with the status at once), else now.
  const createdAt = inviteCreatedAt(invite, workflowInfo().runStartTime.getTime(), Date.now());
  let expiresAt = createdAt + invite.ttlMs;
  const links = new Set<string>();
  let result: RedeemResult | undefined;
  let extendsUsed = 0;
  let resendsUsed = 0;
  let lastEmailAt = 0;
  let wake = 0; // bumped by handlers that change what the main loop waits for

  const status: InviteStatus = initialInviteStatus(invite, createdAt);

  // The lifecycle the `history` query answers. Only state: recording a step issues no command.
  const lifecycle: LifecycleEvent[] = [{ at: iso(createdAt), type: 'created' }];
  const linkSequences = new Map<string, number>();
  let notes = 0;
  let omitted = 0;
  const step = (type: LifecycleEvent['type'], extra: Omit<LifecycleEvent, 'at' | 'type'> = {}) => {
    lifecycle.push({ at: iso(Date.now()), type, ...extra });
  };

  const enter = (state: InviteStatus['state']) => {
    status.state = state;
    transitions.add(1, { state });
  };

  // Every patch records a marker and, through the SDK, upserts `TemporalChangeVersion`: an event
  // and a visibility write each, in the first task of every run. New runs record one marker,
  // `invite-v2`, which stands for the four changes below; runs recorded before it replay them
  // one by one (a replayed run without the `invite-v2` marker gets false and asks the others).
  // A change made from now on gets a patch of its own, checked after this one.
  const v2 = patched('invite-v2');
  // Runs recorded before this patch upserted the search attributes on every publish; newer runs
  // skip an upsert that would change nothing (the start already set them, and most emails leave
  // them as they are), which spares the server a visibility write per email.
  const skipUnchangedUpserts = v2 || patched('skip-unchanged-search-attributes');
  // Runs recorded before the funnel webhook tell nobody when they complete or fail.
  const notifyOnClose = v2 || patched('funnel-webhook');
  // Runs recorded before escalation have no escalation timer.
  const escalation = v2 || patched('stale-escalation');
  let escalated = false;
  let escalating: Promise<void> | undefined;
  // Runs recorded before send windows send a reminder the moment it is due, day or night.
  const sendWindows = v2 || patched('send-windows');
  if (!sendWindows) delete status.sendWindow;
  // A reminder that fell due outside the invitee's daytime and waits for the window to open.
  let reminderWaiting = false;
  const visible = workflowInfo().typedSearchAttributes;
  let published = skipUnchangedUpserts
    ? searchAttributesKey(
        visible.get(searchAttributes.status),
        visible.get(searchAttributes.email),
        visible.get(searchAttributes.scope),
        visible.get(searchAttributes.expiresAt)?.getTime(),
      )
    : '';

  const publish = () => {
    const key = searchAttributesKey(status.state, emailSearch, status.scope, expiresAt);
    if (!skipUnchangedUpserts || key !== published) {
      upsertSearchAttributes([
        { key: searchAttributes.status, value: status.state },
        { key: searchAttributes.email, value: emailSearch },
        { key: searchAttributes.scope, value: status.scope },
        { key: searchAttributes.expiresAt, value: new Date(expiresAt) },
      ]);
      published = key;
    }
    const sent = status.emails.length;
    setCurrentDetails(
      [
        `**${status.state}** · ${invite.scope} · roles: ${invite.roles.join(', ') || 'none'}`,
        `${sent} email${sent === 1 ? '' : 's'} sent${status.optedOutAt ? ' · opted out of email' : ''}${status.undeliverable ? ` · undeliverable (${status.undeliverable.kind})` : ''}`,
        open() ? `expires ${status.expiresAt}` : '',
        status.redeemer ? `redeemed by ${status.redeemer.userId} (${status.redeemer.connection})` : '',
        status.failure ? `failed: ${status.failure.message}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  };

  /** Pending, or undeliverable: either way still redeemable until the expiry. */
  function open(): boolean {
    return status.state === 'pending' || status.state === 'undeliverable';
  }

  /** Sends one signed event to the funnel; a failure is recorded, never thrown. */
  const notify = async (type: FunnelEventType, detail?: Record<string, unknown>): Promise<void> => {
    try {
      const sent = await webhook.notifyFunnel({
        id: uuid4(),
        type,
        occurredAt: iso(Date.now()),
        invite: { id: invite.inviteId, email: invite.email, scope: invite.scope, state: status.state, expiresAt: status.expiresAt, data: invite.data },
        ...(detail ? { detail } : {}),
      });
      if (sent.delivered) step('notified', { event: type });
    } catch (err) {
      step('notify_failed', { event: type, reason: failureMessage(err) });
      log.warn('funnel webhook failed', { inviteId: invite.inviteId, type });
    }
  };

  /** When a still-pending invite is escalated; Infinity when it no longer will be. */
  const escalateAt = (): number =>
    escalation && !escalated && invite.escalateBeforeMs !== undefined && status.state === 'pending' && !status.optedOutAt
      ? expiresAt - invite.escalateBeforeMs
      : Infinity;

  /**
   * The invite is still pending close to its expiry: the inviter is emailed (when the invite names
   * their address), the HubSpot contact is marked for follow-up, the funnel is told. Neither
   * failure holds the invite; each is recorded.
   */
  const escalate = async (): Promise<void> => {
    escalated = true;
    status.escalatedAt = iso(Date.now());
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
    step('escalated', { reason: done.join('; ') });
    publish();
    await notify('invite.stale', { escalatedAt: status.escalatedAt });
  };

  /** Mints a fresh link and sends one email; a permanent refusal is recorded, not thrown. */
  const sendEmail = async (kind: SentEmailRecord['kind']): Promise<SentEmailRecord | undefined> => {
    const linkId = uuid4();
    const sequence = status.emails.length + 1;
    links.add(linkId);
    linkSequences.set(linkId, sequence);
    lastEmailAt = Date.now();
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
        expiresAt: iso(expiresAt),
        sequence,
      });
      const record: SentEmailRecord = { sequence, kind, linkId, at: sent.acceptedAt, messageId: sent.messageId };
      status.emails.push(record);
      emailsSent.add(1, { kind });
      step(kind === 'reminder' ? 'reminded' : 'emailed', { sequence, kind });
      delete status.emailError;
      publish();
      return record;
    } catch (err) {
      // The mail server refused the address for good (5xx): the invite stays pending and
      // redeemable; the refusal shows in the status and the UI for an operator to act on.
      status.emailError = failureMessage(err);
      step('email_refused', { sequence, kind, reason: status.emailError });
      publish();
      log.warn('invite email refused', { inviteId: invite.inviteId, kind });
      return undefined;
    }
  };

  setHandler(statusQuery, () => status);
  setHandler(linkIssuedQuery, (linkId) => links.has(linkId));
  setHandler(historyQuery, () => ({ inviteId: invite.inviteId, events: lifecycle, omitted }));

  // Clicks and refusals come from the API; each is bounded so that no caller can grow the state.
  setHandler(auditSignal, (note: AuditNote) => {
    if (typeof note !== 'object' || note === null) return;
    const sequence = typeof note.linkId === 'string' ? linkSequences.get(note.linkId) : undefined;
    if (note.type === 'clicked') {
      if (sequence === undefined) return;
    } else if (note.type === 'refused') {
      if (typeof note.code !== 'string' || !/^[a-z_]{1,40}$/.test(note.code)) return;
    } else {
      return;
    }
    if (notes >= MAX_NOTES) {
      omitted++;
      return;
    }
    notes++;
    if (note.type === 'clicked') {
      step('clicked', { sequence: sequence! });
      return;
    }
    step('refused', {
      ...(sequence !== undefined ? { sequence } : {}),
      code: note.code,
      ...(typeof note.userId === 'string' ? { userId: note.userId.slice(0, 300) } : {}),
      ...(typeof note.connection === 'string' ? { connection: note.connection.slice(0, 200) } : {}),
    });
  });

  /** Accepts a redemption (by link, or by verified email without one) and answers the claims. */
  const accept = (user: RedeemInput['user'], linkId: string | undefined): RedeemResult => {
    if (result && status.redeemer?.userId === user.userId) return { ...result, repeat: true };
    enter('redeemed');
    status.redeemedAt = iso(Date.now());
    status.redeemer = user;
    if (linkId === undefined) status.redeemedVia = 'verified-email';
    const sequence = linkId === undefined ? undefined : linkSequences.get(linkId);
    step('redeemed', {
      ...(sequence !== undefined ? { sequence } : {}),
      userId: user.userId,
      connection: user.connection,
      ...(linkId === undefined ? { event: 'verified-email' } : {}),
    });
    result = {
      inviteId: invite.inviteId,
      scope: invite.scope,
      roles: invite.roles,
      data: invite.data,
      redirect: invite.redirect,
      redeemedAt: status.redeemedAt,
      ...(invite.attributionInClaims && invite.attribution ? { attribution: invite.attribution } : {}),
      repeat: false,
    };
    publish();
    return result;
  };

  setHandler(
    redeemUpdate,
    (req: RedeemInput): RedeemResult => accept(req.user, req.linkId),
    {
      // A refused attempt never reaches history and never consumes the invite.
      validator: (req: RedeemInput) => {
        if (status.redeemer) {
          if (status.redeemer.userId === req.user.userId && result) return;
          throw refusal(InviteErrorType.AlreadyUsed, 'the invite was already redeemed by another account');
        }
        assertPending();
        if (!links.has(req.linkId)) throw refusal(InviteErrorType.UnknownLink, 'this link was not issued by this invite');
        if (invite.emailPolicy === 'same-email' && normalizeEmail(req.user.email) !== invite.email) {
          const details: EmailMismatchDetails = { loginHint: invite.email };
          throw ApplicationFailure.create({
            type: InviteErrorType.EmailMismatch,
            message: 'the account email is not the invited one; sign in with the invited address',
            nonRetryable: true,
            details: [details],
          });
        }
      },
    },
  );

  // Claim by verified email (opt-in): the verified address stands in for the link, which proves
  // the same thing, control of the mailbox. Unverified addresses and other addresses never claim.
  setHandler(claimUpdate, (req: ClaimInput): RedeemResult => accept(req.user, undefined), {
    validator: (req: ClaimInput) => {
      if (status.redeemer) {
        if (status.redeemer.userId === req.user.userId && result) return;
        throw refusal(InviteErrorType.AlreadyUsed, 'the invite was already redeemed by another account');
      }
      if (!invite.claimByVerifiedEmail) throw refusal(InviteErrorType.ClaimRefused, 'this invite can only be redeemed with its link');
      assertPending();
      if (req.user.emailVerified !== true) throw refusal(InviteErrorType.ClaimRefused, 'an unverified email cannot claim an invite');
      if (typeof req.user.email !== 'string' || normalizeEmail(req.user.email) !== invite.email) {
        throw refusal(InviteErrorType.ClaimRefused, 'the account email is not the invited one');
      }
    },
  });

  setHandler(
    revokeUpdate,
    ({ reason }) => {
      enter('revoked');
      status.revokedAt = iso(Date.now());
      if (reason) status.revokeReason = reason.slice(0, 500);
      step('revoked', status.revokeReason ? { reason: status.revokeReason } : {});
      publish();
      return status;
    },
    { validator: (_req: { reason?: string }) => assertPending() },
  );

  setHandler(
    resendUpdate,
    async () => {
      resendsUsed++;
      const record = await sendEmail('resend');
      if (!record) throw refusal(InviteErrorType.Permanent, `the mail server refused the address: ${status.emailError}`);
      return record;
    },
    {
      validator: () => {
        assertPending();
        if (status.optedOutAt) throw refusal(InviteErrorType.EmailOptedOut, 'the invitee opted out of email');
        if (status.undeliverable) throw refusal(InviteErrorType.Undeliverable, `the mail provider reported the address undeliverable (${status.undeliverable.kind})`);
        if (resendsUsed >= invite.maxResends) {
          throw refusal(InviteErrorType.ResendRateLimited, `at most ${invite.maxResends} resends per invite`);
        }
        const wait = lastEmailAt + invite.resendIntervalMs - Date.now();
        if (wait > 0) {
          throw ApplicationFailure.create({
            type: InviteErrorType.ResendRateLimited,
            message: `the last email went out less than ${Math.round(invite.resendIntervalMs / 1000)} s ago`,
            nonRetryable: true,
            details: [{ retryAfterMs: wait }],
          });
        }
      },
    },
  );

  setHandler(
    extendUpdate,
    async ({ ttl }) => {
      extendsUsed++;
      expiresAt = Date.now() + msToNumber(ttl);
      status.expiresAt = iso(expiresAt);
      step('extended', { expiresAt: status.expiresAt });
      wake++;
      publish();
      // Earlier links carry the earlier expiry in their token; the person needs a link that works.
      if (!status.optedOutAt && !status.undeliverable) await sendEmail('extend');
      return status;
    },
    {
      validator: ({ ttl }) => {
        assertPending();
        if (extendsUsed >= MAX_EXTENDS) throw refusal(InviteErrorType.InvalidInput, `at most ${MAX_EXTENDS} extensions per invite`);
        let ms: number;
        try {
          ms = msToNumber(ttl);
        } catch {
          throw refusal(InviteErrorType.InvalidInput, 'ttl must be a duration like "7 days"');
        }
        if (!(ms >= MIN_TTL_MS && ms <= MAX_TTL_MS)) throw refusal(InviteErrorType.InvalidInput, 'ttl must be between 1 minute and 30 days');
        if (Date.now() + ms <= expiresAt) throw refusal(InviteErrorType.InvalidInput, 'the new expiry must be later than the current one');
      },
    },
  );

  // A bounce or complaint from the mail provider: no more email, the funnel is told. Links already
  // delivered keep working (the bounce may be of a reminder), so the invite stays open until expiry.
  setHandler(deliveryFailedSignal, async (failure: DeliveryFailure) => {
    if (status.state !== 'pending' || typeof failure !== 'object' || failure === null) return;
    if (failure.kind !== 'bounce' && failure.kind !== 'complaint') return;
    const kind = failure.kind;
    const reason = typeof failure.reason === 'string' && failure.reason !== '' ? failure.reason.slice(0, 300) : undefined;
    const sequence = typeof failure.sequence === 'number' && Number.isInteger(failure.sequence) ? failure.sequence : undefined;
    enter('undeliverable');
    status.undeliverable = { at: iso(Date.now()), kind, ...(reason ? { reason } : {}) };
    step('undeliverable', { event: kind, ...(sequence !== undefined ? { sequence } : {}), ...(reason ? { reason } : {}) });
    wake++;
    publish();
    await notify('invite.undeliverable', { kind, ...(reason ? { reason } : {}) });
  });

  setHandler(declineSignal, () => {
    if (status.optedOutAt) return;
    status.optedOutAt = iso(Date.now());
    step('declined');
    wake++;
    publish();
  });

  function assertPending(): void {
    if (status.state === 'revoked') throw refusal(InviteErrorType.Revoked, 'the invite was revoked');
    if (status.state === 'expired' || (open() && Date.now() >= expiresAt)) {
      throw refusal(InviteErrorType.Expired, 'the invite has expired');
    }
    if (!open()) throw refusal(InviteErrorType.NotPending, `the invite is ${status.state}`);
  }

  transitions.add(1, { state: 'pending' });
  publish();
  await sendEmail('invite');

  // Wait for redemption, revocation or expiry, sending each reminder at its offset on the way.
  const reminders = [...invite.reminderOffsetsMs];
  while (open()) {
    const now = Date.now();
    if (now >= expiresAt) {
      enter('expired');
      status.expiredAt = iso(now);
      step('expired');
      publish();
      break;
    }
    // Offsets that passed together (a worker down for days) earn one reminder, not a burst.
    let due = false;
    while (reminders.length > 0 && createdAt + reminders[0]! <= now) {
      reminders.shift();
      due = true;
    }
    if (!sendWindows) {
      if (due && !status.optedOutAt && !status.undeliverable) await sendEmail('reminder');
    } else {
      reminderWaiting = (reminderWaiting || due) && !status.optedOutAt && !status.undeliverable;
      if (reminderWaiting) {
        const at = nextSendTime(now, invite.sendWindow);
        // A reminder that could only arrive after the expiry would point at a dead link.
        if (at >= expiresAt) reminderWaiting = false;
        else if (at <= now) {
          reminderWaiting = false;
          await sendEmail('reminder');
        }
      }
    }
    if (!open()) break;
    // In the background: a slow mail server or HubSpot must hold neither a redemption's grant nor
    // the expiry. The run waits for it before it closes.
    if (Date.now() >= escalateAt()) escalating = escalate();
    const nextReminder =
      status.optedOutAt || status.undeliverable
        ? Infinity
        : reminderWaiting
          ? nextSendTime(now, invite.sendWindow)
          : reminders.length === 0
            ? Infinity
            : createdAt + reminders[0]!;
    const escalation = escalateAt();
    const wakeAt = Math.min(nextReminder, escalation, expiresAt);
    const seen = wake;
    await condition(() => !open() || wake !== seen, wakeAt - now, {
      summary: wakeAt === expiresAt ? 'until expiry' : wakeAt === escalation ? 'until escalation' : 'until next reminder',
    });
  }

  if (status.state === 'redeemed' && status.redeemer) {
    await grant(invite, status, step);
    transitions.add(1, { state: status.state });
    if (notifyOnClose) {
      const redeemer = status.redeemer;
      // `grant` moved the state on; the narrowing above does not know it.
      const completed = (status.state as InviteStatus['state']) === 'completed';
      await notify(
        completed ? 'invite.completed' : 'invite.failed',
        completed
          ? { userId: redeemer.userId, connection: redeemer.connection, redeemedAt: status.redeemedAt }
          : { userId: redeemer.userId, failure: status.failure },
      );
    }
  }
  await escalating;
  // Let an in-flight update (e.g. an idempotent repeat of `redeem`) finish before the run closes.
  await condition(allHandlersFinished);
  if (status.state === 'failed' && status.failure) {
    throw ApplicationFailure.create({
      type: InviteErrorType.SideEffectRefused,
      message: status.failure.message,
      nonRetryable: true,
      details: [status],
    });
  }
  return status;
}

/** The side effects of a redemption: Auth0 grant and HubSpot link in parallel, then `completed`. */
async function grant(
  invite: ResolvedInvite,
  status: InviteStatus,
  step: (type: LifecycleEvent['type'], extra?: Omit<LifecycleEvent, 'at' | 'type'>) => void,
): Promise<void> {
  const redeemer = status.redeemer!;
  const redeemedAt = status.redeemedAt!;
  const auth0Grant = async () => {
    // The link proved the mailbox, so a fresh, unverified sign-up with the invited address is
    // verified now, as Auth0 and Clerk do when an invitation is accepted.
    if (!redeemer.emailVerified && normalizeEmail(redeemer.email) === invite.email) {
      await auth0.markAuth0EmailVerified({ userId: redeemer.userId });
    }
    // A role deleted in Auth0 since the invite was created is skipped, not a failure of the whole
    // invite: the person keeps the other roles and the data, and the status says what was left out.
    // (Results recorded before the activity reported `missing` have none.)
    const { missing = [] } = await auth0.assignAuth0Roles({ userId: redeemer.userId, roles: invite.roles });
    if (missing.length > 0) status.rolesNotGranted = missing;
    await auth0.writeAuth0AppMetadata({
      userId: redeemer.userId,
      inviteId: invite.inviteId,
      scope: invite.scope,
      // app_metadata records what the account was given.
      roles: missing.length > 0 ? invite.roles.filter((role) => !missing.includes(role)) : invite.roles,
      data: invite.data,
      redeemedAt,
    });
    step('granted', {
      userId: redeemer.userId,
      ...(missing.length > 0 ? { reason: `not granted, no longer in Auth0: ${missing.join(', ')}` } : {}),
    });
  };
  const hubspotLink = async () => {
    const { contactId } = await hubspot.linkHubSpotContact({
      email: invite.email,
      auth0UserId: redeemer.userId,
      inviteId: invite.inviteId,
      inviteStatus: 'redeemed',
      ...(invite.attribution ? { attribution: invite.attribution } : {}),
    });
    step('linked', { contactId });
  };
  try {
    await Promise.all([auth0Grant(), hubspotLink()]);
    status.state = 'completed';
    status.completedAt = new Date(Date.now()).toISOString();
    step('completed');
  } catch (err) {
    status.state = 'failed';
    status.failedAt = new Date(Date.now()).toISOString();
    status.failure = { type: failureType(err), message: failureMessage(err) };
    step('failed', { reason: status.failure.message });
  }
  upsertSearchAttributes([{ key: searchAttributes.status, value: status.state }]);
  setCurrentDetails(
    status.state === 'completed'
      ? `**completed** · redeemed by ${redeemer.userId} (${redeemer.connection})`
      : `**failed** · ${status.failure?.message ?? ''}`,
  );
}

function searchAttributesKey(state?: string, email?: string, scope?: string, expiresAtMs?: number): string {
  return JSON.stringify([state ?? null, email ?? null, scope ?? null, expiresAtMs ?? null]);
}

function refusal(type: InviteErrorType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

function failureType(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type ? cause.type : 'Unknown';
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
