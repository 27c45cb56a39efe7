/**
 * Invite routes for the funnel and operators: create (idempotent per email+scope), read, list,
 * revoke, resend, extend. Input is checked in full (zod, then the workflow's own
 * `resolveInviteInput`) before anything starts, so a bad request changes nothing.
 */
import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { RolesUnavailableError } from '../../services/auth0-roles';
import { closedRefusal } from '../../client/invite-refusals';
import { DEFAULT_LOCALE, DEFAULT_SCOPE, inviteStartMeta, prepareInvite, restampInvite } from '../../client/invites';
import type { PreparedInvite } from '../../client/invites';
import {
  initialInviteStatus,
  InvalidInviteInput,
  isValidEmail,
  MAX_ATTRIBUTION_LENGTH,
  MAX_DATA_BYTES,
  MAX_DATA_DEPTH,
  MAX_DATA_KEYS,
  MAX_REMINDERS,
  MAX_ROLES,
  normalizeEmail,
} from '../../workflows/input';
import { extendUpdate, resendUpdate, revokeUpdate } from '../../workflows/messages';
import type { InviteStatus, JsonValue, LifecycleEventType, SentEmailRecord } from '../../workflows/messages';
import type { Scope } from '../auth';
import type { RouteContext } from '../context';
import { ApiError, apiErrorOf, errorBodySchema, invalidRequest } from '../errors';
import { inboundLimit } from '../inbound-limiter';

const INVITE_STATES = ['pending', 'undeliverable', 'redeemed', 'completed', 'expired', 'revoked', 'failed'] as const;
const INVITE_ID = /^[a-z0-9]{16,64}$/;
/**
 * States of a run that has stopped being an open invite but may not have closed yet. Not
 * `undeliverable`: such an invite stays open (a delivered link still redeems) until it expires.
 */
const CLOSING_STATES = new Set<InviteStatus['state']>(['completed', 'expired', 'revoked', 'failed']);
const SCOPE = /^[a-z0-9][a-z0-9:._-]{0,63}$/;

const durationSchema = z
  .union([z.string().min(1).max(40), z.number().int().positive()])
  .describe('A duration such as "7 days" or "36h", or milliseconds');

const utm = z.string().min(1).max(MAX_ATTRIBUTION_LENGTH).optional();
const attributionSchema = z
  .strictObject({ utm_source: utm, utm_medium: utm, utm_campaign: utm, utm_term: utm, utm_content: utm })
  .meta({ id: 'Attribution' });

const createInviteBody = z
  .strictObject({
    email: z.string().min(1).max(320).describe('The invitee; trimmed and lower-cased'),
    roles: z
      .array(z.string().max(100))
      .max(MAX_ROLES)
      .default([])
      .describe(
        'Auth0 role names granted on redemption (exact names). Each must exist in the Auth0 tenant: ' +
          'otherwise 400 unknown_role naming them, and nothing is started',
      ),
    data: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        `Our data bound to the account: a JSON object of at most ${MAX_DATA_BYTES / 1024} kB, nesting at most ${MAX_DATA_DEPTH} levels ` +
          `(the object itself is level 1; an array is a level) with at most ${MAX_DATA_KEYS} keys in all (array items count as keys). ` +
          'More is 400 invalid_request naming the limit',
      ),
    scope: z.string().max(64).default(DEFAULT_SCOPE).describe('What the invite is for; one open invite per email+scope'),
    locale: z.string().max(10).default(DEFAULT_LOCALE),
    ttl: durationSchema.optional().describe('Time to live; default 7 days, at most 30 days'),
    reminders: z.array(durationSchema).max(MAX_REMINDERS).optional().describe('Reminder offsets; default 2 and 5 days'),
    timeZone: z.string().max(64).optional().describe("The invitee's IANA time zone; reminders go out in its daytime. Kept as named (spelled as IANA spells it), not replaced by another name of the zone. Default: the locale's (en → America/New_York, fr → Europe/Paris, …)"),
    sendWindow: z
      .strictObject({ start: z.string().max(5), end: z.string().max(5) })
      .optional()
      .describe('Local hours reminders may go out in ("HH:MM"); default 09:00–20:00, within 07:00–22:00, at least 2 hours'),
    escalateBefore: z
      .union([durationSchema, z.literal(false)])
      .optional()
      .describe('Escalate a still-pending invite this long before expiry (inviter emailed, HubSpot contact marked); default 2 days; false: never'),
    emailPolicy: z.enum(['same-email', 'any']).optional(),
    redirect: z.string().max(2048).optional().describe('Where the customer space sends the person after sign-in'),
    inviter: z.strictObject({ name: z.string().max(100).optional(), email: z.string().max(320).optional() }).optional(),
    attribution: attributionSchema.optional().describe('Campaign/UTM fields; written to the HubSpot contact on redemption'),
    claimByVerifiedEmail: z
      .boolean()
      .optional()
      .describe('Let the person claim the invite by signing up or in with this email, verified, without the link; default false'),
    attributionInClaims: z.boolean().optional().describe('Also put attribution into the tokens of the customer space (claim …/attribution); default false'),
    replace: z.boolean().default(false).describe('Revoke the open invite for this email+scope and start a new one'),
  })
  .meta({ id: 'CreateInvite' });

