/**
 * `POST /v1/claims`, called by the Auth0 post-login Action on a login *without* an invite link
 * when claim by verified email is on (the Action's `CLAIM_BY_EMAIL` secret): the API finds the
 * open invites of the account's email through visibility and runs the `claim` update on the
 * newest one that opted in (`claimByVerifiedEmail`). The workflow's validator decides; an
 * unverified address never claims. Nothing to claim is the usual answer, `200 { claimed: false }`,
 * so the login goes on untouched.
 *
 * A claim is idempotent like a redemption: when its answer was lost (the API or the server went
 * down after the workflow accepted it), the same account's next login gets the same claims back,
 * `repeat: true`, while the grant runs and for a while after it completed. Repeats are looked for
 * before any new claim, so one lost answer never turns into a second invite claimed.
 */
import { z } from 'zod';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import { isValidEmail, normalizeEmail } from '../../workflows/input';
import { claimUpdate, isRedeemerOf } from '../../workflows/messages';
import type { Redeemer } from '../../workflows/messages';
import type { RouteContext } from '../context';
import { ACTION_PATHS } from '../../lib/action-contract';
import type { ActionUser, ClaimAnswer, ClaimRequest } from '../../lib/action-contract';
import { ApiError, errorBodySchema } from '../errors';
import type { Same } from '../errors';
import { inboundLimit } from '../inbound-limiter';
import { answer, closedAnswer, redemptionResult } from './redemptions';
import { actionTokenBinding } from '../action-auth';
import { withZod } from './zod-app';
import type { InviteListItem } from '../../client/invite-search';

const claimBody = z
  .strictObject({
    user: z.strictObject({
      id: z.string().min(1).max(300),
      email: z.string().max(320),
      email_verified: z.boolean(),
      connection: z.string().min(1).max(200),
    }) satisfies z.ZodType<ActionUser>,
  })
  .meta({ id: 'Claim' });

const claimResult = z
  .union([
    redemptionResult.extend({ claimed: z.literal(true) }),
    z.object({ claimed: z.literal(false), reason: z.enum(['email_unverified', 'no_claimable_invite']) }),
  ])
  .meta({ id: 'ClaimResult' });

// Both ways: a field added to the contract or to the schema alone fails to compile.
const contractHolds: [Same<z.output<typeof claimBody>, ClaimRequest>, Same<z.output<typeof claimResult>, ClaimAnswer>] = [true, true];
void contractHolds;

// The codes with which a candidate turns a claim down; the next candidate is tried.
const PASSED_OVER = new Set(['invite_not_claimable', 'invite_already_used', 'invite_expired', 'invite_revoked', 'invite_not_pending']);
// Invites of one address, newest first; more than a few would be unusual (one per scope).
const MAX_CANDIDATES = 20;
// How long after its grant completed a claimed invite still answers its account's repeat: long
// enough for a person to sign in again after a lost answer, short enough that logins do not
// replay old closed runs forever (a closed run's status is a query a worker replays).
export const CLAIM_REPEAT_WINDOW_MS = 15 * 60_000;

const claimSchema = {
  summary: 'Claim an invite by verified email, without its link (called by the Auth0 Action; opt-in per invite)',
  tags: ['redemptions'],
  security: [{ actionToken: [] as string[] }],
  body: claimBody,
  response: { 200: claimResult, 400: errorBodySchema, 401: errorBodySchema, 429: errorBodySchema, 503: errorBodySchema },
};

/** Registers `POST /v1/claims`. */
export function registerClaimRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = withZod(fastify);
  const perIp = inboundLimit(fastify, 'claim-ip', ctx.limits.redeemPerIp, (request) => request.ip);
  const actionToken = actionTokenBinding(ctx.action);

  app.post(ACTION_PATHS.claim, { onRequest: [perIp, actionToken.verify], schema: claimSchema }, async (request): Promise<ClaimAnswer> => {
    const { user: body } = request.body;
    actionToken.checkUser(request, body.id);
    if (!body.email_verified) return { claimed: false, reason: 'email_unverified' };
    const email = normalizeEmail(body.email);
    if (!isValidEmail(email)) throw new ApiError('invalid_request', 'The request is invalid', [{ field: 'user.email', message: 'must be an email address' }]);
    const user: Redeemer = { userId: body.id, email: body.email, emailVerified: true, connection: body.connection };

    const { items } = await ctx.gateway.list({ email }, MAX_CANDIDATES);
    return (
      (await repeatClaim(ctx, request.log, items, user)) ??
      (await newClaim(ctx, request.log, items, user)) ?? { claimed: false, reason: 'no_claimable_invite' }
    );
  });
}

const isRunning = (candidate: InviteListItem) => candidate.execution === 'RUNNING';

/**
 * First the repeats: an invite redeemed and granting (the validator answers this account's
 * repeat and passes others over), or one completed a moment ago by this very account.
 */
async function repeatClaim(ctx: RouteContext, log: FastifyBaseLogger, candidates: InviteListItem[], user: Redeemer): Promise<ClaimAnswer | undefined> {
  const recent = Date.now() - CLAIM_REPEAT_WINDOW_MS;
  for (const candidate of candidates) {
    if (candidate.status === 'redeemed' && isRunning(candidate)) {
      const repeat = await claimOn(ctx, log, candidate.id, user);
      if (repeat) return repeat;
    } else if (candidate.status === 'completed' && candidate.closeTime && Date.parse(candidate.closeTime) >= recent) {
      // A failure other than "gone" is the caller's 503: guessing could claim a second invite.
      const status = await ctx.gateway.status(candidate.id).catch((err: unknown) => {
        if (err instanceof ApiError && err.code === 'invite_not_found') return undefined;
        throw err;
      });
      if (!status || !isRedeemerOf(status, user.userId) || status.state !== 'completed') continue;
      log.info({ inviteId: candidate.id, repeat: true }, 'invite claimed by verified email');
      return { claimed: true, ...closedAnswer(status, user) };
    }
  }
  return undefined;
}

/** Then a new claim: the newest open invite that opted in and is for this account. */
async function newClaim(ctx: RouteContext, log: FastifyBaseLogger, candidates: InviteListItem[], user: Redeemer): Promise<ClaimAnswer | undefined> {
  for (const candidate of candidates) {
    if (!isRunning(candidate) || (candidate.status !== 'pending' && candidate.status !== 'undeliverable')) continue;
    const claimed = await claimOn(ctx, log, candidate.id, user);
    if (claimed) return claimed;
  }
  return undefined;
}

/** The `claim` update on one invite; undefined when it passes the claim over. */
async function claimOn(ctx: RouteContext, log: FastifyBaseLogger, id: string, user: Redeemer): Promise<ClaimAnswer | undefined> {
  try {
    const result = await ctx.gateway.update(id, (h) => h.executeUpdate(claimUpdate, { args: [{ user }] }));
    log.info({ inviteId: result.inviteId, repeat: result.repeat }, 'invite claimed by verified email');
    return { claimed: true, ...answer(result) };
  } catch (err) {
    // Closed since visibility saw it, or not for this account: try the next one.
    if (err instanceof WorkflowNotFoundError) return undefined;
    if (err instanceof ApiError && PASSED_OVER.has(err.code)) return undefined;
    throw err;
  }
}
