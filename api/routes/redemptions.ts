/**
 * `POST /v1/redemptions`, called by the Auth0 post-login Action while a login waits: verify the
 * Action's token and the link token, execute the `redeem` update, answer the claims for the very
 * token being issued. Every refusal has a stable code the Action switches on; none consumes the
 * invite.
 */
import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import { LinkTokenError } from '../../lib/token';
import type { LinkClaims } from '../../lib/token';
import { isRedeemerOf, redeemUpdate } from '../../workflows/messages';
import type { InviteStatus, Redeemer, RedeemResult } from '../../workflows/messages';
import type { RouteContext } from '../context';
import type { ActionUser, EmailMismatchRefusal, RedemptionAnswer, RedemptionRequest, RefusalBody } from '../../lib/action-contract';
import { ACTION_PATHS, ATTRIBUTION_FIELDS } from '../../lib/action-contract';
import { ApiError, errorBodySchema } from '../errors';
import type { Same } from '../errors';
import { inboundLimit } from '../inbound-limiter';
import { actionTokenBinding } from '../action-auth';
import { withZod } from './zod-app';

/** The account logging in, as the Action sends it (`ActionUser`). */
const actionUserSchema = z.object({
  id: z.string().min(1).max(300),
  email: z.string().max(320).describe('Empty when the identity provider gave none'),
  email_verified: z.boolean(),
  connection: z.string().min(1).max(200),
}) satisfies z.ZodType<ActionUser>;

const redemptionBody = z
  .object({
    token: z.string().min(1).max(4096).describe('The link token the person arrived with'),
    user: actionUserSchema,
  })
  .meta({ id: 'Redemption' }) satisfies z.ZodType<RedemptionRequest>;

const attributionSchema = z
  .object(Object.fromEntries(ATTRIBUTION_FIELDS.map((field) => [field, z.string().optional()])) as Record<(typeof ATTRIBUTION_FIELDS)[number], z.ZodOptional<z.ZodString>>)
  .describe('Campaign/UTM fields, only when the invite asked for them in the claims');

/** What a redemption (or a claim) answers the Action (`RedemptionAnswer`). */
export const redemptionResult = z
  .object({
    inviteId: z.string(),
    scope: z.string(),
    roles: z.array(z.string()),
    claims: z.record(z.string(), z.unknown()).describe('Our data bound to the invite'),
    redirect: z.string().optional(),
    attribution: attributionSchema.optional(),
    contactId: z.string().optional().describe('The HubSpot contact of the invited address, when known (the …/hubspot_contact_id claim)'),
    crm: z.record(z.string(), z.string().nullable()).optional().describe("The contact's own properties bound to the invite (the …/crm claim)"),
    primaryUserId: z
      .string()
      .optional()
      .describe('Account policy link: the Auth0 user this account was just linked into; the Action continues the login as that user'),
    repeat: z.boolean().describe('True when this account had already redeemed the invite'),
  })
  .meta({ id: 'RedemptionResult' });

// Both ways: a field added to the contract or to the schema alone fails to compile.
const contractHolds: [Same<z.output<typeof redemptionResult>, RedemptionAnswer>, Same<z.output<typeof redemptionBody>, RedemptionRequest>] = [true, true];
void contractHolds;

/** The refusal body of an email mismatch: the invited address is `error.details.login_hint`. */
const mismatchBody = z
  .object({
    error: z.object({
      code: z.literal('invite_email_mismatch'),
      message: z.string(),
      details: z.object({ login_hint: z.string().describe('The invited address: sign in with it instead') }).optional(),
    }),
  })
  .meta({ id: 'EmailMismatch' }) satisfies z.ZodType<RefusalBody>;
const mismatchHolds: Same<z.output<typeof mismatchBody>, EmailMismatchRefusal> = true;
void mismatchHolds;

/** The answer of an accepted redemption or claim. */
export function answer(
  result: Pick<RedeemResult, 'inviteId' | 'scope' | 'roles' | 'data' | 'redirect' | 'repeat' | 'attribution' | 'contactId' | 'crm' | 'primaryUserId'>,
): RedemptionAnswer {
  return {
    inviteId: result.inviteId,
    scope: result.scope,
    roles: result.roles,
    claims: result.data,
    ...(result.redirect !== undefined ? { redirect: result.redirect } : {}),
    ...(result.attribution !== undefined ? { attribution: { ...result.attribution } } : {}),
    ...(result.contactId !== undefined ? { contactId: result.contactId } : {}),
    ...(result.crm !== undefined ? { crm: { ...result.crm } } : {}),
    ...(result.primaryUserId !== undefined ? { primaryUserId: result.primaryUserId } : {}),
    repeat: result.repeat,
  };
}

/**
 * The answer for a closed invite, which Temporal no longer takes updates for: the idempotent
 * repeat when this account completed it, otherwise what the workflow's validator would have said.
 */