const sentEmailSchema = z
  .object({
    sequence: z.number().int(),
    kind: z.enum(['invite', 'reminder', 'resend', 'extend']),
    at: z.string(),
    messageId: z.string(),
  })
  .meta({ id: 'SentEmail' });

const statusSchema = z
  .object({
    inviteId: z.string(),
    state: z.enum(INVITE_STATES),
    email: z.string(),
    scope: z.string(),
    roles: z.array(z.string()),
    data: z.record(z.string(), z.unknown()),
    redirect: z.string().optional(),
    emailPolicy: z.enum(['same-email', 'any']),
    locale: z.string().optional().describe("The invite's language: its emails and the pages of its link speak it"),
    attribution: attributionSchema.optional(),
    attributionInClaims: z.boolean().optional(),
    createdAt: z.string(),
    expiresAt: z.string(),
    emails: z.array(sentEmailSchema).describe('Emails sent (their link ids are never shown)'),
    emailError: z.string().optional(),
    optedOutAt: z.string().optional(),
    claimByVerifiedEmail: z.boolean().optional(),
    redeemedVia: z.enum(['link', 'verified-email']).optional(),
    sendWindow: z.object({ timeZone: z.string(), start: z.string(), end: z.string() }).optional().describe('Reminders go out in this local window'),
    escalatedAt: z.string().optional().describe('When the still-pending invite was escalated to the inviter and HubSpot'),
    undeliverable: z
      .object({ at: z.string(), kind: z.enum(['bounce', 'complaint']), reason: z.string().optional() })
      .optional()
      .describe('The mail provider reported the address undeliverable: no more emails; a delivered link still redeems'),
    redeemedAt: z.string().optional(),
    redeemer: z.object({ userId: z.string(), email: z.string(), emailVerified: z.boolean(), connection: z.string() }).optional(),
    rolesNotGranted: z
      .array(z.string())
      .optional()
      .describe('Roles of the invite deleted in Auth0 before it was redeemed: skipped, the rest of the invite was granted'),
    completedAt: z.string().optional(),
    expiredAt: z.string().optional(),
    revokedAt: z.string().optional(),
    revokeReason: z.string().optional(),
    failedAt: z.string().optional(),
    failure: z.object({ type: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'InviteStatus' });

const LIFECYCLE_TYPES = [
  'created',
  'emailed',
  'reminded',
  'email_refused',
  'clicked',
  'refused',
  'redeemed',
  'granted',
  'linked',
  'completed',
  'failed',
  'extended',
  'declined',
  'revoked',
  'expired',
  'undeliverable',
  'escalated',
  'notified',
  'notify_failed',
] as const satisfies readonly LifecycleEventType[];

const lifecycleSchema = z
  .object({
    id: z.string(),
    events: z.array(
      z.object({
        at: z.string(),
        type: z.enum(LIFECYCLE_TYPES),
        sequence: z.number().int().optional().describe('The email (its number) the event is about'),
        kind: z.enum(['invite', 'reminder', 'resend', 'extend']).optional(),
        code: z.string().optional().describe('refused: the stable code the redemption got'),
        reason: z.string().optional(),
        userId: z.string().optional(),
        connection: z.string().optional(),
        contactId: z.string().optional(),
        expiresAt: z.string().optional(),
        event: z.string().optional().describe('notified/notify_failed: the webhook event; undeliverable: bounce or complaint'),
      }),
    ),
    omitted: z.number().int().describe('Clicks and refusals beyond the recorded maximum, only counted'),
  })
  .meta({ id: 'InviteLifecycle' });

const linksSchema = z.object({ self: z.string() });

const inviteSchema = z.object({ id: z.string(), status: statusSchema, links: linksSchema }).meta({ id: 'Invite' });

type InviteView = z.infer<typeof inviteSchema>;

const idParams = z.object({ id: z.string().regex(INVITE_ID, 'must be an invite id') });

const listQuery = z.strictObject({
  status: z.enum(INVITE_STATES).optional(),
  email: z.string().max(320).optional(),
  scope: z.string().regex(SCOPE, 'must be a scope').optional(),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
  pageToken: z.string().max(4096).regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, 'must be a token from a previous page').optional(),
});

const listSchema = z
  .object({
    items: z.array(
      z.object({
        id: z.string(),
        status: z.string().optional(),
        email: z
          .string()
          .optional()
          .describe('With payload encryption (the default) visibility holds only a keyed hash: present when the list was filtered by email'),
        scope: z.string().optional(),
        expiresAt: z.string().optional(),
        startTime: z.string(),
        closeTime: z.string().optional(),
        execution: z.string().describe('Temporal execution status: RUNNING, COMPLETED, TERMINATED, …'),
      }),
    ),
    nextPageToken: z.string().optional().describe('Pass as pageToken for the next page; absent on the last page'),
  })
  .meta({ id: 'InviteList' });

const resendSchema = z
  .object({
    id: z.string(),
    sent: sentEmailSchema.optional().describe('The email; absent while it is still being sent (202)'),
    links: linksSchema,
  })
  .meta({ id: 'Resend' });

const errors = {
  400: errorBodySchema,
  401: errorBodySchema,
  403: errorBodySchema,
  404: errorBodySchema,
  503: errorBodySchema,
};

const selfLink = (id: string) => `/v1/invites/${id}`;

/** The HTTP status of a failed Management API call, if it got one (never its message or headers). */
const statusOf = (err: unknown) => (typeof err === 'object' && err !== null && typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : undefined);

/** The status as the API shows it: link ids stay inside Temporal. */
function toView(status: InviteStatus): InviteView {
  const { emails, ...rest } = status;
  return {
    id: status.inviteId,
    status: { ...rest, emails: emails.map(({ linkId: _linkId, ...email }) => email) },
    links: { self: selfLink(status.inviteId) },
  };
}

/** Registers the invite routes. */
export function registerInviteRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { gateway, config } = ctx;

  const requireScope = (scope: Scope) => async (request: FastifyRequest) => {
    request.principal = await ctx.bearer.authorize(request, scope);
  };
  const security = (scope: Scope) => [{ bearerAuth: [scope] }];
  const resendLimit = inboundLimit(fastify, 'resend-invite', ctx.limits.resendPerInvite, (request) => (request.params as { id: string }).id);

  /** Runs an operator update, explaining a refusal by a closed invite. */
  async function onOpenInvite<T>(inviteId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      throw apiErrorOf(closedRefusal(await gateway.status(inviteId)));
    }
  }

  app.post(
    '/v1/invites',
    {
      onRequest: requireScope('invites:create'),
      schema: {
        summary: 'Invite someone (idempotent per email and scope)',
        tags: ['invites'],
        security: security('invites:create'),
        body: createInviteBody,
        response: {
          200: inviteSchema.describe('An invite for this email and scope was already open; it is returned unchanged'),
          201: inviteSchema.describe('A new invite was started'),
          ...errors,
          400: errorBodySchema.describe(
            'invalid_request (details: one { field, message } per problem, e.g. data past a bound), or unknown_role ' +
              '(details: one { field, message, role } per role name the Auth0 tenant does not have); nothing is started',
          ),
          409: errorBodySchema,
          503: errorBodySchema.describe(
            'roles_unavailable: the Auth0 roles could not be read to check the request (Retry-After says when to retry), ' +
              'or service_unavailable: Temporal did not answer; nothing is started',
          ),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      // The workflow's own check, run here first so that a bad input starts nothing.
      let prepared: PreparedInvite;
      try {
        // An invite opts in to claim by verified email itself, or through its scope's setting.
        const claimByVerifiedEmail = body.claimByVerifiedEmail ?? config.CLAIM_BY_EMAIL_SCOPES.includes(body.scope);
        prepared = prepareInvite(config.INVITE_ID_KEY, { ...body, data: body.data as Record<string, JsonValue>, claimByVerifiedEmail });
      } catch (err) {
        if (err instanceof InvalidInviteInput) throw invalidRequest(err.problems);
        throw err;
      }
      await checkRoles(body.roles, request);
      const revoked = body.replace ? await revokeOpen(prepared.invite.inviteId) : false;

      const startNow = async () => {
        const { input, invite } = restampInvite(prepared);
        const { runId, started } = await gateway.start(input, inviteStartMeta(invite));
        // A run just started holds exactly what was sent: its status is known without asking it
        // (a query would wait until a worker has run its first workflow task).
        return { runId, started, status: started ? initialInviteStatus(invite, invite.createdAtMs!) : undefined };
      };
      const { inviteId } = prepared.invite;
      let { runId, started, status } = await startNow();
      if (!status) {
        status = await gateway.status(inviteId, runId);
        if (CLOSING_STATES.has(status.state)) {
          // Revoked, declined, expired or done, its run finishing its last step: no longer open.
          // Once it has closed, its id starts a fresh invite.
          await gateway.waitClosed(inviteId, runId);
          ({ runId, started, status } = await startNow());
          status ??= await gateway.status(inviteId, runId);
        }
      }
      ctx.metrics.invitesCreated.inc({ result: started ? (revoked ? 'replaced' : 'created') : 'existing' });
      request.log.info({ inviteId, started, by: request.principal?.subject }, started ? 'invite started' : 'invite already open');

      if (started) void reply.header('location', selfLink(inviteId));
      return reply.code(started ? 201 : 200).send(toView(status));
    },
  );

  /**
   * Refuses role names the Auth0 tenant does not have (`400 unknown_role`, one detail per name
   * with its place in the request), and answers `503 roles_unavailable` with `Retry-After` when
   * Auth0 cannot be asked: never a silent yes. Called before anything is started or revoked.
   */
  async function checkRoles(roles: string[], request: FastifyRequest): Promise<void> {
    let unknown: string[];
    try {
      unknown = await ctx.roles.unknownRoles(roles);
    } catch (err) {
      if (!(err instanceof RolesUnavailableError)) throw err;
      request.log.warn({ retryAfterSeconds: err.retryAfterSeconds, auth0Status: statusOf(err.cause) }, 'auth0 roles unavailable; invite refused');
      throw new ApiError(
        'roles_unavailable',
        'The Auth0 roles cannot be checked right now, so nothing was started; retry later',
        undefined,
        { 'retry-after': String(err.retryAfterSeconds) },
      );
    }
    if (unknown.length === 0) return;
    throw new ApiError(
      'unknown_role',
      `No such role in Auth0: ${unknown.map((name) => `"${name}"`).join(', ')}`,
      unknown.map((role) => ({ field: `roles.${roles.indexOf(role)}`, message: 'is not a role in Auth0', role })),
    );
  }

  /** Revokes the open invite of this id, if any, and waits for its run to close; true when it did. */
  async function revokeOpen(inviteId: string): Promise<boolean> {
    const existing = await gateway.existence(inviteId);
    if (!existing.exists || !existing.open) return false;
    try {
      await gateway.update(inviteId, (h) => h.executeUpdate(revokeUpdate, { args: [{ reason: 'replaced by a new invite' }] }));
    } catch (err) {
      // Closed or expired on its own in the meantime: nothing left to revoke.
      const gone = err instanceof WorkflowNotFoundError || (err instanceof ApiError && (err.code === 'invite_expired' || err.code === 'invite_revoked'));
      if (!gone) throw err;
    }
    await gateway.waitClosed(inviteId, existing.runId);
    return true;
  }

  app.get(
    '/v1/invites/:id',
    {
      onRequest: requireScope('invites:read'),
      schema: {
        summary: 'An invite and its status (also once closed)',
        tags: ['invites'],
        security: security('invites:read'),
        params: idParams,
        response: { 200: inviteSchema, ...errors },
      },
    },
    async (request) => toView(await gateway.status(request.params.id)),
  );

  app.get(
    '/v1/invites/:id/history',
    {
      onRequest: requireScope('invites:read'),
      schema: {
        summary: "The invite's lifecycle as events: created, emailed, reminded, clicked, refused, redeemed, granted, linked, expired, …",
        tags: ['invites'],
        security: security('invites:read'),
        params: idParams,
        response: { 200: lifecycleSchema, ...errors },
      },
    },
    async (request) => {
      const { inviteId, events, omitted } = await gateway.history(request.params.id);
      return { id: inviteId, events, omitted };
    },
  );

  app.get(
    '/v1/invites',
    {
      onRequest: requireScope('invites:read'),
      schema: {
        summary: 'Search invites (from Temporal visibility, eventually consistent)',
        description:
          'Pages are read from Temporal visibility one request at a time, not from a snapshot: an invite ' +
          'whose run closes or changes state between two requests can move in the order, so a later page ' +
          'may show it again or an invite may be missed. Deduplicate by `id`; read one invite exactly with ' +
          '`GET /v1/invites/{id}`.',
        tags: ['invites'],
        security: security('invites:read'),
        querystring: listQuery,
        response: { 200: listSchema, ...errors },
      },
    },
    async (request) => {
      const { status, scope, pageSize, pageToken } = request.query;
      let email: string | undefined;
      if (request.query.email !== undefined) {
        email = normalizeEmail(request.query.email);
        if (!isValidEmail(email)) throw invalidRequest([{ field: 'query.email', message: 'must be an email address' }]);
      }
      return gateway.list({ status, email, scope }, pageSize, pageToken);
    },
  );

  app.post(
    '/v1/invites/:id/revoke',
    {
      onRequest: requireScope('invites:write'),
      schema: {
        summary: 'Revoke a pending invite',
        tags: ['invites'],
        security: security('invites:write'),
        params: idParams,
        body: z.strictObject({ reason: z.string().max(500).optional() }).default({}),
        response: { 200: inviteSchema, ...errors, 409: errorBodySchema, 410: errorBodySchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      const reason = request.body.reason;
      const status = await onOpenInvite(id, () =>
        gateway.update(id, (h) => h.executeUpdate(revokeUpdate, { args: [reason ? { reason } : {}] })),
      );
      request.log.info({ inviteId: id, by: request.principal?.subject }, 'invite revoked');
      return toView(status);
    },
  );

  app.post(
    '/v1/invites/:id/resend',
    {
      onRequest: requireScope('invites:write'),
      preHandler: resendLimit,
      schema: {
        summary: 'Email the invite again with a fresh link (rate limited)',
        tags: ['invites'],
        security: security('invites:write'),
        params: idParams,
        response: {
          200: resendSchema.describe('The email was sent'),
          202: resendSchema.describe('Accepted; the email is still being sent'),
          ...errors,
          409: errorBodySchema,
          410: errorBodySchema,
          429: errorBodySchema,
          502: errorBodySchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const outcome = await onOpenInvite(id, () => gateway.emailUpdate(id, (h, waitForStage) => h.startUpdate(resendUpdate, { waitForStage })));
      request.log.info({ inviteId: id, by: request.principal?.subject, done: outcome.done }, 'invite resent');
      const links = { self: selfLink(id) };
      if (!outcome.done) return reply.code(202).send({ id, links });
      const { linkId: _linkId, ...sent }: SentEmailRecord = outcome.result;
      return reply.code(200).send({ id, sent, links });
    },
  );

  app.post(
    '/v1/invites/:id/extend',
    {
      onRequest: requireScope('invites:write'),
      schema: {
        summary: 'Move the expiry to ttl from now and email a fresh link',
        tags: ['invites'],
        security: security('invites:write'),
        params: idParams,
        body: z.strictObject({ ttl: durationSchema }),
        response: {
          200: inviteSchema,
          202: inviteSchema.describe('Extended; the email with the new link is still being sent'),
          ...errors,
          409: errorBodySchema,
          410: errorBodySchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { ttl } = request.body;
      const outcome = await onOpenInvite(id, () =>
        gateway.emailUpdate(id, (h, waitForStage) => h.startUpdate(extendUpdate, { args: [{ ttl }], waitForStage })),
      );
      request.log.info({ inviteId: id, by: request.principal?.subject, done: outcome.done }, 'invite extended');
      if (outcome.done) return reply.code(200).send(toView(outcome.result));
      return reply.code(202).send(toView(await gateway.status(id)));
    },
  );
}