export function closedAnswer(status: InviteStatus, user: Redeemer): RedemptionAnswer {
  if (status.redeemer) {
    if (!isRedeemerOf(status, user.userId)) throw new ApiError('invite_already_used', 'The invite was already redeemed by another account');
    if (status.state === 'failed') throw new ApiError('invite_failed', 'The invite was redeemed but granting it failed; an operator has to act');
    const { attribution, linkedAccounts, ...rest } = status;
    // The redeeming account logging in again after the link comes as the primary user already.
    const primaryUserId =
      linkedAccounts && linkedAccounts.primaryUserId !== user.userId && linkedAccounts.secondaryUserIds.includes(user.userId) ? linkedAccounts.primaryUserId : undefined;
    return answer({ ...rest, ...(status.attributionInClaims && attribution ? { attribution } : {}), ...(primaryUserId ? { primaryUserId } : {}), repeat: true });
  }
  if (status.state === 'expired') throw new ApiError('invite_expired', 'The invite has expired');
  // Revoked, or a pending run ended from outside (terminated in the UI).
  throw new ApiError('invite_revoked', 'The invite was revoked');
}

const redemptionSchema = {
  summary: 'Redeem an invite for the account logging in (called by the Auth0 Action)',
  tags: ['redemptions'],
  security: [{ actionToken: [] as string[] }],
  body: redemptionBody,
  response: {
    200: redemptionResult,
    400: errorBodySchema,
    401: errorBodySchema,
    403: mismatchBody.describe('invite_email_mismatch: error.details.login_hint is the invited address; the invite stays redeemable'),
    404: errorBodySchema,
    409: errorBodySchema,
    410: errorBodySchema,
    429: errorBodySchema,
    503: errorBodySchema,
  },
};

/** Registers `POST /v1/redemptions`. */
export function registerRedemptionRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = withZod(fastify);
  const { metrics } = ctx;
  const perIp = inboundLimit(fastify, 'redeem-ip', ctx.limits.redeemPerIp, (request) => request.ip);
  const perToken = inboundLimit(fastify, 'redeem-token', ctx.limits.redeemPerToken, (request) => (request.body as { token: string }).token);
  const actionToken = actionTokenBinding(ctx.action);

  app.post(ACTION_PATHS.redemption, { onRequest: [perIp, actionToken.verify], preHandler: perToken, schema: redemptionSchema }, async (request) => {
    const begin = performance.now();
    let outcome = 'error';
    let code = 'internal_error';
    let linkOf: LinkClaims | undefined;
    try {
      const { token, user: body } = request.body;
      actionToken.checkUser(request, body.id);
      const link = await verifyRedemptionLink(ctx, token);
      linkOf = link;
      const user: Redeemer = { userId: body.id, email: body.email, emailVerified: body.email_verified, connection: body.connection };
      const result = await redeem(ctx, link, user);
      outcome = result.repeat ? 'repeat' : 'redeemed';
      code = 'ok';
      request.log.info({ inviteId: result.inviteId, outcome }, 'invite redeemed');
      return result;
    } catch (err) {
      if (err instanceof ApiError) {
        code = err.code;
        outcome = err.statusCode >= 500 ? 'error' : 'refused';
        if (linkOf) noteRefusal(ctx, request, linkOf, request.body.user, err);
      }
      throw err;
    } finally {
      metrics.redemptions.inc({ outcome, code });
      metrics.redemptionSeconds.observe({ outcome }, (performance.now() - begin) / 1000);
    }
  });
}

/** The link's claims, or the refusal of an expired or invalid link. */
async function verifyRedemptionLink(ctx: RouteContext, token: string): Promise<LinkClaims> {
  try {
    return await ctx.linkVerifier.verify(token);
  } catch (err) {
    if (!(err instanceof LinkTokenError)) throw err;
    if (err.code === 'ERR_LINK_EXPIRED') throw new ApiError('invite_expired', 'The invite has expired');
    throw new ApiError('invite_invalid', 'The invite link is not valid');
  }
}

/** The `redeem` update on the open run, else the answer of the closed invite. */
async function redeem(ctx: RouteContext, link: LinkClaims, user: Redeemer): Promise<RedemptionAnswer> {
  const { gateway } = ctx;
  const update = async () => answer(await gateway.update(link.inviteId, (h) => h.executeUpdate(redeemUpdate, { args: [{ linkId: link.jti, user }] })));
  try {
    return await update();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    const existing = await gateway.existence(link.inviteId);
    if (!existing.exists) throw new ApiError('invite_not_found', 'No invite has this id');
    // A new run may have opened since the update was refused; it decides for itself.
    return existing.open ? await update() : closedAnswer(await gateway.status(link.inviteId), user);
  }
}

/** The workflow's validator leaves no trace of a refusal; the invite's lifecycle should. */
function noteRefusal(ctx: RouteContext, request: FastifyRequest, link: LinkClaims, user: ActionUser, err: ApiError): void {
  if (!NOTED_REFUSALS.has(err.code)) return;
  const { inviteId, jti } = link;
  const { id: userId, connection } = user;
  ctx.gateway.background(() =>
    ctx.gateway.note(inviteId, { type: 'refused', code: err.code, linkId: jti, userId, connection }).catch((noteErr: unknown) => {
      request.log.debug({ inviteId, err: noteErr }, 'refusal not noted');
    }),
  );
}

// Refusals about the invite itself (not the caller or the service), recorded in its lifecycle.
const NOTED_REFUSALS = new Set<string>([
  'invite_email_mismatch',
  'invite_unknown_link',
  'invite_already_used',
  'invite_expired',
  'invite_revoked',
  'invite_not_pending',
]);
